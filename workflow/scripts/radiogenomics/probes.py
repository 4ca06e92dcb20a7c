"""Probes of a trained network: activation maximisation, and the final model's probe tables.

The paper (Smedley & Hsu 2018, §4) plans to "apply activation maximization on our trained
neural network models to identify specific gene expressions that were influential in the
change of an image feature".

* :func:`activation_maximisation` -- for each feature k the standardised profile inside the
  observed per-gene range that maximises F_k(x) - λ_k ‖x‖², by projected gradient ascent (Adam);
* :func:`am_tables` -- its summary per feature and top genes per feature;
* :func:`probe_tables` -- what the final model's job writes: gene masking
  (:func:`radiogenomics.attribution.masking_effects`, genes ranked by mean |IG|) and activation
  maximisation.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import backend
from .attribution import masking_effects
from .errors import RadiogenomicsError
from .rankings import jaccard, rank_genes, top_set
from .split_network import as_network

log = logging.getLogger(__name__)


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
    tf = backend.tensorflow()
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
