"""Summary, report pages and the Snakemake report.

- The paper's hard-coded numbers are internally consistent (Table 2's averages and
  counts follow from Tables 3-4 within rounding), so a transcription error shows up.
- ``summary.md`` and the HTML pages hold this run's numbers beside the paper's.
- The evaluation rules run on made-up inputs in the contracted formats (a Snakefile that
  includes only common.smk and evaluation.smk) and ``snakemake --report`` builds a
  self-contained report with every table and figure and a caption each.
- End to end: the tiny demo workflow (``demo_run``) produces the report.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import REPO, snakemake, tiny_config, workflow_dir
from radiogenomics import evaluation, io, names, summary, versions

FEATURES = list(names.IMAGE_FEATURES)
NETWORKS = ["scratch", "pretrain", "pretrain_dropout"]

REPORT_OUTPUTS = [
    "results/evaluation/per_feature.tsv",
    "results/evaluation/table2.tsv",
    "results/evaluation/table3.tsv",
    "results/evaluation/table4.tsv",
    "results/evaluation/learning_curves.tsv",
    "results/figures/figure2_learning_curves.png",
    "results/figures/figure3_errors.png",
    "results/summary.md",
    "results/report/table2.html",
    "results/report/table3.html",
    "results/report/table4.html",
    "results/report/hyperparameters.html",
    "results/report/cohort.html",
    "results/report/versions.html",
]


# ------------------------------------------------------------ paper numbers
def test_paper_table2_averages_follow_from_tables_3_and_4():
    t4 = summary.PAPER_TABLE4
    for model in summary.MODELS:
        # Table 4 is rounded to 0.1 %, Table 2 to 0.01 %: the mean agrees within 0.05.
        assert abs(t4[f"mape_{model}"].mean() - summary.PAPER_TABLE2.loc[model, "mean_mape"]) < 0.05, model


def test_paper_counts_of_lower_mape_follow_from_table4():
    t4 = summary.PAPER_TABLE4
    for model in names.NETWORKS:
        lower = int((t4[f"mape_{model}"] < t4["mape_elastic_net"]).sum())
        assert lower == summary.PAPER_TABLE2.loc[model, "n_lower_mape"], model
        assert summary.PAPER_TABLE2.loc[model, "pct_lower_mape"] == 5 * lower


def test_paper_tables_cover_the_20_features_in_order():
    assert list(summary.PAPER_TABLE3.index) == FEATURES
    assert list(summary.PAPER_TABLE4.index) == FEATURES
    # measured min <= mean <= max in every row of Table 3
    t3 = summary.PAPER_TABLE3
    assert (t3["measured_min"] <= t3["measured_mean"]).all()
    assert (t3["measured_mean"] <= t3["measured_max"]).all()
    pd.testing.assert_frame_equal(summary.PAPER_TABLE3_TEXT.astype(float), t3)
    pd.testing.assert_frame_equal(summary.PAPER_TABLE4_TEXT.astype(float), summary.PAPER_TABLE4)
    assert summary.PAPER_TABLE3_TEXT.loc["enhancing_volume", "measured_min"] == "1.0"  # as printed
    assert summary.PAPER_SIGNIFICANT_MAE <= set(FEATURES)
    assert summary.PAPER_SIGNIFICANT_MAPE <= set(FEATURES)


def test_fmt_matches_the_papers_style():
    assert summary.fmt(16.3) == "16.3"
    assert summary.fmt(0.13) == "0.130"
    assert summary.fmt(111.24) == "111.2"
    assert summary.fmt(0.004213) == "0.00421"
    assert summary.fmt(float("nan")) == "–"
    assert summary.fmt(0.13424, "mae") == "0.1342"
    assert summary.fmt(52.531, "mape") == "52.53"


# ------------------------------------------------------------- made-up inputs
def _fake_evaluation(seed=0, n=24):
    rng = np.random.default_rng(seed)
    patients = [f"TCGA-02-{i:04d}" for i in range(n)]
    measured = pd.DataFrame(rng.uniform(0.05, 1.0, (n, 20)), index=patients, columns=FEATURES)
    measured.iloc[:, 0] /= measured.iloc[:, 0].max()
    measured.iloc[3, 5] = 0.0
    preds = {m: (measured + rng.normal(0, s, measured.shape)).clip(lower=0)
             for m, s in [("scratch", 0.15), ("pretrain", 0.18), ("pretrain_dropout", 0.08), ("elastic_net", 0.2)]}
    scale = pd.Series(rng.uniform(1, 200, 20), index=FEATURES)
    return measured, preds, scale


def test_summary_markdown_has_run_and_paper_numbers():
    measured, preds, scale = _fake_evaluation()
    tables = evaluation.evaluate(measured, preds, scale)
    text = summary.summary_markdown(tables, title="T", demo=True)
    assert text.startswith("# T")
    for heading in ("Table 2", "Table 3", "Table 4"):
        assert heading in text
    # run value of Table 2 beside the paper's
    mean_mae = tables["table2"].loc["pretrain_dropout", "mean_mae"]
    assert f"{mean_mae:.4f} (0.1342)" in text
    assert "52.53" in text and "doi:10.1109/ISBI.2018.8363864" in text
    # one Markdown row per feature in Tables 3 and 4 (+ header and rule)
    t3 = text.split("## Table 3")[1].split("## Table 4")[0]
    assert len([ln for ln in t3.splitlines() if ln.startswith("|")]) == 22
    # the paper's significant feature is marked on the paper value
    assert "(13.8*)" in t3


def test_significance_marker_on_run_values():
    measured, preds, scale = _fake_evaluation()
    tables = evaluation.evaluate(measured, preds, scale)
    disp = summary.table3_display(tables["table3"], with_paper=False)
    sig = tables["table3"]["significant_pretrain_dropout"].to_numpy()
    col = disp[names.head("pretrain_dropout")]
    assert [v.endswith("*") for v in col] == list(sig)
    assert sig.any(), "the made-up network is much better: some features must be significant"
    assert not any(v.endswith("*") for v in disp[names.head("elastic_net")])


def test_html_page_is_self_contained():
    page = summary.html_page("T <x>", [("h", pd.DataFrame({"a": [1]})), (None, "<p>raw</p>")], "note & more")
    assert page.startswith("<!DOCTYPE html>")
    assert "T &lt;x&gt;" in page and "note &amp; more" in page and "<table" in page
    assert "http" not in page  # no external resources


def test_versions_table(tmp_path):
    env = tmp_path / "core.yaml"
    env.write_text("dependencies:\n  - python=3.11\n  - pip:\n      - numpy==1.2.3  # pinned\n")
    table = versions.software_versions([env], packages=("numpy", "no-such-package-xyz"), extra={"snakemake": "9"})
    assert table.loc["numpy", "env:core"] == "1.2.3"
    assert table.loc["python", "env:core"] == "3.11"
    assert table.loc["no-such-package-xyz", "installed"] == "not installed"
    assert table.loc["snakemake", "installed"] == "9"


# ------------------------------------------------------- rules on fake inputs
def write_fake_inputs(root: Path, cfg: dict, seed: int = 0) -> None:
    """Every file the evaluation rules read, made up, in the contracted formats."""
    rng = np.random.default_rng(seed)
    k = int(cfg["cv"]["folds"])
    n = 18
    patients = [f"TCGA-02-{i:04d}" for i in range(n)]
    idx = pd.Index(patients, name="patient")
    original = pd.DataFrame(rng.uniform(1, 100, (n, 20)), index=idx, columns=FEATURES)
    original.iloc[2, 3] = 0.0
    scale = original.max()
    scaled = original / scale
    io.write_tsv(scaled, root / "results/features/features_scaled.tsv")
    io.write_tsv(pd.DataFrame({"scale": scale, "unit": [names.unit(f) for f in FEATURES]},
                              index=pd.Index(FEATURES, name="feature")),
                 root / "results/features/scale_factors.tsv")
    folds = pd.Series([i % k + 1 for i in range(n)], index=idx, name="fold")
    io.write_tsv(folds.to_frame(), root / "results/cohort/folds.tsv")
    cohort = pd.DataFrame({"has_expression": True, "has_segmentation": True, "has_features": True,
                           "supervised": True, "note": ""}, index=idx)
    extra = pd.DataFrame({"has_expression": [True, True], "has_segmentation": [False, True],
                          "has_features": [False, False], "supervised": [False, False],
                          "note": ["no segmentation", "edema region missing"]},
                         index=pd.Index(["TCGA-99-0001", "TCGA-99-0002"], name="patient"))
    io.write_tsv(pd.concat([cohort, extra]), root / "results/cohort/patients.tsv")
    io.write_tsv(pd.DataFrame({"count": [2, 1]}, index=pd.Index(["non_primary_samples", "duplicate_aliquots"],
                                                               name="item")),
                 root / "results/expression/qc.tsv")

    def curves(base):
        rows = [(f, e, base / e + 0.05, base / e + 0.1 + 0.01 * f)
                for f in range(1, k + 1) for e in range(1, int(cfg["dnn"]["epochs"]) + 1)]
        return pd.DataFrame(rows, columns=["fold", "epoch", "loss", "val_loss"])

    for v, noise in zip(NETWORKS, (0.1, 0.12, 0.05)):
        io.write_tsv((scaled + rng.normal(0, noise, scaled.shape)).clip(lower=0), root / f"results/dnn/{v}/oof.tsv")
        io.write_tsv(curves(0.3), root / f"results/dnn/{v}/curves.tsv", index=False)
    io.write_tsv((scaled + rng.normal(0, 0.15, scaled.shape)).clip(lower=0), root / "results/baseline/oof.tsv")
    io.write_tsv(pd.DataFrame({"alpha": 0.5, "lambda": 0.01, "r2": 0.1, "n_nonzero": 7},
                              index=pd.Index(FEATURES, name="feature")), root / "results/baseline/selection.tsv")
    g = cfg["autoencoder"]["grid"]
    ae_configs = [f"{a}_lr{float(lr):g}_decay{float(d):g}" for a in g["activation"]
                  for lr in g["learning_rate"] for d in g["decay"]]
    epochs = int(cfg["autoencoder"]["epochs"])
    for c in ae_configs:
        for f in range(1, k + 1):
            io.write_tsv(pd.DataFrame({"epoch": range(1, epochs + 1), "loss": np.linspace(0.1, 0.05, epochs),
                                       "val_loss": np.linspace(0.12, 0.08, epochs) + 0.01 * f}),
                         root / f"results/autoencoder/cv/{c}/fold{f}/history.tsv", index=False)
    io.write_tsv(pd.DataFrame({"epoch": range(1, epochs + 1), "loss": np.linspace(0.1, 0.04, epochs),
                               "val_loss": np.nan}), root / "results/autoencoder/final/history.tsv", index=False)
    io.write_json({"config": ae_configs[0], "activation": "tanh", "learning_rate": 0.05, "decay": 1e-5,
                   "mean_val_loss": 0.1}, root / "results/autoencoder/selected.json")
    io.write_tsv(pd.DataFrame({"activation": "tanh", "learning_rate": 0.05, "decay": 1e-5, "mean_val_loss": 0.1,
                               "rank": 1, "selected": True}, index=pd.Index(ae_configs, name="config")),
                 root / "results/autoencoder/selection.tsv")
    io.write_json({"config": "lr0.05_decay0.0001", "learning_rate": 0.05, "decay": 1e-4, "mean_val_loss": 0.2},
                  root / "results/dnn/selected.json")
    io.write_tsv(pd.DataFrame({"learning_rate": [0.05, 0.1], "decay": 1e-4, "mean_val_loss": [0.2, 0.3],
                               "rank": [1, 2], "selected": [True, False]},
                              index=pd.Index(["lr0.05_decay0.0001", "lr0.1_decay0.0001"], name="config")),
                 root / "results/dnn/selection.tsv")


EVAL_SNAKEFILE = """\
import os
import sys

# this checkout's package first, here and in the rule scripts (as the Snakefile does), not
# an installed copy
_PKG_DIR = os.path.join(workflow.basedir, "scripts")
sys.path.insert(0, _PKG_DIR)
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (_PKG_DIR, os.environ.get("PYTHONPATH", "")) if p)

configfile: "config/config.yaml"

include: "rules/common.smk"
include: "rules/evaluation.smk"

report: os.path.abspath(LANDING_PAGE) if os.path.exists(LANDING_PAGE) else "report/workflow.rst"

rule all:
    input:
        ALL_TARGETS,
    default_target: True
"""


@pytest.fixture(scope="module")
def fake_run(tmp_path_factory) -> Path:
    """The evaluation rules alone, run on made-up inputs, and their report."""
    cfg = tiny_config()
    root = workflow_dir(tmp_path_factory.mktemp("evaluation_only"), cfg)
    (root / "workflow" / "Snakefile.evaluation").write_text(EVAL_SNAKEFILE)
    write_fake_inputs(root, cfg)
    snakemake(root, "-s", "workflow/Snakefile.evaluation")
    snakemake(root, "-s", "workflow/Snakefile.evaluation", "--report", "results/report.html")
    return root


def _check_report(root: Path) -> None:
    for rel in REPORT_OUTPUTS:
        path = root / rel
        assert path.is_file() and path.stat().st_size > 0, rel
    html = (root / "results" / "report.html").read_text()
    assert len(html) > 100_000
    # every output flagged for the report is embedded, with its caption
    for name in ("figure2_learning_curves.png", "figure3_errors.png", "table2.html", "table3.html",
                 "table4.html", "hyperparameters.html", "cohort.html", "versions.html", "summary.md",
                 "per_feature.tsv", "table2.tsv"):
        assert name in html, name
    for phrase in ("Table 2. Overall performance", "Table 3. MAE in original units",
                   "Figure 2. Learning curves", "Network vs elastic-net error per image feature",
                   "Selected hyperparameters of every model", "Cohort summary", "Software versions"):
        assert phrase in html, phrase
    # self-contained: results are data URIs, no links to result files on disk
    assert "data:image/png" in html or "data:image/png;" in html.replace("charset=utf8;", "")
    assert 'src="results/' not in html


@pytest.mark.workflow
def test_evaluation_rules_and_report_on_made_up_inputs(fake_run):
    root = fake_run
    _check_report(root)
    t2 = io.read_tsv(root / "results/evaluation/table2.tsv")
    assert list(t2.index) == [*NETWORKS, "elastic_net", "mean"]
    assert t2[["mean_mae_ci_low", "mean_mae_ci_high"]].notna().all().all()
    t4 = io.read_tsv(root / "results/evaluation/table4.tsv")
    assert t4.loc[FEATURES[3], "n_zero_excluded"] == 1
    md = (root / "results/summary.md").read_text()
    assert "Demo run" in md and "(0.1342)" in md
    # the verdict comes first, in the summary and on the report's landing page
    assert md.index("## Verdict") < md.index("## Table 2")
    assert "Lowest average MAE" in md
    html = (root / "results/report.html").read_text()
    assert "Verdict" in html and "Lowest average MAE" in html
    diffs = io.read_tsv(root / "results/evaluation/differences.tsv", index_col=None)
    assert list(diffs.columns) == ["model", "versus", "metric", "estimate", "ci_low", "ci_high"]
    assert len(diffs) == 2 * (3 + 4)  # 3 networks - elastic net, 4 models - null; MAE and MAPE
    models = (root / "results/report/hyperparameters.html").read_text()
    assert "lr0.05_decay0.0001" in models and "tanh" in models and "Elastic net" in models
    cohort = (root / "results/report/cohort.html").read_text()
    assert "edema region missing" in cohort and "non_primary_samples" in cohort
    losses = io.read_tsv(root / "results/evaluation/learning_curves.tsv")
    assert list(losses.index) == [*NETWORKS, "mean", "autoencoder"]
    assert losses.loc["autoencoder", "retrained_loss"] == pytest.approx(0.04)


@pytest.mark.workflow
def test_demo_run_produces_the_report(demo_run):
    """End to end: the whole tiny workflow, then ``snakemake --report``."""
    report = demo_run / "results" / "report.html"
    if report.exists():
        report.unlink()
    snakemake(demo_run, "--report", "results/report.html")
    _check_report(demo_run)
    per_feature = io.read_tsv(demo_run / "results/evaluation/per_feature.tsv", index_col=None)
    assert len(per_feature) == 5 * 20  # 3 networks, the elastic net, the null model
    assert per_feature["mae"].notna().all()


# ----------------------------------------------------------------- the verdict
def _verdict_tables(network_noise, reference_noise, seed=0, n=40):
    rng = np.random.default_rng(seed)
    patients = [f"P{i:02d}" for i in range(n)]
    measured = pd.DataFrame(rng.uniform(0.2, 1.0, (n, 20)), index=patients, columns=FEATURES)
    preds = {"pretrain_dropout": measured + rng.normal(0, network_noise, measured.shape),
             "elastic_net": measured + rng.normal(0, reference_noise, measured.shape)}
    folds = pd.Series(np.arange(n) % 4 + 1, index=patients)
    return evaluation.evaluate(measured, preds, pd.Series(1.0, index=FEATURES), folds=folds,
                               n_resamples=200, seed=1)


def test_verdict_when_no_network_beats_the_null():
    # the network's noise (s.d. 0.5) is far above the features' spread (s.d. 0.23): it is
    # worse than a constant; the elastic net (s.d. 0.05) is far better than both
    tables = _verdict_tables(network_noise=0.5, reference_noise=0.05)
    t2 = tables["table2"]
    assert t2.loc["pretrain_dropout", "n_better_than_mean_mae"] == 0
    assert t2.loc["pretrain_dropout", "n_better_than_mean_mape"] == 0
    lines = summary.verdict_lines(tables)
    text = "\n".join(lines)
    assert "No network predicts better than a constant" in text
    assert lines[0].startswith("Lowest average MAE: **elastic net**")
    mae = t2.loc["elastic_net", "mean_mae"]
    assert f"{mae:.4f} (95 % CI {t2.loc['elastic_net', 'mean_mae_ci_low']:.4f}" in lines[0]
    worse = int(t2.loc["pretrain_dropout", "n_worse_than_reference_mae"])
    assert f"against the elastic net, significantly better on 0 and worse on {worse} of 20 features" in text
    assert "No network is significantly better than the elastic net on any feature." in text
    md = summary.summary_markdown(tables, title="T")
    assert md.index("## Verdict") < md.index("## Table 2") and "No network predicts better" in md
    page = summary.landing_page("Title\n=====\n\nText.\n\n.. verdict: a comment\n   more comment\n\nEnd.\n",
                                lines)
    assert page.startswith("Title\n=====\n\nText.\n\nVerdict\n-------\n")
    assert "more comment" not in page and page.rstrip().endswith("End.")


def test_verdict_when_the_network_beats_both():
    tables = _verdict_tables(network_noise=0.02, reference_noise=0.4)
    text = "\n".join(summary.verdict_lines(tables))
    assert "No network predicts better than a constant" not in text
    assert "Networks significantly better than the null model on at least one feature: network with " \
        "pre-training and dropout." in text
    assert "against the elastic net, significantly better on 20 and worse on 0 of 20 features" in text
    assert "The elastic net is not significantly better than the null model on any feature." in text
    assert "optimistic" not in text
    assert "optimistic" in "\n".join(summary.verdict_lines(tables, epoch="best"))
