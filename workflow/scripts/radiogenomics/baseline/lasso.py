"""Lasso (α = 1): the exact piecewise-linear path from LARS.

scikit-learn's ``lars_path(method="lasso")`` returns the knots λ_0 > λ_1 > ... of the path
and the coefficients there; between two knots the coefficients are linear in λ, so the path
at any grid value is the linear interpolation between the knots around it (exact).
"""

from __future__ import annotations

import numpy as np

#: LARS stops at the smallest requested λ; asking for this relative margin below it makes
#: sure that knot is reached despite rounding in the knots' computation.
LARS_ALPHA_MIN_MARGIN = 1e-12


def centred(X, mu):
    """X - μ as a new Fortran-ordered array: the working copy LARS would otherwise make of
    it (``lasso_knots`` overwrites it), formed in one pass."""
    out = np.empty(X.shape, order="F")
    np.subtract(X, mu, out=out)
    return out


def lasso_knots(Xc, yc, lambdas):
    """LARS lasso path down to min(``lambdas``): knots (increasing) and coefficients (p, K).
    ``Xc`` (from ``centred``) is overwritten: LARS reorders its columns in place."""
    from sklearn.linear_model import lars_path

    lambdas = np.asarray(lambdas)
    knots, _, coefs = lars_path(
        Xc, yc, method="lasso", alpha_min=float(lambdas[-1]) * (1 - LARS_ALPHA_MIN_MARGIN), copy_X=False,
        return_path=True,
    )
    return knots[::-1], coefs[:, ::-1]


def interpolate(k_inc, c_inc, lambdas):
    """Evaluate the piecewise-linear path ``c_inc`` (.., K) with knots ``k_inc`` at ``lambdas``."""
    if len(k_inc) < 2:
        return np.repeat(c_inc[..., :1], len(lambdas), axis=-1)
    lam = np.clip(lambdas, k_inc[0], k_inc[-1])
    idx = np.clip(np.searchsorted(k_inc, lam, side="right") - 1, 0, len(k_inc) - 2)
    lo, hi = k_inc[idx], k_inc[idx + 1]
    t = np.where(hi > lo, (lam - lo) / np.where(hi > lo, hi - lo, 1.0), 0.0)
    return c_inc[..., idx] * (1 - t) + c_inc[..., idx + 1] * t


def lasso_path_at(Xc, yc, lambdas):
    """Exact lasso coefficients (p, len(lambdas)) at ``lambdas`` (decreasing) from the LARS
    path, linear interpolation in λ between knots (the path is piecewise linear). ``Xc`` is
    overwritten (``lasso_knots``)."""
    k_inc, c_inc = lasso_knots(Xc, yc, lambdas)
    return interpolate(k_inc, c_inc, np.asarray(lambdas))


def lasso_predictions(X, y, train, lambdas, paths=None):
    """Validation predictions (L, N) of the lasso path. Predictions are linear in the
    coefficients, so they are formed at the LARS knots and interpolated (not the p × L
    coefficient matrix). ``paths``: a list that receives each fold's path (knots, genes
    ever non-zero, their coefficients at the knots) for ``coef_at``."""
    N = len(y)
    lambdas = np.asarray(lambdas)
    pred = np.empty((len(lambdas), N))
    for mask in train:
        tr, va = np.flatnonzero(mask), np.flatnonzero(~mask)
        mu = X[tr].mean(axis=0)
        ym = y[tr].mean()
        k_inc, c_inc = lasso_knots(centred(X[tr], mu), y[tr] - ym, lambdas)
        if paths is not None:
            genes = np.flatnonzero(np.any(c_inc != 0, axis=1))
            paths.append((k_inc, genes, c_inc[genes]))
        pk = (X[va] - mu) @ c_inc  # V x K
        pred[:, va] = ym + interpolate(k_inc, pk, lambdas).T
    return pred


def coef_at(path, lam, p):
    """Coefficients (p,) at λ of a path kept by ``lasso_predictions``."""
    k_inc, genes, coefs = path
    coef = np.zeros(p)
    coef[genes] = interpolate(k_inc, coefs, np.array([lam]))[:, 0]
    return coef


def lasso_fit(X, y, lam, mask=None):
    """Lasso coefficients and intercept at λ on the rows ``mask`` (default: all patients)."""
    if mask is not None:
        X, y = X[mask], y[mask]
    mu = X.mean(axis=0)
    coef = lasso_path_at(centred(X, mu), y - y.mean(), np.array([lam]))[:, 0]
    return coef, float(y.mean() - mu @ coef)
