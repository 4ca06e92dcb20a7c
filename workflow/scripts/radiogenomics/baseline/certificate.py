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


def duality_gap(X, y, coef, alpha, lam, mask=None) -> float:
    """Relative duality gap of ``coef`` for the elastic net (α, λ) on the rows ``mask``."""
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    if mask is not None:
        X, y = X[mask], y[mask]
    n = len(y)
    Xc = X - X.mean(axis=0)
    yc = y - y.mean()
    w = np.asarray(coef, dtype=float)
    a, b = n * lam * alpha, n * lam * (1.0 - alpha)
    R = yc - Xc @ w
    u = Xc.T @ R  # x_cjᵀR
    primal = 0.5 * R @ R + a * np.abs(w).sum() + 0.5 * b * w @ w
    if b > 0:
        conj = np.clip(np.abs(u) - a, 0, None)
        dual = 0.5 * yc @ yc - 0.5 * (yc - R) @ (yc - R) - conj @ conj / (2 * b)
    else:
        top = float(np.max(np.abs(u))) if len(u) else 0.0
        theta = R * (min(1.0, a / top) if top > 0 else 1.0)
        dual = 0.5 * yc @ yc - 0.5 * (yc - theta) @ (yc - theta)
    scale = float(yc @ yc)
    return float((primal - dual) / scale) if scale > 0 else 0.0
