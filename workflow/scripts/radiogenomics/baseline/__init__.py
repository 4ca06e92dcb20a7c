"""Elastic-net baseline: one regularised linear model per image feature (paper §2.3, §2.4).

The paper fits, per image feature, glmnet over 21 α (L1 share) × 4000 λ values with 10-fold
cross-validation, selects (α, λ) by the validation error and ignores intercept-only models.
This package reproduces that search in scikit-learn's parametrisation: with the reference
solver (``solver="reference"``) it is scikit-learn's ``enet_path`` and ``Ridge`` on the same
folds and grid; the fast solvers return the same up to rounding, much faster
(``tests/benchmarks/bench_baseline.py``).

Objective (scikit-learn ``ElasticNet``, ``fit_intercept=True``: X and y centred with the means
of the training patients of each fold)::

    1/(2n) ||y_c - X_c w||² + λ α ||w||₁ + λ (1 - α)/2 ||w||²

with α = ``l1_ratio`` and λ = scikit-learn's ``alpha``; the intercept is ȳ - x̄ᵀw.

Modules, one per layer, each readable on its own:

* ``grid``: the α and λ grid and the gene standardisation, in glmnet's conventions.
* ``ridge``: α = 0 in closed form for every λ at once (eigendecomposition of the Gram matrix).
* ``lasso``: α = 1, the exact piecewise-linear LARS path, interpolated at the grid.
* ``dual_path``: 0 < α < 1, the exact semismooth Newton path on the n-dimensional dual, with
  ``factorisation`` (the active set's Woodbury-updated eigendecomposition) and ``screening``
  (which genes can change status), whose loops over candidate pairs and genes are
  ``screening_loops`` in NumPy and ``kernels`` compiled (numba); ``status`` is the
  soft-threshold status with its tie rule; ``rowwise`` the products over rows they share;
  ``enet`` runs it on the folds and for the
  refit along a refined λ path.
* ``reference``: scikit-learn's coordinate descent and ``Ridge``, the executable reference
  and the fallback of the fast solvers.
* ``certificate``: the relative duality gap of a solution.
* ``cross_validation``: the search over folds and grid, the selection, the refit and the
  certificate of the selected model (``elastic_net_cv``).
* ``workflow``: the rules' entry points (``run_feature``, ``collect``).

Selection criterion: the pooled out-of-fold R² = 1 - Σ_i (y_i - ŷ_i)² / Σ_i (y_i - ȳ)² over
all patients, each predicted by the model of the fold in which it is a validation patient.
It is a monotone function of the pooled out-of-fold MSE, which is exactly what ``cv.glmnet``
minimises (``type.measure = "mse"``: per-fold means weighted by fold size), so it is the
paper's tool's own criterion; mean per-fold R² would divide each fold's error by the variance
of 10-11 validation patients, which is unstable. ``ElasticNetCV`` ranks by the unweighted mean
of per-fold MSEs; when all folds have the same size both orderings are identical, otherwise
they can differ only through the fold-size weights. The per-fold MSE surface is returned
(``cv_mse``, shaped like ``ElasticNetCV.mse_path_``) so that either criterion can be applied
to it. Models whose coefficients refitted on all patients are all zero (λ ≥ λ_max(α), α > 0:
the intercept-only model) are never selected. No early path stop (glmnet's deviance rule) is
used: it would change the solutions of the remaining λ.
"""

from .certificate import CERTIFICATE_TOL, duality_gap
from .cross_validation import SOLVERS, elastic_net_cv
from .grid import RIDGE_LAMBDA_MAX_L1_RATIO, gene_scales, l1_ratio_grid, lambda_grid, lambda_max
from .workflow import collect, run_feature

__all__ = [
    "CERTIFICATE_TOL", "RIDGE_LAMBDA_MAX_L1_RATIO", "SOLVERS", "collect", "duality_gap", "elastic_net_cv",
    "gene_scales", "l1_ratio_grid", "lambda_grid", "lambda_max", "run_feature",
]
