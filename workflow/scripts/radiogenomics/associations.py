"""Radiogenomic association maps: which genes drive each predicted image feature.

The paper (Smedley & Hsu 2018, §1 and §4) sets out to build "radiogenomic association maps
between tumor gene expression profiles and their morphological appearance" and plans to "apply
activation maximization on our trained neural network models to identify specific gene
expressions that were influential in the change of an image feature". This module does that
for a trained Keras network (genes -> 20 scaled image features):

* :func:`integrated_gradients` -- attribution of each prediction to each gene (Sundararajan et
  al. 2017). With baseline x' (here the all-zero standardised profile = the cohort mean) and
  path x(α) = x' + α (x - x')::

      IG_g(x) = (x_g - x'_g) · ∫₀¹ ∂F/∂x_g(x(α)) dα
             ≈ (x_g - x'_g) · Σ_s w_s ∂F/∂x_g(x(α_s))          (quadrature, ``steps`` intervals)

  and completeness says Σ_g IG_g(x) = F(x) - F(x'); the quadrature error of that identity is
  reported per feature.

  Speed: when the network starts with (inference-mode Dropout and) a Dense layer
  z = x W₁ + b₁, the path is linear in z as well: z(α) = z' + α (x - x') W₁. So the interpolated
  inputs never need to go through the 12,042 × 2,000 first layer: the first matmul is done once
  per patient, the Jacobian of all outputs is taken with respect to z (``batch_jacobian``, all
  outputs and all patients × steps in one call), summed over the steps, and only then mapped
  back to genes through W₁ᵀ. The result is the same number as the textbook computation (up to
  float32 rounding, tested); it is ~50× less arithmetic at paper size.

* :func:`masking_effects` -- set the top-ranked genes (as sets of n genes) to the cohort mean (0)
  and measure the change of the predicted feature, against random gene sets of the same size.
* :func:`activation_maximisation` -- for each feature the standardised profile inside the
  observed per-gene range that maximises F_k(x) - λ‖x‖², by projected gradient ascent (Adam).
* :func:`top_genes`, :func:`jaccard`, :func:`mean_pairwise_jaccard`, :func:`stability`,
  :func:`enet_overlap` -- rankings, their stability across CV folds, and their agreement with the
  elastic net's non-zero coefficients.

TensorFlow is imported lazily (inside the functions that need it), so the table helpers can be
used without it.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .cohort import supervised_data  # noqa: F401  (re-exported: used by the rule scripts)
from .errors import RadiogenomicsError

log = logging.getLogger(__name__)

QUADRATURE_RULES = ("trapezoid", "riemann_left", "riemann_right", "riemann_middle")


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
# the network, split after its first Dense layer


class Network:
    """A trained Keras model seen as F(x) = G(act(x W₁ + b₁)) when it starts with a Dense layer.

    Leading Dropout layers are the identity at inference and are skipped; everything after the
    first Dense layer (``rest``) is called with ``training=False``. ``split`` is False when the
    model does not start that way (then every computation goes through the whole model).
    """

    def __init__(self, model, split: bool = True):
        import keras

        self.model = model
        layers = list(model.layers)
        i = 0
        while i < len(layers) and isinstance(layers[i], (keras.layers.Dropout, keras.layers.InputLayer)):
            i += 1
        self.split = bool(split) and i < len(layers) and isinstance(layers[i], keras.layers.Dense)
        if self.split:
            first = layers[i]
            self.kernel = first.kernel            # (genes, hidden1) variable
            self.bias = first.bias if first.use_bias else None
            self.activation = first.activation
            self.rest = layers[i + 1:]
        if self.split:
            self.n_inputs = int(self.kernel.shape[0])
        else:
            try:
                self.n_inputs = int(model.inputs[0].shape[-1])
            except (AttributeError, IndexError, TypeError, ValueError):
                raise RadiogenomicsError("associations: cannot tell the model's input width (build it with keras.Input)") from None
        self._fns = {}

    # pieces ------------------------------------------------------------------------------
    def _tf(self):
        import tensorflow as tf

        return tf

    def first(self, x):
        """Pre-activation z = x W₁ + b₁ of the first Dense layer."""
        tf = self._tf()
        z = tf.matmul(tf.convert_to_tensor(x, tf.float32), self.kernel)
        return z + self.bias if self.bias is not None else z

    def head(self, z):
        """F as a function of the first layer's pre-activation."""
        h = self.activation(z)
        for layer in self.rest:
            h = layer(h, training=False)
        return h

    def full(self, x):
        return self.model(x, training=False)

    def _fn(self, name, fn, width=None):
        """``fn`` compiled once for inputs of shape (any rows, ``width``)."""
        if name not in self._fns:
            tf = self._tf()
            if width is None:
                width = int(self.kernel.shape[1]) if name.startswith("head") else self.n_inputs
            spec = [tf.TensorSpec([None, width], tf.float32)]
            self._fns[name] = tf.function(fn, input_signature=spec, autograph=False)
        return self._fns[name]

    # compiled building blocks -----------------------------------------------------------------
    def predict(self, x, batch_rows: int = 4096) -> np.ndarray:
        """F(x) for the rows of ``x`` (inference mode), in chunks of ``batch_rows``."""
        fn = self._fn("full", self.full)
        x = np.asarray(x, np.float32)
        out = [fn(x[i:i + batch_rows]).numpy() for i in range(0, len(x), batch_rows)]
        return np.concatenate(out) if out else np.zeros((0, self.n_outputs), np.float32)

    @property
    def n_outputs(self) -> int:
        return int(self.model.outputs[0].shape[-1])

    def head_jacobian(self, z):
        """(F(z), ∂F/∂z): shapes (n, K) and (n, K, hidden1); all K outputs in one call."""
        tf = self._tf()

        def fn(z):
            with tf.GradientTape() as tape:
                tape.watch(z)
                y = self.head(z)
            return y, tape.batch_jacobian(y, z)

        return self._fn("head_jacobian", fn)(z)

    def input_jacobian(self, x):
        """(F(x), ∂F/∂x) through the whole model: shapes (n, K) and (n, K, genes)."""
        tf = self._tf()

        def fn(x):
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = self.full(x)
            return y, tape.batch_jacobian(y, x)

        return self._fn("input_jacobian", fn)(x)


def as_network(model) -> Network:
    return model if isinstance(model, Network) else Network(model)


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
    tf = __import__("tensorflow")
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


# --------------------------------------------------------------------------------------------
# rankings, stability, agreement with the elastic net


def rank_genes(scores: pd.Series) -> pd.Index:
    """Genes ordered by decreasing score (ties broken by gene name, so the order is stable)."""
    frame = pd.DataFrame({"score": scores.to_numpy(dtype=float), "gene": scores.index.astype(str)})
    frame = frame.sort_values(["score", "gene"], ascending=[False, True], kind="mergesort")
    return pd.Index(frame["gene"].to_numpy(), name=scores.index.name)


def top_set(scores: pd.Series, n: int) -> set:
    return set(rank_genes(scores)[:n])


def jaccard(a, b) -> float:
    """|A ∩ B| / |A ∪ B| (1 for two empty sets)."""
    a, b = set(a), set(b)
    union = a | b
    return 1.0 if not union else len(a & b) / len(union)


def mean_pairwise_jaccard(sets) -> float:
    """Mean Jaccard index over all unordered pairs of ``sets`` (NaN for fewer than two sets)."""
    sets = [set(s) for s in sets]
    pairs = list(itertools.combinations(sets, 2))
    return float(np.mean([jaccard(a, b) for a, b in pairs])) if pairs else float("nan")


def stability(fold_scores: dict, top_n: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Agreement of each feature's top-``top_n`` genes across the fold models.

    ``fold_scores``: fold -> genes × features score table (mean |IG|). Returns (per feature:
    mean/min/max pairwise Jaccard, number of folds; per gene × feature: the fraction of folds whose
    top-``top_n`` contains the gene).
    """
    folds = sorted(fold_scores)
    if not folds:
        raise RadiogenomicsError("stability: no fold attribution tables")
    features = list(fold_scores[folds[0]].columns)
    genes = fold_scores[folds[0]].index
    rows, freq = [], pd.DataFrame(0.0, index=genes, columns=features)
    for feature in features:
        sets = [top_set(fold_scores[f][feature], top_n) for f in folds]
        values = [jaccard(a, b) for a, b in itertools.combinations(sets, 2)]
        rows.append({
            "feature": feature,
            "jaccard_mean": float(np.mean(values)) if values else float("nan"),
            "jaccard_min": float(np.min(values)) if values else float("nan"),
            "jaccard_max": float(np.max(values)) if values else float("nan"),
            "n_folds": len(folds),
            "top_n": int(top_n),
        })
        for s in sets:
            freq.loc[list(s), feature] += 1.0 / len(folds)
    return pd.DataFrame(rows).set_index("feature"), freq


def top_genes_table(score: pd.DataFrame, signed: pd.DataFrame, top_n: int,
                    gene_stability: pd.DataFrame | None = None,
                    feature_stability: pd.DataFrame | None = None,
                    enet_nonzero: dict | None = None,
                    gradient: pd.DataFrame | None = None) -> pd.DataFrame:
    """Long table: feature, rank (1 = strongest), gene, score (mean |IG|), stability (fraction of
    fold models with the gene in their top-``top_n``), signed mean IG, the mean path gradient and
    its sign (``direction``: +1 when higher expression raises the predicted feature), the
    feature's mean pairwise Jaccard across folds, and whether the elastic net kept the gene."""
    rows = []
    for feature in score.columns:
        order = rank_genes(score[feature])[:top_n]
        for rank, gene in enumerate(order, start=1):
            row = {
                "feature": feature,
                "rank": rank,
                "gene": gene,
                "score": float(score.at[gene, feature]),
                "stability": float(gene_stability.at[gene, feature]) if gene_stability is not None else float("nan"),
                "signed": float(signed.at[gene, feature]),
            }
            if gradient is not None:
                g = float(gradient.at[gene, feature])
                row["mean_gradient"] = g
                row["direction"] = int(np.sign(g))
            row["feature_jaccard"] = (float(feature_stability.at[feature, "jaccard_mean"])
                                      if feature_stability is not None else float("nan"))
            if enet_nonzero is not None:
                row["in_elastic_net"] = gene in enet_nonzero.get(feature, set())
            rows.append(row)
    return pd.DataFrame(rows).set_index("feature")


def enet_overlap(score: pd.DataFrame, enet_nonzero: dict, top_n: int) -> pd.DataFrame:
    """Per feature: overlap of the top-``top_n`` genes by attribution with the elastic net's
    non-zero genes; hypergeometric P(overlap ≥ observed) under random top sets."""
    from scipy.stats import hypergeom

    n_genes = len(score.index)
    rows = []
    for feature in score.columns:
        top = top_set(score[feature], top_n)
        enet = set(enet_nonzero.get(feature, set())) & set(score.index)
        k = len(top & enet)
        rows.append({
            "feature": feature,
            "n_top": len(top),
            "n_enet_nonzero": len(enet),
            "n_overlap": k,
            "expected_overlap": len(top) * len(enet) / n_genes if n_genes else float("nan"),
            "jaccard": jaccard(top, enet),
            "fraction_of_enet": k / len(enet) if enet else float("nan"),
            "p_value": float(hypergeom.sf(k - 1, n_genes, len(enet), len(top))) if enet else float("nan"),
        })
    return pd.DataFrame(rows).set_index("feature")


def read_enet_nonzero(paths: dict) -> dict:
    """feature -> set of genes with a non-zero elastic-net coefficient (coefficients.tsv: gene -> weight)."""
    from .io import read_tsv

    out = {}
    for feature, path in paths.items():
        table = read_tsv(path)
        if table.shape[1] < 1:
            raise RadiogenomicsError(f"{path}: expected a column of coefficients (gene -> weight)")
        weights = pd.to_numeric(table.iloc[:, 0], errors="coerce").fillna(0.0)
        out[feature] = set(table.index[weights != 0].astype(str))
    return out


def planted_recovery(score: pd.DataFrame, signal_genes: pd.DataFrame, drives: pd.DataFrame,
                     top_n: int = 10) -> pd.DataFrame:
    """How well a genes × features score table recovers a planted signal (demo truth).

    ``signal_genes``: index gene, column ``factor``; ``drives``: columns ``factor``, ``feature``.
    Per driven feature: the planted genes (those of the factors that drive it), their mean rank,
    how many are in the top ``top_n``, and the AUC = P(score of a planted gene > score of another
    gene) (0.5 = chance, 1 = all planted genes first).
    """
    from scipy.stats import rankdata

    rows = []
    genes = score.index.astype(str)
    for feature, group in drives.groupby("feature"):
        if feature not in score.columns:
            continue
        planted = set(signal_genes.index[signal_genes["factor"].isin(set(group["factor"]))].astype(str)) & set(genes)
        values = score[feature].to_numpy(dtype=float)
        ranks = rankdata(-values, method="average")
        mask = np.array([g in planted for g in genes])
        n1, n0 = int(mask.sum()), int((~mask).sum())
        if n1 == 0 or n0 == 0:
            continue
        low = rankdata(values, method="average")          # Mann-Whitney U of the planted genes
        auc = (low[mask].sum() - n1 * (n1 + 1) / 2) / (n1 * n0)
        rows.append({
            "feature": feature,
            "factors": ",".join(sorted(set(group["factor"]))),
            "n_planted": n1,
            "mean_rank": float(ranks[mask].mean()),
            "in_top": int((ranks[mask] <= top_n).sum()),
            "auc": float(auc),
        })
    return pd.DataFrame(rows).set_index("feature")


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
    ``z``, ``p_empirical`` = (1 + #random sets with abs change ≥ top) / (1 + n_random).

    Uses the first-layer shortcut when possible: masking set S changes z = x W₁ + b₁ by
    -x[:, S] W₁[S].
    """
    tf = __import__("tensorflow")
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
                "p_empirical": (1 + int((rand[:, k] >= top_abs).sum())) / (1 + n_random),
            })
    return pd.DataFrame(rows).set_index("feature")


# --------------------------------------------------------------------------------------------
# activation maximisation


@dataclass
class AMResult:
    """``profiles``: (K, genes) maximising profiles; ``start``/``final``: (K,) F_k at the start
    (cohort mean) and at the optimum; ``objective``: (K,) F_k - λ_k‖x‖² at the optimum; ``l2``: (K,) λ_k;
    ``history``: (steps, K) objective per step."""

    profiles: np.ndarray
    start: np.ndarray
    final: np.ndarray
    objective: np.ndarray
    history: np.ndarray
    l2: np.ndarray


def activation_maximisation(model, lower, upper, *, l2: float = 4.0, steps: int = 200,
                            learning_rate: float = 0.01, outputs=None, x0=None,
                            relative: bool = True) -> AMResult:
    """For each output k, x*_k = argmax_{lower ≤ x ≤ upper} F_k(x) - λ_k · ‖x‖²₂.

    ``relative=True`` (the workflow's choice): λ_k = l2 · max_g |∂F_k/∂x_g(x0)| / 2, so the penalty
    has the scale of the feature's own gradient and ``l2`` is unit-free: for an F that is linear
    near x0 the optimum is x*_g = (∂F_k/∂x_g) / (l2 · max_g |∂F_k/∂x_g|), clipped to the range, i.e.
    the strongest gene moves by 1/l2 and a gene with a tenth of its gradient by a tenth of that
    (standardised by range, genes span about 1). ``relative=False``: λ_k = l2.

    Projected gradient ascent with Adam (β = 0.9, 0.999) from ``x0`` (default: the cohort mean, 0
    after standardisation); after every step x is clipped into [lower, upper] (the observed range
    of each gene). All outputs are optimised together, one row each.
    """
    tf = __import__("tensorflow")
    net = as_network(model)
    lower = np.asarray(lower, np.float32)
    upper = np.asarray(upper, np.float32)
    if np.any(lower > upper):
        raise RadiogenomicsError("activation_maximisation: lower bound above upper bound for some gene")
    k_out = net.n_outputs
    outputs = list(range(k_out)) if outputs is None else list(outputs)
    genes = lower.shape[0]
    start = np.zeros(genes, np.float32) if x0 is None else np.asarray(x0, np.float32)
    start = np.clip(start, lower, upper)
    xv = tf.Variable(np.tile(start, (len(outputs), 1)))
    select = tf.one_hot(outputs, k_out)                          # row r optimises output outputs[r]
    lo, hi = tf.constant(lower), tf.constant(upper)
    if relative:
        with tf.GradientTape() as tape:
            x_start = tf.constant(np.tile(start, (len(outputs), 1)))
            tape.watch(x_start)
            total = tf.reduce_sum(net.full(x_start) * select)
        g0 = np.abs(tape.gradient(total, x_start).numpy()).max(axis=1)
        lam = tf.constant((l2 * np.where(g0 > 0, g0, 1.0) / 2.0).astype(np.float32))
    else:
        lam = tf.constant(np.full(len(outputs), l2, np.float32))
    m = tf.Variable(tf.zeros_like(xv))
    v = tf.Variable(tf.zeros_like(xv))
    b1, b2, eps = 0.9, 0.999, 1e-8

    @tf.function(autograph=False)
    def step(t):
        with tf.GradientTape() as tape:
            x = tf.identity(xv)
            tape.watch(x)
            y = net.full(x)
            fk = tf.reduce_sum(y * select, axis=1)
            obj = fk - lam * tf.reduce_sum(tf.square(x), axis=1)
            total = tf.reduce_sum(obj)      # rows are independent: d total / d x_r = d obj_r / d x_r
        g = tape.gradient(total, x)
        m.assign(b1 * m + (1 - b1) * g)
        v.assign(b2 * v + (1 - b2) * tf.square(g))
        mhat = m / (1 - tf.pow(b1, t))
        vhat = v / (1 - tf.pow(b2, t))
        xv.assign(tf.clip_by_value(xv + learning_rate * mhat / (tf.sqrt(vhat) + eps), lo, hi))
        return obj

    def evaluate():
        y = net.predict(xv.numpy())
        fk = y[np.arange(len(outputs)), outputs]
        return fk, fk - lam.numpy() * np.sum(np.square(xv.numpy()), axis=1)

    f_start, _ = evaluate()
    history = np.zeros((steps, len(outputs)), np.float32)
    for t in range(1, steps + 1):
        history[t - 1] = step(tf.constant(float(t))).numpy()
    f_final, objective = evaluate()
    return AMResult(profiles=xv.numpy(), start=f_start, final=f_final, objective=objective, history=history,
                    l2=lam.numpy())


def am_tables(result: AMResult, genes, features, lower, upper, top_n: int = 20,
              ig_top: dict | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(summary per feature, top genes per feature) of an activation maximisation.

    Genes are ranked by |x*_g| (distance from the cohort mean, 0); ``direction`` says whether the
    gene is pushed up or down; ``at_bound`` whether it reached its observed min/max. ``ig_top``:
    feature -> set of top genes by attribution, for the overlap column of the summary.
    """
    genes = pd.Index(genes)
    lower = np.asarray(lower)
    upper = np.asarray(upper)
    summary, rows = [], []
    for r, feature in enumerate(features):
        prof = pd.Series(result.profiles[r], index=genes)
        order = rank_genes(prof.abs())[:top_n]
        tol = 1e-6
        at_lo = np.isclose(result.profiles[r], lower, atol=tol)
        at_hi = np.isclose(result.profiles[r], upper, atol=tol)
        summary.append({
            "feature": feature,
            "predicted_at_mean": float(result.start[r]),
            "predicted_at_optimum": float(result.final[r]),
            "objective": float(result.objective[r]),
            "l2_weight": float(result.l2[r]),
            "l2_norm": float(np.linalg.norm(result.profiles[r])),
            "n_at_bound": int((at_lo | at_hi).sum()),
            "n_changed": int((np.abs(result.profiles[r]) > 1e-3).sum()),
            "jaccard_with_ig_top": jaccard(set(order), ig_top.get(feature, set())) if ig_top else float("nan"),
        })
        pos = {g: i for i, g in enumerate(genes)}
        for rank, gene in enumerate(order, start=1):
            i = pos[gene]
            value = float(result.profiles[r, i])
            rows.append({
                "feature": feature,
                "rank": rank,
                "gene": gene,
                "value": value,
                "direction": "up" if value > 0 else "down",
                "lower": float(lower[i]),
                "upper": float(upper[i]),
                "at_bound": bool(at_lo[i] or at_hi[i]),
            })
    return pd.DataFrame(summary).set_index("feature"), pd.DataFrame(rows).set_index("feature")


# --------------------------------------------------------------------------------------------
# heatmap


def heatmap_matrix(score: pd.DataFrame, gradient: pd.DataFrame, genes_per_feature: int) -> pd.DataFrame:
    """Union of each feature's top genes (by ``score``, mean |IG|) × features: the directional
    score sign(mean path gradient) · mean |IG|, divided by the feature's largest mean |IG| over
    all genes (so features are comparable; values in [-1, 1])."""
    genes = []
    for feature in score.columns:
        for gene in rank_genes(score[feature])[:genes_per_feature]:
            if gene not in genes:
                genes.append(gene)
    scale = score.abs().max(axis=0).replace(0, np.nan)
    directional = np.sign(gradient.loc[genes, score.columns]) * score.loc[genes]
    return (directional / scale).fillna(0.0)


def clustermap(matrix: pd.DataFrame, path, dpi: int = 150, title: str | None = None) -> None:
    """Seaborn clustermap (average linkage, correlation distance when possible) written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    from .io import atomic_path

    rows, cols = matrix.shape
    cluster_rows = rows >= 2 and np.all(matrix.std(axis=1) > 0)
    cluster_cols = cols >= 2 and np.all(matrix.std(axis=0) > 0)
    height = max(4.0, 0.18 * rows + 3)
    width = max(6.0, 0.35 * cols + 4)
    grid = sns.clustermap(
        matrix, method="average", metric="correlation" if (cluster_rows and cluster_cols) else "euclidean",
        row_cluster=cluster_rows, col_cluster=cluster_cols, cmap="RdBu_r", vmin=-1, vmax=1, center=0,
        figsize=(width, height), yticklabels=rows <= 150, xticklabels=True,
        cbar_kws={"label": "direction × mean |IG| / feature max"},
    )
    if title:
        grid.figure.suptitle(title, y=1.01)
    with atomic_path(path) as tmp:
        grid.figure.savefig(tmp, dpi=dpi, bbox_inches="tight", format=str(path).rsplit(".", 1)[-1])
    plt.close(grid.figure)


# --------------------------------------------------------------------------------------------
# per-model jobs: train the selected network, then attribute (one TensorFlow process per model)


@dataclass
class TrainedNetwork:
    """A retrained selected network: the Keras ``model``, its training ``history``
    (``epoch``, ``loss``, ``val_loss``), the ``patients`` it explains (all supervised patients,
    rows of ``x``, standardised expression), ``genes``, the ``seed`` and ``config`` name."""

    model: object
    history: pd.DataFrame
    x: np.ndarray
    patients: list
    genes: pd.Index
    seed: int
    config: str


def train_selected_network(expression: pd.DataFrame, targets: pd.DataFrame, folds: pd.Series, chosen: dict,
                           autoencoder, *, fold: int | None, seed: int, ae_hidden, hidden4: int, nonneg,
                           momentum: float, batch_size: int, epochs: int, dropout: float) -> TrainedNetwork:
    """Retrain the selected network with pre-training and dropout (the CV job's recipe, see
    train_dnn.py / models.build_dnn / training.fit with MAE loss).

    ``fold`` = k: fold k's training patients, validation on fold k, seed
    ``seeds.derive(seed, "dnn", "pretrain_dropout", <config>, k)`` -- the CV job's seed, so on a
    deterministic device this is the CV model. ``fold`` = None: all supervised patients, no
    validation, seed ``derive(..., "final")``. ``autoencoder``: the trained autoencoder (Keras
    model) whose encoder is transferred. ``chosen``: dnn/selected.json (``config``,
    ``learning_rate``, ``decay``).
    """
    from . import models, seeds, training
    from .folds import split

    config_name = str(chosen["config"])
    learning_rate, decay = float(chosen["learning_rate"]), float(chosen["decay"])
    if fold is None:
        train_ids, val_ids = list(folds.index), []
        run_seed = seeds.derive(seed, "dnn", "pretrain_dropout", config_name, "final")
    else:
        train_ids, val_ids = split(folds, int(fold))
        run_seed = seeds.derive(seed, "dnn", "pretrain_dropout", config_name, int(fold))
    x = expression.loc[train_ids].to_numpy("float32")
    y = targets.loc[train_ids].to_numpy("float32")
    val = {}
    if len(val_ids):
        val = {"x_val": expression.loc[val_ids].to_numpy("float32"),
               "y_val": targets.loc[val_ids].to_numpy("float32")}
    log.info("network pretrain_dropout %s (%s): %d training / %d validation patients, %d genes, seed %d",
             config_name, "final" if fold is None else f"fold {fold}", len(x), len(val_ids), x.shape[1], run_seed)
    model, nonneg_layers = models.build_dnn(x.shape[1], models.encoder_sizes(ae_hidden), int(hidden4),
                                            targets.shape[1], float(dropout), nonneg, run_seed)
    log.info("transferred %s", models.transfer_encoder(autoencoder, model))
    history = training.fit(
        model, x, y, loss="mae", learning_rate=learning_rate, decay=decay, momentum=float(momentum),
        batch_size=int(batch_size), epochs=int(epochs), seed=run_seed, nonneg=nonneg_layers, **val)
    log.info("final epoch: loss %.6g, val_loss %.6g", history["loss"].iloc[-1], history["val_loss"].iloc[-1])
    patients = list(folds.index)
    return TrainedNetwork(model=model, history=history, x=expression.loc[patients].to_numpy("float32"),
                          patients=patients, genes=pd.Index(expression.columns.astype(str), name="gene"),
                          seed=run_seed, config=config_name)


def check_against_cv(history: pd.DataFrame, cv_history: pd.DataFrame | None, cv_path) -> bool:
    """Log whether a fold retrain reproduced its CV job (the CV job's val_loss at the
    retrain's last epoch, to 1e-4 relative; the retrain stops at the selected epoch, the
    CV job's last or, with ``selection.epoch: best``, an earlier one); returns True when it
    did. ``cv_history`` None: the CV file is missing."""
    import math

    if cv_history is None:
        log.warning("%s not found: cannot check that the retrained model equals the CV model", cv_path)
        return False
    b = float(history["val_loss"].iloc[-1])
    a = float(cv_history["val_loss"].iloc[len(history) - 1]) if len(history) <= len(cv_history) else math.nan
    if math.isclose(a, b, rel_tol=1e-4, abs_tol=1e-7):
        log.info("final-epoch val_loss %.6g equals the CV job's (%s): same model", b, cv_path)
        return True
    log.warning("final-epoch val_loss %.6g differs from the CV job's %.6g (%s): the retrained model is not "
                "the CV model (non-deterministic device or changed training code)", b, a, cv_path)
    return False


def ig_tables(model, x, genes, features, *, steps: int = 50, rule: str = "trapezoid",
              patients_per_batch: int | None = None) -> dict:
    """Integrated gradients of ``model`` for the patients ``x`` as tables (genes × features):
    ``mean`` (signed mean IG), ``mean_abs`` (mean |IG|, the ranking score), ``mean_gradient``
    (path-averaged gradient, its sign = direction) and ``completeness`` (per feature, see
    :meth:`IGResult.completeness_table`). See :func:`integrated_gradients`."""
    import time

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


def probe_tables(model, x, expression: pd.DataFrame, scores: pd.DataFrame, *, seed: int, masking_sizes,
                 masking_random: int, am_steps: int, am_learning_rate: float, am_l2: float,
                 am_top_n: int) -> dict:
    """Gene masking and activation maximisation of ``model`` (the final network).

    ``x``: the supervised patients' standardised profiles (masking is averaged over them);
    ``expression``: all expression profiles (genes' observed [min, max] bound the ascent);
    ``scores``: genes × features mean |IG| (ranks the genes to mask; IG top set for the AM
    summary's overlap column). Returns ``masking`` (:func:`masking_effects`), ``am_summary``,
    ``am_top`` (:func:`am_tables`) and ``am_profiles`` (genes × features maximising profiles).
    """
    import time

    features = list(scores.columns)
    genes = pd.Index(expression.columns.astype(str), name="gene")
    if list(scores.index.astype(str)) != list(genes):
        raise RadiogenomicsError("probe_tables: the attribution table's genes differ from the expression matrix's")
    scores = scores.set_axis(genes, axis=0)
    position = {g: i for i, g in enumerate(genes)}
    rankings = {k: np.array([position[g] for g in rank_genes(scores[f])]) for k, f in enumerate(features)}
    start = time.perf_counter()
    masking = masking_effects(model, x, rankings, sizes=masking_sizes, n_random=int(masking_random), seed=seed,
                              features=features)
    log.info("masking: %.1f s; top sets change the feature more than the random-set mean in %d of %d cases",
             time.perf_counter() - start, int((masking["ratio"] > 1).sum()), len(masking))
    lower = expression.min(axis=0).to_numpy("float32")
    upper = expression.max(axis=0).to_numpy("float32")
    start = time.perf_counter()
    am = activation_maximisation(model, lower, upper, l2=float(am_l2), steps=int(am_steps),
                                 learning_rate=float(am_learning_rate))
    log.info("activation maximisation: %.1f s", time.perf_counter() - start)
    ig_top = {f: top_set(scores[f], int(am_top_n)) for f in features}
    summary, top = am_tables(am, genes, features, lower, upper, top_n=int(am_top_n), ig_top=ig_top)
    return {
        "masking": masking,
        "am_summary": summary,
        "am_top": top,
        "am_profiles": pd.DataFrame(am.profiles.T, index=genes, columns=features),
    }
