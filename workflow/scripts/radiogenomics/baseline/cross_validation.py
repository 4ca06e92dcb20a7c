"""Cross-validated elastic net over the (α, λ) grid on fixed folds, selection and refit.

Every (fold, α) path is fitted on the fold's training patients (standardised as glmnet does
when asked, ``grid.gene_scales``) and predicts its validation patients at every λ; the
pooled out-of-fold R² (or the mean per-fold MSE, ``ElasticNetCV``'s criterion) selects
(α, λ), intercept-only models excluded; the selected model is refitted on all patients. The
fold fits and the refit at the selected (α, λ) get an optimality certificate
(``certificate.duality_gap``); a fast solution above ``certificate.CERTIFICATE_TOL`` makes
the whole feature be refitted with the reference solver.
"""

from __future__ import annotations

import logging

import numpy as np

from ..errors import RadiogenomicsError
from . import certificate, reference
from .enet import coef_from_residual, enet_fit, enet_predictions
from .grid import fold_masks, gene_scales, lambda_grid
from .lasso import coef_at, lasso_fit, lasso_predictions
from .ridge import ridge_fit, ridge_predictions

log = logging.getLogger(__name__)

#: ``solver`` values: the exact solvers of this package, or scikit-learn's (``reference``).
SOLVERS = ("fast", "reference")
CRITERIA = ("pooled_r2", "mean_fold_mse")
#: λ ≥ λ_max(α) (1 - INTERCEPT_ONLY_RTOL) is the intercept-only model (the first λ of every
#: α > 0 path is λ_max itself; the margin only absorbs rounding).
INTERCEPT_ONLY_RTOL = 1e-12
#: What LARS raises when it fails (then coordinate descent solves that path).
LARS_ERRORS = (np.linalg.LinAlgError, FloatingPointError, ValueError)


def check_inputs(X, y, fold_ids, l1_ratios, n_lambdas, lambda_min_ratio):
    """Arrays as floats, with one clear error per kind of bad input."""
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    fold_ids = np.asarray(fold_ids)
    if X.ndim != 2:
        raise RadiogenomicsError(f"elastic net: X must be 2-D (patients x genes), got shape {X.shape}")
    if y.ndim != 1 or len(y) != X.shape[0] or len(fold_ids) != len(y):
        raise RadiogenomicsError(
            f"elastic net: X has {X.shape[0]} patients, y {y.shape}, fold_ids {fold_ids.shape}: they must match"
        )
    if not np.all(np.isfinite(X)):
        raise RadiogenomicsError("elastic net: X contains missing or infinite values")
    if not np.all(np.isfinite(y)):
        raise RadiogenomicsError(
            f"elastic net: the target has {int(np.sum(~np.isfinite(y)))} missing values; leave those patients out"
        )
    labels = np.unique(fold_ids)
    if len(labels) < 2:
        raise RadiogenomicsError(
            f"elastic net: need at least 2 folds, got {len(labels)} ({len(y)} patients)"
        )
    for f in labels:
        n_train = int(np.sum(fold_ids != f))
        if n_train < 2:
            raise RadiogenomicsError(
                f"elastic net: fold {f} leaves {n_train} training patients; need at least 2"
            )
    if np.ptp(y) == 0:
        raise RadiogenomicsError(
            f"elastic net: the target is constant ({y[0]:g} for all {len(y)} patients): nothing to fit"
        )
    ratios = np.asarray(l1_ratios, dtype=float).ravel()
    if len(ratios) == 0 or np.any((ratios < 0) | (ratios > 1)) or len(np.unique(ratios)) != len(ratios):
        raise RadiogenomicsError(f"elastic net: l1_ratios must be distinct values in [0, 1], got {list(ratios)}")
    if int(n_lambdas) < 1:
        raise RadiogenomicsError(f"elastic net: n_lambdas must be at least 1, got {n_lambdas}")
    if not 0 < float(lambda_min_ratio) < 1:
        raise RadiogenomicsError(f"elastic net: lambda_min_ratio must lie in (0, 1), got {lambda_min_ratio}")
    return X, y, fold_ids, ratios


def elastic_net_cv(X, y, fold_ids, l1_ratios, n_lambdas, lambda_min_ratio=0.01, *,
                   criterion="pooled_r2", standardize=False, label=None, solver="fast"):
    """Cross-validated elastic net over an (α, λ) grid on fixed folds (paper §2.3-2.4).

    Parameters
    ----------
    X : (n, p) array, y : (n,) array
    fold_ids : (n,) fold label of each patient (the fold in which it is a validation patient)
    l1_ratios : α values in [0, 1] (0 = ridge, 1 = lasso); see ``grid.l1_ratio_grid``
    n_lambdas : λ values per α, log-spaced from λ_max(α) to ``lambda_min_ratio`` · λ_max(α)
    criterion : ``"pooled_r2"`` (default; the pooled out-of-fold R², glmnet's cv criterion)
        or ``"mean_fold_mse"`` (the unweighted mean of per-fold MSEs, ``ElasticNetCV``'s).
    standardize : glmnet's ``standardize = TRUE`` (the workflow's default, config key
        ``baseline.standardize``): every fit (each fold's, the refit, and the λ grid's
        λ_max) sees each gene divided by its standard deviation over that fit's training
        rows (divisor n, as glmnet; a constant gene is left as it is and never enters);
        coefficients are returned on the original scale. ``False`` (scikit-learn's
        ``ElasticNetCV``): the genes as given.
    label : name used in log messages (the image feature)
    solver : ``"fast"`` (ridge in closed form, LARS, the dual path) or ``"reference"``
        (scikit-learn: ``Ridge`` and ``enet_path``, ``reference.py``), on the same folds,
        grid, standardisation and selection.

    Safety nets of the fast solver: a (fold, α) path on which it fails (no convergence, a
    failed factorisation, a non-finite solution) is solved with scikit-learn's ``enet_path``
    and a warning names the label, the fold and α; so is the refit. A certificate above
    ``certificate.CERTIFICATE_TOL`` refits the whole feature with the reference solver.

    Returns
    -------
    dict with ``l1_ratio``, ``lambda`` (scikit-learn's ``alpha``), ``oof`` (n,) out-of-fold
    predictions of the selected model, ``r2`` (its pooled out-of-fold R²), ``coef`` (p,) and
    ``intercept`` refitted on all patients, ``n_nonzero``; and the whole search:
    ``l1_ratios`` (A,), ``lambdas`` (A, L), ``r2_path`` (A, L), ``cv_mse`` (A, L, K) (per-fold
    validation MSE, folds in sorted label order: the layout of ``ElasticNetCV.mse_path_``),
    ``intercept_only`` (A, L) bool, ``folds`` (K,) labels, ``index`` (a, t) of the selection,
    ``fallbacks``: list of dicts (``fold``, ``l1_ratio``, ``step``, ``reason``, ``what``) for
    the paths solved by the reference solver (normally empty), ``solver`` (the one whose
    results these are), ``certificate`` (dict: ``kind``, ``folds`` and ``fold_max`` (the
    fold fits at the selection), ``refit``, ``tolerance``, ``passed``, and where the fast
    solution failed it, ``fast``: its certificate).
    Ties are broken as ``ElasticNetCV`` does: first α in the given order, then largest λ.
    """
    from threadpoolctl import threadpool_limits

    if solver not in SOLVERS:
        raise RadiogenomicsError(f"elastic net: unknown solver {solver!r} (expected one of {', '.join(SOLVERS)})")
    args = (X, y, fold_ids, l1_ratios, n_lambdas, lambda_min_ratio, criterion, bool(standardize), label)
    # Many small LAPACK calls: threads only add overhead (and the rule has threads: 1).
    with threadpool_limits(limits=1):
        res = _search(*args, solver=solver)
        cert = res["certificate"]
        if solver == "fast" and not cert["passed"]:
            log.warning("%selastic net: optimality certificate failed (relative duality gap: fold fits up to %.3g, "
                        "refit %.3g, tolerance %g); refitting this feature with the reference solver (scikit-learn)",
                        f"{label}: " if label else "", cert["fold_max"], cert["refit"], cert["tolerance"])
            res = _search(*args, solver="reference")
            res["certificate"]["fast"] = cert
    return res


def by_fold(X, train, scaled, solve):
    """Out-of-fold predictions from ``solve(X, masks, folds)`` (returns (..., N), filled at
    the validation columns of every row of ``masks``, and a list of (position in ``folds``,
    ...) fallbacks), with X as given (``scaled`` None: one call, all folds batched) or
    ``scaled[f]``, X divided by fold f's own gene scales (one call per fold). Returns the
    predictions and the list of (fold index, ...) fallbacks."""
    if scaled is None:
        pred, fallbacks = solve(X, train, np.arange(len(train)))
        return pred, fallbacks
    pred, fallbacks = None, []
    for f, mask in enumerate(train):
        part, fell = solve(scaled[f], mask[None, :], np.array([f]))
        if pred is None:
            pred = np.empty_like(part)
        pred[..., ~mask] = part[..., ~mask]
        fallbacks += [(f, *rest) for _, *rest in fell]
    return pred, fallbacks


class _Scaled:
    """Each fold's X (X divided by its gene scales), formed when asked for and not kept: ten
    copies of X held at once cost more in fresh memory than forming each again (measured on
    the benchmark: 0.21 s against 0.1 s per feature)."""

    def __init__(self, X, scales):
        self.X, self.scales = X, scales

    def __getitem__(self, f):
        return self.X / self.scales[f]

    def __len__(self):
        return len(self.scales)


def select(loss):
    """(a, t) of the smallest loss: per α the first minimum over λ (the largest λ), then the
    first α in order with a strictly smaller one (``ElasticNetCV``'s tie rule)."""
    if not np.isfinite(loss).any():
        raise RadiogenomicsError("elastic net: every model on the grid is intercept-only (need n_lambdas >= 2)")
    best, best_a, best_t = np.inf, None, None
    for a in range(len(loss)):
        t = int(np.argmin(loss[a]))
        if loss[a, t] < best:
            best, best_a, best_t = loss[a, t], a, t
    return best_a, best_t


def _search(X, y, fold_ids, l1_ratios, n_lambdas, lambda_min_ratio, criterion, standardize, label=None, *,
            solver):
    X, y, fold_ids, ratios = check_inputs(X, y, fold_ids, l1_ratios, n_lambdas, lambda_min_ratio)
    if criterion not in CRITERIA:
        raise RadiogenomicsError(f"elastic net: unknown criterion {criterion!r}")
    fast = solver == "fast"
    N, p = X.shape
    L = int(n_lambdas)
    labels, train = fold_masks(fold_ids)
    K = len(labels)
    # glmnet standardises inside every fit: the folds' training rows, and all patients for
    # the refit and the λ grid (cv.glmnet passes the full-data λ sequence to every fold)
    scales = np.stack([gene_scales(X, mask) for mask in train]) if standardize else None
    scaled = _Scaled(X, scales) if standardize else None  # each fold's X, for every α
    all_scales = gene_scales(X) if standardize else np.ones(p)
    X_all = X / all_scales if standardize else X
    lambdas = np.stack([lambda_grid(X_all, y, a, L, lambda_min_ratio) for a in ratios])
    lmax = lambdas[:, 0]
    sst = float(np.sum((y - y.mean()) ** 2))
    fold_of = np.searchsorted(labels, fold_ids)
    counts = np.bincount(fold_of, minlength=K)

    r2_path = np.empty((len(ratios), L))
    cv_mse = np.empty((len(ratios), L, K))
    oof_all = {}
    stats = {}
    fallbacks = []
    name = f"{label}: " if label else ""
    mid = [a for a, r in enumerate(ratios) if 0 < r < 1]
    residuals = np.full((len(mid), K, L, N), np.nan) if fast and mid else None
    lasso_paths = {}  # fold -> its LARS path (for the certificate)

    def fell_back(what, fold, alpha, step, reason):
        fallbacks.append({"what": what, "fold": None if fold is None else labels[fold].item(),
                          "l1_ratio": float(alpha), "step": int(step), "reason": str(reason)})
        where = "all patients (refit)" if fold is None else f"fold {labels[fold]}"
        log.warning("%selastic net: Newton/LARS solver failed for %s, l1_ratio=%g (lambda step %d: %s); "
                    "solved this path with scikit-learn's enet_path (coordinate descent, tol=%g)",
                    name, where, alpha, step, reason, reference.REFERENCE_TOL)

    def score(a, pred):
        err2 = (pred - y[None, :]) ** 2  # L x N
        per_fold = np.zeros((L, K))
        np.add.at(per_fold.T, fold_of, err2.T)
        cv_mse[a] = per_fold / counts[None, :]
        r2_path[a] = 1.0 - err2.sum(axis=1) / sst
        oof_all[a] = pred

    def per_mask(Xs, masks, fit):
        pred = np.empty((L, N))
        for mask in masks:
            pred[:, ~mask] = fit(Xs, mask)
        return pred

    def ridge(Xs, masks, folds, a):
        if fast:
            return ridge_predictions(Xs, y, masks, lambdas[a]), []
        return per_mask(Xs, masks, lambda Xm, mask: reference.ridge_predictions(Xm, y, mask, lambdas[a])), []

    def lasso(Xs, masks, folds, a):
        if not fast:
            return per_mask(Xs, masks, lambda Xm, mask: reference.cd_predictions(Xm, y, mask, 1.0, lambdas[a])), []
        pred, failed = np.empty((L, N)), []
        for f, mask in enumerate(masks):
            kept = []
            try:
                pred[:, ~mask] = lasso_predictions(Xs, y, mask[None, :], lambdas[a], kept)[:, ~mask]
                if not np.all(np.isfinite(pred[:, ~mask])):
                    raise FloatingPointError("non-finite LARS solution")
                lasso_paths[int(folds[f])] = kept[0]
            except LARS_ERRORS as exc:
                failed.append((f, exc))
                pred[:, ~mask] = reference.cd_predictions(Xs, y, mask, 1.0, lambdas[a])
        return pred, failed

    def enet(Xs, masks, folds):
        if not fast:
            preds = np.empty((len(mid), L, N))
            for i, a in enumerate(mid):
                preds[i] = per_mask(Xs, masks, lambda Xm, mask: reference.cd_predictions(
                    Xm, y, mask, ratios[a], lambdas[a]))
            return preds, []
        preds, path_stats, failed, res = enet_predictions(Xs, y, masks, ratios[mid], lambdas[mid])
        residuals[:, folds] = res
        for key, value in path_stats.items():
            stats[key] = stats.get(key, 0) + value
        return preds, failed

    for a, r in enumerate(ratios):
        if r == 0:
            score(a, by_fold(X, train, scaled, lambda Xs, masks, folds: ridge(Xs, masks, folds, a))[0])
        elif r == 1:
            pred, failed = by_fold(X, train, scaled, lambda Xs, masks, folds: lasso(Xs, masks, folds, a))
            for f, exc in failed:
                fell_back("lasso", f, r, -1, exc)
            score(a, pred)
    if mid:
        preds, failed = by_fold(X, train, scaled, enet)
        for f, alpha, step, reason in failed:
            fell_back("enet", f, alpha, step, reason)
        for i, a in enumerate(mid):
            score(a, preds[i])

    # Intercept-only models: all coefficients of the all-patient fit are zero, which for
    # α > 0 happens exactly when λ ≥ λ_max(α) (the KKT condition at w = 0).
    intercept_only = np.zeros((len(ratios), L), dtype=bool)
    for a, r in enumerate(ratios):
        if r > 0:
            intercept_only[a] = lambdas[a] >= lmax[a] * (1 - INTERCEPT_ONLY_RTOL)
    loss = -r2_path.copy() if criterion == "pooled_r2" else cv_mse.mean(axis=2)
    loss[intercept_only] = np.inf
    best_a, best_t = select(loss)

    alpha, lam = float(ratios[best_a]), float(lambdas[best_a, best_t])
    everyone = np.ones(N, dtype=bool)
    if not fast:
        coef, intercept = (reference.ridge_fit(X_all, y, everyone, lam) if alpha == 0 else
                           reference.cd_fit(X_all, y, everyone, alpha, lambdas[best_a], best_t))
    elif alpha == 0:
        coef, intercept = ridge_fit(X_all, y, lam)
    elif alpha == 1:
        try:
            coef, intercept = lasso_fit(X_all, y, lam)
            if not (np.all(np.isfinite(coef)) and np.isfinite(intercept)):
                raise FloatingPointError("non-finite LARS solution")
        except LARS_ERRORS as exc:
            fell_back("refit", None, alpha, best_t, exc)
            coef, intercept = reference.cd_fit(X_all, y, everyone, 1.0, lambdas[best_a], best_t)
    else:
        coef, intercept, failure = enet_fit(X_all, y, alpha, lambdas[best_a], best_t)
        if failure is not None:
            fell_back("refit", None, alpha, failure[0], failure[1])

    # the certificate: fold fits at the selection and the refit, in the solvers' scaling
    def fold_coef(f):
        mask = train[f]
        s = scales[f] if standardize else None
        Xs = scaled[f] if standardize and (not fast or alpha == 0) else X
        if not fast:
            if alpha == 0:
                return reference.ridge_fit(Xs, y, mask, lam)[0]
            return reference.cd_fit(Xs, y, mask, alpha, lambdas[best_a], best_t)[0]
        if alpha == 0:
            return ridge_fit(Xs, y, lam, mask)[0]
        if alpha == 1:
            if f in lasso_paths:
                return coef_at(lasso_paths[f], lam, p)
        else:
            r = residuals[mid.index(best_a), f, best_t]
            if np.all(np.isfinite(r)):
                return coef_from_residual(X, mask, r, alpha, lam, s)
        Xs = scaled[f] if standardize else X
        return reference.cd_fit(Xs, y, mask, alpha, lambdas[best_a], best_t)[0]

    gaps = []
    for f in range(K):
        gaps.append(certificate.duality_gap(X, y, fold_coef(f), alpha, lam, train[f],
                                            scales[f] if standardize else None))
    refit_gap = certificate.duality_gap(X, y, coef, alpha, lam, None, all_scales if standardize else None)
    tol = certificate.CERTIFICATE_TOL
    cert = {"kind": certificate.KIND, "folds": [float(g) for g in gaps], "fold_max": float(max(gaps)),
            "refit": float(refit_gap), "tolerance": float(tol),
            "passed": bool(max(gaps) <= tol and refit_gap <= tol)}

    # back to the genes' own scale (glmnet's reported coefficients); the intercept
    # ȳ - mean(X/s)·w = ȳ - mean(X)·(w/s) is the same on both scales
    coef = coef / all_scales if standardize else coef
    return {
        "l1_ratio": alpha,
        "lambda": lam,
        "oof": oof_all[best_a][best_t].copy(),
        "r2": float(r2_path[best_a, best_t]),
        "coef": coef,
        "intercept": intercept,
        "n_nonzero": int(np.count_nonzero(coef)),
        "l1_ratios": ratios,
        "lambdas": lambdas,
        "r2_path": r2_path,
        "cv_mse": cv_mse,
        "intercept_only": intercept_only,
        "folds": labels,
        "index": (best_a, best_t),
        "criterion": criterion,
        "standardize": bool(standardize),
        "solver": solver,
        "solver_stats": stats,
        "fallbacks": fallbacks,
        "certificate": cert,
    }
