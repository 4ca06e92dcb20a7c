"""Benchmark: integrated gradients at paper size.

109 patients x 20 outputs x 50 steps (trapezoid: 51 points) on the paper's network
12,042 -> 2000 -> 1000 -> 500 -> 100 -> 20 (ReLU, ~26.6M parameters), random weights and inputs.
Prints the wall time of

* the shortcut used by the workflow (``method="first_layer"``: the first Dense layer's matmul once per
  patient, Jacobian of all 20 outputs w.r.t. hidden-1 pre-activations for patients x steps per call,
  mapped back to genes through W1^T after summing over the steps),
* the textbook batched computation (``method="input"``: Jacobian w.r.t. the 12,042 interpolated
  inputs), timed on a few patients and extrapolated to 109,
* gene masking and activation maximisation as the rule runs them,

and the arithmetic each needs. Run (from the repository root):

    . .venv/bin/activate
    TF_CPP_MIN_LOG_LEVEL=2 python tests/benchmarks/bench_associations.py [--patients 109] [--steps 50]

Timings on a shared 2-core machine are noisy: run it twice and take the smaller figure.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "workflow" / "scripts"))

import numpy as np  # noqa: E402


def build(n_genes, sizes, n_out, seed=0):
    import keras

    keras.utils.set_random_seed(seed)
    layers = [keras.Input((n_genes,)), keras.layers.Dropout(0.25)]
    for i, size in enumerate(sizes, start=1):
        layers.append(keras.layers.Dense(size, activation="relu", name=f"hidden{i}"))
        if i < len(sizes):
            layers.append(keras.layers.Dropout(0.25))
    layers.append(keras.layers.Dense(n_out, name="output"))
    return keras.Sequential(layers)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patients", type=int, default=109)
    ap.add_argument("--genes", type=int, default=12042)
    ap.add_argument("--sizes", type=int, nargs="+", default=[2000, 1000, 500, 100])
    ap.add_argument("--outputs", type=int, default=20)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--patients-per-batch", type=int, default=None)
    ap.add_argument("--reference-patients", type=int, default=2,
                    help="patients for the textbook (input-Jacobian) timing; 0 skips it")
    ap.add_argument("--skip-extras", action="store_true", help="skip masking / activation maximisation")
    args = ap.parse_args(argv)

    import tensorflow as tf

    from radiogenomics import attribution, probes

    print(f"TensorFlow {tf.__version__}, {tf.config.threading.get_intra_op_parallelism_threads() or 'default'} intra-op threads, "
          f"devices: {[d.device_type for d in tf.config.list_physical_devices()]}")
    model = build(args.genes, args.sizes, args.outputs)
    n_params = model.count_params()
    rng = np.random.default_rng(1)
    x = rng.uniform(-0.5, 0.5, size=(args.patients, args.genes)).astype(np.float32)
    points = args.steps + 1
    h1 = args.sizes[0]
    rest = sum(a * b for a, b in zip(args.sizes, args.sizes[1:] + [args.outputs]))
    print(f"network {args.genes}->{'->'.join(map(str, args.sizes))}->{args.outputs}: {n_params / 1e6:.1f}M parameters; "
          f"{args.patients} patients x {args.outputs} outputs x {args.steps} steps ({points} trapezoid points) "
          f"= {args.patients * points * args.outputs:,} gradient rows")

    # warm-up (tracing) on 2 patients, then the timed run
    attribution.integrated_gradients(model, x[:2], steps=args.steps, patients_per_batch=args.patients_per_batch)
    t0 = time.perf_counter()
    res = attribution.integrated_gradients(model, x, steps=args.steps, patients_per_batch=args.patients_per_batch)
    fast = time.perf_counter() - t0
    flops = 2 * (args.patients * args.genes * h1                     # x W1 once per patient
                 + args.patients * points * rest                      # head forward
                 + args.patients * points * args.outputs * rest * 2   # head backward, 20 outputs
                 + args.patients * args.outputs * h1 * args.genes)    # map back through W1^T
    err = np.abs(res.completeness)
    print(f"first-layer shortcut: {fast:.1f} s for all {args.patients} patients "
          f"({fast / args.patients * 1000:.0f} ms/patient; ~{flops / 1e9:.0f} GFLOP, {flops / fast / 1e9:.1f} GFLOP/s); "
          f"completeness |sum IG - (F(x)-F(x'))|: mean {err.mean():.2e}, max {err.max():.2e}, "
          f"mean |F(x)-F(x')| {np.abs(res.delta).mean():.2e}")

    if args.reference_patients > 0:
        xr = x[: args.reference_patients]
        attribution.integrated_gradients(model, xr[:1], steps=args.steps, method="input", patients_per_batch=1)
        t0 = time.perf_counter()
        ref = attribution.integrated_gradients(model, xr, steps=args.steps, method="input", patients_per_batch=1,
                                     keep_per_patient=True)
        slow = time.perf_counter() - t0
        per = slow / len(xr)
        mine = attribution.integrated_gradients(model, xr, steps=args.steps, keep_per_patient=True)
        diff = np.abs(ref.per_patient - mine.per_patient).max() / max(np.abs(ref.per_patient).max(), 1e-30)
        print(f"textbook input Jacobian (batched over steps, 1 patient per call): {per:.1f} s/patient -> "
              f"~{per * args.patients / 60:.1f} min for {args.patients} patients "
              f"(shortcut {per * args.patients / fast:.0f}x faster); max relative difference {diff:.1e}")

    if not args.skip_extras:
        ranking = {k: np.argsort(-res.mean_abs[:, k]) for k in range(args.outputs)}
        t0 = time.perf_counter()
        attribution.masking_effects(model, x, ranking, sizes=(1, 10, 100), n_random=50, seed=0)
        print(f"gene masking (3 set sizes x (20 top + 50 random) sets x {args.patients} patients): "
              f"{time.perf_counter() - t0:.1f} s")
        t0 = time.perf_counter()
        probes.activation_maximisation(model, x.min(0), x.max(0), l2=4.0, steps=200, learning_rate=0.01)
        print(f"activation maximisation (20 features x 200 Adam steps): {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
