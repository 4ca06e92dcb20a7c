"""Elastic-net baseline: one regularised linear model per image feature (paper §2.3, §2.4).

The paper fits, per image feature, glmnet over 21 α (L1 share) × 4000 λ values with
10-fold cross-validation, selects (α, λ) by the validation R² and ignores intercept-only
models. This module reproduces that search in scikit-learn's parametrisation and returns
what ``sklearn.linear_model.ElasticNetCV`` would return on the same grid and the same folds,
up to solver tolerance, much faster (timings: ``tests/benchmarks/bench_baseline.py``).

Objective (scikit-learn ``ElasticNet``, ``fit_intercept=True``: X and y are centred with
the means of the training patients of each fold, X is not scaled)::

    1/(2n) ||y_c - X_c w||² + λ α ||w||₁ + λ (1 - α)/2 ||w||²₂

with α = ``l1_ratio`` and λ = scikit-learn's ``alpha``. The intercept is ȳ - x̄ᵀw.

Grid (glmnet's, in scikit-learn's scale). For every α > 0, ``n_lambdas`` values
log-spaced from λ_max(α) = max_j |x_cjᵀ y_c| / (n α) (computed on all patients, exactly
as ``sklearn.linear_model._coordinate_descent._alpha_grid``; the smallest λ that zeroes
every coefficient) down to ``lambda_min_ratio`` · λ_max. For α = 0 (ridge) λ_max is
infinite; we follow glmnet (``alpha = max(alpha, 1e-3)`` when it builds the λ sequence):
λ_max(0) = max_j |x_cjᵀ y_c| / (n · 0.001), i.e. 1000 × the lasso λ_max.

Solvers (all exact up to floating point; none iterates to a tolerance):

* α = 0: closed form for every λ at once from the eigendecomposition of the n × n Gram
  matrix of each training fold (equivalently the thin SVD X_c = U D Vᵀ):
  w(λ) = X_cᵀ U diag(1/(d² + nλ)) Uᵀ y_c.
* α = 1 (lasso): the exact piecewise-linear lasso path from LARS (``lars_path``,
  ``method="lasso"``), evaluated at the grid by linear interpolation between knots.
* 0 < α < 1: a semismooth Newton method on the n-dimensional dual. Given the residual r,
  the primal solution is explicit, w_j = S(x_cjᵀ r / n, λα) / (λ(1-α)) (S = soft
  threshold), and r solves the piecewise-linear equation
  r = y_c - X_c w(r). For a fixed active set A (|x_cjᵀ r|/n > λα) and signs s this is the
  n × n linear system (λ(1-α) I + X_cA X_cAᵀ / n) r = λ(1-α) y_c + λα X_cA s_A, so the
  only p-sized work is keeping Σ_{j∈A} x_cj x_cjᵀ up to date as genes enter or leave and
  checking which genes cross the threshold. Newton steps repeat until the active set
  no longer changes, which makes the solution exact (not a tolerance). The path is
  warm-started λ to λ, all folds and all α advance in lockstep (batched linear algebra),
  and the threshold check over all genes is done with safe screening windows, one per
  problem: after an exact check z0 = X_cᵀ r0 / n (and its slope s0 = X_cᵀ v / n along the
  path's last step v), z_j(r) = z0_j + c s0_j + x_cjᵀ(d - c v)/n for d = r - r0 and
  c = dᵀv/vᵀv, so |z_j - z0_j - c s0_j| ≤ ||x_cj|| · ||d - c v|| / n (Cauchy-Schwarz on
  the part of the drift that the path's direction does not explain, a few per cent of it).
  The full check is one single-precision product over all genes whose rounding error
  (bounded, see ``_open_windows``) is added to the slack; only the genes it cannot settle
  are recomputed in double precision. Between full checks only the genes whose predicted
  |z| can reach the threshold within the window are candidates, and those are recomputed
  exactly only when the same first-order bound, from their last exact values, cannot
  settle them (only those pairs, unless they are many: then all of the problem's pairs
  and a new reference point). The active-set Gram matrix of each
  problem is kept as an eigendecomposition plus at most ``MMAX`` rank-one changes
  (Woodbury), so a λ step costs O(n²) per problem instead of a factorisation, and r is
  kept in that eigenbasis. No early path stop (glmnet's deviance rule) is used: it would
  change the solutions of the remaining λ.

Selection criterion: the pooled out-of-fold R² = 1 - Σ_i (y_i - ŷ_i)² / Σ_i (y_i - ȳ)²
over all patients, each predicted by the model of the fold in which it is a validation
patient. It is a monotone function of the pooled out-of-fold MSE, which is exactly what
``cv.glmnet`` minimises (``type.measure = "mse"``: per-fold means weighted by fold size),
so it is the paper's tool's own criterion; mean per-fold R² would divide each fold's error
by the variance of 10-11 validation patients, which is unstable. ``ElasticNetCV`` ranks by
the unweighted mean of per-fold MSEs; when all folds have the same size both orderings are
identical, otherwise they can differ only through the fold-size weights. The per-fold MSE
surface is returned (``cv_mse``, shaped like ``ElasticNetCV.mse_path_``) so that either
criterion can be applied to it. Models whose coefficients refitted on all patients are all
zero (λ ≥ λ_max(α), α > 0: the intercept-only model) are never selected.
"""

from __future__ import annotations

import logging
import math

import numpy as np
from scipy.linalg.blas import dger

from .errors import RadiogenomicsError

log = logging.getLogger(__name__)

#: glmnet builds the ridge (α = 0) λ sequence as if α were this value.
RIDGE_LAMBDA_MAX_L1_RATIO = 1e-3

#: Ties at the threshold: a gene with ||x_cjᵀr|/n - λα| ≤ TIE_RTOL · λα is *at* the threshold
#: up to rounding (its coefficient is < TIE_RTOL · λα / (λ(1-α)) either way), so both of its
#: statuses are consistent and it keeps the one it has. Without this, a gene that sits exactly
#: on the threshold (always the case for the top gene at λ = λ_max on all patients, the first
#: step of every refit) flips between active and inactive at the level of one ulp and Newton
#: never terminates.
TIE_RTOL = 1e-10

#: Tolerance of the coordinate-descent fallback (scikit-learn ``tol``: duality gap relative to
#: ||y_c||²), used only for a (fold, α) path on which the Newton solver fails.
FALLBACK_TOL = 1e-10
FALLBACK_MAX_ITER = 100_000


def _status(z, gamma, old):
    """Gene status (-1, 0, +1) implied by z = x_cᵀr/n at threshold γ, keeping ties.

    ``z`` and ``old`` have the same shape, ``gamma`` broadcasts. Where ||z| - γ| ≤ TIE_RTOL·γ
    the old status is kept if it is 0 or the sign of z (both are consistent up to rounding).
    """
    new = (z > gamma).view(np.int8) - (z < -gamma).view(np.int8)
    changed = np.nonzero(new != old)  # only a status change can be a spurious flip: check those
    if len(changed[0]):
        zc, oc = z[changed], old[changed]
        gc = np.broadcast_to(gamma, z.shape)[changed]
        keep = (np.abs(np.abs(zc) - gc) <= TIE_RTOL * gc) & ((oc == 0) | (oc == np.sign(zc)))
        if keep.any():
            new[tuple(c[keep] for c in changed)] = oc[keep]
    return new


# --------------------------------------------------------------------------- grid


def l1_ratio_grid(n: int) -> np.ndarray:
    """The α (``l1_ratio``) values 0, 1/(n-1), ..., 1 (paper: n = 21, steps of 0.05)."""
    if int(n) < 1:
        raise RadiogenomicsError(f"baseline.l1_ratios: need at least 1 value, got {n}")
    return np.linspace(0.0, 1.0, int(n)) if int(n) > 1 else np.array([1.0])


def lambda_max(X, y, l1_ratio: float) -> float:
    """Smallest λ (scikit-learn ``alpha``) at which every coefficient is zero.

    max_j |x_cjᵀ y_c| / (n · l1_ratio), with X and y centred (as scikit-learn's
    ``_alpha_grid``). For ``l1_ratio = 0`` glmnet's convention is used (see module doc).
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    yc = y - y.mean()
    xy = X.T @ yc - X.mean(axis=0) * yc.sum()
    l1 = l1_ratio if l1_ratio > 0 else RIDGE_LAMBDA_MAX_L1_RATIO
    return float(np.max(np.abs(xy)) / (len(y) * l1))


def lambda_grid(X, y, l1_ratio: float, n_lambdas: int, lambda_min_ratio: float = 0.01) -> np.ndarray:
    """``n_lambdas`` values from λ_max down to ``lambda_min_ratio`` · λ_max (geometric)."""
    lmax = lambda_max(X, y, l1_ratio)
    return np.geomspace(lmax, lmax * lambda_min_ratio, num=int(n_lambdas))


# --------------------------------------------------------------------------- folds


def _fold_masks(fold_ids) -> tuple[np.ndarray, np.ndarray]:
    """Distinct fold labels (sorted) and the boolean training masks, one row per fold."""
    fold_ids = np.asarray(fold_ids)
    labels = np.unique(fold_ids)
    train = np.stack([fold_ids != f for f in labels])
    return labels, train


# --------------------------------------------------------------------------- ridge


def _ridge_predictions(X, y, train, lambdas):
    """Validation predictions of ridge for every fold and λ (closed form).

    Returns ``pred`` shaped (len(lambdas), N): for each λ, each patient predicted by the
    fold in which it is a validation patient (rows of ``train`` are folds).
    """
    N = len(y)
    gram = X @ X.T  # N x N, all patients
    pred = np.empty((len(lambdas), N))
    for mask in train:
        tr, va = np.flatnonzero(mask), np.flatnonzero(~mask)
        n = len(tr)
        # Centre with the training means: x̃ = x - μ (rows), via the Gram matrix.
        g = gram[np.ix_(tr, tr)]
        c = gram[np.ix_(va, tr)]
        gm = g.mean(axis=1)
        gmm = gm.mean()
        cm = c.mean(axis=1)
        gc = g - gm[:, None] - gm[None, :] + gmm
        cc = c - cm[:, None] - gm[None, :] + gmm
        yc = y[tr] - y[tr].mean()
        d2, U = np.linalg.eigh(gc)
        d2 = np.clip(d2, 0.0, None)
        uy = U.T @ yc
        # w = X_cᵀ U diag(1/(d² + nλ)) Uᵀ y_c  ->  X_val,c w = cc U diag(.) Uᵀ y_c
        cu = cc @ U
        coefs = uy[None, :] / (d2[None, :] + n * np.asarray(lambdas)[:, None])  # L x n
        pred[:, va] = y[tr].mean() + coefs @ cu.T
    return pred


def _ridge_refit(X, y, lam):
    """Ridge coefficients and intercept on all patients at λ."""
    n = len(y)
    mu = X.mean(axis=0)
    Xc = X - mu
    yc = y - y.mean()
    gc = Xc @ Xc.T
    d2, U = np.linalg.eigh(gc)
    d2 = np.clip(d2, 0.0, None)
    coef = Xc.T @ (U @ ((U.T @ yc) / (d2 + n * lam)))
    return coef, float(y.mean() - mu @ coef)


# --------------------------------------------------------------------------- lasso


def _lasso_knots(Xc, yc, lambdas):
    """LARS lasso path down to min(``lambdas``): knots (increasing) and coefficients (p, K)."""
    from sklearn.linear_model import lars_path

    lambdas = np.asarray(lambdas)
    knots, _, coefs = lars_path(
        Xc, yc, method="lasso", alpha_min=float(lambdas[-1]) * (1 - 1e-12), copy_X=True,
        return_path=True,
    )
    return knots[::-1], coefs[:, ::-1]


def _interpolate(k_inc, c_inc, lambdas):
    """Evaluate the piecewise-linear path ``c_inc`` (.., K) with knots ``k_inc`` at ``lambdas``."""
    if len(k_inc) < 2:
        return np.repeat(c_inc[..., :1], len(lambdas), axis=-1)
    lam = np.clip(lambdas, k_inc[0], k_inc[-1])
    idx = np.clip(np.searchsorted(k_inc, lam, side="right") - 1, 0, len(k_inc) - 2)
    lo, hi = k_inc[idx], k_inc[idx + 1]
    t = np.where(hi > lo, (lam - lo) / np.where(hi > lo, hi - lo, 1.0), 0.0)
    return c_inc[..., idx] * (1 - t) + c_inc[..., idx + 1] * t


def _lasso_path_at(Xc, yc, lambdas):
    """Exact lasso coefficients (p, len(lambdas)) at ``lambdas`` (decreasing) from the LARS
    path, linear interpolation in λ between knots (the path is piecewise linear)."""
    k_inc, c_inc = _lasso_knots(Xc, yc, lambdas)
    return _interpolate(k_inc, c_inc, np.asarray(lambdas))


def _lasso_predictions(X, y, train, lambdas):
    """Validation predictions (L, N) of the lasso path. Predictions are linear in the
    coefficients, so they are formed at the LARS knots and interpolated (not the p × L
    coefficient matrix)."""
    N = len(y)
    lambdas = np.asarray(lambdas)
    pred = np.empty((len(lambdas), N))
    for mask in train:
        tr, va = np.flatnonzero(mask), np.flatnonzero(~mask)
        mu = X[tr].mean(axis=0)
        ym = y[tr].mean()
        k_inc, c_inc = _lasso_knots(X[tr] - mu, y[tr] - ym, lambdas)
        pk = (X[va] - mu) @ c_inc  # V x K
        pred[:, va] = ym + _interpolate(k_inc, pk, lambdas).T
    return pred


def _lasso_refit(X, y, lam):
    mu = X.mean(axis=0)
    coef = _lasso_path_at(X - mu, y - y.mean(), np.array([lam]))[:, 0]
    return coef, float(y.mean() - mu @ coef)


# --------------------------------------------------------------------------- elastic net


class _DualPath:
    """Elastic-net paths (0 < α < 1) of several problems advanced in lockstep.

    Problem k has training mask ``train[k]`` (its other patients are its validation
    patients) and L1 share ``alpha[k]``; all share the step index t into their own λ
    sequence ``lambdas[k]``. See the module docstring for the method.
    """

    #: rank-one changes of the active set kept (Woodbury) before a new eigendecomposition
    MMAX = 16
    #: longest screening window (λ steps)
    WMAX = 64
    WALIGN = 8
    #: window length rule: a renewal costs ≈ WKAPPA × p pair checks (see ``_open_windows``)
    WKAPPA = 3.0
    #: when some windows must be renewed, those whose drift allowance is this much used are
    #: renewed in the same pass over X (a pass costs far more than one problem in it)
    ENDING_DRIFT = 0.5
    #: Woodbury systems are solved in batches of problems with similar numbers of changes
    BUCKETS = ((1, 4), (5, 12), (13, 16))
    #: a problem whose unsettled candidate pairs are ≥ 1/SYNC_FULL of its pairs gets exact
    #: values for all of its pairs (and a new reference); otherwise only those pairs
    SYNC_FULL = 4

    def __init__(self, X, y, train, alpha, lambdas):
        self.Xt = np.ascontiguousarray(X.T)  # p x N
        # single-precision copy (N x p, centred on all patients) for the screening passes
        Xg = X - X.mean(axis=0)
        self.X32 = np.ascontiguousarray(Xg, dtype=np.float32)
        self.xn32 = np.sqrt(np.einsum("ij,ij->j", Xg, Xg)).astype(np.float32)
        # relative error bound of a single-precision dot product of length N with rounded
        # inputs, (N + 2) u / (1 - (N + 2) u) with u = 2^-24 (any summation order), plus the
        # few elementwise single-precision operations of the screening test, with margin
        self.f32_err = 1.5 * (X.shape[0] + 10) * 2.0**-24 + 1e-12
        self.p, self.N = self.Xt.shape
        self.y = np.asarray(y, dtype=float)
        self.w = train.astype(float)  # P x N
        self.P = len(train)
        self.n = self.w.sum(axis=1)  # P
        self.alpha = np.asarray(alpha, dtype=float)
        self.lambdas = np.asarray(lambdas, dtype=float)  # P x L
        self.ybar = (self.w @ self.y) / self.n
        self.yc = (self.y[None, :] - self.ybar[:, None]) * self.w
        # Training means and centred column norms per problem (P x p).
        self.mu = (self.w @ X) / self.n[:, None]
        sq = (self.w @ (X * X)) - self.n[:, None] * self.mu**2
        self.cnorm = np.sqrt(np.clip(sq, 0, None))
        self.Kt = np.zeros((self.P, self.N, self.N))  # Σ_A x̃_j x̂_jᵀ
        self.mt = np.zeros((self.P, self.N))  # Σ_A s_j x̃_j
        self.state = np.zeros((self.P, self.p), dtype=np.int8)  # -1, 0, +1
        self.r = self.yc.copy()
        # Solver state per problem: eigendecomposition G_B = Q diag(e) Qᵀ of the Gram matrix
        # Σ x̂ x̂ᵀ of the active set at the last rebase, plus the genes that entered (σ = +1)
        # or left (σ = -1) since, as columns Qᵀx̂ (Woodbury). Rebased when MMAX accumulate.
        self.Q = np.tile(np.eye(self.N), (self.P, 1, 1))
        self.e = np.zeros((self.P, self.N))
        self.U = np.zeros((self.P, self.N, self.MMAX))
        self.sig = np.zeros((self.P, self.MMAX))
        self.m = np.zeros(self.P, dtype=int)
        self.ytil = self.yc.copy()  # Qᵀ y_c
        self.mtil = np.zeros((self.P, self.N))  # Qᵀ (w ⊙ mt)
        self.stale = np.zeros(self.P, dtype=bool)
        vmax = max(int((~train).sum(axis=1).max()), 1)
        self.vidx = np.array([np.resize(np.flatnonzero(~row), vmax) if (~row).any() else np.zeros(vmax, int)
                              for row in train])
        # The solution is kept in the eigenbasis (xt = Qᵀ r); r itself is only formed
        # (an N x N product per problem) when genes must be checked exactly.
        self.xt = self.yc.copy()
        self.rvalid = np.ones(self.P, dtype=bool)
        self.KvQ = np.zeros((self.P, vmax, self.N))  # Kt[validation rows] Q
        self.x0t = self.xt.copy()
        self.xt_prev = self.xt.copy()  # solution of the previous step (eigenbasis)
        self.xt_prev2 = self.xt.copy()  # ... and of the one before
        # Screening windows (see ``_open_windows``): direction v0 (r-space and eigenbasis).
        self.v0r = np.zeros((self.P, self.N))
        self.v0t = np.zeros((self.P, self.N))
        self.stats = {"solves": 0, "refreshes": 0, "iterations": 0, "candidate_rows": 0, "steps": 0}
        # Screening windows, one per problem (see ``_open_windows``): candidate pairs
        # (problem pk, gene pg; in no particular order), with their last exact z (zl), its slope
        # (sl) along the direction vl, the centred gene norm (cn) and the stored status (pst).
        self.pk = np.zeros(0, dtype=int)
        self.pg = np.zeros(0, dtype=int)
        self.zl = np.zeros(0)
        self.sl = np.zeros(0)
        self.cn = np.zeros(0)
        self.pst = np.zeros(0, dtype=np.int8)
        self.r0 = self.r.copy()
        self.rl = self.r.copy()
        self.xl = self.xt.copy()
        self.vlr = np.zeros((self.P, self.N))
        self.vlt = np.zeros((self.P, self.N))
        self.t_end = np.full(self.P, -1)  # last step of each problem's window (-1: none open)
        self._t_open = np.zeros(self.P, dtype=int)
        self._window_w = np.full(self.P, 4)
        self._efac = np.full(self.P, 0.05)
        self._eratio = np.zeros(self.P)
        self._drift = None  # per problem, per-step ||Δr||/n (set after the first step)
        self.emax = np.ones(self.P)
        self.c_lo = -1.0
        self.c_hi = np.ones(self.P)
        # Problems still solved by Newton; a problem on which it fails (see ``_give_up``)
        # is frozen and recorded in ``failed`` (k -> (step, reason)) for the caller's fallback.
        self.live = np.arange(self.P)
        self.failed = {}

    # -- screening window ---------------------------------------------------------
    def _materialize(self, ks):
        ks = np.asarray(ks)[~self.rvalid[ks]]
        if len(ks):
            # one matrix-vector product per problem, in place (a batched product would first
            # copy the selected Q, N x N each: the cost is reading Q, not the arithmetic)
            Q, xt, r = self.Q, self.xt, self.r
            for k in ks.tolist():
                np.dot(Q[k], xt[k], out=r[k])
            self.rvalid[ks] = True

    @staticmethod
    def _linear_fit(d, v):
        """c = dᵀv/vᵀv (0 where v = 0) and e = ||d - c v|| per row."""
        vv = np.einsum("ij,ij->i", v, v)
        c = np.einsum("ij,ij->i", d, v) / np.where(vv > 0, vv, 1.0)
        c[vv == 0] = 0.0
        dc = d - c[:, None] * v
        return c, np.sqrt(np.einsum("ij,ij->i", dc, dc))

    def _open_windows(self, ks, t, gamma):
        """z = X_cᵀr/n of every gene for the problems ``ks`` (and its slope s = X_cᵀv/n
        along the path's direction v = r(t-1) - r(t-2)): in single precision for all genes,
        with its rounding bound in the slack, and exactly for the candidates; the status of
        every gene brought in line with it (full check), and a new screening window for each.

        Within problem k's window, z_j(r) = z0_j + c s0_j + x_cjᵀ(d - c v)/n for d = r - r0
        and any scalar c; with c = dᵀv/vᵀv and e = ||d - c v||, |z_j - z0_j - c s0_j| ≤
        ||x_cj|| e / n (Cauchy-Schwarz on the part of the drift that the path's direction
        does not explain: first order instead of the zeroth-order ||x_cj|| ||d|| / n). The
        window stays valid while e ≤ emax and c ∈ [c_lo, c_hi] (``_window_ok``); a gene
        whose predicted |z| stays clear of the threshold range [γ(t_end), γ(t)] by that
        slack for every c in the range cannot change status: only the others become the
        window's candidate pairs. Returns the problems whose active set changed.
        """
        self.stats["refreshes"] += len(ks)
        L = self.lambdas.shape[1]
        self._materialize(ks)
        v0t = self.xt_prev[ks] - self.xt_prev2[ks]
        v0r = np.matmul(self.Q[ks], v0t[:, :, None])[:, :, 0]
        r = self.r[ks]
        n = self.n[ks]
        K = len(ks)
        # window length and drift allowance, per problem
        opened = self.t_end[ks] >= 0
        ko = ks[opened]
        if len(ko):
            self._efac[ko] = np.clip(self._efac[ko] * np.clip(1.5 * self._eratio[ko], 0.5, 4.0), 0.01, 4.0)
            lasted = np.maximum(t - self._t_open[ko], 1)
            cnt = np.bincount(self.pk, minlength=self.P)[ko]
            rho = np.maximum(cnt, 1) / np.maximum(self._window_w[ko], 1)
            # refresh ≈ KAPPA × p pair checks; candidates grow ≈ linearly in W: W* = √(κp / ρ)
            w_new = np.clip(np.sqrt(self.WKAPPA * self.p / rho), 1, np.minimum(2 * self._window_w[ko], self.WMAX)).astype(int)
            short = (lasted < self._window_w[ko] // 2) & (self._eratio[ko] > 1)
            w_new[short] = np.maximum(self._window_w[ko][short] // 2, 1)  # cut short by drift
            self._window_w[ko] = w_new
        self._t_open[ks] = t
        W = self._window_w[ks]
        # windows end on multiples of WALIGN steps, so that refreshes come in batches
        t_end = np.minimum(np.maximum((t + W + 1) // self.WALIGN * self.WALIGN - 1, t), L - 1)
        nsteps = t_end - t + 1
        g_hi = self.lambdas[ks, t] * self.alpha[ks]
        g_lo = self.lambdas[ks, t_end] * self.alpha[ks]
        nv = np.sqrt(np.einsum("ij,ij->i", v0r, v0r))
        ynorm = np.sqrt(np.sum(self.yc[ks] ** 2, axis=1))
        step = self._drift  # per-step ||Δr||/n, for v = 0 (no direction yet)
        step = np.full(len(ks), 1e-3) * ynorm / n if step is None else step[ks]
        emax = np.where(nv > 0, self._efac[ks] * nsteps * nv, 2.0 * nsteps * step * n)
        emax = np.maximum(emax, 1e-12 * ynorm)
        c_hi = 1.5 * nsteps + 1.0

        # Pass over all genes in single precision (one (2K x N) @ (N x p) product with X
        # centred on all patients: x_jᵀr is unchanged as r sums to 0). Its error is at most
        # f32_err ||x_j|| (||r|| + |c| ||v||)/n (input rounding plus an N-term dot product,
        # any summation order), which is added to the window's slack: a gene that is not a
        # candidate even so keeps its status for the whole window, and that status is the one
        # the single-precision z gives (it is clear of the threshold by more than the error).
        R = np.concatenate([r / n[:, None], v0r / n[:, None]]).astype(np.float32)
        Z = R @ self.X32  # 2K x p
        z32, s32 = Z[:K], Z[K:]
        cmax = np.maximum(-self.c_lo, c_hi)
        rn = np.sqrt(np.einsum("ij,ij->i", r, r)) / n
        b = self.f32_err * (rn + cmax * nv / n)
        cm = (0.5 * (self.c_lo + c_hi)).astype(np.float32)
        hr = (0.5 * (c_hi - self.c_lo) * (1 + 1e-6)).astype(np.float32)
        mid = 0.5 * (g_lo + g_hi)
        lim0 = 0.5 * (g_hi - g_lo) + 1e-15 + (TIE_RTOL + 1e-6) * g_hi
        a = emax / n * (1 + 1e-6) + b
        dev = z32 + cm[:, None] * s32
        np.abs(dev, out=dev)
        dev -= mid.astype(np.float32)[:, None]
        np.abs(dev, out=dev)
        lim = np.abs(s32)
        lim *= hr[:, None]
        lim += self.xn32[None, :] * a.astype(np.float32)[:, None]
        lim += lim0.astype(np.float32)[:, None]
        pi, gi = np.nonzero(dev <= lim)  # candidates at single precision, sorted by problem
        m32 = mid.astype(np.float32)[:, None]
        target = (z32 > m32).view(np.int8) - (z32 < -m32).view(np.int8)  # K x p
        # candidates: exact z and slope (double precision, as everywhere else)
        bounds = np.searchsorted(pi, np.arange(K + 1))
        zc = np.empty(len(pi))
        sc = np.empty(len(pi))
        for q in range(K):
            lo, hi = bounds[q], bounds[q + 1]
            if hi > lo:
                zs = self.Xt[gi[lo:hi]] @ np.stack([r[q], v0r[q]], axis=1)
                zc[lo:hi] = zs[:, 0] / n[q]
                sc[lo:hi] = zs[:, 1] / n[q]
        old = self.state[ks]  # K x p
        target[pi, gi] = _status(zc, gamma[ks][pi], old[pi, gi])
        # full check: every gene's status in line with z
        qi, gj = np.nonzero(old != target)  # problem position, gene; sorted by problem
        if len(qi):
            kc = ks[qi]
            nc = target[qi, gj]
            self._apply_batch(kc, gj, old[qi, gj], nc)
            self.state[kc, gj] = nc
        changed = np.unique(ks[qi])
        # the window's candidate pairs, from the exact values
        za = zc + self.c_lo * sc
        zb = zc + c_hi[pi] * sc
        slack = (self.cnorm[ks[pi], gi] * (emax / n)[pi] * (1 + 1e-9) + 1e-15
                 + TIE_RTOL * g_hi[pi] + 1e-12 * (np.abs(zc) + c_hi[pi] * np.abs(sc)))
        below = np.maximum(np.abs(za), np.abs(zb)) + slack < g_lo[pi]
        sg = np.sign(zc)
        above = np.minimum(sg * za, sg * zb) - slack > g_hi[pi]
        keep_c = ~(below | above)
        pi, gi, z0c, s0c = pi[keep_c], gi[keep_c], zc[keep_c], sc[keep_c]
        kk = ks[pi]
        # replace the pairs of ks
        inK = np.zeros(self.P, dtype=bool)
        inK[ks] = True
        keep = ~inK[self.pk]
        self.pk = np.concatenate([self.pk[keep], kk])
        self.pg = np.concatenate([self.pg[keep], gi])
        self.zl = np.concatenate([self.zl[keep], z0c])
        self.sl = np.concatenate([self.sl[keep], s0c])
        self.cn = np.concatenate([self.cn[keep], self.cnorm[kk, gi]])
        self.pst = np.concatenate([self.pst[keep], self.state[kk, gi]])
        self.r0[ks] = r
        self.x0t[ks] = self.xt[ks]
        self.v0r[ks] = v0r
        self.v0t[ks] = v0t
        self.rl[ks] = r
        self.xl[ks] = self.xt[ks]
        self.vlr[ks] = v0r
        self.vlt[ks] = v0t
        self.emax[ks] = emax
        self.c_hi[ks] = c_hi
        self.t_end[ks] = t_end
        self._eratio[ks] = 0.0
        self.stats["candidate_rows"] += len(kk)
        return changed

    def _window_ok(self, idx):
        """For the problems ``idx``: is the window's first-order bound still valid at the
        current r?"""
        c, e = self._linear_fit(self.xt[idx] - self.x0t[idx], self.v0t[idx])
        self._eratio[idx] = np.maximum(self._eratio[idx], e / self.emax[idx])
        return (e <= self.emax[idx]) & (c >= self.c_lo) & (c <= self.c_hi[idx])

    def _sync(self, gamma, problems):
        """Bring the stored status of genes in line with the current r.

        Only the windows' candidate pairs of ``problems`` are examined: the
        first-order prediction z_l + c s_l from their last exact values settles most; the
        unsettled pairs get exact z (all of a problem's pairs, and a new reference point,
        when they are ≥ 1/SYNC_FULL of them). Returns the problems whose active set or
        signs changed.
        """
        inS = np.zeros(self.P, dtype=bool)
        inS[problems] = True
        sel = np.flatnonzero(inS[self.pk])
        if len(sel) == 0:
            return np.zeros(0, dtype=int)
        pk = self.pk[sel]
        d = self.xt - self.xl
        c = np.zeros(self.P)
        e = np.zeros(self.P)
        c[problems], e[problems] = self._linear_fit(d[problems], self.vlt[problems])
        zl, sl = self.zl[sel], self.sl[sel]
        cs = c[pk] * sl
        zp = zl + cs
        g = gamma[pk]
        # (a settled pair is farther than the tie band from the threshold, so its plain
        # predicted status is its status; pairs that may be in the band are recomputed)
        unsettled = (np.abs(np.abs(zp) - g)
                     <= self.cn[sel] * (e / self.n)[pk] * (1 + 1e-9) + 1e-15 + TIE_RTOL * g
                     + 1e-12 * (np.abs(zl) + np.abs(cs)))
        target = (zp > g).view(np.int8) - (zp < -g).view(np.int8)
        old = self.pst[sel]
        if unsettled.any():
            # exact z for the unsettled pairs; a problem with many (≥ 1/SYNC_FULL of its
            # pairs) gets exact z for all of its pairs and a new reference (r_l, its
            # direction and z_l, s_l), the others keep theirs
            ucnt = np.bincount(pk[unsettled], minlength=self.P)
            pcnt = np.bincount(pk, minlength=self.P)
            full = (ucnt > 0) & (self.SYNC_FULL * ucnt >= pcnt)
            need = np.flatnonzero(ucnt)
            self._materialize(need)
            jn = np.flatnonzero(unsettled | full[pk])
            pj = sel[jn]
            kj = pk[jn]
            z = np.einsum("ij,ij->i", self.Xt[self.pg[pj]], self.r[kj]) / self.n[kj]
            fullp = np.flatnonzero(full)
            if len(fullp):
                # new direction for the pairs' prediction: the secant since their last exact
                # values (kept when the step since then is too short to define one well)
                fj = full[kj]
                pf, kf, zf = pj[fj], kj[fj], z[fj]
                dn = np.sqrt(np.einsum("ij,ij->i", d[fullp], d[fullp]))
                vn = np.sqrt(np.einsum("ij,ij->i", self.vlt[fullp], self.vlt[fullp]))
                upd = fullp[(dn > 0) & (dn >= 0.5 * vn)]
                if len(upd):
                    inU = np.zeros(self.P, dtype=bool)
                    inU[upd] = True
                    u = inU[kf]
                    self.sl[pf[u]] = zf[u] - self.zl[pf[u]]
                    self.vlt[upd] = d[upd]
                    self.vlr[upd] = self.r[upd] - self.rl[upd]
                self.zl[pf] = zf
                self.xl[fullp] = self.xt[fullp]
                self.rl[fullp] = self.r[fullp]
            target[jn] = _status(z, gamma[kj], old[jn])
            self.stats["full_rechecks"] = self.stats.get("full_rechecks", 0) + len(fullp)
            self.stats["pair_checks"] = self.stats.get("pair_checks", 0) + len(jn)
        ch = np.flatnonzero(target != old)
        if len(ch) == 0:
            return np.zeros(0, dtype=int)
        ch = ch[np.argsort(pk[ch], kind="stable")]  # by problem (the pairs are in no order)
        pc = sel[ch]
        kc, gc, nc = self.pk[pc], self.pg[pc], target[ch]
        self._apply_batch(kc, gc, old[ch], nc)
        self.state[kc, gc] = nc
        self.pst[pc] = nc
        return np.unique(kc)

    # -- linear algebra -------------------------------------------------------------
    def _rebase(self, ks):
        self.stats["rebases"] = self.stats.get("rebases", 0) + len(ks)
        self._materialize(ks)
        r_prev = np.matmul(self.Q[ks], self.xt_prev[ks][:, :, None])[:, :, 0]
        r_prev2 = np.matmul(self.Q[ks], self.xt_prev2[ks][:, :, None])[:, :, 0]
        G = self.Kt[ks] * self.w[ks][:, :, None]  # diag(w) Kt = Σ x̂ x̂ᵀ (symmetric)
        G = 0.5 * (G + G.transpose(0, 2, 1))
        e, Q = np.linalg.eigh(G)
        self.e[ks] = np.clip(e, 0, None)
        self.Q[ks] = Q
        QT = Q.transpose(0, 2, 1)
        self.xt[ks] = np.matmul(QT, self.r[ks][:, :, None])[:, :, 0]
        self.x0t[ks] = np.matmul(QT, self.r0[ks][:, :, None])[:, :, 0]
        self.v0t[ks] = np.matmul(QT, self.v0r[ks][:, :, None])[:, :, 0]
        self.xl[ks] = np.matmul(QT, self.rl[ks][:, :, None])[:, :, 0]
        self.vlt[ks] = np.matmul(QT, self.vlr[ks][:, :, None])[:, :, 0]
        self.xt_prev[ks] = np.matmul(QT, r_prev[:, :, None])[:, :, 0]
        self.xt_prev2[ks] = np.matmul(QT, r_prev2[:, :, None])[:, :, 0]
        rows = ks[:, None]
        self.KvQ[ks] = np.matmul(self.Kt[rows, self.vidx[ks]], Q)
        self.ytil[ks] = np.matmul(QT, self.yc[ks][:, :, None])[:, :, 0]
        self.mtil[ks] = np.matmul(QT, (self.mt[ks] * self.w[ks])[:, :, None])[:, :, 0]
        self.U[ks] = 0.0
        self.sig[ks] = 0.0
        self.m[ks] = 0
        self.stale[ks] = False

    def _solve(self, idx, beta, gamma):
        """r = (β I + Σ_A x̂ x̂ᵀ / n)⁻¹ (β y_c + γ Σ_A s_j x̂_j) for the problems ``idx``."""
        self.stats["solves"] += len(idx)
        st = idx[self.stale[idx]]
        if len(st):
            self._rebase(st)
        if len(idx) == self.P:
            idx = slice(None)  # views instead of copies of the P x N x N arrays
        n = self.n[idx, None]
        d = 1.0 / (beta[idx, None] + self.e[idx] / n)
        bt = beta[idx, None] * self.ytil[idx] + gamma[idx, None] * self.mtil[idx]
        xt = d * bt
        # Woodbury for the genes changed since the rebase, bucketed by their number so that
        # the batched m x m systems are not all padded to the largest m.
        pos = np.arange(self.P)[idx]
        m = self.m[pos]
        for lo, hi in self.BUCKETS:
            sel = np.flatnonzero((m >= lo) & (m <= hi))
            if len(sel) == 0:
                continue
            mm = int(m[sel].max())
            ks = pos[sel]
            Ut = self.U[ks, :, :mm]
            sg = self.sig[ks, :mm]
            ds = d[sel]
            DU = ds[:, :, None] * Ut
            UT = Ut.transpose(0, 2, 1)
            ns = self.n[ks, None]
            C = np.eye(mm)[None] + sg[:, :, None] * np.matmul(UT, DU) / ns[:, :, None]
            rhs = sg * np.matmul(UT, xt[sel][:, :, None])[:, :, 0] / ns
            v = np.linalg.solve(C, rhs[:, :, None])
            xt[sel] -= np.matmul(DU, v)[:, :, 0]
        self.xt[idx] = xt
        self.rvalid[idx] = False

    def _apply_batch(self, kc, gc, oc, nc):
        """``_apply_changes`` for changes (problem kc[i], gene gc[i]: oc[i] -> nc[i]), ``kc``
        sorted: problems with a few changes are updated together, one rank-one change of
        each per pass (batched over problems); the others one by one."""
        if len(kc) == 0:
            return
        starts = np.flatnonzero(np.r_[True, kc[1:] != kc[:-1]])
        counts = np.diff(np.r_[starts, len(kc)])
        many = counts > 4
        for st, cnt in zip(starts[many], counts[many]):
            sl = slice(st, st + cnt)
            self._apply_changes(kc[st], gc[sl], oc[sl], nc[sl])
        if many.all():
            return
        rank = np.arange(len(kc)) - np.repeat(starts, counts)
        few = np.repeat(~many, counts)
        for j in range(int(rank[few].max()) + 1):
            sel = np.flatnonzero(few & (rank == j))
            ks, gs = kc[sel], gc[sel]
            o, nw = oc[sel].astype(float), nc[sel].astype(float)
            xt = self.Xt[gs] - self.mu[ks, gs][:, None]  # B x N, x̃
            xh = xt * self.w[ks]  # x̂
            sigma = (nw != 0).astype(float) - (o != 0).astype(float)
            ds = nw - o
            nz = sigma != 0
            # rank-one updates in place (BLAS ger on the transposed, Fortran-ordered view;
            # a fancy-indexed += would copy each N x N matrix out and back)
            Kt = self.Kt
            for i in np.flatnonzero(nz).tolist():
                dger(sigma[i], xh[i], xt[i], a=Kt[ks[i]].T, overwrite_a=1)
            self.mt[ks] += ds[:, None] * xt
            fresh = ~self.stale[ks]
            if not fresh.any():
                continue
            kl = ks[fresh]
            xf = xh[fresh]
            u = np.empty_like(xf)  # Qᵀ x̂, one product per problem (no copy of Q)
            for i, k in enumerate(kl.tolist()):
                np.dot(xf[i], self.Q[k], out=u[i])
            self.mtil[kl] += ds[fresh][:, None] * u
            q = nz[fresh]
            if not q.any():
                continue
            kq, sq, uq = kl[q], sigma[fresh][q], u[q]
            xv = np.take_along_axis(xt[fresh][q], self.vidx[kq], axis=1)  # B x V
            KvQ = self.KvQ
            for i, k in enumerate(kq.tolist()):
                dger(sq[i], uq[i], xv[i], a=KvQ[k].T, overwrite_a=1)
            over = self.m[kq] + 1 > self.MMAX
            self.stale[kq[over]] = True
            ko, uo, so = kq[~over], uq[~over], sq[~over]
            mo = self.m[ko]
            self.U[ko, :, mo] = uo
            self.sig[ko, mo] = so
            self.m[ko] += 1

    def _apply_changes(self, k, genes, old, new):
        """Update problem k's Kt and mt for genes whose status changes old -> new."""
        x = self.Xt[genes]  # g x N
        xt = x - self.mu[k, genes][:, None]  # x̃ (centred by training means, all rows)
        xh = xt * self.w[k][None, :]  # x̂ (zero on validation rows)
        sigma = (new != 0).astype(float) - (old != 0).astype(float)
        ds = new.astype(float) - old.astype(float)
        nz = sigma != 0
        if nz.any():
            self.Kt[k] += (xt[nz] * sigma[nz, None]).T @ xh[nz]
        self.mt[k] += ds @ xt
        if self.stale[k]:
            return  # rebuilt from Kt and mt at the next solve
        u = self.Q[k].T @ xh.T  # N x g: Qᵀ x̂
        self.mtil[k] += u @ ds
        g = int(nz.sum())
        if g:
            xv = xt[nz][:, self.vidx[k]]  # g x V
            self.KvQ[k] += (xv * sigma[nz, None]).T @ u[:, nz].T
            if self.m[k] + g > self.MMAX:
                self.stale[k] = True
            else:
                self.U[k, :, self.m[k]:self.m[k] + g] = u[:, nz]
                self.sig[k, self.m[k]:self.m[k] + g] = sigma[nz]
                self.m[k] += g

    # -- path -------------------------------------------------------------------------
    def step(self, t, max_iter=8):
        """Solve every problem at step t (warm start from step t-1)."""
        lam = self.lambdas[:, t]
        gamma, beta = lam * self.alpha, lam * (1 - self.alpha)
        self.stats["steps"] += 1
        allp = self.live
        if len(allp) == 0:
            return
        self.xt_prev2 = self.xt_prev
        self.xt_prev = self.xt.copy()
        # problems whose window ended (or none is open): full check and a new window
        # (a full check reads all of X whatever the number of problems: the windows that
        # would end soon are renewed in the same pass, see ``_ending``)
        ends = allp[self.t_end[allp] < t]
        todo = allp
        if len(ends):
            ends = np.union1d(ends, self._ending(allp, t))
            todo = np.union1d(allp, self._open_windows(ends, t, gamma))
        for it in range(max_iter):
            self._solve(todo, beta, gamma)
            self.stats["iterations"] += 1
            bad = todo[~self._window_ok(todo)]
            if len(bad):  # the window's bound no longer holds: full check, new window
                renew = np.union1d(bad, self._ending(allp, t))
                rest = todo[~np.isin(todo, renew)]
                todo = np.union1d(self._open_windows(renew, t, gamma), self._sync(gamma, rest))
            else:
                todo = self._sync(gamma, todo)
            if len(todo) == 0:
                break
        if len(todo):
            # Plain Newton cycles (rare: several genes at the threshold at once);
            # globalise with a line search on the dual objective for those problems.
            for k in todo:
                try:
                    self._damped(k, gamma[k], beta[k], t)
                except (RadiogenomicsError, np.linalg.LinAlgError, FloatingPointError) as exc:
                    self._give_up(k, t, exc)
            self.t_end[todo] = -1  # r moved outside the windows' bookkeeping: new ones next step
        d = np.sqrt(np.sum((self.xt - self.xt_prev) ** 2, axis=1)) / self.n
        prev = self._drift
        self._drift = d if prev is None else np.maximum(d, 0.5 * prev)

    def _ending(self, ks, t):
        """Problems of ``ks`` renewed early, in a pass over X that takes place anyway: those
        whose long window (≥ 4 × WALIGN steps) is ¾ done and ends within 2 × WALIGN steps, and
        those whose drift has used ENDING_DRIFT of its allowance."""
        span = self.t_end[ks] - self._t_open[ks]
        return ks[((self.t_end[ks] < t + 2 * self.WALIGN) & (4 * (t - self._t_open[ks]) >= 3 * span)
                   & (span >= 4 * self.WALIGN)) | (self._eratio[ks] >= self.ENDING_DRIFT)]

    def _give_up(self, k, t, reason):
        """Freeze problem k (Newton failed at step t): it is no longer solved, and the caller
        replaces its whole path by the coordinate-descent fallback."""
        self.failed[int(k)] = (int(t), str(reason))
        self.live = self.live[self.live != k]
        self.stats["failed"] = self.stats.get("failed", 0) + 1

    def _full_state(self, k, r, gamma):
        z = (self.Xt @ r) / self.n[k]
        return z, _status(z, gamma, self.state[k])

    def _dual_objective(self, k, r, gamma, beta):
        z, _ = self._full_state(k, r, gamma)
        st = np.clip(np.abs(z) - gamma, 0, None)
        return 0.5 * r @ r - r @ self.yc[k] + self.n[k] / (2 * beta) * (st @ st)

    def _damped(self, k, gamma, beta, t, max_iter=200):
        """Semismooth Newton with Armijo backtracking on the (strongly convex) dual objective

        f(r) = ½||r||² - rᵀy_c + n/(2β) Σ_j S(x_cjᵀ r/n, γ)², ∇f(r) = r - y_c + X_c w(r).
        """
        self.stats["damped"] = self.stats.get("damped", 0) + 1
        idx = np.array([k])
        bvec = np.zeros(self.P)
        gvec = np.zeros(self.P)
        bvec[k], gvec[k] = beta, gamma
        for _ in range(max_iter):
            self._materialize(idx)
            r = self.r[k].copy()
            _, target = self._full_state(k, r, gamma)
            diff = np.flatnonzero(self.state[k] != target)
            if len(diff):
                self._apply_changes(k, diff, self.state[k, diff], target[diff])
                self.state[k, diff] = target[diff]
            # gradient at r (state consistent with r): r - y_c + (Gc r /n - γ m̂)/β
            wk = self.w[k]
            gc_r = wk * (self.Kt[k] @ r)
            grad = r - self.yc[k] + (gc_r / self.n[k] - gamma * wk * self.mt[k]) / beta
            self._solve(idx, bvec, gvec)
            self._materialize(idx)
            d = self.r[k] - r
            _, newstate = self._full_state(k, self.r[k], gamma)
            if np.array_equal(newstate, self.state[k]):
                # Newton point lies in the region it was computed for: exact solution.
                return
            f0 = self._dual_objective(k, r, gamma, beta)
            slope = grad @ d
            tau = 1.0
            while tau > 1e-12:
                if self._dual_objective(k, r + tau * d, gamma, beta) <= f0 + 1e-4 * tau * slope:
                    break
                tau *= 0.5
            self.r[k] = r + tau * d
            self.xt[k] = self.Q[k].T @ self.r[k]
        raise RadiogenomicsError(f"elastic net: damped Newton did not converge at step {t}")

    def check_finite(self, t, pred):
        """Freeze the problems whose step-t predictions ``pred`` (P, V) are not finite."""
        bad = self.live[~np.all(np.isfinite(pred[self.live]), axis=1)]
        for k in bad:
            self._give_up(k, t, "non-finite solution")

    def predictions(self, t):
        """Validation predictions at step t: (P, V) values for the patients ``self.vidx``."""
        lam = self.lambdas[:, t]
        gamma, beta = lam * self.alpha, lam * (1 - self.alpha)
        rows = np.arange(self.P)[:, None]
        q = np.matmul(self.KvQ, self.xt[:, :, None])[:, :, 0]  # Kt[val] r = (Kt[val] Q) Qᵀ r
        mv = self.mt[rows, self.vidx]
        return self.ybar[:, None] + (q / self.n[:, None] - gamma[:, None] * mv) / beta[:, None]

    def coef(self, k, t):
        """Coefficients and intercept of problem k at step t (after ``step(t)``)."""
        lam = self.lambdas[k, t]
        gamma, beta = lam * self.alpha[k], lam * (1 - self.alpha[k])
        self._materialize(np.array([k]))
        z = (self.Xt @ self.r[k]) / self.n[k]
        w = np.sign(z) * np.clip(np.abs(z) - gamma, 0, None) / beta
        return w, float(self.ybar[k] - self.mu[k] @ w)


def _cd_path(X, y, mask, alpha, lambdas):
    """Fallback solver: scikit-learn's ``enet_path`` (coordinate descent, warm-started along
    ``lambdas``, tol ``FALLBACK_TOL``) on the patients ``mask``, centred with their means as
    ``ElasticNetCV`` does. Returns coefficients (p, L), the training means of X and of y."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import enet_path

    mu = X[mask].mean(axis=0)
    ym = float(y[mask].mean())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        _, coefs, _ = enet_path(X[mask] - mu, y[mask] - ym, l1_ratio=float(alpha),
                                alphas=np.asarray(lambdas, dtype=float), tol=FALLBACK_TOL,
                                max_iter=FALLBACK_MAX_ITER)
    if any(issubclass(w.category, ConvergenceWarning) for w in caught):
        log.warning("elastic net fallback (coordinate descent, l1_ratio=%g): did not reach tol=%g "
                    "within %d iterations at some lambda", alpha, FALLBACK_TOL, FALLBACK_MAX_ITER)
    return coefs, mu, ym


def _cd_predictions(X, y, mask, alpha, lambdas):
    """Validation predictions (L, V) of the coordinate-descent path on training ``mask``."""
    coefs, mu, ym = _cd_path(X, y, mask, alpha, lambdas)
    return ym + ((X[~mask] - mu) @ coefs).T


#: The Newton path solver takes λ steps no larger than this in log λ (an 800-point path over
#: two decades). On coarser paths many genes cross their threshold within one step, plain
#: Newton cycles more often and the damped fallback needs tens of iterations: measured on the
#: demo (64 × 1000, 6 α × 100 λ, standardised genes), 189 damped solves and 4.4 s per
#: feature without intermediate steps, none and 0.85 s with them. Intermediate λ values are
#: inserted between the requested ones (geometrically), which stay exactly as given; the
#: solver is exact, so the solutions there do not change (to rounding, ~1e-12 in R²).
MAX_STEP_LOG_RATIO = math.log(100.0) / 800


def _refined_path(lambdas):
    """(P, L) decreasing λ paths -> ((P, (L-1)·m + 1) paths through them, m): every step
    split into m equal steps in log λ, m the smallest with steps ≤ MAX_STEP_LOG_RATIO; the
    requested values are columns 0, m, 2m, ... exactly."""
    lambdas = np.asarray(lambdas, dtype=float)
    if lambdas.shape[1] < 2:
        return lambdas, 1
    widest = float(np.max(np.log(lambdas[:, :-1] / lambdas[:, 1:])))
    m = max(1, math.ceil(widest / MAX_STEP_LOG_RATIO - 1e-9))
    if m == 1:
        return lambdas, 1
    q = (lambdas[:, 1:] / lambdas[:, :-1]) ** (1.0 / m)  # P x (L-1)
    fine = lambdas[:, :-1, None] * q[:, :, None] ** np.arange(m)[None, None, :]
    fine = np.concatenate([fine.reshape(len(lambdas), -1), lambdas[:, -1:]], axis=1)
    fine[:, ::m] = lambdas
    return fine, m


def _enet_predictions(X, y, train, alphas, lambdas):
    """Validation predictions for several α in (0, 1) at once.

    Returns an array (len(alphas), L, N): for α_a and step t, each patient predicted by
    the fold in which it is a validation patient; the solver statistics; and the list of
    fallbacks ``(fold index, α, step, reason)``: (fold, α) paths on which the Newton solver
    failed, solved instead by coordinate descent (``_cd_path``) over the whole λ path.
    The solver runs along :func:`_refined_path`; predictions are formed at the requested λ.
    """
    F = len(train)
    A = len(alphas)
    problems_train = np.tile(train, (A, 1))
    problems_alpha = np.repeat(alphas, F)
    fine, m = _refined_path(lambdas)
    problems_lambdas = np.repeat(fine, F, axis=0)
    L = lambdas.shape[1]
    out = np.empty((A, L, len(y)))
    try:
        path = _DualPath(X, y, problems_train, problems_alpha, problems_lambdas)
        for s in range(fine.shape[1]):
            path.step(s)
            if s % m:
                continue
            pred = path.predictions(s)
            path.check_finite(s, pred)
            pr = pred.reshape(A, F, -1)
            for f in range(F):
                out[:, s // m, path.vidx[f]] = pr[:, f]
        failed = {k: (step if step < 0 else step // m, reason) for k, (step, reason) in path.failed.items()}
        stats = path.stats
    except (RadiogenomicsError, np.linalg.LinAlgError, FloatingPointError, ValueError) as exc:
        # Not attributable to one problem (e.g. a batched factorisation failed): every path.
        log.warning("elastic net: the Newton solver failed (%s); solving every path by coordinate descent", exc)
        failed = {k: (-1, f"batch failure: {exc}") for k in range(A * F)}
        stats = {"failed": A * F}
    fallbacks = []
    for k, (t, reason) in sorted(failed.items()):
        a, f = divmod(k, F)
        out[a, :, ~train[f]] = _cd_predictions(X, y, train[f], alphas[a], lambdas[a]).T
        fallbacks.append((f, float(alphas[a]), t, reason))
    log.debug("dual path stats: %s", stats)
    return out, stats, fallbacks


def _enet_refit(X, y, alpha, lambdas, t_stop):
    """Coefficients on all patients at step ``t_stop`` of the path ``lambdas`` (warm-started).

    Returns coefficients, intercept and None, or, where the Newton solver fails, the
    coordinate-descent fallback's and ``(step, reason)``.
    """
    train = np.ones((1, len(y)), dtype=bool)
    lambdas = np.asarray(lambdas, dtype=float)
    fine, m = _refined_path(lambdas[None, : t_stop + 1])
    try:
        path = _DualPath(X, y, train, np.array([alpha]), fine)
        for s in range(t_stop * m + 1):
            path.step(s)
            if path.failed:
                break
        if not path.failed:
            coef, intercept = path.coef(0, t_stop * m)
            if np.all(np.isfinite(coef)) and np.isfinite(intercept):
                return coef, intercept, None
            path.failed[0] = (t_stop * m, "non-finite solution")
        step, reason = path.failed[0]
        failure = (step // m, reason)
    except (RadiogenomicsError, np.linalg.LinAlgError, FloatingPointError, ValueError) as exc:
        failure = (-1, str(exc))
    coefs, mu, ym = _cd_path(X, y, train[0], alpha, lambdas[: t_stop + 1])
    coef = coefs[:, -1]
    return coef, float(ym - mu @ coef), failure


# --------------------------------------------------------------------------- public API


def _check_inputs(X, y, fold_ids, l1_ratios, n_lambdas, lambda_min_ratio):
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
                   criterion="pooled_r2", standardize=False, label=None):
    """Cross-validated elastic net over an (α, λ) grid on fixed folds (paper §2.3-2.4).

    Parameters
    ----------
    X : (n, p) array, y : (n,) array
    fold_ids : (n,) fold label of each patient (the fold in which it is a validation patient)
    l1_ratios : α values in [0, 1] (0 = ridge, 1 = lasso); see :func:`l1_ratio_grid`
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

    Safety net: a (fold, α) path on which the exact Newton solver fails (no convergence,
    a failed factorisation, a non-finite solution) is solved instead with scikit-learn's
    ``enet_path`` (coordinate descent on the same λ grid, warm-started, tol ``FALLBACK_TOL``)
    and a warning names the label, the fold and α; so is the refit, and the lasso path if
    LARS fails. The results then equal ElasticNetCV's up to that solver's tolerance.

    Returns
    -------
    dict with ``l1_ratio``, ``lambda`` (scikit-learn's ``alpha``), ``oof`` (n,) out-of-fold
    predictions of the selected model, ``r2`` (its pooled out-of-fold R²), ``coef`` (p,) and
    ``intercept`` refitted on all patients, ``n_nonzero``; and the whole search:
    ``l1_ratios`` (A,), ``lambdas`` (A, L), ``r2_path`` (A, L), ``cv_mse`` (A, L, K) (per-fold
    validation MSE, folds in sorted label order: the layout of ``ElasticNetCV.mse_path_``),
    ``intercept_only`` (A, L) bool, ``folds`` (K,) labels, ``index`` (a, t) of the selection,
    ``fallbacks``: list of dicts (``fold``, ``l1_ratio``, ``step``, ``reason``, ``what``) for
    the paths solved by the coordinate-descent fallback (normally empty).
    Ties are broken as ``ElasticNetCV`` does: first α in the given order, then largest λ.
    """
    from threadpoolctl import threadpool_limits

    # Many small LAPACK calls: threads only add overhead (and the rule has threads: 1).
    with threadpool_limits(limits=1):
        return _elastic_net_cv(X, y, fold_ids, l1_ratios, n_lambdas, lambda_min_ratio, criterion,
                               bool(standardize), label)


def gene_scales(X, rows=None) -> np.ndarray:
    """glmnet's standardisation divisor of every gene over ``rows`` (default: all rows).

    sd_j = sqrt(1/n sum_i (x_ij - mean_j)²) (divisor n, as glmnet's ``standardize = TRUE``);
    a gene that is constant over the rows gets 1 (it is centred to 0 and never enters).
    """
    X = np.asarray(X, dtype=float)
    sub = X if rows is None else X[rows]
    sd = sub.std(axis=0)
    return np.where(sd > 0, sd, 1.0)


def _by_fold(X, train, scales, solve):
    """Out-of-fold predictions from ``solve(X, train)`` (returns (..., N), filled at the
    validation columns of every row of ``train``), with X as given (``scales`` None: one
    call, all folds batched) or divided by each fold's own gene scales (one call per fold).
    Returns the predictions and the list of (fold index, fallback) from the calls."""
    if scales is None:
        pred, fallbacks = solve(X, train)
        return pred, fallbacks
    pred, fallbacks = None, []
    for f, mask in enumerate(train):
        part, fell = solve(X / scales[f], mask[None, :])
        if pred is None:
            pred = np.empty_like(part)
        pred[..., ~mask] = part[..., ~mask]
        fallbacks += [(f, *rest) for _, *rest in fell]
    return pred, fallbacks


def _elastic_net_cv(X, y, fold_ids, l1_ratios, n_lambdas, lambda_min_ratio, criterion, standardize,
                    label=None):
    X, y, fold_ids, ratios = _check_inputs(X, y, fold_ids, l1_ratios, n_lambdas, lambda_min_ratio)
    if criterion not in ("pooled_r2", "mean_fold_mse"):
        raise RadiogenomicsError(f"elastic net: unknown criterion {criterion!r}")
    N, p = X.shape
    L = int(n_lambdas)
    labels, train = _fold_masks(fold_ids)
    K = len(labels)
    # glmnet standardises inside every fit: the folds' training rows, and all patients for
    # the refit and the λ grid (cv.glmnet passes the full-data λ sequence to every fold)
    scales = np.stack([gene_scales(X, mask) for mask in train]) if standardize else None
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

    def fell_back(what, fold, alpha, step, reason):
        fallbacks.append({"what": what, "fold": None if fold is None else labels[fold].item(),
                          "l1_ratio": float(alpha), "step": int(step), "reason": str(reason)})
        where = "all patients (refit)" if fold is None else f"fold {labels[fold]}"
        log.warning("%selastic net: Newton/LARS solver failed for %s, l1_ratio=%g (lambda step %d: %s); "
                    "solved this path with scikit-learn's enet_path (coordinate descent, tol=%g)",
                    name, where, alpha, step, reason, FALLBACK_TOL)

    def score(a, pred):
        err2 = (pred - y[None, :]) ** 2  # L x N
        per_fold = np.zeros((L, K))
        np.add.at(per_fold.T, fold_of, err2.T)
        cv_mse[a] = per_fold / counts[None, :]
        r2_path[a] = 1.0 - err2.sum(axis=1) / sst
        oof_all[a] = pred

    def ridge(Xs, masks, a):
        return _ridge_predictions(Xs, y, masks, lambdas[a]), []

    def lasso(Xs, masks, a):
        pred, failed = np.empty((L, N)), []
        for f, mask in enumerate(masks):
            try:
                pred[:, ~mask] = _lasso_predictions(Xs, y, mask[None, :], lambdas[a])[:, ~mask]
                if not np.all(np.isfinite(pred[:, ~mask])):
                    raise FloatingPointError("non-finite LARS solution")
            except (np.linalg.LinAlgError, FloatingPointError, ValueError) as exc:
                failed.append((f, exc))
                pred[:, ~mask] = _cd_predictions(Xs, y, mask, 1.0, lambdas[a])
        return pred, failed

    def enet(Xs, masks):
        preds, path_stats, failed = _enet_predictions(Xs, y, masks, ratios[mid], lambdas[mid])
        for key, value in path_stats.items():
            stats[key] = stats.get(key, 0) + value
        return preds, failed

    mid = [a for a, r in enumerate(ratios) if 0 < r < 1]
    for a, r in enumerate(ratios):
        if r == 0:
            score(a, _by_fold(X, train, scales, lambda Xs, masks: ridge(Xs, masks, a))[0])
        elif r == 1:
            pred, failed = _by_fold(X, train, scales, lambda Xs, masks: lasso(Xs, masks, a))
            for f, exc in failed:
                fell_back("lasso", f, r, -1, exc)
            score(a, pred)
    if mid:
        preds, failed = _by_fold(X, train, scales, enet)
        for f, alpha, step, reason in failed:
            fell_back("enet", f, alpha, step, reason)
        for i, a in enumerate(mid):
            score(a, preds[i])

    # Intercept-only models: all coefficients of the all-patient fit are zero, which for
    # α > 0 happens exactly when λ ≥ λ_max(α) (the KKT condition at w = 0).
    intercept_only = np.zeros((len(ratios), L), dtype=bool)
    for a, r in enumerate(ratios):
        if r > 0:
            intercept_only[a] = lambdas[a] >= lmax[a] * (1 - 1e-12)
    if criterion == "pooled_r2":
        loss = -r2_path.copy()
    else:
        loss = cv_mse.mean(axis=2)
    loss[intercept_only] = np.inf
    if not np.isfinite(loss).any():
        raise RadiogenomicsError("elastic net: every model on the grid is intercept-only (need n_lambdas >= 2)")
    best, best_a, best_t = np.inf, None, None
    for a in range(len(ratios)):
        t = int(np.argmin(loss[a]))
        if loss[a, t] < best:
            best, best_a, best_t = loss[a, t], a, t

    alpha, lam = float(ratios[best_a]), float(lambdas[best_a, best_t])
    if alpha == 0:
        coef, intercept = _ridge_refit(X_all, y, lam)
    elif alpha == 1:
        try:
            coef, intercept = _lasso_refit(X_all, y, lam)
            if not (np.all(np.isfinite(coef)) and np.isfinite(intercept)):
                raise FloatingPointError("non-finite LARS solution")
        except (np.linalg.LinAlgError, FloatingPointError, ValueError) as exc:
            fell_back("refit", None, alpha, best_t, exc)
            coefs, mu, ym = _cd_path(X_all, y, np.ones(N, bool), 1.0, lambdas[best_a, : best_t + 1])
            coef = coefs[:, -1]
            intercept = float(ym - mu @ coef)
    else:
        coef, intercept, failure = _enet_refit(X_all, y, alpha, lambdas[best_a], best_t)
        if failure is not None:
            fell_back("refit", None, alpha, failure[0], failure[1])
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
        "solver_stats": stats,
        "fallbacks": fallbacks,
    }


# --------------------------------------------------------------------------- workflow I/O


def run_feature(*, expression_path, features_path, folds_path, feature, l1_ratios, n_lambdas,
                lambda_min_ratio, oof_path, coefficients_path, selection_path, standardize=True):
    """Fit the elastic net of one image feature and write its three outputs.

    Patients: those of ``folds_path`` (the supervised patients, with the networks' fold
    assignment). Patients whose target is missing are left out of this feature (logged,
    listed in ``selection.json``; their ``oof.tsv`` entry is empty). A constant target
    cannot be fitted: the documented fallback is the intercept-only model (each patient
    predicted by its training folds' mean, all coefficients zero, ``r2`` null).
    """
    import time

    import pandas as pd

    from . import io

    t0 = time.perf_counter()
    expr = io.read_tsv(expression_path)
    feats = io.read_tsv(features_path)
    folds = io.read_tsv(folds_path)
    expr.index = expr.index.astype(str)
    feats.index = feats.index.astype(str)
    folds.index = folds.index.astype(str)
    if "fold" not in folds.columns:
        raise RadiogenomicsError(f"{folds_path}: no 'fold' column (columns: {list(folds.columns)})")
    if feature not in feats.columns:
        raise RadiogenomicsError(f"{features_path}: no column {feature!r}")
    patients = list(folds.index)
    for path, table in ((expression_path, expr), (features_path, feats)):
        missing = [p for p in patients if p not in table.index]
        if missing:
            raise RadiogenomicsError(
                f"{path}: {len(missing)} patients of {folds_path} are missing: {', '.join(missing[:5])}"
            )
    y_all = pd.to_numeric(feats.loc[patients, feature], errors="coerce")
    left_out = sorted(y_all.index[~np.isfinite(y_all.to_numpy(dtype=float))])
    if left_out:
        log.warning("%s: %d patients have no value and are left out: %s", feature, len(left_out),
                    ", ".join(left_out))
    keep = [p for p in patients if p not in set(left_out)]
    X = expr.loc[keep].to_numpy(dtype=float)
    y = y_all.loc[keep].to_numpy(dtype=float)
    fold_ids = folds.loc[keep, "fold"].to_numpy()
    n_folds = folds["fold"].nunique()
    if len(keep) < n_folds:
        raise RadiogenomicsError(
            f"{feature}: only {len(keep)} patients with a value, fewer than the {n_folds} folds of {folds_path}"
        )
    ratios = l1_ratio_grid(int(l1_ratios))
    selection = {
        "feature": feature,
        "n_patients": len(keep),
        "n_genes": int(X.shape[1]),
        "left_out": left_out,
        "grid": {"l1_ratios": [float(a) for a in ratios], "n_lambdas": int(n_lambdas),
                 "lambda_min_ratio": float(lambda_min_ratio)},
        "criterion": "pooled out-of-fold R2 (cv.glmnet's pooled MSE); intercept-only models excluded",
        "standardize": bool(standardize),
    }
    oof = pd.Series(np.nan, index=pd.Index(patients, name="patient"), name=feature)
    if len(y) and np.ptp(y) == 0:
        log.warning("%s: constant target (%g): writing the intercept-only model (fallback)", feature, y[0])
        for f in np.unique(fold_ids):
            oof.loc[np.array(keep)[fold_ids == f]] = y[fold_ids != f].mean()
        coef = np.zeros(X.shape[1])
        selection.update({"l1_ratio": None, "lambda": None, "r2": None, "n_nonzero": 0,
                          "intercept": float(y[0]), "note": "constant target: intercept-only fallback"})
    else:
        res = elastic_net_cv(X, y, fold_ids, ratios, int(n_lambdas), float(lambda_min_ratio),
                             standardize=standardize, label=feature)
        oof.loc[keep] = res["oof"]
        coef = res["coef"]
        a, t = res["index"]
        selection.update({
            "l1_ratio": res["l1_ratio"], "lambda": res["lambda"], "r2": res["r2"],
            "n_nonzero": res["n_nonzero"], "intercept": res["intercept"],
            "lambda_index": int(t), "lambda_max": float(res["lambdas"][a, 0]),
            "at_grid_edge": bool(t == res["lambdas"].shape[1] - 1),
            "solver_stats": {k: int(v) for k, v in res["solver_stats"].items()},
            "fallbacks": res["fallbacks"],
        })
        if selection["at_grid_edge"]:
            log.warning("%s: selected the smallest lambda of the grid (lambda_min_ratio may be too large)", feature)
        log.info("%s: l1_ratio=%g lambda=%.6g R2=%.4f non-zero genes=%d (%d patients)", feature,
                 res["l1_ratio"], res["lambda"], res["r2"], res["n_nonzero"], len(keep))
    selection["seconds"] = round(time.perf_counter() - t0, 2)
    io.write_tsv(oof.to_frame(), oof_path)
    io.write_tsv(pd.DataFrame({"weight": coef}, index=pd.Index(expr.columns.astype(str), name="gene")),
                 coefficients_path)
    io.write_json(selection, selection_path)
    return selection


def collect(*, oof_paths, selection_paths, features, oof_path, selection_path):
    """Patients × features out-of-fold table and the feature → selection table."""
    import pandas as pd

    from . import io

    oofs = [io.read_tsv(p) for p in oof_paths]
    for path, frame, feat in zip(oof_paths, oofs, features):
        if list(frame.columns) != [feat]:
            raise RadiogenomicsError(f"{path}: expected one column {feat!r}, got {list(frame.columns)}")
    table = pd.concat(oofs, axis=1)
    table.index.name = "patient"
    rows = []
    for path, feat in zip(selection_paths, features):
        sel = io.read_json(path)
        rows.append({"feature": feat, "l1_ratio": sel.get("l1_ratio"), "lambda": sel.get("lambda"),
                     "r2": sel.get("r2"), "n_nonzero": sel.get("n_nonzero"),
                     "n_patients": sel.get("n_patients")})
    sel_table = pd.DataFrame(rows).set_index("feature")
    io.write_tsv(table[list(features)], oof_path)
    io.write_tsv(sel_table, selection_path)
    log.info("collected %d features x %d patients", len(features), len(table))
