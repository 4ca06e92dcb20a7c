"""Elastic net (0 < α < 1) on the CV folds and the refit, with the dual path solver.

The solver runs along an internally refined λ path (``refined_path``) that contains the
requested values; predictions and coefficients are formed at the requested λ, where the
solver runs to its exact solution. An inserted λ only warm-starts the next one: it gets one
Newton iteration (``DualPath.step(exact=False)``). The solution at a requested λ is unique
(the objective is strongly convex for α < 1), so this changes it only by rounding (about
2e-10 in the validation predictions on the benchmark, against solving every inserted λ
exactly). A (fold, α) path on which the Newton solver fails is solved by the reference
solver instead (``reference.cd_path``) and reported as a fallback.
"""

from __future__ import annotations

import logging
import math

import numpy as np

from ..errors import RadiogenomicsError
from . import reference
from .dual_path import DualPath

log = logging.getLogger(__name__)

#: The Newton path solver takes λ steps no larger than this in log λ (a 267-point path over
#: two decades: 100 requested λ get 3 sub-steps each, 200 get 2, 268 and more none). On
#: coarser paths many genes cross their threshold within one step and plain Newton overshoots
#: and cycles; finer paths take more steps. Measured on the benchmark (98 × 12,042, 19 α,
#: 100 λ, 10 folds, standardised genes; ``tests/benchmarks/bench_baseline.py``), CPU seconds
#: of the fold paths: 1 sub-step 67 s, 2: 18.5 s, 3: 11.3 s, 4: 11.2 s, 9: 13 s.
#: Intermediate λ values are inserted between the requested ones (geometrically), which stay
#: exactly as given.
MAX_STEP_LOG_RATIO = math.log(100.0) / 267
#: Slack of the ceiling in the number of sub-steps: a step of exactly k·MAX_STEP_LOG_RATIO,
#: up to the rounding of the logarithms, is split into k sub-steps, not k + 1.
SUBSTEP_CEIL_SLACK = 1e-9

#: What the Newton path solver raises when it fails for a reason not attributable to one
#: problem (a batched factorisation, non-finite input): every path goes to the reference.
SOLVER_ERRORS = (RadiogenomicsError, np.linalg.LinAlgError, FloatingPointError, ValueError)


def refined_path(lambdas):
    """(P, L) decreasing λ paths -> ((P, (L-1)·m + 1) paths through them, m): every step
    split into m equal steps in log λ, m the smallest with steps ≤ MAX_STEP_LOG_RATIO; the
    requested values are columns 0, m, 2m, ... exactly."""
    lambdas = np.asarray(lambdas, dtype=float)
    if lambdas.shape[1] < 2:
        return lambdas, 1
    widest = float(np.max(np.log(lambdas[:, :-1] / lambdas[:, 1:])))
    m = max(1, math.ceil(widest / MAX_STEP_LOG_RATIO - SUBSTEP_CEIL_SLACK))
    if m == 1:
        return lambdas, 1
    q = (lambdas[:, 1:] / lambdas[:, :-1]) ** (1.0 / m)  # P x (L-1)
    fine = lambdas[:, :-1, None] * q[:, :, None] ** np.arange(m)[None, None, :]
    fine = np.concatenate([fine.reshape(len(lambdas), -1), lambdas[:, -1:]], axis=1)
    fine[:, ::m] = lambdas
    return fine, m


def enet_predictions(X, y, train, alphas, lambdas):
    """Validation predictions for several α in (0, 1) at once.

    Returns ``out`` (len(alphas), L, N): for α_a and step t, each patient predicted by the
    fold in which it is a validation patient; the solver statistics; the fallbacks
    ``(fold index, α, step, reason)``: (fold, α) paths on which the Newton solver failed,
    solved instead by coordinate descent over the whole λ path; and ``residuals``
    (len(alphas), F, L, N): the dual solution r of every (α, fold) at every requested λ
    (NaN for a fallback path), from which ``coef_from_residual`` gives the coefficients.
    """
    F = len(train)
    A = len(alphas)
    problems_train = np.tile(train, (A, 1))
    problems_alpha = np.repeat(alphas, F)
    fine, m = refined_path(lambdas)
    problems_lambdas = np.repeat(fine, F, axis=0)
    L = lambdas.shape[1]
    N = len(y)
    out = np.empty((A, L, N))
    residuals = np.full((A, F, L, N), np.nan)
    try:
        path = DualPath(X, y, problems_train, problems_alpha, problems_lambdas)
        for s in range(fine.shape[1]):
            path.step(s, exact=s % m == 0)
            if s % m:
                continue
            pred = path.predictions(s)
            path.check_finite(s, pred)
            pr = pred.reshape(A, F, -1)
            for f in range(F):
                out[:, s // m, path.vidx[f]] = pr[:, f]
            residuals[:, :, s // m] = path.residuals().reshape(A, F, N)
        failed = {k: (step if step < 0 else step // m, reason) for k, (step, reason) in path.failed.items()}
        stats = path.stats
    except SOLVER_ERRORS as exc:
        log.warning("elastic net: the Newton solver failed (%s); solving every path by coordinate descent", exc)
        failed = {k: (-1, f"batch failure: {exc}") for k in range(A * F)}
        stats = {"failed": A * F}
    fallbacks = []
    for k, (t, reason) in sorted(failed.items()):
        a, f = divmod(k, F)
        out[a, :, ~train[f]] = reference.cd_predictions(X, y, train[f], alphas[a], lambdas[a]).T
        residuals[a, f] = np.nan
        fallbacks.append((f, float(alphas[a]), t, reason))
    log.debug("dual path stats: %s", stats)
    return out, stats, fallbacks, residuals


def coef_from_residual(X, mask, r, alpha, lam, scale=None):
    """Coefficients (p,) of the fit on the rows ``mask`` of X / ``scale`` from its dual
    solution r (N,, zero off the rows): w = S((X/s)ᵀr / n, γ) / β."""
    z = (X.T @ r) / float(mask.sum())
    if scale is not None:
        z = z / scale
    gamma, beta = lam * alpha, lam * (1 - alpha)
    return np.sign(z) * np.clip(np.abs(z) - gamma, 0, None) / beta


def enet_fit(X, y, alpha, lambdas, t_stop, mask=None):
    """Coefficients on the rows ``mask`` (default all) at step ``t_stop`` of ``lambdas``
    (warm-started along the refined path).

    Returns coefficients, intercept and None, or, where the Newton solver fails, the
    reference solver's and ``(step, reason)``.
    """
    mask = np.ones(len(y), dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    train = mask[None, :]
    lambdas = np.asarray(lambdas, dtype=float)
    fine, m = refined_path(lambdas[None, : t_stop + 1])
    try:
        path = DualPath(X, y, train, np.array([alpha]), fine)
        for s in range(t_stop * m + 1):
            path.step(s, exact=s % m == 0)  # (exact solutions: the anchors of continuation)
            if path.failed:
                break
        if not path.failed:
            coef, intercept = path.coef(0, t_stop * m)
            if np.all(np.isfinite(coef)) and np.isfinite(intercept):
                return coef, intercept, None
            path.failed[0] = (t_stop * m, "non-finite solution")
        step, reason = path.failed[0]
        failure = (step // m, reason)
    except SOLVER_ERRORS as exc:
        failure = (-1, str(exc))
    coef, intercept = reference.cd_fit(X, y, mask, alpha, lambdas, t_stop)
    return coef, intercept, failure
