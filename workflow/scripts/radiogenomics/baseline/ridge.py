"""Ridge (α = 0) in closed form, every λ at once.

With X_c and y_c centred by the training means and the eigendecomposition of the n × n Gram
matrix X_c X_cᵀ = U diag(d²) Uᵀ (equivalently the thin SVD X_c = U D Vᵀ), the minimiser of
1/(2n) ||y_c - X_c w||² + λ/2 ||w||² is

    w(λ) = X_cᵀ U diag(1/(d² + nλ)) Uᵀ y_c,

so one factorisation per fold gives the whole path.
"""

from __future__ import annotations

import numpy as np


def ridge_predictions(X, y, train, lambdas):
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


def ridge_fit(X, y, lam, mask=None):
    """Ridge coefficients and intercept at λ on the rows ``mask`` (default: all patients)."""
    if mask is not None:
        X, y = X[mask], y[mask]
    n = len(y)
    mu = X.mean(axis=0)
    Xc = X - mu
    yc = y - y.mean()
    gc = Xc @ Xc.T
    d2, U = np.linalg.eigh(gc)
    d2 = np.clip(d2, 0.0, None)
    coef = Xc.T @ (U @ ((U.T @ yc) / (d2 + n * lam)))
    return coef, float(y.mean() - mu @ coef)
