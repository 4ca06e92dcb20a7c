"""Benchmark: radiogenomics.baseline.elastic_net_cv vs scikit-learn's ElasticNetCV.

Data: random expression of the paper's size (109 patients x 12,042 genes, correlated through
20 hidden factors, each gene standardised by its range as in §2.1.2) with a planted sparse
linear signal (10 genes), target scaled to [0, 1]; 10 folds.

1. Both on the same reduced grid (default 20 l1 ratios 0.05..1 x 100 lambdas; ElasticNetCV
   cannot do l1_ratio = 0 with an automatic grid): time per feature, the same selected
   (l1_ratio, lambda) under ElasticNetCV's criterion (mean per-fold MSE), the CV error
   surfaces and the out-of-fold predictions of the selected model compared.
2. Ours alone on the paper grid (21 x 4000, ridge included), time per feature; ``--lambdas``
   takes a comma-separated list of path lengths (e.g. ``100,400,4000``).
3. When R's glmnet is installed (``Rscript`` on the PATH, e.g. Debian's ``r-cran-glmnet``):
   glmnet on the same data, folds and problems, one α at a time with glmnet's defaults
   (``thresh = 1e-7`` unless ``--glmnet-thresh``; its early path stop allowed unless
   ``--glmnet-full-path``), with one
   thread; both times, their ratio, and whether the selections (per α and overall, by
   glmnet's pooled CV MSE = our pooled R², intercept-only models excluded) are the same, per
   path length. The same problems: glmnet scales y to unit variance (1/n) inside every fit,
   so for 0 < α < 1 its problem at (α, λ) is not ours (its L2 weight is λ(1-α)/sd(y)); each
   fit gets α / k and λ k, k = α + sd(y)(1-α) with that fit's sd(y), which is ours exactly
   (``GLMNET_SCRIPT``). As sd(y) differs between folds, the folds are fitted one by one
   (``cv.glmnet`` takes one α for all) and the pooled CV MSE formed as ``cv.glmnet``'s cvm.
   ``--glmnet-native``: ``cv.glmnet`` with our α and λ as they are (glmnet's own problems;
   how this benchmark compared before). ``--repeat K`` runs K (ours, glmnet) pairs
   alternately per path length and reports the ratio of the medians. ``--skip-glmnet`` turns
   it off.

Timings on a shared machine are noisy: wall and CPU (process) time are both printed (CPU
time is less affected by other processes); report them with the command line, e.g.

    python tests/benchmarks/bench_baseline.py                       # both parts
    python tests/benchmarks/bench_baseline.py --skip-sklearn        # part 2 only
    python tests/benchmarks/bench_baseline.py --skip-sklearn --standardize both   # both settings
    python tests/benchmarks/bench_baseline.py --genes 2000 --lambdas 50   # quick look
    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python tests/benchmarks/bench_baseline.py \
        --skip-sklearn --standardize true --patients 98 --lambdas 100,400,4000   # vs glmnet
    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python tests/benchmarks/bench_baseline.py \
        --skip-sklearn --standardize true --patients 98 --lambdas 100 --repeat 3   # medians
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "workflow" / "scripts"))

from radiogenomics import baseline  # noqa: E402


def make_data(n, p, k=10, seed=2018):
    rng = np.random.default_rng(seed)
    factors = rng.normal(size=(n, 20))
    X = factors @ rng.normal(size=(20, p)) * 0.5 + rng.normal(size=(n, p))
    X = (X - X.mean(axis=0)) / (X.max(axis=0) - X.min(axis=0))
    w = np.zeros(p)
    w[:k] = rng.normal(size=k) * 2
    y = X @ w + 0.1 * rng.normal(size=n) * np.std(X @ w)
    y = (y - y.min()) / (y.max() - y.min())
    folds = rng.permutation(np.arange(n) % 10 + 1)
    return X, y, folds


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--patients", type=int, default=109)
    ap.add_argument("--genes", type=int, default=12042)
    ap.add_argument("--l1-ratios", type=int, default=21, help="grid size n: linspace(0, 1, n)")
    ap.add_argument("--lambdas", default="4000", help="path lengths for parts 2 and 3, comma-separated")
    ap.add_argument("--sk-lambdas", type=int, default=100, help="path length for the comparison (part 1)")
    ap.add_argument("--skip-sklearn", action="store_true")
    ap.add_argument("--skip-paper", action="store_true")
    ap.add_argument("--skip-glmnet", action="store_true", help="part 3 off even when glmnet is installed")
    ap.add_argument("--glmnet-full-path", action="store_true",
                    help="part 3: glmnet.control(fdev = 0), no early path stop (the whole grid, as ours)")
    ap.add_argument("--glmnet-thresh", type=float, default=1e-7,
                    help="part 3: glmnet's convergence threshold (its default 1e-7; smaller: closer to exact)")
    ap.add_argument("--glmnet-native", action="store_true",
                    help="part 3: cv.glmnet with our alpha and lambda values as they are, i.e. glmnet's "
                         "own problems (for 0 < alpha < 1 not ours: glmnet scales y to unit variance in "
                         "every fit); default: our problems mapped to glmnet's parametrisation")
    ap.add_argument("--repeat", type=int, default=1,
                    help="part 3: this many (ours, glmnet) pairs per path length, run alternately; "
                         "the ratio of the medians is reported with every pair's (the machine's speed "
                         "drifts: one pair is not a figure)")
    ap.add_argument("--standardize", choices=("false", "true", "both"), default="false",
                    help="part 2: baseline.standardize (glmnet's standardize = TRUE), or both settings")
    args = ap.parse_args(argv)
    try:
        import threadpoolctl

        threadpoolctl.threadpool_limits(1)  # one core, as the Snakemake job (threads: 1)
    except ImportError:
        pass

    # the solvers import scikit-learn (LARS, the reference) on first use: load it before the
    # clocks start, as glmnet's timing below starts after library(glmnet)
    import sklearn.linear_model  # noqa: F401

    X, y, folds = make_data(args.patients, args.genes)
    ratios = baseline.l1_ratio_grid(args.l1_ratios)
    print(f"data: {args.patients} patients x {args.genes} genes, 10 folds, 10 planted genes; one thread")
    # The compiled screening loops are loaded once per process (like glmnet's library in R),
    # before any timing: the time it takes is printed, not added to a feature's.
    t0 = time.perf_counter()
    from radiogenomics.baseline import kernels

    kernels.load()
    print(f"compiled screening loops (numba {'available' if kernels.AVAILABLE else 'missing'}): "
          f"imported and loaded in {time.perf_counter() - t0:.2f} s, once per process")

    if not args.skip_sklearn:
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.linear_model import ElasticNet, ElasticNetCV
        from sklearn.model_selection import PredefinedSplit

        pos = [float(a) for a in ratios if a > 0]
        L = args.sk_lambdas
        print(f"\n[1] grid {len(pos)} l1 ratios (0 excluded) x {L} lambdas, criterion = mean per-fold MSE")
        t0, c0 = time.perf_counter(), time.process_time()
        ours = baseline.elastic_net_cv(X, y, folds, pos, L, 0.01, criterion="mean_fold_mse")
        t_ours, c_ours = time.perf_counter() - t0, time.process_time() - c0
        print(f"  radiogenomics.baseline: {t_ours:8.1f} s wall {c_ours:8.1f} s CPU   l1_ratio={ours['l1_ratio']:.2f} "
              f"lambda={ours['lambda']:.6g} R2={ours['r2']:.4f} nonzero={ours['n_nonzero']}")
        t0, c0 = time.perf_counter(), time.process_time()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            cv = ElasticNetCV(l1_ratio=pos, alphas=L, eps=0.01, cv=PredefinedSplit(folds)).fit(X, y)
        t_sk, c_sk = time.perf_counter() - t0, time.process_time() - c0
        print(f"  sklearn ElasticNetCV:   {t_sk:8.1f} s wall {c_sk:8.1f} s CPU   l1_ratio={cv.l1_ratio_:.2f} "
              f"lambda={cv.alpha_:.6g} nonzero={int(np.count_nonzero(cv.coef_))}")
        same = ours["l1_ratio"] == cv.l1_ratio_ and np.isclose(ours["lambda"], cv.alpha_, rtol=1e-10)
        surface = np.abs(ours["cv_mse"] - cv.mse_path_).max() / np.var(y)
        # the selection margin: how far apart the two best models are under sklearn's surface
        print(f"  same selected model: {same}; max |CV MSE difference| / var(y) = {surface:.2e} "
              f"(ElasticNetCV default tol=1e-4)")
        oof = np.empty(len(y))
        for f in np.unique(folds):
            tr, va = folds != f, folds == f
            m = ElasticNet(alpha=cv.alpha_, l1_ratio=cv.l1_ratio_).fit(X[tr], y[tr])
            oof[va] = m.predict(X[va])
        print(f"  out-of-fold predictions, max |difference| (scaled units): {np.abs(oof - ours['oof']).max():.2e}")
        # Arbiter: both selected models refitted per fold with a tight tolerance.
        def tight(l1, lam):
            pred = np.empty(len(y))
            mse = []
            for f in np.unique(folds):
                tr, va = folds != f, folds == f
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    m = ElasticNet(alpha=lam, l1_ratio=l1, tol=1e-10, max_iter=200000).fit(X[tr], y[tr])
                pred[va] = m.predict(X[va])
                mse.append(np.mean((pred[va] - y[va]) ** 2))
            return pred, float(np.mean(mse))
        t_pred, t_mse = tight(ours["l1_ratio"], ours["lambda"])
        print(f"  tight (tol=1e-10) refit of our selection: mean fold MSE {t_mse:.6g} "
              f"(ours {ours['cv_mse'][ours['index']].mean():.6g}); max |OOF difference| "
              f"{np.abs(t_pred - ours['oof']).max():.2e}")
        if not same:
            _, s_mse = tight(cv.l1_ratio_, cv.alpha_)
            print(f"  tight refit of ElasticNetCV's selection: mean fold MSE {s_mse:.6g} "
                  f"(ElasticNetCV reported {cv.mse_path_.mean(axis=2).min():.6g}): "
                  f"{'ours is better' if t_mse <= s_mse else 'ElasticNetCV is better'} when converged")
        print(f"  speed-up: {t_sk / t_ours:.1f}x wall, {c_sk / c_ours:.1f}x CPU")

    lengths = [int(v) for v in str(args.lambdas).split(",")]
    ours = {}
    if not args.skip_paper:
        settings = {"false": [False], "true": [True], "both": [False, True]}[args.standardize]
        for standardize in settings:
            for L in lengths:
                print(f"\n[2] grid {len(ratios)} l1 ratios (ridge included) x {L} lambdas, pooled R2, "
                      f"standardize={str(standardize).lower()}")
                t0, c0 = time.perf_counter(), time.process_time()
                res = baseline.elastic_net_cv(X, y, folds, ratios, L, 0.01, standardize=standardize)
                t, c = time.perf_counter() - t0, time.process_time() - c0
                ours[standardize, L] = (res, t, c)
                top = set(np.argsort(-np.abs(res["coef"]))[:10])
                print(f"  radiogenomics.baseline: {t:8.1f} s wall {c:8.1f} s CPU per feature   "
                      f"l1_ratio={res['l1_ratio']:.2f} lambda={res['lambda']:.6g} R2={res['r2']:.4f} "
                      f"nonzero={res['n_nonzero']} planted genes in top 10: {len(top & set(range(10)))}/10")
                print(f"  solver: {res['solver_stats']}")
                print(f"  certificate (relative duality gap): folds <= {res['certificate']['fold_max']:.2e}, "
                      f"refit {res['certificate']['refit']:.2e}")

    if not args.skip_glmnet and ours:
        if not glmnet_available():
            print("\n[3] glmnet: not run (no Rscript with the glmnet package)")
            return
        how = ("cv.glmnet with our alpha and lambda values, glmnet's own problems" if args.glmnet_native
               else "our problems in glmnet's parametrisation, fold by fold")
        print(f"\n[3] R glmnet ({how}, same data and folds, one thread"
              f"{', no early path stop' if args.glmnet_full_path else ''}, thresh={args.glmnet_thresh:g}) vs ours")
        rows = []
        for (standardize, L), (res, t, c) in ours.items():
            pairs = []
            for i in range(max(args.repeat, 1)):
                if i > 0:  # ours again, then glmnet again: the pairs alternate
                    t0, c0 = time.perf_counter(), time.process_time()
                    baseline.elastic_net_cv(X, y, folds, ratios, L, 0.01, standardize=standardize)
                    t, c = time.perf_counter() - t0, time.process_time() - c0
                g = run_glmnet(X, y, folds, res["l1_ratios"], res["lambdas"], standardize, args.glmnet_full_path,
                               args.glmnet_thresh, args.glmnet_native)
                pairs.append((t, g["elapsed"]))
                if args.repeat > 1:
                    print(f"  {L:5d} lambdas, pair {i + 1}: ours {t:7.1f} s, glmnet {g['elapsed']:7.1f} s, "
                          f"ratio {t / g['elapsed']:.2f}")
            if args.repeat > 1:
                t_med = float(np.median([a for a, _ in pairs]))
                g_med = float(np.median([b for _, b in pairs]))
                print(f"  {L:5d} lambdas, {len(pairs)} pairs: median ours {t_med:.1f} s, median glmnet "
                      f"{g_med:.1f} s, ratio of the medians {t_med / g_med:.2f} (pairs "
                      f"{min(a / b for a, b in pairs):.2f}-{max(a / b for a, b in pairs):.2f})")
            # ours per α: the pooled-R² argmax among the models that are not intercept-only
            r2 = np.where(res["intercept_only"], -np.inf, res["r2_path"])
            per_alpha = r2.argmax(axis=1)
            same_alpha = int(np.sum(per_alpha == g["index"]))
            same = (res["index"][0] == g["best"][0]) and (res["index"][1] == g["best"][1])
            print(f"  {L:5d} lambdas, standardize={str(standardize).lower()}: glmnet {g['elapsed']:7.1f} s "
                  f"({g['cpu']:.1f} s CPU), ours {t:7.1f} s ({c:.1f} s CPU): ratio ours/glmnet "
                  f"{t / g['elapsed']:.2f} wall, {c / g['cpu']:.2f} CPU; selection same: {same} "
                  f"(ours l1_ratio={res['l1_ratio']:.2f} step {res['index'][1]}, glmnet "
                  f"l1_ratio={res['l1_ratios'][g['best'][0]]:.2f} step {g['best'][1]}); per-alpha "
                  f"lambda same for {same_alpha}/{len(per_alpha)}; glmnet stopped its path early for "
                  f"{int(np.sum(g['fitted'] < L))} alphas")
            rows.append((L, g_med, t_med) if args.repeat > 1 else (L, g["elapsed"], t))
        print("  path length | glmnet s | ours s | ours/glmnet" + (" (medians)" if args.repeat > 1 else ""))
        for L, tg, to in rows:
            print(f"  {L:11d} | {tg:8.1f} | {to:6.1f} | {to / tg:5.2f}")


GLMNET_SCRIPT = r"""
args <- commandArgs(TRUE)
dir <- args[1]
suppressMessages(library(glmnet))
dims <- scan(file.path(dir, "dims.txt"), quiet = TRUE)
N <- dims[1]; p <- dims[2]; A <- dims[3]; L <- dims[4]; std <- dims[5] == 1; full <- dims[6] == 1
thresh <- dims[7]
X <- matrix(readBin(file.path(dir, "X.bin"), "double", N * p), nrow = N, byrow = TRUE)
y <- readBin(file.path(dir, "y.bin"), "double", N)
foldid <- readBin(file.path(dir, "folds.bin"), "integer", N)
alphas <- readBin(file.path(dir, "alphas.bin"), "double", A)
lambdas <- matrix(readBin(file.path(dir, "lambdas.bin"), "double", A * L), nrow = A, byrow = TRUE)
if (full) glmnet.control(fdev = 0)
native <- dims[8] == 1
best <- Inf; best_a <- NA; best_t <- NA
lines <- character(0)
# Our problem, 1/(2n) RSS + lam a |w|_1 + lam (1 - a)/2 |w|^2, in glmnet's terms: glmnet
# scales y to unit variance (1/n formula) inside every fit, which makes its L2 weight
# lam_g (1 - a_g) / sd(y). With k = a + sd(y) (1 - a), alpha = a / k and lambda = lam k give
# the same L1 weight lam a and L2 weight lam (1 - a). sd(y) is each fit's own (every fold's
# training patients, all patients for the full fit), so the folds are fitted one by one
# (cv.glmnet takes one alpha for all of them) and the pooled CV MSE formed here, as
# cv.glmnet's cvm (grouped, weighted by fold size). A path glmnet stops early is continued
# with its last fit, as cv.glmnet does.
fit_rows <- function(rows, a, lam) {
  yt <- y[rows]
  k <- a + sqrt(mean((yt - mean(yt))^2)) * (1 - a)
  glmnet(X[rows, , drop = FALSE], yt, alpha = a / k, lambda = lam * k, standardize = std,
         thresh = thresh)
}
t0 <- proc.time()
for (a in seq_len(A)) {
  if (native) {
    fit <- cv.glmnet(X, y, alpha = alphas[a], lambda = lambdas[a, ], foldid = foldid,
                     standardize = std, type.measure = "mse", grouped = TRUE, thresh = thresh)
    cvm <- fit$cvm
    fitted <- length(fit$lambda)
  } else {
    fitted <- length(fit_rows(seq_len(N), alphas[a], lambdas[a, ])$lambda)  # cv.glmnet fits all first
    pred <- matrix(0, N, L)
    for (f in sort(unique(foldid))) {
      va <- which(foldid == f)
      pm <- predict(fit_rows(which(foldid != f), alphas[a], lambdas[a, ]), X[va, , drop = FALSE])
      pred[va, seq_len(ncol(pm))] <- pm
      if (ncol(pm) < L) pred[va, (ncol(pm) + 1):L] <- pm[, ncol(pm)]
      fitted <- min(fitted, ncol(pm))
    }
    cvm <- colMeans((y - pred)^2)
  }
  # the first lambda (lambda_max) is the intercept-only model: excluded, as ours
  # (ridge, alpha = 0, has none)
  if (alphas[a] > 0) cvm[1] <- Inf
  t <- which.min(cvm)
  if (cvm[t] < best) { best <- cvm[t]; best_a <- a; best_t <- t }
  lines <- c(lines, sprintf("alpha %d %d %.17g %d", a - 1, t - 1, cvm[t], fitted))
}
el <- proc.time() - t0
cat(lines, sep = "
")
cat(sprintf("
best %d %d
time %.3f %.3f
", best_a - 1, best_t - 1, el[["elapsed"]],
            el[["user.self"]] + el[["sys.self"]]))
"""


def glmnet_available():
    if shutil.which("Rscript") is None:
        return False
    done = subprocess.run(["Rscript", "-e", "library(glmnet)"], capture_output=True, text=True)
    return done.returncode == 0


def run_glmnet(X, y, folds, alphas, lambdas, standardize, full_path, thresh=1e-7, native=False):
    """glmnet on X, y with the folds ``folds`` and the λ grid ``lambdas`` (A, L), one α at a
    time, one thread: our problems mapped to glmnet's parametrisation (``GLMNET_SCRIPT``), or
    with ``native`` cv.glmnet with the same α and λ (glmnet's own problems, which differ from
    ours for 0 < α < 1). Returns the per-α selected step, fitted path lengths, the overall
    selection (a, t) and the elapsed and CPU seconds of the fits (R's proc.time)."""
    with tempfile.TemporaryDirectory() as tmp:
        N, p = X.shape
        A, L = lambdas.shape
        np.ascontiguousarray(X, dtype="<f8").tofile(os.path.join(tmp, "X.bin"))
        np.asarray(y, dtype="<f8").tofile(os.path.join(tmp, "y.bin"))
        fold_numbers = np.searchsorted(np.unique(folds), folds) + 1
        fold_numbers.astype("<i4").tofile(os.path.join(tmp, "folds.bin"))
        np.asarray(alphas, dtype="<f8").tofile(os.path.join(tmp, "alphas.bin"))
        np.ascontiguousarray(lambdas, dtype="<f8").tofile(os.path.join(tmp, "lambdas.bin"))
        with open(os.path.join(tmp, "dims.txt"), "w") as fh:
            fh.write(f"{N} {p} {A} {L} {int(standardize)} {int(full_path)} {float(thresh)!r} {int(native)}\n")
        script = os.path.join(tmp, "cv_glmnet.R")
        with open(script, "w") as fh:
            fh.write(GLMNET_SCRIPT)
        env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
        done = subprocess.run(["Rscript", script, tmp], capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"Rscript failed: {done.stderr[-2000:]}")
    index, fitted = np.zeros(A, int), np.zeros(A, int)
    for line in done.stdout.splitlines():
        parts = line.split()
        if parts[:1] == ["alpha"]:
            a = int(parts[1])
            index[a], fitted[a] = int(parts[2]), int(parts[4])
        elif parts[:1] == ["best"]:
            best = (int(parts[1]), int(parts[2]))
        elif parts[:1] == ["time"]:
            elapsed, cpu = float(parts[1]), float(parts[2])
    return {"index": index, "fitted": fitted, "best": best, "elapsed": elapsed, "cpu": cpu}

if __name__ == "__main__":
    main()
