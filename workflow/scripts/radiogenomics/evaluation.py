"""Prediction errors, paired tests and the paper's Tables 2-4 (paper §2.4, §3).

Errors (paper eqs. 1 and 2), over the N supervised patients, each predicted by the
model of the fold in which it was a validation patient (out-of-fold predictions)::

    MAE  = 1/N   * sum_i |y_i - yhat_i|                (scaled units)
    MAPE = 100/N * sum_i |(y_i - yhat_i) / y_i|        (%)

``y`` are the measured features divided by their cohort maximum (§2.1.2); MAPE does not
depend on that scaling. A measured value of exactly 0 makes a patient's percent error
undefined: that patient is left out of the feature's MAPE (and of its MAPE test), and
``n_mape`` says over how many patients the MAPE was averaged. MAE in original units
(cm³, cm², mm, mm⁻¹ or unitless; Table 3) is the scaled MAE times the feature's scale
factor (its cohort maximum).

Statistics (§2.4): for every feature, a paired, two-sided Wilcoxon signed-rank test
of the per-patient absolute errors of a network against those of the reference model
(the elastic net), and the same for the absolute percent errors. As in R's
``wilcox.test(x, y, paired = TRUE, correct = TRUE, exact = FALSE)``: zero differences
are dropped (``zero_method="wilcox"``), tied absolute differences get their average
rank and the variance its tie correction ``sum(t^3 - t) / 48``, the normal
approximation is used with a continuity correction of 0.5 towards zero
(``scipy.stats.wilcoxon(..., zero_method="wilcox", correction=True,
method="asymptotic")``; SciPy ≥ 1.9 calls R's ``exact = FALSE`` "asymptotic", the old
name "approx" is gone). When every difference is zero the test is undefined; R
returns ``NaN`` and so do we. P-values are adjusted with Bonferroni over the features
(``p.adjust(method = "bonferroni")`` = ``multipletests(method="bonferroni")``:
min(1, p × 20), a ``NaN`` stays ``NaN`` and still counts in the 20).

The paper tests the network with pre-training and dropout against linear regression;
here every network is tested against the reference (the pre-training + dropout row is
the paper's; the others are extra information), each network's 20 tests adjusted
on their own.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.multitest import multipletests

from . import names
from .errors import RadiogenomicsError

#: Significance level for the adjusted p-values (§2.4: an α level of 0.05).
ALPHA = 0.05

#: Model names in the order of the paper's tables (networks first, reference last).
MODEL_ORDER = ("scratch", "pretrain", "pretrain_dropout", "elastic_net")

#: Columns of the ``per_feature`` table, in order.
PER_FEATURE_COLUMNS = (
    "model", "feature", "mae", "mape", "mae_original", "p_mae", "p_mae_adjusted",
    "p_mape", "p_mape_adjusted", "n_mape",
)


# --------------------------------------------------------------------- metrics
def absolute_errors(measured, predicted) -> np.ndarray:
    """Per-patient absolute errors ``|y_i - yhat_i|``."""
    return np.abs(np.asarray(measured, dtype=float) - np.asarray(predicted, dtype=float))


def absolute_percent_errors(measured, predicted) -> np.ndarray:
    """Per-patient absolute percent errors ``100 |(y_i - yhat_i) / y_i|``; ``NaN`` where y_i = 0."""
    y = np.asarray(measured, dtype=float)
    yhat = np.asarray(predicted, dtype=float)
    out = np.full(y.shape, np.nan)
    nonzero = y != 0
    out[nonzero] = 100.0 * np.abs((y[nonzero] - yhat[nonzero]) / y[nonzero])
    return out


def mae(measured, predicted) -> float:
    """Mean absolute error, paper eq. (1)."""
    return float(np.mean(absolute_errors(measured, predicted)))


def mape(measured, predicted) -> tuple[float, int]:
    """Mean absolute percent error (%), paper eq. (2), and the number of patients used.

    Patients whose measured value is 0 are left out (their percent error is undefined).
    With no usable patient the MAPE is ``NaN``.
    """
    ape = absolute_percent_errors(measured, predicted)
    used = ape[~np.isnan(ape)]
    return (float(np.mean(used)) if used.size else math.nan), int(used.size)


# ------------------------------------------------------------------ statistics
def wilcoxon_paired(x, y) -> float:
    """Two-sided p-value of the paired Wilcoxon signed-rank test of ``x`` vs ``y``.

    Equal to R's ``wilcox.test(x, y, paired=TRUE, correct=TRUE, exact=FALSE)$p.value``:
    zero differences dropped, average ranks for ties with the tie-corrected variance,
    normal approximation with continuity correction. ``NaN`` when no difference is
    non-zero (R's ``NaN``). Pairs with a missing value are dropped first (R's
    ``complete.cases``).
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if x.shape != y.shape:
        raise RadiogenomicsError(f"wilcoxon: x and y differ in length ({x.size} vs {y.size})")
    keep = ~(np.isnan(x) | np.isnan(y))
    x, y = x[keep], y[keep]
    if not np.any(x - y != 0):
        return math.nan
    res = stats.wilcoxon(x, y, zero_method="wilcox", correction=True,
                         alternative="two-sided", method="asymptotic")
    return float(res.pvalue)


def bonferroni(pvalues) -> np.ndarray:
    """Bonferroni-adjusted p-values, min(1, p × m) with m = number of p-values (NaN kept)."""
    p = np.asarray(pvalues, dtype=float)
    if p.size == 0:
        return p
    return multipletests(p, alpha=ALPHA, method="bonferroni")[1]


# ------------------------------------------------------------------ evaluate
def _scale_series(scale, features) -> tuple[pd.Series, dict]:
    """The scale factors as a Series over ``features`` and the units, if given."""
    units = {}
    if isinstance(scale, pd.DataFrame):
        if "scale" not in scale.columns:
            raise RadiogenomicsError("scale factors: expected a column 'scale'")
        if "unit" in scale.columns:
            units = {k: ("" if pd.isna(v) else str(v)) for k, v in scale["unit"].items()}
        scale = scale["scale"]
    elif isinstance(scale, Mapping):
        scale = pd.Series(scale)
    scale = pd.Series(scale, dtype=float)
    missing = [f for f in features if f not in scale.index]
    if missing:
        raise RadiogenomicsError(f"scale factors: no factor for feature(s) {missing}")
    scale = scale.reindex(features)
    if not np.all(np.isfinite(scale.to_numpy())) or np.any(scale.to_numpy() <= 0):
        bad = scale[~(np.isfinite(scale) & (scale > 0))].index.tolist()
        raise RadiogenomicsError(f"scale factors: must be positive and finite, not for {bad}")
    return scale, units


def _check_predictions(measured: pd.DataFrame, predictions: Mapping, reference: str) -> dict:
    if reference not in predictions:
        raise RadiogenomicsError(
            f"evaluation: reference model {reference!r} not among the predictions {list(predictions)}"
        )
    if len(predictions) < 2:
        raise RadiogenomicsError("evaluation: need at least one network besides the reference")
    out = {}
    for model, frame in predictions.items():
        missing_cols = [f for f in measured.columns if f not in frame.columns]
        if missing_cols:
            raise RadiogenomicsError(f"predictions of {model}: missing feature column(s) {missing_cols}")
        missing_rows = [p for p in measured.index if p not in frame.index]
        if missing_rows:
            raise RadiogenomicsError(
                f"predictions of {model}: no prediction for {len(missing_rows)} patient(s), "
                f"e.g. {missing_rows[:5]}"
            )
        aligned = frame.loc[measured.index, list(measured.columns)].astype(float)
        if aligned.isna().to_numpy().any():
            bad = aligned.columns[aligned.isna().any()].tolist()
            raise RadiogenomicsError(f"predictions of {model}: missing values in {bad}")
        out[str(model)] = aligned
    return out


def _ordered_models(models, reference) -> list[str]:
    """Networks in the paper's order (unknown names after, as given), reference last."""
    known = [m for m in MODEL_ORDER if m in models and m != reference]
    other = [m for m in models if m not in MODEL_ORDER and m != reference]
    return known + other + [reference]


def _feature_info(feature: str, units: dict) -> tuple[str, str, str]:
    try:
        region, shape = names.split_feature(feature)
        label, unit = names.LABELS[shape], names.UNITS[shape]
    except ValueError:
        region, label, unit = "", feature, ""
    return region, label, units.get(feature, unit)


def evaluate(measured: pd.DataFrame, predictions: Mapping[str, pd.DataFrame], scale,
             reference: str = "elastic_net") -> dict[str, pd.DataFrame]:
    """Per-feature errors, paired tests and Tables 2-4 (paper §2.4, §3).

    ``measured``: patients × features in scaled units (the evaluated patients: every row
    is used). ``predictions``: model name -> patients × features (scaled), covering every
    patient and feature of ``measured``. ``scale``: feature -> factor back to original
    units (a Series, a mapping, or the ``scale_factors.tsv`` frame with ``scale`` and
    ``unit``). ``reference``: the model the networks are compared with.

    Returns a dict of DataFrames:

    - ``per_feature``: one row per (model, feature), columns :data:`PER_FEATURE_COLUMNS`
      (p-values ``NaN`` for the reference);
    - ``table2``: index ``model``; ``mean_mae``, ``mean_mape`` (averages over features),
      ``n_lower_mae``/``pct_lower_mae`` and ``n_lower_mape``/``pct_lower_mape``
      (features with strictly lower error than the reference; ``NaN`` for the reference),
      ``n_significant_mae``/``n_significant_mape`` (adjusted p < 0.05) and
      ``n_best_mae``/``n_best_mape`` (features where the model has the lowest error of all,
      ties counted for each tied model);
    - ``table3``: index ``feature``; ``region``, ``label``, ``unit``, ``mae_<model>`` in
      original units, ``measured_min``/``max``/``mean`` in original units,
      ``p_adjusted_<network>``, ``significant_<network>`` and ``best_mae``;
    - ``table4``: index ``feature``; ``region``, ``label``, ``mape_<model>`` (%),
      ``n_patients``, ``n_zero_excluded``, ``p_adjusted_<network>``,
      ``significant_<network>`` and ``best_mape``.
    """
    if not isinstance(measured, pd.DataFrame) or measured.empty:
        raise RadiogenomicsError("evaluation: measured features are empty")
    measured = measured.astype(float)
    if measured.isna().to_numpy().any():
        bad = measured.columns[measured.isna().any()].tolist()
        raise RadiogenomicsError(f"evaluation: measured features have missing values in {bad}")
    features = [str(f) for f in measured.columns]
    measured.columns = features
    scale, units = _scale_series(scale, features)
    preds = _check_predictions(measured, predictions, reference)
    models = _ordered_models(list(preds), reference)
    networks = models[:-1]
    n = len(measured)

    abs_err = {m: {f: absolute_errors(measured[f], preds[m][f]) for f in features} for m in models}
    pct_err = {m: {f: absolute_percent_errors(measured[f], preds[m][f]) for f in features} for m in models}

    rows = []
    pvals = {}
    for m in models:
        p_mae = np.array([math.nan] * len(features))
        p_mape = p_mae.copy()
        if m != reference:
            p_mae = np.array([wilcoxon_paired(abs_err[m][f], abs_err[reference][f]) for f in features])
            p_mape = np.array([wilcoxon_paired(pct_err[m][f], pct_err[reference][f]) for f in features])
        adj_mae, adj_mape = (bonferroni(p_mae), bonferroni(p_mape)) if m != reference else (p_mae, p_mape)
        pvals[m] = (adj_mae, adj_mape)
        for j, f in enumerate(features):
            used = pct_err[m][f][~np.isnan(pct_err[m][f])]
            m_mae = float(np.mean(abs_err[m][f]))
            rows.append({
                "model": m, "feature": f,
                "mae": m_mae,
                "mape": float(np.mean(used)) if used.size else math.nan,
                "mae_original": m_mae * float(scale[f]),
                "p_mae": p_mae[j], "p_mae_adjusted": adj_mae[j],
                "p_mape": p_mape[j], "p_mape_adjusted": adj_mape[j],
                "n_mape": int(used.size),
            })
    per_feature = pd.DataFrame(rows, columns=list(PER_FEATURE_COLUMNS))

    mae_wide = per_feature.pivot(index="feature", columns="model", values="mae").loc[features, models]
    mape_wide = per_feature.pivot(index="feature", columns="model", values="mape").loc[features, models]
    orig_wide = per_feature.pivot(index="feature", columns="model", values="mae_original").loc[features, models]

    # Table 2 -------------------------------------------------------------
    best_mae = mae_wide.eq(mae_wide.min(axis=1), axis=0)
    best_mape = mape_wide.eq(mape_wide.min(axis=1), axis=0)
    t2 = []
    nf = len(features)
    for m in models:
        row = {"model": m, "mean_mae": float(mae_wide[m].mean()), "mean_mape": float(mape_wide[m].mean())}
        if m == reference:
            row.update(n_lower_mae=math.nan, pct_lower_mae=math.nan, n_lower_mape=math.nan,
                       pct_lower_mape=math.nan, n_significant_mae=math.nan, n_significant_mape=math.nan)
        else:
            lower_mae = int((mae_wide[m] < mae_wide[reference]).sum())
            lower_mape = int((mape_wide[m] < mape_wide[reference]).sum())
            row.update(
                n_lower_mae=lower_mae, pct_lower_mae=100.0 * lower_mae / nf,
                n_lower_mape=lower_mape, pct_lower_mape=100.0 * lower_mape / nf,
                n_significant_mae=int(np.sum(pvals[m][0] < ALPHA)),
                n_significant_mape=int(np.sum(pvals[m][1] < ALPHA)),
            )
        row["n_best_mae"] = int(best_mae[m].sum())
        row["n_best_mape"] = int(best_mape[m].sum())
        t2.append(row)
    table2 = pd.DataFrame(t2).set_index("model")
    for col in table2.columns:
        if col.startswith("n_"):
            table2[col] = table2[col].astype("Int64")  # counts; <NA> for the reference

    # Tables 3 and 4 ------------------------------------------------------
    info = pd.DataFrame([_feature_info(f, units) for f in features], index=features,
                        columns=["region", "label", "unit"])
    original = measured * scale
    table3 = info.copy()
    for m in models:
        table3[f"mae_{m}"] = orig_wide[m]
    table3["measured_min"] = original.min(axis=0)
    table3["measured_max"] = original.max(axis=0)
    table3["measured_mean"] = original.mean(axis=0)
    table4 = info[["region", "label"]].copy()
    for m in models:
        table4[f"mape_{m}"] = mape_wide[m]
    n_used = per_feature[per_feature["model"] == reference].set_index("feature")["n_mape"].loc[features]
    table4["n_patients"] = n_used.astype(int)
    table4["n_zero_excluded"] = (n - n_used).astype(int)
    for m in networks:
        table3[f"p_adjusted_{m}"] = pvals[m][0]
        table3[f"significant_{m}"] = pvals[m][0] < ALPHA
        table4[f"p_adjusted_{m}"] = pvals[m][1]
        table4[f"significant_{m}"] = pvals[m][1] < ALPHA
    table3["best_mae"] = mae_wide.idxmin(axis=1)
    table4["best_mape"] = mape_wide.idxmin(axis=1)
    table3.index.name = table4.index.name = "feature"

    return {"per_feature": per_feature, "table2": table2, "table3": table3, "table4": table4}


def supervised_measured(features_scaled: pd.DataFrame, folds: pd.DataFrame | pd.Series,
                        source="results/cohort/folds.tsv") -> pd.DataFrame:
    """The measured (scaled) features of the supervised patients listed in the fold table."""
    patients = (folds.index if isinstance(folds, (pd.Series, pd.DataFrame)) else pd.Index(folds))
    patients = [str(p) for p in patients]
    missing = [p for p in patients if p not in features_scaled.index]
    if missing:
        raise RadiogenomicsError(
            f"{source}: {len(missing)} supervised patient(s) have no features, e.g. {missing[:5]}"
        )
    missing_cols = [f for f in names.IMAGE_FEATURES if f not in features_scaled.columns]
    if missing_cols:
        raise RadiogenomicsError(f"features: missing column(s) {missing_cols}")
    return features_scaled.loc[patients, list(names.IMAGE_FEATURES)]
