"""Time per SGD step of the paper-size models vs the memory-traffic floor and plain model.fit.

Usage (from the repository root, with the venv active)::

    PYTHONPATH=workflow/scripts python tests/benchmarks/bench_training.py \
        [--models ae,dnn] [--methods lowrank,dense,fit,jax] [--steps 48] [--reps 3] \
        [--folds N] [--threads T]

Single-threaded comparison of the JAX loop with the TensorFlow loop (XLA's CPU thread pool
is set by an environment variable, read when JAX starts)::

    OMP_NUM_THREADS=1 XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1" \
    PYTHONPATH=workflow/scripts python tests/benchmarks/bench_training.py \
        --methods auto,dense,jax:dense,jax --folds 4 --threads 1

Models (paper §2.2): autoencoder 12,042-2000-1000-500-1000-2000-12,042 (tanh, linear
output, MSE, momentum 0.2; 53.2M parameters) and the network 12,042 -> 2000 -> 1000 -> 500
-> 100 -> 20 with dropout 0.25 before each of the first four Dense layers (ReLU, MAE,
momentum 0.5, non-negative output layer; 26.6M parameters), batch size 10, random data.

Floor per step ("fused floor"): every step must read the weights for the forward and the
backward pass and read+write weights and momentum once:
``bytes = 4 * P * (2 + 2 + 2)``, divided by the copy bandwidth measured here
(``(bytes read + bytes written) / time`` of a large ``numpy.copyto``). Also printed: the
floor with a materialised dense gradient (+ write and read of the gradient: ``4 * P * 8``).

For each method the script times ``--reps`` epochs of ``--steps`` steps after one warm-up
epoch (tracing excluded) and prints min and median wall time per step, and the process CPU
time per step (less sensitive to other processes taking the cores; with 2 threads it is
up to 2x the wall time). ``fit`` is Keras'
``model.fit`` with ``SGD(InverseTimeDecay(lr, 1, decay), momentum)`` on the same model.
``jax`` is :mod:`radiogenomics.jax_loop` (the ``training.backend: jax`` path) with its default
plan ``auto`` (``jax:dense``, ``jax:lowrank``: with that plan) on the same model and weights,
one fold, and with ``--folds N`` (N > 1) also N folds batched in one
program (``vmap``): its lines give the time of one batched step of all N folds and the time
per fold-step, and the last lines the ratio of the JAX loop's time per fold-step to the
TensorFlow loop's per step (first of auto, lowrank, dense that ran).
The machine is shared: the minimum is the figure to compare, the median shows the noise.

Settings of the training loop (arguments of ``training.fit``, config keys
``training.flush_every``, ``training.span``, ``training.block_mb`` in the workflow):
``--flush-every`` (default 8: pending low-rank updates are flushed into the dense weights
every this many steps), ``--no-span`` (no span form for the first layer), ``--block-mb``
(default 16: low-rank kernels are kept transposed in blocks of output units of at most this
many MiB).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "workflow" / "scripts"))

N_GENES = 12042


def copy_bandwidth(nbytes=512 * 2**20, reps=5):
    """(read + write bytes) / second of a large numpy copy, best of ``reps``."""
    a = np.ones(nbytes // 4, np.float32)
    b = np.ones_like(a)
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        np.copyto(b, a)
        best = min(best, time.perf_counter() - t)
    return 2 * a.nbytes / best


def build(kind, seed=0):
    import keras

    keras.utils.set_random_seed(seed)
    layers = [keras.Input((N_GENES,))]
    if kind == "ae":
        for i, units in enumerate([2000, 1000, 500, 1000, 2000]):
            layers.append(keras.layers.Dense(units, activation="tanh", name=f"h{i}"))
        layers.append(keras.layers.Dense(N_GENES, name="recon"))
        cfg = dict(loss="mse", momentum=0.2, learning_rate=0.2, decay=1e-5, nonneg=(), n_out=N_GENES)
    else:
        for i, units in enumerate([2000, 1000, 500, 100]):
            layers.append(keras.layers.Dropout(0.25, name=f"dropout{i}"))
            layers.append(keras.layers.Dense(units, activation="relu", name=f"hidden{i + 1}"))
        layers.append(keras.layers.Dense(20, name="output"))
        cfg = dict(loss="mae", momentum=0.5, learning_rate=0.3, decay=5e-5, nonneg=("output",),
                   n_out=20)
    return keras.Sequential(layers), cfg


def time_loop(kind, method, steps, reps, batch_size, flush_every, span, block_mb):
    import tensorflow as tf

    from radiogenomics import sgd_loop

    model, cfg = build(kind)
    n = steps * batch_size
    rng = np.random.default_rng(0)
    x = tf.constant(rng.uniform(-1, 1, (n, N_GENES)).astype(np.float32))
    y = tf.constant(rng.uniform(0, 1, (n, cfg["n_out"])).astype(np.float32) if kind == "dnn" else x)
    tf.config.experimental.enable_op_determinism()
    net = sgd_loop.Net(model, cfg["nonneg"])
    lowrank = sgd_loop.plan_layers(net, cfg["momentum"], batch_size, method, flush_every, n_train=n, span=span)
    lowrank = [f"{d.name}(span)" if d.span else d.name for d in net.dense if d.lowrank]
    loop = sgd_loop.Loop(tf, net, sgd_loop.loss_function(tf, cfg["loss"]), cfg["learning_rate"],
                         cfg["decay"], cfg["momentum"], batch_size, steps, 1, flush_every=flush_every, x=x,
                         block_mb=block_mb)
    perm = tf.constant(np.arange(n, dtype=np.int32))
    t0 = time.perf_counter()
    float(loop.epoch(x, y, perm))  # trace + warm-up
    trace = time.perf_counter() - t0
    times, cpu = [], []
    for _ in range(reps):
        t0, c0 = time.perf_counter(), time.process_time()
        float(loop.epoch(x, y, perm))
        times.append((time.perf_counter() - t0) / steps)
        cpu.append((time.process_time() - c0) / steps)
    loop.finalize()
    return times, cpu, trace, lowrank


def time_fit(kind, steps, reps, batch_size):
    import keras
    import tensorflow as tf

    model, cfg = build(kind)
    if cfg["nonneg"]:
        model.get_layer("output").kernel_constraint = keras.constraints.NonNeg()
        model.get_layer("output").bias_constraint = keras.constraints.NonNeg()
    sched = keras.optimizers.schedules.InverseTimeDecay(cfg["learning_rate"], 1, cfg["decay"])
    model.compile(optimizer=keras.optimizers.SGD(sched, momentum=cfg["momentum"]), loss=cfg["loss"])
    n = steps * batch_size
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (n, N_GENES)).astype(np.float32)
    y = rng.uniform(0, 1, (n, cfg["n_out"])).astype(np.float32) if kind == "dnn" else x
    t0 = time.perf_counter()
    model.fit(x, y, batch_size=batch_size, epochs=1, verbose=0, shuffle=False)
    trace = time.perf_counter() - t0
    times, cpu = [], []
    for _ in range(reps):
        t0, c0 = time.perf_counter(), time.process_time()
        model.fit(x, y, batch_size=batch_size, epochs=1, verbose=0, shuffle=False)
        times.append((time.perf_counter() - t0) / steps)
        cpu.append((time.process_time() - c0) / steps)
    del tf
    return times, cpu, trace, []


def time_jax(kind, steps, reps, batch_size, n_folds, plan="auto"):
    """Per-step times of radiogenomics.jax_loop (``n_folds`` folds vmapped in one program; each
    fold trains on the same rows in its own shuffle order, without validation) with the
    layer plan ``plan`` (radiogenomics.jax_lowrank.PLANS)."""
    from radiogenomics import jax_loop

    model, cfg = build(kind)
    layers = jax_loop.describe(model, cfg["nonneg"])
    initial = jax_loop.weights_of(model)
    del model
    n = steps * batch_size
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (n, N_GENES)).astype(np.float32)
    y = rng.uniform(0, 1, (n, cfg["n_out"])).astype(np.float32) if kind == "dnn" else x
    folds = [jax_loop.Fold(np.arange(n), np.arange(0), seed) for seed in range(n_folds)]
    trainer = jax_loop.Trainer(layers, [initial] * n_folds, x, y, folds, loss=cfg["loss"],
                               learning_rate=cfg["learning_rate"], decay=cfg["decay"],
                               momentum=cfg["momentum"], batch_size=batch_size, plan=plan)
    del initial
    t0 = time.perf_counter()
    np.asarray(trainer.epoch())  # compile + warm-up
    trace = time.perf_counter() - t0
    times, cpu = [], []
    for _ in range(reps):
        t0, c0 = time.perf_counter(), time.process_time()
        np.asarray(trainer.epoch())
        times.append((time.perf_counter() - t0) / steps)
        cpu.append((time.process_time() - c0) / steps)
    plan = trainer.plan
    lowrank = [f"{s.name}(span)" if plan.span and i == 0 else s.name
               for i, s in enumerate(layers) if plan.lowrank[i]]
    return times, cpu, trace, lowrank


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default="ae,dnn")
    parser.add_argument("--methods", default="auto,dense,fit",
                        help="auto (low-rank where it pays), lowrank (all unconstrained layers), "
                             "dense, fit (keras model.fit), jax (the JAX loop, its plan auto), "
                             "jax:dense, jax:lowrank (the JAX loop with that plan)")
    parser.add_argument("--flush-every", type=int, default=None,
                        help="flush the low-rank updates into the dense weights every this many "
                             "steps (default: sgd_loop.FLUSH_EVERY)")
    parser.add_argument("--no-span", action="store_true", help="no span form for the first layer")
    parser.add_argument("--block-mb", type=float, default=None,
                        help="block size of the transposed low-rank kernels in MiB (default: "
                             "sgd_loop.BLOCK_MB)")
    parser.add_argument("--steps", type=int, default=0,
                        help="steps per timed epoch (default: one paper epoch: AE 48, DNN 10)")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=10)
    parser.add_argument("--folds", type=int, default=1,
                        help="jax: also time this many folds batched in one program (> 1)")
    parser.add_argument("--threads", type=int, default=0,
                        help="TensorFlow intra/inter-op threads (default: TensorFlow's choice); "
                             "for JAX on CPU set XLA_FLAGS (module docstring)")
    args = parser.parse_args(argv)

    import tensorflow as tf

    from radiogenomics import backend

    if args.threads:
        backend.configure_threads(args.threads)

    from radiogenomics import sgd_loop

    flush_every = args.flush_every or sgd_loop.FLUSH_EVERY
    block_mb = args.block_mb or sgd_loop.BLOCK_MB
    bw = copy_bandwidth()
    print(f"copy bandwidth (read+write): {bw / 1e9:.1f} GB/s; TF {tf.__version__}; "
          f"threads intra={tf.config.threading.get_intra_op_parallelism_threads()}")
    for kind in args.models.split(","):
        model, _ = build(kind)
        params = model.count_params()
        del model
        steps = args.steps or {"ae": 48, "dnn": 10}[kind]
        if kind != args.models.split(",")[0]:
            bw = copy_bandwidth()  # measured again right before each model (shared machine)
            print(f"\ncopy bandwidth (read+write): {bw / 1e9:.1f} GB/s")
        floor = 4 * params * 6 / bw
        floor_grad = 4 * params * 8 / bw
        print(f"\n{kind}: {params / 1e6:.1f}M parameters, {steps} steps/epoch, batch "
              f"{args.batch_size}; fused floor {floor * 1e3:.1f} ms/step, with dense gradient "
              f"{floor_grad * 1e3:.1f} ms/step")
        results = {}
        for method in args.methods.split(","):
            if method == "fit":
                times, cpu, trace, lowrank = time_fit(kind, steps, args.reps, args.batch_size)
            elif method.split(":")[0] == "jax":
                plan = method.partition(":")[2] or "auto"
                for n_folds in sorted({1, max(1, args.folds)}):
                    times, cpu, trace, lowrank = time_jax(kind, steps, args.reps, args.batch_size,
                                                          n_folds, plan)
                    label = method if n_folds == 1 else f"{method} x{n_folds}"
                    results[label] = (min(times) / n_folds, min(cpu) / n_folds)
                    print(f"  {label:8s} min {min(times) * 1e3:7.1f} ms/step  median "
                          f"{statistics.median(times) * 1e3:7.1f}  = {min(times) / floor:4.2f}x floor  "
                          f"cpu {min(cpu) * 1e3:7.1f} ms/step  per fold-step "
                          f"{min(times) / n_folds * 1e3:7.1f} ms  (first epoch incl. compiling "
                          f"{trace:.1f} s)" + (f" low-rank layers {lowrank}" if lowrank else ""),
                          flush=True)
                continue
            else:
                times, cpu, trace, lowrank = time_loop(kind, method, steps, args.reps,
                                                       args.batch_size, flush_every,
                                                       not args.no_span, block_mb)
            results[method] = (min(times), min(cpu))
            extra = f" low-rank layers {lowrank}" if lowrank else ""
            print(f"  {method:8s} min {min(times) * 1e3:7.1f} ms/step  median "
                  f"{statistics.median(times) * 1e3:7.1f}  = {min(times) / floor:4.2f}x floor  "
                  f"cpu {min(cpu) * 1e3:7.1f} ms/step  (first epoch incl. tracing {trace:.1f} s){extra}",
                  flush=True)
        if "fit" in results:
            for method, (t, c) in results.items():
                if method != "fit":
                    print(f"  {method} / model.fit: wall {t / results['fit'][0]:.2f}, "
                          f"cpu {c / results['fit'][1]:.2f}")
        loops = [m for m in ("auto", "lowrank", "dense") if m in results]
        for label, (t, c) in results.items():
            if label.startswith("jax") and loops:
                ref = results[loops[0]]
                print(f"  {label} (per fold-step) / TF loop {loops[0]}: wall {t / ref[0]:.2f}, "
                      f"cpu {c / ref[1]:.2f}")


if __name__ == "__main__":
    main()
