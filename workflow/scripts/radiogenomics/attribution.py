"""Attribution of each predicted image feature to each gene: integrated gradients and masking.

* :func:`integrated_gradients` -- attribution of each prediction to each gene (Sundararajan et
  al. 2017). With baseline x' (here the all-zero standardised profile = the cohort mean) and
  path x(α) = x' + α (x - x')::

      IG_g(x) = (x_g - x'_g) · ∫₀¹ ∂F/∂x_g(x(α)) dα
             ≈ (x_g - x'_g) · Σ_s w_s ∂F/∂x_g(x(α_s))          (quadrature, ``steps`` intervals)

  and completeness says Σ_g IG_g(x) = F(x) - F(x'); the quadrature error of that identity is
  reported per feature (:meth:`IGResult.completeness_table`).

  Speed: when the network starts with (inference-mode Dropout and) a Dense layer
  z = x W₁ + b₁, the path is linear in z as well: z(α) = z' + α (x - x') W₁. So the interpolated
  inputs never need to go through the 12,042 × 2,000 first layer: the first matmul is done once
  per patient, the Jacobian of all outputs is taken with respect to z (``batch_jacobian``, all
  outputs and all patients × steps in one call), summed over the steps, and only then mapped
  back to genes through W₁ᵀ (:mod:`radiogenomics.split_network`). The result is the same number
  as the textbook computation (``method="input"``, up to float32 rounding, tested); it is ~50×
  less arithmetic at paper size.

* :func:`masking_effects` -- set the top-ranked genes (as sets of n genes) to the cohort mean (0)
  and measure the change of the predicted feature, against random gene sets of the same size.

* :func:`ig_tables` -- the integrated gradients of a model as the workflow's genes × features
  tables.

The paper (Smedley & Hsu 2018, §1 and §4) sets out to build "radiogenomic association maps
between tumor gene expression profiles and their morphological appearance"; the rankings and
their stability are in :mod:`radiogenomics.rankings`, activation maximisation in
:mod:`radiogenomics.probes`.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import backend
from .errors import RadiogenomicsError
from .split_network import as_network

log = logging.getLogger(__name__)

QUADRATURE_RULES = ("trapezoid", "riemann_left", "riemann_right", "riemann_middle")

#: In ``p_empirical`` a random gene set whose mean absolute change is within this relative
#: difference of the top set's counts as at least as large: the same set drawn at random (or
#: in another gene order, or through the first-layer shortcut instead of masked inputs)
#: differs from it only by float32 rounding, which must not decide the count.
MASKING_TIE_RTOL = 1e-4
#: Absolute part of that tie band, in float32 units of the mean |prediction|: a change is a
#: difference of two predictions, so its rounding scales with them, not with the change.
MASKING_TIE_ULPS = 16


# --------------------------------------------------------------------------------------------
# quadrature


def quadrature(steps: int, rule: str = "trapezoid") -> tuple[np.ndarray, np.ndarray]:
    """Points α_s in [0, 1] and weights w_s (Σ w_s = 1) for ∫₀¹ f(α) dα with ``steps`` intervals.

    ``trapezoid``: α = 0, 1/m, ..., 1 with weights 1/m (1/(2m) at both ends), m + 1 points;
    ``riemann_left|right|middle``: m points at the left ends, right ends or midpoints, weights 1/m.
    """
    m = int(steps)
    if m < 1:
        raise RadiogenomicsError(f"associations.ig_steps: must be at least 1, got {steps}")
    if rule == "trapezoid":
        alphas = np.linspace(0.0, 1.0, m + 1)
        weights = np.full(m + 1, 1.0 / m)
        weights[[0, -1]] = 0.5 / m
    elif rule == "riemann_left":
        alphas, weights = np.arange(m) / m, np.full(m, 1.0 / m)
    elif rule == "riemann_right":
        alphas, weights = np.arange(1, m + 1) / m, np.full(m, 1.0 / m)
    elif rule == "riemann_middle":
        alphas, weights = (np.arange(m) + 0.5) / m, np.full(m, 1.0 / m)
    else:
        raise RadiogenomicsError(
            f"associations.ig_rule: {rule!r} is not one of {', '.join(QUADRATURE_RULES)}")
    return alphas.astype(np.float32), weights.astype(np.float32)


# --------------------------------------------------------------------------------------------
# integrated gradients


@dataclass
class IGResult:
    """Integrated gradients summed over patients.

    ``mean`` and ``mean_abs``: (genes, K) signed mean and mean absolute attribution over the
    patients; ``mean_gradient``: (genes, K) the path-averaged gradient ∫₀¹ ∂F/∂x_g dα averaged
    over the patients (the gene's average effective slope; its sign is the direction of the
    association, which the signed mean IG does not show: for an effect linear in a centred
    gene the signed mean IG is 0); ``per_patient``: (patients, K, genes) when asked for, else None; ``delta``:
    (patients, K) F(x) - F(x'); ``completeness``: (patients, K) Σ_g IG_g - (F(x) - F(x')).
    """

    mean: np.ndarray
    mean_abs: np.ndarray
    mean_gradient: np.ndarray
    delta: np.ndarray
    completeness: np.ndarray
    per_patient: np.ndarray | None = None

    def completeness_table(self, features) -> pd.DataFrame:
        """Per feature: mean |F(x) - F(x')|, mean and max |completeness error|, their ratio."""
        err = np.abs(self.completeness)
        scale = np.abs(self.delta).mean(axis=0)
        table = pd.DataFrame(
            {
                "mean_abs_delta": scale,
                "mean_abs_error": err.mean(axis=0),
                "max_abs_error": err.max(axis=0),
                "relative_error": err.mean(axis=0) / np.where(scale > 0, scale, np.nan),
            },
            index=pd.Index(list(features), name="feature"),
        )
        return table


def default_patients_per_batch(steps: int, n_inputs: int, hidden1: int | None, split: bool,
                               budget_mb: float = 256.0) -> int:
    """Patients per call so that the Jacobian of one call stays near ``budget_mb``."""
    width = hidden1 if split and hidden1 else n_inputs
    per_patient = (steps + 1) * 20 * width * 4 * 2 / 2**20   # Jacobian + its step-weighted copy
    return max(1, int(budget_mb // max(per_patient, 1e-9)))


def integrated_gradients(model, x, *, baseline=None, steps: int = 50, rule: str = "trapezoid",
                         patients_per_batch: int | None = None, keep_per_patient: bool = False,
                         method: str = "auto") -> IGResult:
    """Integrated gradients of every output with respect to every input, for each row of ``x``.

    ``baseline``: a profile (genes,) or None for all zeros (the cohort mean of standardised
    expression). ``steps``: quadrature intervals (see :func:`quadrature`). ``patients_per_batch``:
    patients per call (each call evaluates patients × quadrature points rows and the Jacobian of
    all outputs at once); default keeps a call near 256 MB. ``method``: ``"first_layer"`` (the
    linear-first-layer shortcut in the module docstring), ``"input"`` (textbook: Jacobian with
    respect to the interpolated inputs) or ``"auto"`` (the shortcut when the model allows it).
    """
    tf = backend.tensorflow()
    net = as_network(model)
    x = np.asarray(x, np.float32)
    if x.ndim != 2:
        raise RadiogenomicsError(f"integrated_gradients: expected a patients x genes matrix, got shape {x.shape}")
    n, genes = x.shape
    base = np.zeros(genes, np.float32) if baseline is None else np.asarray(baseline, np.float32).reshape(genes)
    if method == "auto":
        method = "first_layer" if net.split else "input"
    if method == "first_layer" and not net.split:
        raise RadiogenomicsError("integrated_gradients: method 'first_layer' needs a model that starts with a Dense layer")
    if method not in ("first_layer", "input"):
        raise RadiogenomicsError(f"integrated_gradients: unknown method {method!r}")
    alphas, weights = quadrature(steps, rule)
    n_points = len(alphas)
    hidden1 = int(net.kernel.shape[1]) if net.split else None
    if patients_per_batch is None:
        patients_per_batch = default_patients_per_batch(steps, genes, hidden1, method == "first_layer")
    patients_per_batch = max(1, int(patients_per_batch))

    k = net.n_outputs
    sum_attr = np.zeros((k, genes), np.float64)
    sum_abs = np.zeros((k, genes), np.float64)
    sum_grad = np.zeros((k, genes), np.float64)
    delta = np.zeros((n, k), np.float64)
    compl = np.zeros((n, k), np.float64)
    per_patient = np.zeros((n, k, genes), np.float32) if keep_per_patient else None
    a = tf.constant(alphas)[:, None, None]                       # (S, 1, 1)
    w = tf.constant(weights)[:, None, None, None]                # (S, 1, 1, 1)
    f_base = net.predict(base[None, :])[0].astype(np.float64)    # F(x')

    for start in range(0, n, patients_per_batch):
        xb = x[start:start + patients_per_batch]
        p = len(xb)
        d = tf.constant(xb - base[None, :])                       # (P, genes)
        if method == "first_layer":
            z0 = net.first(base[None, :])                         # (1, H1)
            dz = tf.matmul(d, net.kernel)                         # (P, H1): the one big matmul
            z = z0[None] + a * dz[None]                           # (S, P, H1)
            _, jac = net.head_jacobian(tf.reshape(z, (n_points * p, -1)))
            jac = tf.reduce_sum(w * tf.reshape(jac, (n_points, p, k, -1)), axis=0)   # (P, K, H1)
            grad = tf.einsum("pkh,gh->pkg", jac, net.kernel)      # mean path gradient (P, K, genes)
        else:
            xs = base[None, None, :] + a * d[None]                # (S, P, genes)
            _, jac = net.input_jacobian(tf.reshape(xs, (n_points * p, genes)))
            grad = tf.reduce_sum(w * tf.reshape(jac, (n_points, p, k, genes)), axis=0)
        attr = (grad * d[:, None, :]).numpy()                     # (P, K, genes)
        f_x = net.predict(xb).astype(np.float64)
        sl = slice(start, start + p)
        delta[sl] = f_x - f_base[None, :]
        compl[sl] = attr.sum(axis=2, dtype=np.float64) - delta[sl]
        sum_attr += attr.sum(axis=0, dtype=np.float64)
        sum_abs += np.abs(attr).sum(axis=0, dtype=np.float64)
        sum_grad += grad.numpy().sum(axis=0, dtype=np.float64)
        if per_patient is not None:
            per_patient[sl] = attr
    return IGResult(mean=(sum_attr / n).T, mean_abs=(sum_abs / n).T, mean_gradient=(sum_grad / n).T, delta=delta,
                    completeness=compl, per_patient=per_patient)


def ig_tables(model, x, genes, features, *, steps: int = 50, rule: str = "trapezoid",
              patients_per_batch: int | None = None) -> dict:
    """Integrated gradients of ``model`` for the patients ``x`` as tables (genes × features):
    ``mean`` (signed mean IG), ``mean_abs`` (mean |IG|, the ranking score), ``mean_gradient``
    (path-averaged gradient, its sign = direction) and ``completeness`` (per feature, see
    :meth:`IGResult.completeness_table`). See :func:`integrated_gradients`."""
    features = list(features)
    genes = pd.Index(pd.Index(genes).astype(str), name="gene")
    log.info("integrated gradients: %d patients x %d genes, %d outputs, %d steps (%s)",
             len(x), len(genes), len(features), steps, rule)
    start = time.perf_counter()
    result = integrated_gradients(model, x, steps=steps, rule=rule, patients_per_batch=patients_per_batch)
    log.info("integrated gradients done in %.1f s", time.perf_counter() - start)
    table = result.completeness_table(features)
    log.info("completeness: mean |error| / mean |F(x) - F(0)| = %.3g (worst feature %.3g)",
             table["mean_abs_error"].sum() / max(table["mean_abs_delta"].sum(), 1e-30), table["relative_error"].max())
    return {
        "mean": pd.DataFrame(result.mean, index=genes, columns=features),
        "mean_abs": pd.DataFrame(result.mean_abs, index=genes, columns=features),
        "mean_gradient": pd.DataFrame(result.mean_gradient, index=genes, columns=features),
        "completeness": table,
    }


# --------------------------------------------------------------------------------------------
# gene masking


def masking_effects(model, x, rankings: dict, sizes=(1, 10, 100), n_random: int = 50,
                    seed: int = 0, features=None) -> pd.DataFrame:
    """Change of each predicted feature when a gene set is set to the cohort mean (0).

    ``rankings``: feature index k -> gene indices ordered by decreasing attribution. For each
    feature and each size n the top-n genes are masked in every patient and the mean change
    (masked - original) and mean absolute change of F_k are recorded; the same is done for
    ``n_random`` random sets of n genes (shared by all features). Columns: ``top_change``,
    ``top_abs_change``, ``random_abs_mean``, ``random_abs_sd``, ``ratio`` (top / random mean),
    ``z``, ``p_empirical`` = (1 + #random sets with abs change ≥ top) / (1 + n_random), a
    random set within float32 rounding of the top set counting as ≥ (``MASKING_TIE_RTOL``).

    Uses the first-layer shortcut when possible: masking set S changes z = x W₁ + b₁ by
    -x[:, S] W₁[S].
    """
    tf = backend.tensorflow()
    net = as_network(model)
    x = np.asarray(x, np.float32)
    n, genes = x.shape
    k_out = net.n_outputs
    features = list(features) if features is not None else [str(i) for i in range(k_out)]
    rng = np.random.default_rng(seed)
    sizes = sorted({min(int(s), genes) for s in sizes if int(s) >= 1})

    if net.split:
        z_full = net.first(x)
        head = net._fn("head", net.head)
        kernel = net.kernel

        def masked_predictions(gene_idx):
            idx = np.asarray(gene_idx, np.int64)
            dz = tf.matmul(tf.gather(x, idx, axis=1), tf.gather(kernel, idx, axis=0))
            return head(z_full - dz).numpy()
        base = head(z_full).numpy()
    else:
        def masked_predictions(gene_idx):
            xm = x.copy()
            xm[:, np.asarray(gene_idx, np.int64)] = 0.0
            return net.predict(xm)
        base = net.predict(x)

    rows = []
    for size in sizes:
        rand = np.zeros((n_random, k_out))
        for r in range(n_random):
            idx = rng.choice(genes, size=size, replace=False)
            rand[r] = np.abs(masked_predictions(idx) - base).mean(axis=0)
        for k, feature in enumerate(features):
            if k not in rankings:
                continue
            idx = np.asarray(rankings[k][:size])
            change = masked_predictions(idx)[:, k] - base[:, k]
            top_abs = float(np.abs(change).mean())
            tie = (MASKING_TIE_RTOL * top_abs
                   + MASKING_TIE_ULPS * float(np.finfo(np.float32).eps) * float(np.abs(base[:, k]).mean()))
            rmean = float(rand[:, k].mean()) if n_random else float("nan")
            rsd = float(rand[:, k].std(ddof=1)) if n_random > 1 else float("nan")
            rows.append({
                "feature": feature,
                "n_genes": size,
                "top_change": float(change.mean()),
                "top_abs_change": top_abs,
                "random_abs_mean": rmean,
                "random_abs_sd": rsd,
                "ratio": top_abs / rmean if rmean > 0 else (float("inf") if top_abs > 0 else float("nan")),
                "z": (top_abs - rmean) / rsd if rsd and rsd > 0 else float("nan"),
                "p_empirical": (1 + int((rand[:, k] >= top_abs - tie).sum())) / (1 + n_random),
            })
    return pd.DataFrame(rows).set_index("feature")
