"""Optimality certificate of an elastic-net solution: its relative duality gap.

For the rows of one fit, X_c and y_c centred with their means, a = nλα and b = nλ(1-α), the
objective scaled by n (scikit-learn's ``enet_path`` scale) and its Fenchel dual are

    P(w) = ½ ||y_c - X_c w||² + a ||w||₁ + b/2 ||w||²
    D(θ) = ½ ||y_c||² - ½ ||y_c - θ||² - Σ_j (|x_cjᵀθ| - a)₊² / (2b)      (b > 0)
    D(θ) = ½ ||y_c||² - ½ ||y_c - θ||²,  |x_cjᵀθ| ≤ a for all j           (b = 0, the lasso)

and P(w) - D(θ) ≥ P(w) - P(w*) ≥ 0 for every w and every feasible θ. With θ the residual
R = y_c - X_c w (scaled by min(1, a / max_j |x_cjᵀR|) for the lasso, to be feasible), the gap
is zero exactly at the optimum. The certificate is gap / ||y_c||², the quantity scikit-learn's
coordinate descent compares with its ``tol``; for b > 0 it also bounds the distance to the
optimum, ||w - w*||² ≤ 2 · gap / b.
"""

from __future__ import annotations

import numpy as np

#: Largest relative duality gap accepted from the fast solvers: a hundred times the
#: reference solver's own stopping tolerance (``reference.REFERENCE_TOL``), and about 1e5
#: times the rounding level of an exact solution (~1e-15). Above it, the feature is refitted
#: with the reference solver.
CERTIFICATE_TOL = 1e-8

KIND = "relative duality gap (P(w) - D(R)) / ||y_c||^2 of 1/2||y_c - X_c w||^2 + n lambda (alpha ||w||_1 + (1 - alpha)/2 ||w||^2)"


def duality_gap(X, y, coef, alpha, lam, mask=None, scale=None) -> float:
    """Relative duality gap of ``coef`` for the elastic net (α, λ) on the rows ``mask`` of
    X / ``scale`` (each gene divided by its scale; default 1), without copying X:
    (X/s)w = X(w/s), (X/s)ᵀR = (XᵀR)/s, and centring by the rows' means."""
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    mask = np.ones(len(y), dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    n = int(mask.sum())
    w = np.asarray(coef, dtype=float)
    ws = w if scale is None else w / scale
    mu = (mask.astype(float) @ X) / n  # the rows' means (unscaled genes)
    yc = np.where(mask, y - y[mask].mean(), 0.0)
    R = np.where(mask, yc - (X @ ws - mu @ ws), 0.0)  # y_c - X_c w on the rows, 0 elsewhere
    u = X.T @ R - mu * R.sum()  # x_cjᵀR
    if scale is not None:
        u = u / scale
    a, b = n * lam * alpha, n * lam * (1.0 - alpha)
    primal = 0.5 * R @ R + a * np.abs(w).sum() + 0.5 * b * w @ w
    fit = yc - R  # X_c w on the rows
    if b > 0:
        conj = np.clip(np.abs(u) - a, 0, None)
        dual = 0.5 * yc @ yc - 0.5 * fit @ fit - conj @ conj / (2 * b)
    else:
        top = float(np.max(np.abs(u))) if len(u) else 0.0
        theta = R * (min(1.0, a / top) if top > 0 else 1.0)
        dual = 0.5 * yc @ yc - 0.5 * (yc - theta) @ (yc - theta)
    scale2 = float(yc @ yc)
    return float((primal - dual) / scale2) if scale2 > 0 else 0.0
