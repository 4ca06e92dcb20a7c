"""Device check: the JAX training loop (radiogenomics.jax_loop) at paper size on one accelerator.

Runs from the working tree on a machine that has JAX (and a GPU) and nothing else of ours
installed: it puts ``workflow/scripts`` on ``sys.path`` and uses numpy, jax, the package's
TensorFlow-free modules (``jax_loop``, ``models``' size helpers and builders, ``seeds``), Keras 3
on the JAX backend when it is installed (initial weights from ``radiogenomics.models``, built as
the workflow builds them) and PyYAML when installed (``config/paper.yaml``). Without Keras the
initial weights are numpy Glorot-uniform, without PyYAML the paper's values are used; the
output says which. The README ("The device check") says which wheels to carry.

Usage, from anywhere::

    python tests/benchmarks/gpu_check.py               # paper size, at most --budget-s (480 s)
    python tests/benchmarks/gpu_check.py --scale 0.05  # reduced (a CPU): genes, layer sizes and
                                                       # epochs x 0.05, same rows and folds

Sections, printed as they finish (``== device``, ``== bandwidth``, ``== step times``, ``== full
fit``, ``== projection``, ``== floor``):

* bandwidth: (bytes read + bytes written) / time of a jitted ``a + 1`` on a 1 GiB float32 array
  (x scale in reduced mode), best of ``BANDWIDTH_REPS``;
* step time of ``jax_loop.fit_folds`` with 1 fold and with all folds batched: the marginal time
  of an epoch divided by its steps, ``(T(1 + k) - T(1)) / (k * steps)`` with ``T(e)`` the wall
  time of a call of ``e`` epochs; both calls reuse the compiled program (jax_loop keeps it in
  memory, and JAX's persistent compilation cache, in a temporary folder, holds it too), so
  compilation, the host-side set-up and the transfers cancel, and the per-epoch validation pass
  is included. ``k`` is chosen so that the k epochs take about ``--epoch-seconds``; each time is
  the best of two calls where the budget allows;
* one full autoencoder fit (all folds batched, every epoch), cold as in a new job's process:
  ``jax.clear_caches()`` and the persistent cache off;
* the projection of the paper grid, each job run after the other on this device::

      job(F folds) = imports + F * model build + compile(F) + set-up(F) + E * epoch(F)

  (the all-folds autoencoder job: imports + builds + the full fit's wall time); reading inputs
  and saving models (the workflow's I/O) are not included;
* the floor: a step must read the weights for the forward and for the backward pass and read
  and write weights and momentum once, ``bytes = 4 * P * F * 6`` (P parameters per model,
  float32, F folds), ``floor = bytes / bandwidth``; printed is measured step / floor. That is
  the floor of the dense update (``--plan dense``); the low-rank forms of the default plan
  (``auto``, radiogenomics.jax_lowrank) move fewer bytes and can go below it.

The whole check stops after ``--budget-s`` seconds whatever it is doing (a watchdog thread).
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "workflow" / "scripts"))
os.environ["KERAS_BACKEND"] = "jax"  # before Keras is imported (the machine may set another)

#: The paper's values, used when config/paper.yaml cannot be read (paper §2.1, §2.2, §2.4).
PAPER = dict(n_patients=528, n_imaged=109, n_genes=12042, folds=10, exclude_imaged=False,
             ae_hidden=[2000, 1000, 500, 1000, 2000], ae_momentum=0.2, ae_batch=10, ae_epochs=200,
             ae_configs=5 * 4 * 2, hidden4=100, dropout=0.25, dnn_momentum=0.5, dnn_batch=10,
             dnn_epochs=200, nonneg="output", dnn_configs=18 * 5)
#: The selected hyperparameters (paper §3); their values do not change the time of a step.
AE_LR, AE_DECAY, DNN_LR, DNN_DECAY = 0.2, 1e-5, 0.3, 5e-5
#: Comparison networks trained per fold besides the grid (paper §2.4: without pre-training,
#: with pre-training but no dropout).
COMPARISON_NETWORKS = 2
N_OUTPUTS = 20  # morphological features (paper §2.1.2)
TARGET_HOURS = 1.0  # the whole grid on one H100/H200 with folds_per_job: all
BANDWIDTH_BYTES = 2**30  # array of the bandwidth measurement at scale 1
BANDWIDTH_REPS = 10
FLOOR_PASSES = 6  # weights read forward + backward, weights read + write, momentum read + write
MIN_EPOCH_S = 1e-9  # a marginal epoch time below this is noise (reported as such)
K_GROWTH = 16  # timing epochs k grow at most this much per try (a noisy short span must not explode k)
#: share of the budget each section may use before it shortens its runs
ALLOWANCE = {"step": 0.45, "full": 0.40}
FULL_FIT_SHARE = 0.8  # of the time left: the full fit's epochs may run slower than the timing's
RESERVE_S = 5.0  # left for the projection and the floor after the full fit


def say(*args):
    print(*args, flush=True)


def paper_config():
    """The check's sizes from config/paper.yaml (PyYAML), else PAPER; and where they came from."""
    cfg = dict(PAPER)
    path = REPO / "config" / "paper.yaml"
    try:
        import yaml
    except ImportError:
        return cfg, f"the paper's values ({path.relative_to(REPO)} not read: no PyYAML)"
    c = yaml.safe_load(path.read_text())
    ae, dnn, demo = c["autoencoder"], c["dnn"], c["demo"]
    grid4 = dnn.get("grid", {}).get("hidden4")
    cfg.update(
        n_patients=demo["n_patients"], n_imaged=demo["n_imaged"], n_genes=demo["n_genes"],
        folds=c["cv"]["folds"], exclude_imaged=bool(ae.get("exclude_imaged", False)),
        ae_hidden=list(ae["hidden"]), ae_momentum=ae["momentum"], ae_batch=ae["batch_size"],
        ae_epochs=ae["epochs"], ae_configs=math.prod(len(v) for v in ae["grid"].values()),
        hidden4=(grid4[0] if grid4 else dnn["hidden4"]), dropout=dnn["dropout"],
        dnn_momentum=dnn["momentum"], dnn_batch=dnn["batch_size"], dnn_epochs=dnn["epochs"],
        nonneg=dnn["nonneg"], dnn_configs=math.prod(len(v) for v in dnn["grid"].values()))
    what = "dnn.grid.hidden4[0]" if grid4 else "dnn.hidden4"
    return cfg, f"{path.relative_to(REPO)} (hidden4 from {what})"


def kfold(n, k, seed):
    """(train, val) row indices of a shuffled k-fold split with scikit-learn KFold's sizes (the
    first n % k folds hold n // k + 1 validation rows)."""
    perm = np.random.default_rng(seed).permutation(n)
    sizes = [n // k + (1 if i < n % k else 0) for i in range(k)]
    bounds = np.cumsum([0, *sizes])
    out = []
    for i in range(k):
        val = np.sort(perm[bounds[i]:bounds[i + 1]])
        out.append((np.setdiff1d(np.arange(n), val), val))
    return out


@dataclass
class Problem:
    name: str
    layers: list
    initial: list  # one weight list per fold
    x: np.ndarray
    y: np.ndarray
    folds: list
    loss: str
    lr: float
    decay: float
    momentum: float
    batch: int
    epochs: int
    params: int  # per model
    build_s: float  # seconds to make one model's initial weights
    plan: str = "auto"  # jax_loop.fit_folds' layer plan (--plan)

    @property
    def steps(self):
        return max(math.ceil(len(f.train) / self.batch) for f in self.folds)

    def fit(self, n_folds, epochs):
        from radiogenomics import jax_loop

        t = time.perf_counter()
        res = jax_loop.fit_folds(self.layers, self.initial[:n_folds], self.x, self.y,
                                 self.folds[:n_folds], loss=self.loss, learning_rate=self.lr,
                                 decay=self.decay, momentum=self.momentum, batch_size=self.batch,
                                 epochs=epochs, plan=self.plan)
        return time.perf_counter() - t, res


def glorot(sizes, names, seed):
    """Keras' Glorot-uniform kernels, U(-l, l) with l = sqrt(6 / (fan_in + fan_out)), zero biases."""
    from radiogenomics import seeds

    out = []
    for (a, b), name in zip(zip(sizes[:-1], sizes[1:]), names):
        limit = math.sqrt(6.0 / (a + b))
        rng = np.random.default_rng(seeds.derive(seed, name))
        kernel = (rng.random((a, b), dtype=np.float32) * 2 - 1) * np.float32(limit)
        out.append((kernel, np.zeros(b, np.float32)))
    return out


def make_problem(kind, cfg, dims, n_folds, keras, seed):
    """Data, folds, layers and per-fold initial weights of the autoencoder or the network."""
    from radiogenomics import jax_loop, models, seeds

    genes, hidden, hidden4, epochs = dims["genes"], dims["hidden"], dims["hidden4"], dims["epochs"]
    rng = np.random.default_rng(seeds.derive(seed, "gpu_check", kind, "data"))
    enc = models.encoder_sizes(hidden)
    if kind == "autoencoder":
        n = cfg["n_patients"] - (cfg["n_imaged"] if cfg["exclude_imaged"] else 0)
        x = rng.uniform(-0.5, 0.5, (n, genes)).astype(np.float32)  # range-scaled genes
        y = x
        sizes, names = models.autoencoder_sizes(genes, hidden), models.autoencoder_layer_names(hidden)
        acts = ["tanh"] * len(hidden) + ["linear"]
        drops, nonneg = [0.0] * len(acts), set()
    else:
        n = cfg["n_imaged"]
        x = rng.uniform(-0.5, 0.5, (n, genes)).astype(np.float32)
        y = rng.uniform(0, 1, (n, N_OUTPUTS)).astype(np.float32)  # min-max scaled features
        sizes, names = models.dnn_sizes(genes, enc, hidden4, N_OUTPUTS), models.dnn_layer_names(len(enc))
        acts = ["relu"] * (len(enc) + 1) + ["linear"]
        # dropout{i} precedes hidden{i+1} for i = 0..m (radiogenomics.models.build_dnn)
        drops = [cfg["dropout"]] * (len(enc) + 1) + [0.0]
        nonneg = set(models.nonneg_layers(cfg["nonneg"], len(enc)))
    folds = [jax_loop.Fold(train=tr, val=va, seed=seeds.derive(seed, "gpu_check", kind, i))
             for i, (tr, va) in enumerate(kfold(n, cfg["folds"], seeds.derive(seed, "folds")))][:n_folds]
    t = time.perf_counter()
    initial = []
    for f in folds:
        if keras is None:
            initial.append(glorot(sizes, names, f.seed))
            continue
        if kind == "autoencoder":
            model, keep = models.build_autoencoder(genes, hidden, "tanh", "linear", seed=f.seed), ()
        else:
            model, keep = models.build_dnn(genes, enc, hidden4, N_OUTPUTS, cfg["dropout"],
                                           cfg["nonneg"], seed=f.seed)
        layers = jax_loop.describe(model, keep)
        initial.append(jax_loop.weights_of(model))
        del model
        keras.backend.clear_session()
    build_s = (time.perf_counter() - t) / len(folds)
    if keras is None:
        layers = [jax_loop.Layer(nm, a, d, nm in nonneg) for nm, a, d in zip(names, acts, drops)]
    ae = kind == "autoencoder"
    return Problem(kind, layers, initial, x, y, folds, "mse" if ae else "mae",
                   AE_LR if ae else DNN_LR, AE_DECAY if ae else DNN_DECAY,
                   cfg["ae_momentum"] if ae else cfg["dnn_momentum"],
                   cfg["ae_batch"] if ae else cfg["dnn_batch"], epochs,
                   models.parameter_count(sizes), build_s)


@dataclass
class Timing:
    step: float  # s per step of the whole (batched) program
    epoch: float
    compile: float  # first call minus a cached call of the same epochs
    setup: float  # a cached call minus its epochs: tracing, cache look-up, transfers


def time_steps(prob, n_folds, epoch_seconds, allowance):
    """Marginal step time of fit_folds with ``n_folds`` folds (module docstring): k grows (from 2,
    by the shortfall, at most x ``K_GROWTH``) until the k epochs take half of ``epoch_seconds``
    or the section's ``allowance`` would be exceeded."""
    t0 = time.perf_counter()
    left = lambda: allowance - (time.perf_counter() - t0)  # noqa: E731
    cold, _ = prob.fit(n_folds, 1)
    one = prob.fit(n_folds, 1)[0]
    k = 2
    while True:
        long = prob.fit(n_folds, 1 + k)[0]
        span = long - one
        if span >= epoch_seconds / 2:
            break
        growth = min(K_GROWTH, max(2.0, epoch_seconds / max(span, epoch_seconds / K_GROWTH)))
        if left() < (span * growth + one) * 2 + one:  # the next call and its repeats would not fit
            break
        k = int(k * growth)
    if left() > long + one:  # repeats: the best of two calls each
        long = min(long, prob.fit(n_folds, 1 + k)[0])
        one = min(one, prob.fit(n_folds, 1)[0])
    epoch = (long - one) / k
    noisy = epoch < MIN_EPOCH_S
    epoch = max(epoch, MIN_EPOCH_S)
    timing = Timing(epoch / prob.steps, epoch, max(cold - one, 0.0), max(one - epoch, 0.0))
    label = f"{prob.name}, {n_folds} fold" + ("s batched" if n_folds > 1 else "")
    say(f"{label}: {timing.step * 1e3:.3f} ms/step ({prob.steps} steps/epoch; 1 vs {1 + k} epochs; "
        f"first call {cold:.1f} s of which compile {timing.compile:.1f} s; set-up per call "
        f"{timing.setup:.2f} s)" + (" [epoch time below the noise]" if noisy else ""))
    return timing


def bandwidth(jax, nbytes):
    """(read + write bytes) / s of a jitted elementwise a + 1 over nbytes of float32, best of reps."""
    a = jax.numpy.ones(nbytes // 4, jax.numpy.float32)
    f = jax.jit(lambda v: v + 1)
    f(a).block_until_ready()
    best = float("inf")
    for _ in range(BANDWIDTH_REPS):
        t = time.perf_counter()
        f(a).block_until_ready()
        best = min(best, time.perf_counter() - t)
    return 2 * a.nbytes / best


def dims_for(cfg, scale):
    s = lambda v: max(2, round(v * scale))  # noqa: E731
    return dict(genes=s(cfg["n_genes"]), hidden=[s(h) for h in cfg["ae_hidden"]],
                hidden4=s(cfg["hidden4"]), epochs=s(cfg["ae_epochs"]), dnn_epochs=s(cfg["dnn_epochs"]))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scale", type=float, default=1.0,
                    help="multiply genes, layer sizes and epochs (rows and folds stay): < 1 on a CPU")
    ap.add_argument("--budget-s", type=float, default=480.0, help="stop after this many seconds")
    ap.add_argument("--init", choices=("auto", "keras", "numpy"), default="auto",
                    help="initial weights: Keras on JAX when installed (auto), or numpy Glorot")
    ap.add_argument("--plan", choices=("auto", "dense", "lowrank"), default="auto",
                    help="jax_loop's layer plan (auto: the workflow's; dense: the dense-update reference)")
    ap.add_argument("--epoch-seconds", type=float, default=None,
                    help="seconds of epochs per long timing call (default 1.5, x scale when reduced)")
    args = ap.parse_args(argv)
    start = time.perf_counter()
    section = ["start"]
    cache = tempfile.mkdtemp(prefix="gpu_check_cache_")

    def out_of_time():
        say(f"== budget: {args.budget_s:.0f} s used up during '{section[0]}'; stopped")
        shutil.rmtree(cache, ignore_errors=True)
        os._exit(3)

    watchdog = threading.Timer(args.budget_s, out_of_time)
    watchdog.daemon = True
    watchdog.start()
    budget = lambda: args.budget_s - (time.perf_counter() - start)  # noqa: E731
    epoch_seconds = args.epoch_seconds or (1.5 if args.scale >= 1 else max(0.05, 1.5 * args.scale))

    section[0] = "device"
    say("== device")
    t = time.perf_counter()
    import jax

    import_s = time.perf_counter() - t
    try:  # a cached program makes the two calls of a timing differ by their epochs only
        jax.config.update("jax_compilation_cache_dir", cache)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
        cached = "on"
    except (AttributeError, KeyError, ValueError) as exc:
        cached = f"unavailable ({exc}): step times include the compile times' noise"
    dev = jax.devices()[0]
    say(f"jax {jax.__version__}, backend {jax.default_backend()}, devices {jax.devices()}")
    stats = dev.memory_stats() or {}
    mem = f"{stats['bytes_limit'] / 2**30:.1f} GiB" if "bytes_limit" in stats else "not reported"
    try:
        platform = dev.client.platform_version
    except AttributeError:
        platform = "not reported"
    say(f"device kind: {dev.device_kind}; memory: {mem}; platform {platform!r}; numpy "
        f"{np.__version__}; python {sys.version.split()[0]}")
    if jax.default_backend() == "cpu" and args.scale >= 1:
        say("note: no accelerator: these are CPU timings")
    keras, why = None, "numpy Glorot-uniform (--init numpy)"
    if args.init != "numpy":
        t = time.perf_counter()
        try:
            import keras

            assert keras.backend.backend() == "jax", f"Keras backend {keras.backend.backend()}"
            import_s += time.perf_counter() - t
            why = f"Keras {keras.__version__} on JAX (radiogenomics.models builders)"
        except Exception as exc:  # noqa: BLE001 (any failure: fall back, and say why)
            if args.init == "keras":
                raise
            keras, why = None, f"numpy Glorot-uniform (Keras unusable: {type(exc).__name__}: {exc})"
    from radiogenomics import jax_loop  # noqa: F401 (its import time belongs to a job's)

    cfg, source = paper_config()
    dims = dims_for(cfg, args.scale)
    say(f"initial weights: {why}")
    say(f"imports (jax, keras): {import_s:.1f} s; compilation cache for the timings: {cached}")
    say(f"sizes from {source}: genes {dims['genes']}, autoencoder hidden {dims['hidden']}, network "
        f"hidden4 {dims['hidden4']}, dropout {cfg['dropout']}, {cfg['folds']} folds, "
        f"{dims['epochs']} epochs, cohorts {cfg['n_patients']} (autoencoder) / {cfg['n_imaged']} "
        f"(network)" + (f"; REDUCED: scale {args.scale}, not the paper's size" if args.scale != 1 else ""))

    section[0] = "bandwidth"
    say("== bandwidth")
    nbytes = max(2**24, int(BANDWIDTH_BYTES * min(args.scale, 1.0)))
    bw = bandwidth(jax, nbytes)
    say(f"copy bandwidth (read+write): {bw / 1e9:.1f} GB/s ({nbytes / 2**20:.0f} MiB array, "
        f"best of {BANDWIDTH_REPS})")

    section[0] = "step times"
    say("== step times")
    F = cfg["folds"]
    probs, timings = {}, {}
    for kind in ("autoencoder", "network"):
        d = dict(dims, epochs=dims["epochs"] if kind == "autoencoder" else dims["dnn_epochs"])
        try:
            probs[kind] = p = make_problem(kind, cfg, d, F, keras, seed=2018)
        except Exception as exc:  # noqa: BLE001 (a one-shot run on a lent machine goes on)
            if keras is None or args.init == "keras":
                raise
            say(f"initial weights: Keras failed ({type(exc).__name__}: {exc}); numpy Glorot-uniform "
                f"from here on")
            keras = None
            probs[kind] = p = make_problem(kind, cfg, d, F, keras, seed=2018)
        p.plan = args.plan
        tr = sorted({len(f.train) for f in p.folds})
        say(f"{kind}: {p.params / 1e6:.3f}M parameters, layers {[lay.name for lay in p.layers]}, "
            f"plan {p.plan}, "
            f"{p.loss}, momentum {p.momentum}, batch {p.batch}, training rows per fold {tr}, "
            f"initial weights {p.build_s:.2f} s per model")
        for n_folds in (1, F):
            allowance = ALLOWANCE["step"] * args.budget_s / 4
            timings[kind, n_folds] = time_steps(p, n_folds, epoch_seconds, min(allowance, budget()))
    for kind in probs:
        r = timings[kind, F].step / timings[kind, 1].step
        say(f"{kind}: {F} folds batched take {r:.2f}x the time of 1 fold per step "
            f"({timings[kind, F].step / F * 1e3:.3f} ms per fold-step)")

    section[0] = "full fit"
    say("== full fit")
    # a cold job, as a workflow job's new process: compile included (no in-memory programs,
    # no persistent cache)
    jax.clear_caches()
    try:
        jax.config.update("jax_enable_compilation_cache", False)
    except (AttributeError, KeyError, ValueError):
        say("note: the compilation cache could not be switched off: compile time may be missing")
    ae, ta = probs["autoencoder"], timings["autoencoder", F]
    left = min(ALLOWANCE["full"] * args.budget_s, FULL_FIT_SHARE * (budget() - RESERVE_S))
    run_epochs = min(ae.epochs, int((left - ta.compile - ta.setup) / ta.epoch))
    tr = [len(f.train) for f in ae.folds]
    head = (f"autoencoder, {F} folds batched, {ae.epochs} epochs, training rows {min(tr)}-{max(tr)} "
            f"({ae.steps} steps/epoch): full fit: ")
    if run_epochs < 1:
        full = ta.compile + ta.setup + ae.epochs * ta.epoch
        say(f"{head}{full:.1f} s wall (not run: {left:.0f} s of budget left; estimated from the "
            f"step timing: compile + set-up + {ae.epochs} x epoch)")
    else:
        wall, res = ae.fit(F, run_epochs)
        full = wall + (ae.epochs - run_epochs) * ta.epoch
        loss = np.mean([r.history["loss"][-1] for r in res])
        val = np.mean([r.history["val_loss"][-1] for r in res])
        peak = (dev.memory_stats() or {}).get("peak_bytes_in_use")
        say(f"{head}{full:.1f} s wall"
            + (f" (ran {run_epochs} of {ae.epochs} epochs within the budget: {wall:.1f} s, the rest "
               f"extrapolated from the step timing)" if run_epochs < ae.epochs else "")
            + f"; last epoch mean loss {loss:.4g}, val_loss {val:.4g}"
            + (f"; device memory peak {peak / 2**30:.1f} GiB" if peak else ""))

    section[0] = "projection"
    say("== projection")
    net = probs["network"]

    def job(prob, n_folds, epochs, steps=None):
        t = timings[prob.name, n_folds]
        epoch = t.epoch if steps is None else t.step * steps
        return import_s + n_folds * prob.build_s + t.compile + t.setup + epochs * epoch

    n_ae = cfg["ae_configs"]
    n_net = cfg["dnn_configs"] + COMPARISON_NETWORKS
    all_rows = len(ae.x)
    final_ae = job(ae, 1, ae.epochs, steps=math.ceil(all_rows / ae.batch))
    ae_all = import_s + F * ae.build_s + full
    net_all = job(net, F, net.epochs)
    total_all = n_ae * ae_all + final_ae + n_net * net_all
    total_one = n_ae * F * job(ae, 1, ae.epochs) + final_ae + n_net * F * job(net, 1, net.epochs)
    say(f"grid: {n_ae} autoencoder configurations x {F} folds + 1 final retrain on all {all_rows} "
        f"profiles; {cfg['dnn_configs']} network configurations + {COMPARISON_NETWORKS} comparison "
        f"networks, x {F} folds, {len(net.x)} supervised patients ({min(len(f.train) for f in net.folds)}-"
        f"{max(len(f.train) for f in net.folds)} training rows per fold); one job after the other")
    say(f"per job (folds_per_job all): autoencoder {ae_all:.1f} s, network {net_all:.1f} s; final "
        f"autoencoder {final_ae:.1f} s; each incl. imports {import_s:.1f} s and initial weights")
    say(f"total, folds_per_job 1: {total_one / 3600:.2f} h ({n_ae * F + 1} + {n_net * F} jobs)")
    verdict = "within" if total_all <= TARGET_HOURS * 3600 else "OVER"
    say(f"total, folds_per_job all: {total_all / 3600:.2f} h ({n_ae + 1} + {n_net} jobs): {verdict} "
        f"the {TARGET_HOURS:g} h target" + (f" [REDUCED scale {args.scale}]" if args.scale != 1 else ""))

    section[0] = "floor"
    say("== floor")
    say(f"floor = 4 bytes x P x folds x {FLOOR_PASSES} (weights read forward + backward, weights "
        f"read + write, momentum read + write) / {bw / 1e9:.1f} GB/s: the floor of the dense update; "
        f"plan {args.plan} (the low-rank plans move fewer bytes and can go below it)")
    for (kind, n_folds), t in timings.items():
        p = probs[kind]
        floor = 4 * p.params * n_folds * FLOOR_PASSES / bw
        say(f"{kind}, {n_folds} fold{'s' if n_folds > 1 else ''}: floor {floor * 1e3:.3f} ms/step, "
            f"measured {t.step * 1e3:.3f} ms/step: {t.step / floor:.2f}x floor")
    watchdog.cancel()
    shutil.rmtree(cache, ignore_errors=True)
    say(f"== done in {time.perf_counter() - start:.0f} s (budget {args.budget_s:.0f} s)")


if __name__ == "__main__":
    main()
