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
min(1, p × m) with m the number of features, 20 in the paper; a ``NaN`` stays ``NaN``
and still counts in the m).

The paper tests the network with pre-training and dropout against linear regression;
here every network is tested against the reference (the pre-training + dropout row is
the paper's; the others are extra information), each network's tests (one per
feature) adjusted on their own. The features are the columns of the measured table
(:mod:`radiogenomics.names`).

Beyond the paper, two things a reader needs to judge a difference:

* the null model ``mean`` (:mod:`radiogenomics.null_model`: each feature predicted by
  its training-fold mean), evaluated like every model, and every model tested against
  it the same way (paired Wilcoxon, Bonferroni over the features). A model is
  *significantly better* (worse) than another on a feature when the adjusted p-value is
  below 0.05 and its mean error there is lower (higher);
* 95 % paired-bootstrap intervals over patients (:mod:`radiogenomics.bootstrap`) of every
  model's per-feature and average MAE and MAPE and of the differences of the averages
  (every network minus the reference, every model minus the null).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.multitest import multipletests

from . import bootstrap, names, null_model
from .errors import RadiogenomicsError

#: Significance level for the adjusted p-values (§2.4: an α level of 0.05).
ALPHA = 0.05

#: Model names in the order of the paper's tables (networks first, then the reference,
#: then the null model): :data:`radiogenomics.names.MODEL_ORDER`.
MODEL_ORDER = names.MODEL_ORDER

#: Columns of the ``per_feature`` table, in order.
PER_FEATURE_COLUMNS = (
    "model", "feature", "mae", "mape", "mae_original", "p_mae", "p_mae_adjusted",
    "p_mape", "p_mape_adjusted", "p_mae_vs_mean", "p_mae_vs_mean_adjusted",
    "p_mape_vs_mean", "p_mape_vs_mean_adjusted", "n_mape",
    "mae_ci_low", "mae_ci_high", "mape_ci_low", "mape_ci_high",
)

#: Columns of Table 2 (after the index ``model``), in order.
TABLE2_COLUMNS = tuple(
    [f"mean_{m}{s}" for m in ("mae", "mape") for s in ("", "_ci_low", "_ci_high")]
    + [f"{c}_{m}" for m in ("mae", "mape") for c in (
        "n_lower", "pct_lower", "n_significant", "n_better_than_reference", "n_worse_than_reference",
        "n_better_than_mean", "n_worse_than_mean", "n_best")]
)

#: Columns of ``differences.tsv``.
DIFFERENCE_COLUMNS = ("model", "versus", "metric", "estimate", "ci_low", "ci_high")


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
    if null_model.NAME in predictions:
        raise RadiogenomicsError(
            f"evaluation: {null_model.NAME!r} is the null model's name; it is computed from the folds, "
            "not passed as predictions"
        )
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
    """Networks in the paper's order (unknown names after, as given), the reference, the null."""
    known = [m for m in MODEL_ORDER if m in models and m not in (reference, null_model.NAME)]
    other = [m for m in models if m not in MODEL_ORDER and m not in (reference, null_model.NAME)]
    return known + other + [reference] + ([null_model.NAME] if null_model.NAME in models else [])


def _feature_info(feature: str, units: dict) -> tuple[str, str, str]:
    """(region, label, unit) of Tables 3-4: :func:`radiogenomics.names.describe`, the unit
    of the scale factors table first."""
    return names.describe(feature, units)


def _paired_tests(errors: dict, model: str, versus: str, features) -> tuple[np.ndarray, np.ndarray]:
    """Per feature, the Wilcoxon p-value of ``model``'s errors against ``versus``' and the
    Bonferroni-adjusted p-values (over the features)."""
    p = np.array([wilcoxon_paired(errors[model][f], errors[versus][f]) for f in features])
    return p, bonferroni(p)


def _significant_counts(adjusted, model_error, other_error) -> tuple[int, int]:
    """Features where the model is significantly (adjusted p < ALPHA) better / worse; the
    direction is that of the two mean errors on the feature."""
    significant = np.asarray(adjusted) < ALPHA
    lower = np.asarray(model_error) < np.asarray(other_error)
    higher = np.asarray(model_error) > np.asarray(other_error)
    return int(np.sum(significant & lower)), int(np.sum(significant & higher))


def evaluate(measured: pd.DataFrame, predictions: Mapping[str, pd.DataFrame], scale,
             reference: str = names.REFERENCE, *, folds: pd.Series | None = None,
             n_resamples: int = 0, seed: int = 0) -> dict[str, pd.DataFrame]:
    """Per-feature errors, paired tests, intervals and Tables 2-4 (paper §2.4, §3).

    ``measured``: patients × features in scaled units (the evaluated patients: every row
    is used). ``predictions``: model name -> patients × features (scaled), covering every
    patient and feature of ``measured``. ``scale``: feature -> factor back to original
    units (a Series, a mapping, or the ``scale_factors.tsv`` frame with ``scale`` and
    ``unit``). ``reference``: the model the networks are compared with. ``folds``
    (patient -> fold): adds the null model :data:`radiogenomics.null_model.NAME` (each
    feature's training-fold mean) and every model's tests against it. ``n_resamples``
    (> 0): paired bootstrap intervals (:mod:`radiogenomics.bootstrap`) from ``seed``;
    0 leaves the interval columns NaN.

    Returns a dict of DataFrames:

    - ``per_feature``: one row per (model, feature), columns :data:`PER_FEATURE_COLUMNS`
      (p-values against the reference ``NaN`` for the reference and the null; against
      the null ``NaN`` for the null; ``*_ci_low``/``*_ci_high`` the 95 % intervals of the
      feature's MAE and MAPE);
    - ``table2``: index ``model``; ``mean_mae``, ``mean_mape`` (averages over features)
      with their intervals ``mean_mae_ci_low``/``_high``, ``mean_mape_ci_low``/``_high``;
      ``n_lower_mae``/``pct_lower_mae`` and ``n_lower_mape``/``pct_lower_mape``
      (features with strictly lower error than the reference; ``NaN`` for the reference
      and the null), ``n_significant_mae``/``n_significant_mape`` (adjusted p < 0.05
      against the reference), of those ``n_better_than_reference_*`` and
      ``n_worse_than_reference_*`` (by the direction of the two mean errors), the same
      against the null ``n_better_than_mean_*``/``n_worse_than_mean_*``, and
      ``n_best_mae``/``n_best_mape`` (features where the model has the lowest error of
      all, ties counted for each tied model);
    - ``table3``: index ``feature``; ``region``, ``label``, ``unit``, ``mae_<model>`` in
      original units and its interval ``mae_<model>_ci_low``/``_high``,
      ``measured_min``/``max``/``mean`` in original units, ``p_adjusted_<network>``,
      ``significant_<network>`` and ``best_mae``;
    - ``table4``: index ``feature``; ``region``, ``label``, ``mape_<model>`` (%) and its
      interval, ``n_patients``, ``n_zero_excluded``, ``p_adjusted_<network>``,
      ``significant_<network>`` and ``best_mape``;
    - ``differences``: columns :data:`DIFFERENCE_COLUMNS`, one row per (model, versus,
      metric): every network minus the reference and every model minus the null, the
      difference of the average MAE (MAPE) over features and its interval.
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
    null = None
    if folds is not None:
        null = null_model.NAME
        preds[null] = null_model.training_fold_means(measured, folds)
    models = _ordered_models(list(preds), reference)
    compared = [m for m in models if m not in (reference, null)]  # tested against the reference
    n = len(measured)

    y = measured.to_numpy()
    abs_err = {m: absolute_errors(y, preds[m].to_numpy()) for m in models}  # patients x features
    pct_err = {m: absolute_percent_errors(y, preds[m].to_numpy()) for m in models}
    errors = {"mae": {m: dict(zip(features, abs_err[m].T)) for m in models},
              "mape": {m: dict(zip(features, pct_err[m].T)) for m in models}}

    # every network against the reference, every model against the null
    pairs = [(m, reference) for m in compared] + ([(m, null) for m in models if m != null] if null else [])
    nan = np.full(len(features), math.nan)
    tests = {(m, versus, metric): _paired_tests(errors[metric], m, versus, features)  # -> (p, adjusted)
             for m, versus in pairs for metric in ("mae", "mape")}

    counts = None
    if n_resamples and int(n_resamples) > 0:
        counts = bootstrap.resample_counts(n, int(n_resamples), seed)

    def feature_intervals(values):
        if counts is None:
            return nan, nan
        return bootstrap.percentile_interval(bootstrap.resampled_means(counts, values))

    def average_interval(values):
        if counts is None:
            return math.nan, math.nan
        low, high = bootstrap.percentile_interval(bootstrap.average_over_features(counts, values))
        return float(low[0]), float(high[0])

    rows = []
    for m in models:
        p = {key: tests.get((m, versus, metric), (nan, nan))
             for key, versus, metric in (("ref_mae", reference, "mae"), ("ref_mape", reference, "mape"),
                                         ("null_mae", null, "mae"), ("null_mape", null, "mape"))}
        mae_low, mae_high = feature_intervals(abs_err[m])
        mape_low, mape_high = feature_intervals(pct_err[m])
        for j, f in enumerate(features):
            used = pct_err[m][:, j][~np.isnan(pct_err[m][:, j])]
            m_mae = float(np.mean(abs_err[m][:, j]))
            rows.append({
                "model": m, "feature": f,
                "mae": m_mae,
                "mape": float(np.mean(used)) if used.size else math.nan,
                "mae_original": m_mae * float(scale[f]),
                "p_mae": p["ref_mae"][0][j], "p_mae_adjusted": p["ref_mae"][1][j],
                "p_mape": p["ref_mape"][0][j], "p_mape_adjusted": p["ref_mape"][1][j],
                "p_mae_vs_mean": p["null_mae"][0][j], "p_mae_vs_mean_adjusted": p["null_mae"][1][j],
                "p_mape_vs_mean": p["null_mape"][0][j], "p_mape_vs_mean_adjusted": p["null_mape"][1][j],
                "n_mape": int(used.size),
                "mae_ci_low": mae_low[j], "mae_ci_high": mae_high[j],
                "mape_ci_low": mape_low[j], "mape_ci_high": mape_high[j],
            })
    per_feature = pd.DataFrame(rows, columns=list(PER_FEATURE_COLUMNS))

    def wide(column):
        return per_feature.pivot(index="feature", columns="model", values=column).loc[features, models]

    mae_wide, mape_wide = wide("mae"), wide("mape")
    metric_wide = {"mae": mae_wide, "mape": mape_wide}

    # Table 2 -------------------------------------------------------------
    best = {metric: w.eq(w.min(axis=1), axis=0) for metric, w in metric_wide.items()}
    t2 = []
    nf = len(features)
    for m in models:
        row = {"model": m}
        for metric, err in (("mae", abs_err[m]), ("mape", pct_err[m])):
            low, high = average_interval(err)
            row.update({f"mean_{metric}": float(metric_wide[metric][m].mean()),
                        f"mean_{metric}_ci_low": low, f"mean_{metric}_ci_high": high})
        for metric in ("mae", "mape"):
            w = metric_wide[metric]
            if m in compared:
                lower = int((w[m] < w[reference]).sum())
                adjusted = tests[m, reference, metric][1]
                better, worse = _significant_counts(adjusted, w[m], w[reference])
                row.update({f"n_lower_{metric}": lower, f"pct_lower_{metric}": 100.0 * lower / nf,
                            f"n_significant_{metric}": int(np.sum(adjusted < ALPHA)),
                            f"n_better_than_reference_{metric}": better,
                            f"n_worse_than_reference_{metric}": worse})
            else:
                row.update({f"n_lower_{metric}": math.nan, f"pct_lower_{metric}": math.nan,
                            f"n_significant_{metric}": math.nan,
                            f"n_better_than_reference_{metric}": math.nan,
                            f"n_worse_than_reference_{metric}": math.nan})
            if null is not None and m != null:
                better, worse = _significant_counts(tests[m, null, metric][1], w[m], w[null])
            else:
                better = worse = math.nan
            row.update({f"n_better_than_mean_{metric}": better, f"n_worse_than_mean_{metric}": worse})
            row[f"n_best_{metric}"] = int(best[metric][m].sum())
        t2.append(row)
    table2 = pd.DataFrame(t2, columns=["model", *TABLE2_COLUMNS]).set_index("model")
    for col in table2.columns:
        if col.startswith("n_"):
            table2[col] = table2[col].astype("Int64")  # counts; <NA> where not defined

    # Differences of the averages ------------------------------------------
    diff_rows = []
    for m, versus in pairs:
        for metric, err in (("mae", abs_err), ("mape", pct_err)):
            low, high = average_interval(err[m] - err[versus])
            diff_rows.append({"model": m, "versus": versus, "metric": metric,
                              "estimate": float(metric_wide[metric][m].mean() - metric_wide[metric][versus].mean()),
                              "ci_low": low, "ci_high": high})
    differences = pd.DataFrame(diff_rows, columns=list(DIFFERENCE_COLUMNS))

    # Tables 3 and 4 ------------------------------------------------------
    info = pd.DataFrame([_feature_info(f, units) for f in features], index=features,
                        columns=["region", "label", "unit"])
    original = measured * scale
    table3 = info.copy()
    table4 = info[["region", "label"]].copy()
    for m in models:
        table3[f"mae_{m}"] = wide("mae_original")[m]
        table3[f"mae_{m}_ci_low"] = wide("mae_ci_low")[m] * scale
        table3[f"mae_{m}_ci_high"] = wide("mae_ci_high")[m] * scale
        table4[f"mape_{m}"] = mape_wide[m]
        table4[f"mape_{m}_ci_low"] = wide("mape_ci_low")[m]
        table4[f"mape_{m}_ci_high"] = wide("mape_ci_high")[m]
    table3["measured_min"] = original.min(axis=0)
    table3["measured_max"] = original.max(axis=0)
    table3["measured_mean"] = original.mean(axis=0)
    n_used = per_feature[per_feature["model"] == reference].set_index("feature")["n_mape"].loc[features]
    table4["n_patients"] = n_used.astype(int)
    table4["n_zero_excluded"] = (n - n_used).astype(int)
    for m in compared:
        for table, metric in ((table3, "mae"), (table4, "mape")):
            adjusted = tests[m, reference, metric][1]
            table[f"p_adjusted_{m}"] = adjusted
            table[f"significant_{m}"] = adjusted < ALPHA
    table3["best_mae"] = mae_wide.idxmin(axis=1)
    table4["best_mape"] = mape_wide.idxmin(axis=1)
    table3.index.name = table4.index.name = "feature"

    return {"per_feature": per_feature, "table2": table2, "table3": table3, "table4": table4,
            "differences": differences}


def supervised_measured(features_scaled: pd.DataFrame, folds: pd.DataFrame | pd.Series,
                        source="results/cohort/folds.tsv") -> pd.DataFrame:
    """The measured (scaled) features of the supervised patients listed in the fold table:
    every column of ``features_scaled`` (the targets the models predict)."""
    patients = (folds.index if isinstance(folds, (pd.Series, pd.DataFrame)) else pd.Index(folds))
    patients = [str(p) for p in patients]
    missing = [p for p in patients if p not in features_scaled.index]
    if missing:
        raise RadiogenomicsError(
            f"{source}: {len(missing)} supervised patient(s) have no features, e.g. {missing[:5]}"
        )
    if features_scaled.shape[1] == 0:
        raise RadiogenomicsError("features: no feature column")
    return features_scaled.loc[patients]
