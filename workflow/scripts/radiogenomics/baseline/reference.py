"""The reference solvers: scikit-learn's coordinate descent and ``Ridge``.

``baseline.solver: reference`` fits every (fold, α) path with these, on the same folds, grid,
standardisation and selection as the fast solvers; the fast solvers also fall back to them for
a path on which they fail, and for a whole feature whose optimality certificate is too large.

* 0 < α ≤ 1: ``sklearn.linear_model.enet_path`` (coordinate descent, warm-started along the
  λ path) on the training rows centred with their means, as ``ElasticNetCV`` does; it stops
  when the duality gap is below ``REFERENCE_TOL`` · ||y_c||².
* α = 0: ``sklearn.linear_model.Ridge`` (``alpha`` = nλ in its scale, ||y - Xw||² + a||w||²),
  one multi-target fit per fold with one target column per λ (Ridge accepts one penalty per
  target; the Cholesky solver is exact).
"""

from __future__ import annotations

import logging
import warnings

import numpy as np

log = logging.getLogger(__name__)

#: Tolerance of coordinate descent (scikit-learn ``tol``: duality gap relative to ||y_c||²),
#: a million times tighter than scikit-learn's default 1e-4, so that its selections equal the
#: exact solvers' up to near-ties of the CV error.
REFERENCE_TOL = 1e-10
#: Coordinate-descent sweeps per λ before scikit-learn gives up (it then warns, logged here).
REFERENCE_MAX_ITER = 100_000


def cd_path(X, y, mask, alpha, lambdas):
    """scikit-learn's ``enet_path`` (coordinate descent, warm-started along ``lambdas``, tol
    ``REFERENCE_TOL``) on the patients ``mask``, centred with their means as ``ElasticNetCV``
    does. Returns coefficients (p, L), the training means of X and of y."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import enet_path

    mu = X[mask].mean(axis=0)
    ym = float(y[mask].mean())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        _, coefs, _ = enet_path(X[mask] - mu, y[mask] - ym, l1_ratio=float(alpha),
                                alphas=np.asarray(lambdas, dtype=float), tol=REFERENCE_TOL,
                                max_iter=REFERENCE_MAX_ITER)
    if any(issubclass(w.category, ConvergenceWarning) for w in caught):
        log.warning("elastic net reference (coordinate descent, l1_ratio=%g): did not reach tol=%g "
                    "within %d iterations at some lambda", alpha, REFERENCE_TOL, REFERENCE_MAX_ITER)
    return coefs, mu, ym


def cd_predictions(X, y, mask, alpha, lambdas):
    """Validation predictions (L, V) of the coordinate-descent path on training ``mask``."""
    coefs, mu, ym = cd_path(X, y, mask, alpha, lambdas)
    return ym + ((X[~mask] - mu) @ coefs).T


def cd_fit(X, y, mask, alpha, lambdas, t):
    """Coefficients and intercept at step ``t`` of the warm-started path ``lambdas``."""
    coefs, mu, ym = cd_path(X, y, mask, alpha, np.asarray(lambdas)[: t + 1])
    coef = coefs[:, -1]
    return coef, float(ym - mu @ coef)


def _ridge_model(X, y, mask, lambdas):
    from sklearn.linear_model import Ridge

    n = int(mask.sum())
    lambdas = np.atleast_1d(np.asarray(lambdas, dtype=float))
    targets = np.repeat(y[mask][:, None], len(lambdas), axis=1)
    return Ridge(alpha=n * lambdas, solver="cholesky").fit(X[mask], targets)


def ridge_predictions(X, y, mask, lambdas):
    """Validation predictions (L, V) of scikit-learn's ``Ridge`` on training ``mask``."""
    return _ridge_model(X, y, mask, lambdas).predict(X[~mask]).T


def ridge_fit(X, y, mask, lam):
    """scikit-learn ``Ridge`` coefficients and intercept at λ on the rows ``mask``."""
    model = _ridge_model(X, y, mask, [lam])
    return model.coef_[0].copy(), float(model.intercept_[0])
