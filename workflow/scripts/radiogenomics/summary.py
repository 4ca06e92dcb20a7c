"""This run's Tables 2-4 beside the paper's published numbers (Markdown and HTML).

The published numbers are in :mod:`radiogenomics.paper`. The rows of Tables 3 and 4 are
the features of this run (:mod:`radiogenomics.names`); a feature that is not one of the
paper's 20 has no paper numbers, and averages over features (Table 2, the §3.1 losses)
are shown beside the paper's only when the features are the paper's 20.

Every cell of the comparison tables reads ``this run (paper)`` (with ``[low, high]``, the
95 % paired-bootstrap interval, after this run's value); ``*`` marks an adjusted Wilcoxon
p-value < 0.05 against the elastic net. The null model (``mean``: each feature's
training-fold mean) has its own column, and :mod:`radiogenomics.verdict` puts what the
numbers say first.
"""

from __future__ import annotations

import html
import math

import pandas as pd

from . import names, null_model, verdict
from .paper import (  # noqa: F401  (the paper's numbers, re-exported)
    PAPER_COHORT, PAPER_LOSSES, PAPER_REFERENCE, PAPER_SELECTED, PAPER_SIGNIFICANT_MAE, PAPER_SIGNIFICANT_MAPE,
    PAPER_TABLE2, PAPER_TABLE3, PAPER_TABLE3_TEXT, PAPER_TABLE4, PAPER_TABLE4_TEXT,
)

#: Models in the paper's column order (their column heads: :func:`radiogenomics.names.head`).
MODELS = names.MODELS


# ------------------------------------------------------------------ formatting
def fmt(value, kind: str = "sig") -> str:
    """Format a number the way the paper's tables do (``sig``: 3 significant digits)."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or pd.isna(value):
        return "–"
    value = float(value)
    if kind == "int":
        return f"{int(round(value))}"
    if kind == "mae":
        return f"{value:.4f}"
    if kind == "mape":
        return f"{value:.2f}"
    if kind == "mape1":
        return f"{value:.1f}"
    if kind == "pct":
        return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"
    if value == 0:
        return "0"
    if abs(value) >= 100:
        return f"{value:.1f}"
    text = f"{value:#.3g}"
    return text[:-1] if text.endswith(".") else text


def cell(run: str, paper: str | None) -> str:
    return run if paper is None else f"{run} ({paper})"


def with_interval(text: str, low, high, kind: str) -> str:
    """``value [low, high]`` when the interval is known, else ``value``."""
    if low is None or high is None or pd.isna(low) or pd.isna(high):
        return text
    return f"{text} [{fmt(low, kind)}, {fmt(high, kind)}]"


_CI_SUFFIXES = ("_ci_low", "_ci_high")


def _model_cols(frame: pd.DataFrame, prefix: str) -> list[str]:
    return [c[len(prefix):] for c in frame.columns if c.startswith(prefix) and not c.endswith(_CI_SUFFIXES)]


def feature_row_label(feature: str, unit: str | None = None) -> str:
    """``enhancing volume (cm³)``: region, label and unit (:func:`radiogenomics.names.describe`;
    ``unit`` from the table when given, else the feature's own; a column that is not a
    default feature is shown by its name)."""
    if unit is None or (isinstance(unit, float) and math.isnan(unit)):
        unit = None
    region, label, own = names.describe(feature, None if unit is None else {feature: unit})
    return " ".join(p for p in (region, label) if p) + (f" ({own})" if own else "")


def table2_display(table2: pd.DataFrame, with_paper: bool = True, reference: str = names.REFERENCE) -> pd.DataFrame:
    """The paper's Table 2 layout: rows are the measures, columns the models."""
    models = list(table2.index)
    paper = PAPER_TABLE2 if with_paper else None
    rows = {}

    def get(frame, m, col):
        return frame.loc[m, col] if frame is not None and m in frame.index else None

    def pv(m, col, kind):
        v = get(paper, m, col)
        return None if paper is None or m not in paper.index else fmt(v, kind)

    def average(m, metric, kind):
        run = with_interval(fmt(table2.loc[m, f"mean_{metric}"], kind), get(table2, m, f"mean_{metric}_ci_low"),
                            get(table2, m, f"mean_{metric}_ci_high"), kind)
        return cell(run, pv(m, f"mean_{metric}", kind))

    rows["average MAE [95 % CI]"] = [average(m, "mae", "mae") for m in models]
    rows["average MAPE (%) [95 % CI]"] = [average(m, "mape", "mape") for m in models]
    for metric in ("mae", "mape"):
        vals = []
        for m in models:
            n = table2.loc[m, f"n_lower_{metric}"]
            if pd.isna(n):
                vals.append("reference" if m == reference else "–")
                continue
            run = f"{int(n)} ({fmt(table2.loc[m, f'pct_lower_{metric}'], 'pct')}%)"
            pn = get(paper, m, f"n_lower_{metric}")
            ppaper = None if paper is None or pn is None or pd.isna(pn) else \
                f"{int(pn)} ({fmt(get(paper, m, f'pct_lower_{metric}'), 'pct')}%)"
            vals.append(run if ppaper is None else f"{run} [paper {ppaper}]")
        rows[f"features with lower {metric.upper()}"] = vals

    def better_worse(m, versus, metric):
        b, w = (get(table2, m, f"n_{d}_than_{versus}_{metric}") for d in ("better", "worse"))
        return "–" if b is None or pd.isna(b) else f"{int(b)} / {int(w)}"

    for metric in ("mae", "mape"):
        col = f"n_significant_{metric}"
        if col in table2.columns:
            rows[f"features significantly different, {metric.upper()}"] = [
                ("reference" if m == reference else "–") if pd.isna(table2.loc[m, col])
                else str(int(table2.loc[m, col])) for m in models]
        if f"n_better_than_reference_{metric}" in table2.columns:
            rows[f"significantly better / worse than the elastic net, {metric.upper()}"] = [
                "reference" if m == reference else better_worse(m, "reference", metric) for m in models]
        if f"n_better_than_mean_{metric}" in table2.columns and null_model.NAME in models:
            rows[f"significantly better / worse than the null, {metric.upper()}"] = [
                "null" if m == null_model.NAME else better_worse(m, "mean", metric) for m in models]
        col = f"n_best_{metric}"
        if col in table2.columns:
            rows[f"features with the lowest {metric.upper()} of all models"] = [
                str(int(table2.loc[m, col])) for m in models]
    out = pd.DataFrame(rows, index=[names.head(m) for m in models]).T
    out.index.name = "measure"
    return out


def _feature_table_display(table: pd.DataFrame, prefix: str, paper: pd.DataFrame | None,
                           paper_sig: frozenset, kind: str, extra: dict) -> pd.DataFrame:
    models = _model_cols(table, prefix)
    out = pd.DataFrame(index=table.index)
    out.insert(0, "feature", [feature_row_label(f, table.loc[f, "unit"] if "unit" in table.columns else None)
                              for f in table.index])
    for m in models:
        sig_col = f"significant_{m}"
        vals = []
        for f in table.index:
            run = fmt(table.loc[f, f"{prefix}{m}"], kind)
            if sig_col in table.columns and bool(table.loc[f, sig_col]):
                run += "*"
            run = with_interval(run, table.loc[f].get(f"{prefix}{m}_ci_low"),
                                table.loc[f].get(f"{prefix}{m}_ci_high"), kind)
            pap = None
            if paper is not None and f in paper.index and f"{prefix}{m}" in paper.columns:
                pap = str(paper.loc[f, f"{prefix}{m}"])
                if m == names.GRID_NETWORK and f in paper_sig:
                    pap += "*"
            vals.append(cell(run, pap))
        out[names.head(m)] = vals
    for col, head in extra.items():
        if col in table.columns:
            vals = []
            for f in table.index:
                pap = None
                if paper is not None and f in paper.index and col in paper.columns:
                    pap = str(paper.loc[f, col])
                vals.append(cell(fmt(table.loc[f, col], "int" if col.startswith("n_") else kind), pap))
            out[head] = vals
    out.index.name = None
    return out.reset_index(drop=True)


def table3_display(table3: pd.DataFrame, with_paper: bool = True) -> pd.DataFrame:
    """Table 3 layout: MAE in original units per feature and model, measured min/max/mean."""
    return _feature_table_display(
        table3, "mae_", PAPER_TABLE3_TEXT if with_paper else None, PAPER_SIGNIFICANT_MAE, "sig",
        {"measured_min": "measured min", "measured_max": "measured max", "measured_mean": "measured mean"})


def table4_display(table4: pd.DataFrame, with_paper: bool = True) -> pd.DataFrame:
    """Table 4 layout: MAPE (%) per feature and model (and patients left out for y = 0)."""
    return _feature_table_display(
        table4, "mape_", PAPER_TABLE4_TEXT if with_paper else None, PAPER_SIGNIFICANT_MAPE, "mape1",
        {"n_patients": "patients in MAPE", "n_zero_excluded": "left out (measured 0)"})


def losses_display(losses: pd.DataFrame, with_paper: bool = True) -> pd.DataFrame:
    """§3.1's final losses: mean over folds of the last epoch's training/validation loss."""
    rows = []
    for m in losses.index:
        paper = PAPER_LOSSES.get(m, {}) if with_paper else {}
        rows.append({
            "model": names.head(m),
            "loss": losses.loc[m, "loss_function"] if "loss_function" in losses.columns else "",
            "folds": fmt(losses.loc[m, "n_folds"], "int"),
            "epochs": fmt(losses.loc[m, "epochs"], "int"),
            "training loss (final epoch)": cell(f"{fmt(losses.loc[m, 'loss'])} ± {fmt(losses.loc[m, 'loss_sd'])}",
                                               f"{paper['loss']:g}" if "loss" in paper else None),
            "validation loss (final epoch)": cell(
                f"{fmt(losses.loc[m, 'val_loss'])} ± {fmt(losses.loc[m, 'val_loss_sd'])}",
                f"{paper['val_loss']:g}" if "val_loss" in paper else None),
            "retrained on all data": cell(fmt(losses.loc[m, "retrained_loss"]) if "retrained_loss" in losses.columns
                                          else "–",
                                          f"{paper['retrained_loss']:g}" if "retrained_loss" in paper else None),
        })
    return pd.DataFrame(rows)


def selected_display(ae_selected: dict, dnn_selected: dict, with_paper: bool = True) -> pd.DataFrame:
    """Selected hyperparameters of the autoencoder and the network (§3.1)."""
    rows = []
    for model, sel, keys in (("autoencoder", ae_selected, ("activation", "learning_rate", "decay")),
                             ("dnn", dnn_selected, ("learning_rate", "decay"))):
        paper = PAPER_SELECTED[model] if with_paper else {}
        for key in keys:
            value = sel.get(key, "–") if sel else "–"
            value = value if isinstance(value, str) else f"{float(value):g}"
            pap = paper.get(key)
            pap = None if pap is None else (pap if isinstance(pap, str) else f"{pap:g}")
            rows.append({"model": "autoencoder" if model == "autoencoder" else
                         "radiogenomic network (pre-training + dropout; shared by all networks)",
                         "hyperparameter": key, "selected": cell(value, pap)})
        if sel and sel.get("epoch_rule") == "best":
            rows.append({"model": rows[-1]["model"], "hyperparameter": "epoch (selection.epoch: best)",
                         "selected": str(sel.get("epoch"))})
        if sel and "mean_val_loss" in sel:
            rows.append({"model": rows[-1]["model"], "hyperparameter": "mean validation loss over folds",
                         "selected": fmt(sel["mean_val_loss"])})
    return pd.DataFrame(rows)


def cohort_display(patients: pd.DataFrame, with_paper: bool = True,
                   n_features: int = len(names.IMAGE_FEATURES), features_table: str | None = None) -> pd.DataFrame:
    """Counts of the cohort table's boolean columns (patients.tsv); ``n_features``: how many
    image features the models predict; ``features_table``: the ``data.features_table`` file
    they come from (``has_segmentation`` then means a row there)."""
    rows = [{"patients": "in the cohort table", "count": str(len(patients))}]
    paper = {"has_expression": PAPER_COHORT["expression_patients"],
             "supervised": PAPER_COHORT["supervised_patients"]} if with_paper else {}
    for col, label in (("has_expression", "with expression"), ("has_segmentation", "with a segmentation" if features_table is None else f"in {features_table}"),
                       ("has_features", f"with all {n_features} features"), ("supervised", "supervised (expression + features)")):
        if col in patients.columns:
            n = int(_as_bool(patients[col]).sum())
            rows.append({"patients": label, "count": cell(str(n), str(paper[col]) if col in paper else None)})
    return pd.DataFrame(rows)


def _as_bool(series: pd.Series) -> pd.Series:
    if series.dtype == bool:
        return series
    return series.astype(str).str.strip().str.lower().isin({"true", "1", "yes"})


# ------------------------------------------------------------------ Markdown
def markdown_table(frame: pd.DataFrame, index: bool = False) -> str:
    """A GitHub-flavoured Markdown table (no external dependency)."""
    frame = frame.reset_index() if index else frame
    def esc(v):
        return str(v).replace("|", "\\|").replace("\n", " ")
    head = "| " + " | ".join(esc(c) for c in frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    body = ["| " + " | ".join(esc(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([head, rule, *body])


def differences_display(differences: pd.DataFrame) -> pd.DataFrame:
    """The differences of the average errors with their intervals, one row per comparison."""
    rows = []
    for r in differences.itertuples(index=False):
        kind = "mae" if r.metric == "mae" else "mape"
        rows.append({"model": names.head(r.model), "minus": names.head(r.versus),
                     "metric": "MAE" if r.metric == "mae" else "MAPE (%)",
                     "difference of the averages": fmt(r.estimate, kind),
                     "95 % CI": "–" if pd.isna(r.ci_low) else f"{fmt(r.ci_low, kind)} to {fmt(r.ci_high, kind)}"})
    return pd.DataFrame(rows)


def verdict_lines(tables: dict, epoch: str = "final") -> list[str]:
    """The verdict (:mod:`radiogenomics.verdict`) of this run's tables."""
    return verdict.verdict_lines(tables["table2"], tables["differences"], n_features=len(tables["table3"]),
                                 epoch=epoch)


def summary_markdown(tables: dict, *, losses: pd.DataFrame | None = None, ae_selected: dict | None = None,
                     dnn_selected: dict | None = None, patients: pd.DataFrame | None = None,
                     title: str = "Radiogenomics: reproduction summary", demo: bool = False,
                     epoch: str = "final", features_table: str | None = None) -> str:
    """``results/summary.md``: the verdict, then this run's Tables 2-4 beside the paper's numbers.

    ``tables`` holds ``table2``, ``table3``, ``table4`` and (for the verdict and the
    differences) ``differences``. The features are the rows of ``table3``; averages over
    them (Table 2, the losses) are shown beside the paper's only when they are the paper's 20.
    ``features_table``: the ``data.features_table`` file, when the features come from one.
    """
    features = list(tables["table3"].index)
    paper_set = names.is_paper_feature_set(features)
    parts = [f"# {title}", ""]
    if demo:
        parts += ["> **Demo run**: a small generated cohort, not TCGA/BraTS. The paper's numbers are "
                  "shown for layout only; they are not expected to match.", ""]
    if "differences" in tables:
        parts += ["## Verdict", "", verdict.verdict_markdown(verdict_lines(tables, epoch)), ""]
    parts += [
        f"Paper: {PAPER_REFERENCE}.", "",
        "Each cell reads **this run (paper)**; `[a, b]` is a 95 % paired-bootstrap interval. `*` marks "
        "a Bonferroni-adjusted paired Wilcoxon p < 0.05 against the elastic net (for the paper: the "
        "features §3.2-3.3 name, network with pre-training and dropout only). The null model predicts "
        "every feature by its training-fold mean. Full-precision numbers are in "
        "`results/evaluation/*.tsv`.", "",
    ]
    if not paper_set:
        parts += [f"The {len(features)} image features are not the paper's 20, so Table 2 and the losses "
                  "are shown without the paper's numbers.", ""]
    if patients is not None:
        parts += ["## Cohort", "", markdown_table(cohort_display(patients, n_features=len(features),
                                                                  features_table=features_table)), ""]
    if ae_selected is not None or dnn_selected is not None:
        parts += ["## Selected hyperparameters (§3.1)", "",
                  markdown_table(selected_display(ae_selected or {}, dnn_selected or {})), ""]
    if losses is not None:
        parts += ["## Final losses of the selected configurations (§3.1, Figure 2)", "",
                  "Mean ± s.d. over the cross-validation folds at the last epoch.", "",
                  markdown_table(losses_display(losses, with_paper=paper_set)), ""]
    parts += ["## Table 2. Overall performance", "",
              f"Average over the {len(features)} features; features with lower error than the elastic net "
              + ("(this run [paper])." if paper_set else "(this run)."), "",
              markdown_table(table2_display(tables["table2"], with_paper=paper_set), index=True), ""]
    if "differences" in tables:
        parts += ["## Differences of the average errors", "",
                  "Model minus the elastic net and model minus the null; negative = lower error.", "",
                  markdown_table(differences_display(tables["differences"])), ""]
    parts += ["## Table 3. MAE in original units", "",
              markdown_table(table3_display(tables["table3"])), ""]
    parts += ["## Table 4. MAPE (%)", "",
              markdown_table(table4_display(tables["table4"])), ""]
    return "\n".join(parts)


# ------------------------------------------------------------ landing page
#: The line of ``workflow/report/workflow.rst`` where the verdict goes.
VERDICT_MARKER = ".. verdict:"

#: How ``workflow/report/workflow.rst`` describes the default targets (the 20 features
#: extracted from the segmentations), and the cohort's patients with all of them; replaced
#: by :func:`landing_page` when the features come from ``data.features_table``.
DEFAULT_TARGETS_TEXT = ("20 morphology features of the enhancing tumour and the\n"
                        "peritumoral edema on MRI")
DEFAULT_COHORT_TEXT = "segmentations and all 20 features"


def landing_page(template: str, lines: list[str], features: list[str] | None = None,
                 features_table: str | None = None) -> str:
    """The report's landing page: ``template`` (the workflow description, a Jinja/rst text)
    with the verdict as a section in place of the comment that starts with
    :data:`VERDICT_MARKER` (and its indented continuation lines).

    ``features_table`` (``data.features_table``'s file, with ``features`` its chosen
    columns): the description of the targets (:data:`DEFAULT_TARGETS_TEXT`,
    :data:`DEFAULT_COHORT_TEXT`) says so instead of the 20 extracted features."""
    if features_table is not None:
        n = len(features or [])
        for default, text in ((DEFAULT_TARGETS_TEXT, f"the {n} image features of\n{features_table} "
                               "(data.features_table)"),
                              (DEFAULT_COHORT_TEXT, f"all {n} image features")):
            if default not in template:
                raise ValueError(f"report template: no text {default!r} to describe data.features_table")
            template = template.replace(default, text)
    out, skipping, placed = [], False, False
    section = ["Verdict", "-------", "", verdict.verdict_rst(lines), ""]
    for line in template.splitlines():
        if line.startswith(VERDICT_MARKER):
            out += section
            skipping = placed = True
            continue
        if skipping and line.startswith("   "):
            continue
        skipping = False
        out.append(line)
    if not placed:
        raise ValueError(f"report template: no line starting with {VERDICT_MARKER!r}")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------- HTML
_CSS = """
body { font-family: -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif; font-size: 14px;
       margin: 1em; color: #222; }
h1 { font-size: 1.3em; } h2 { font-size: 1.1em; margin-top: 1.4em; }
table { border-collapse: collapse; margin: 0.5em 0 1em 0; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: right; white-space: nowrap; }
th { background: #f2f2f2; } td:first-child, th:first-child { text-align: left; }
p.note { color: #555; max-width: 60em; }
"""


def frame_html(frame: pd.DataFrame, index: bool = False) -> str:
    return frame.to_html(index=index, escape=True, border=0, na_rep="–")


def html_page(title: str, sections, notes: str | None = None) -> str:
    """A self-contained HTML page: ``sections`` is a list of (heading, frame or raw HTML)."""
    body = [f"<h1>{html.escape(title)}</h1>"]
    if notes:
        body.append(f"<p class='note'>{html.escape(notes)}</p>")
    for heading, content in sections:
        if heading:
            body.append(f"<h2>{html.escape(heading)}</h2>")
        if isinstance(content, pd.DataFrame):
            frame = content.reset_index() if content.index.name is not None else content
            body.append(frame_html(frame, index=False))
        else:
            body.append(str(content))
    return ("<!DOCTYPE html>\n<html><head><meta charset='utf-8'>"
            f"<title>{html.escape(title)}</title><style>{_CSS}</style></head>\n<body>\n"
            + "\n".join(body) + "\n</body></html>\n")


CELL_NOTE = ("Each cell: this run [95 % paired-bootstrap interval] (paper). * = Bonferroni-adjusted "
             "paired Wilcoxon p < 0.05 against the elastic net (paper: network with pre-training and "
             "dropout, as named in §3.2-3.3). The null model predicts each feature by its "
             "training-fold mean. "
             "Paper: " + PAPER_REFERENCE + ".")
