"""The (α, λ) grid and the gene scaling, in glmnet's conventions (scikit-learn's names).

α is scikit-learn's ``l1_ratio`` (glmnet's ``alpha``), λ scikit-learn's ``alpha`` (glmnet's
``lambda``). For every α > 0 the path has ``n_lambdas`` values log-spaced from

    λ_max(α) = max_j |x_cjᵀ y_c| / (n α)

(X and y centred over all patients, exactly ``sklearn.linear_model._coordinate_descent._alpha_grid``:
the smallest λ at which every coefficient is zero) down to ``lambda_min_ratio`` · λ_max. For
α = 0 (ridge) λ_max is infinite; glmnet builds that sequence as if α were
``RIDGE_LAMBDA_MAX_L1_RATIO`` (``alpha = max(alpha, 1e-3)``), i.e. 1000 × the lasso λ_max.

glmnet's ``standardize = TRUE`` divides every gene by its standard deviation with divisor n
(``gene_scales``) over each fit's training rows.
"""

from __future__ import annotations

import numpy as np

from ..errors import RadiogenomicsError

#: glmnet builds the ridge (α = 0) λ sequence as if α were this value.
RIDGE_LAMBDA_MAX_L1_RATIO = 1e-3


def l1_ratio_grid(n: int) -> np.ndarray:
    """The α (``l1_ratio``) values 0, 1/(n-1), ..., 1 (paper: n = 21, steps of 0.05)."""
    if int(n) < 1:
        raise RadiogenomicsError(f"baseline.l1_ratios: need at least 1 value, got {n}")
    return np.linspace(0.0, 1.0, int(n)) if int(n) > 1 else np.array([1.0])


def lambda_max(X, y, l1_ratio: float) -> float:
    """Smallest λ (scikit-learn ``alpha``) at which every coefficient is zero.

    max_j |x_cjᵀ y_c| / (n · l1_ratio), with X and y centred (as scikit-learn's
    ``_alpha_grid``). For ``l1_ratio = 0`` glmnet's convention is used (module docstring).
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


def gene_scales(X, rows=None) -> np.ndarray:
    """glmnet's standardisation divisor of every gene over ``rows`` (default: all rows).

    sd_j = sqrt(1/n Σ_i (x_ij - mean_j)²) (divisor n, as glmnet's ``standardize = TRUE``);
    a gene that is constant over the rows gets 1 (it is centred to 0 and never enters).
    """
    X = np.asarray(X, dtype=float)
    sub = X if rows is None else X[rows]
    sd = sub.std(axis=0)
    return np.where(sd > 0, sd, 1.0)


def fold_masks(fold_ids) -> tuple[np.ndarray, np.ndarray]:
    """Distinct fold labels (sorted) and the boolean training masks, one row per fold."""
    fold_ids = np.asarray(fold_ids)
    labels = np.unique(fold_ids)
    train = np.stack([fold_ids != f for f in labels])
    return labels, train
