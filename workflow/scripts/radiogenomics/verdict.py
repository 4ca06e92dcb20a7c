"""The verdict: what this run's numbers say, in words, for the first page of the report.

Computed from Table 2 and the differences table of :func:`radiogenomics.evaluation.evaluate`
only (nothing is hard-coded):

* the model with the lowest average MAE and the one with the lowest average MAPE, with
  their 95 % paired-bootstrap intervals;
* for every network, on how many features it is significantly better and significantly
  worse (Bonferroni-adjusted paired Wilcoxon p < 0.05, direction of the mean errors) than
  the reference (the elastic net) and than the null model, and the differences of its
  average MAE and MAPE from each, with their intervals;
* the same against the null for the reference;
* the conclusion: when no network is significantly better than the null on any feature
  (by MAE or MAPE), it says that the networks predict no better than a constant.
"""

from __future__ import annotations

import pandas as pd

from . import names, null_model


def _name(model: str) -> str:
    """The model as the verdict names it (:func:`radiogenomics.names.phrase`)."""
    return names.phrase(model)


def _num(value, metric: str) -> str:
    if value is None or pd.isna(value):
        return "–"
    return f"{float(value):.4f}" if metric == "mae" else f"{float(value):.2f} %"


def _signed(value, metric: str) -> str:
    if value is None or pd.isna(value):
        return "–"
    text = _num(abs(float(value)), metric)
    return ("−" if float(value) < 0 else "+") + text


def _interval(low, high, metric: str, signed: bool = False) -> str:
    if low is None or pd.isna(low) or pd.isna(high):
        return ""
    f = _signed if signed else _num
    return f" (95 % CI {f(low, metric)} to {f(high, metric)})"


def _count(table2, model, column) -> int | None:
    value = table2.loc[model, column] if column in table2.columns else None
    return None if value is None or pd.isna(value) else int(value)


def _against(table2, differences, model, versus, label, n_features) -> str:
    """'against X, significantly better on a and worse on b of n features by MAE (by MAPE: c
    better, d worse); difference of the average MAE d (CI); ... MAPE ...'."""
    key = "reference" if versus != null_model.NAME else "mean"
    mae_b, mae_w = (_count(table2, model, f"n_{w}_than_{key}_mae") for w in ("better", "worse"))
    mape_b, mape_w = (_count(table2, model, f"n_{w}_than_{key}_mape") for w in ("better", "worse"))
    if mae_b is None:
        return ""
    text = (f"against {label}, significantly better on {mae_b} and worse on {mae_w} of {n_features} "
            f"features by MAE (by MAPE: {mape_b} better, {mape_w} worse)")
    for metric, metric_name in (("mae", "MAE"), ("mape", "MAPE")):
        row = differences[(differences["model"] == model) & (differences["versus"] == versus)
                          & (differences["metric"] == metric)]
        if len(row):
            r = row.iloc[0]
            text += (f"; difference of the average {metric_name} {_signed(r['estimate'], metric)}"
                     f"{_interval(r['ci_low'], r['ci_high'], metric, signed=True)}")
    return text


def verdict_lines(table2: pd.DataFrame, differences: pd.DataFrame, *, reference: str = names.REFERENCE,
                  n_features: int, epoch: str = "final") -> list[str]:
    """The verdict as a list of Markdown paragraphs / bullet lines (``**`` for emphasis)."""
    models = list(table2.index)
    null = null_model.NAME if null_model.NAME in models else None
    networks = [m for m in models if m not in (reference, null)]
    lines = []
    best = []
    for metric, label in (("mae", "MAE"), ("mape", "MAPE")):
        column = f"mean_{metric}"
        m = table2[column].astype(float).idxmin()
        row = table2.loc[m]
        best.append(f"lowest average {label}: **{_name(m)}**, {_num(row[column], metric)}"
                    f"{_interval(row.get(column + '_ci_low'), row.get(column + '_ci_high'), metric)}")
    lines.append(best[0][0].upper() + best[0][1:] + "; " + best[1] + ".")
    for m in [*networks, reference]:
        parts = []
        if m != reference:
            parts.append(_against(table2, differences, m, reference, f"the {_name(reference)}", n_features))
        if null is not None:
            parts.append(_against(table2, differences, m, null, "the null model", n_features))
        parts = [p for p in parts if p]
        if parts:
            lines.append(f"- **{_name(m)}**: " + "; ".join(parts) + ".")
    if null is not None:
        beat_null = [m for m in networks if (_count(table2, m, "n_better_than_mean_mae") or 0) > 0
                     or (_count(table2, m, "n_better_than_mean_mape") or 0) > 0]
        if not beat_null:
            lines.append("**No network predicts better than a constant**: none is significantly better "
                         "than the null model (each feature predicted by its training-fold mean) on any "
                         "feature, by MAE or by MAPE.")
        else:
            lines.append("Networks significantly better than the null model on at least one feature: "
                         + ", ".join(_name(m) for m in beat_null) + ".")
        if (_count(table2, reference, "n_better_than_mean_mae") or 0) == 0 and \
                (_count(table2, reference, "n_better_than_mean_mape") or 0) == 0:
            lines.append(f"The {_name(reference)} is not significantly better than the null model on any "
                         "feature" + (" either." if not beat_null else "."))
    beat_ref = [m for m in networks if (_count(table2, m, "n_better_than_reference_mae") or 0) > 0
                or (_count(table2, m, "n_better_than_reference_mape") or 0) > 0]
    if not beat_ref:
        lines.append(f"No network is significantly better than the {_name(reference)} on any feature.")
    if epoch == "best":
        lines.append("The networks are judged at the epoch with the lowest mean validation loss "
                     "(`selection.epoch: best`): that epoch was chosen on the same folds that report "
                     "the error, so their errors are optimistic.")
    lines.append("Significance: Bonferroni-adjusted paired Wilcoxon p < 0.05 over the features; "
                 "intervals: 95 % paired bootstrap over patients.")
    return lines


def verdict_markdown(lines: list[str]) -> str:
    """The verdict as a Markdown section body (paragraphs; consecutive bullets form a list)."""
    out = []
    for line in lines:
        if out and not (line.startswith("- ") and out[-1].startswith("- ")):
            out.append("")
        out.append(line)
    return "\n".join(out)


def verdict_rst(lines: list[str]) -> str:
    """The verdict as reStructuredText (for the report's landing page): the same text, since
    ``**bold**`` and ``- `` bullets are also reStructuredText; backticks become literals."""
    return verdict_markdown([line.replace("`", "``") for line in lines])
