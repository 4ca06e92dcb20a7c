"""End-to-end: data.features_table replaces the extraction, and every stage follows its columns.

The tiny workflow (tests/conftest.py) on a merged expression matrix and a PyRadiomics-style
batch output with 7 shape columns (plus the non-feature columns such a file has): no
segmentation is read, and the networks, the elastic net, Tables 2-4, per_feature.tsv,
summary.md, the associations and the report cover exactly those 7 columns.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import snakemake, tiny_config, workflow_dir
from radiogenomics import io

pytestmark = pytest.mark.workflow

COLUMNS = ["original_shape_Elongation", "original_shape_Flatness", "original_shape_MeshVolume",
           "original_shape_Sphericity", "original_shape_SurfaceArea", "original_shape_Maximum3DDiameter",
           "original_shape_MajorAxisLength"]
N_EXPRESSION, N_IMAGED, N_GENES = 36, 27, 120


def _inputs(root):
    """Expression of 36 patients (a genes x samples matrix); the features table of 27 of them
    (one with an empty cell, one without expression), 7 columns driven by 10 genes."""
    rng = np.random.default_rng(11)
    patients = [f"TCGA-06-{i:04d}" for i in range(1, N_EXPRESSION + 1)]
    genes = [f"GENE{i}" for i in range(N_GENES)]
    expr = rng.normal(6.0, 1.0, (N_GENES, N_EXPRESSION))
    lines = ["gene\t" + "\t".join(f"{p}-01A-01R-1849-01" for p in patients)]
    lines += [g + "\t" + "\t".join(f"{v:.5f}" for v in row) for g, row in zip(genes, expr)]
    (root / "expression.tsv").write_text("\n".join(lines) + "\n")
    signal = (expr[:10].T - 6.0) @ rng.normal(0, 0.3, (10, len(COLUMNS)))
    values = np.exp(signal) * rng.uniform(0.5, 50.0, len(COLUMNS))
    imaged = patients[:N_IMAGED - 1] + ["TCGA-06-9999"]  # the last one has no expression profile
    rows = [",".join(["ID", "Image", "Mask", "diagnostics_Versions_PyRadiomics", *COLUMNS])]
    for i, p in enumerate(imaged):
        cells = [f"{v:.6g}" for v in values[i % N_EXPRESSION]]
        if i == 3:
            cells[1] = ""  # a missing value: left out of the supervised models
        rows.append(",".join([p, f"img/{p}.nii.gz", f"seg/{p}.nii.gz", "v3.1.0", *cells]))
    (root / "pyradiomics_batch.csv").write_text("\n".join(rows) + "\n")
    return patients, imaged


@pytest.fixture(scope="module")
def table_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("features_table") / "run"
    root.mkdir(parents=True)
    _, imaged = _inputs(root)
    config = tiny_config(
        demo={"enabled": False},
        data={"expression": "expression.tsv", "segmentations": "no-segmentations-here",
              "features_table": {"file": "pyradiomics_batch.csv", "patient_column": "ID",
                                 "regex": "^original_shape_",
                                 "units": {"original_shape_MeshVolume": "mm³",
                                           "original_shape_SurfaceArea": "mm²"}}},
    )
    workflow_dir(root, config)
    proc = snakemake(root)
    snakemake(root, "--report", "results/report.html")
    return root, imaged, proc


def test_no_segmentation_is_read(table_run):
    root, _, proc = table_run
    assert not (root / "results/features/segmentation_files.tsv").exists()
    assert not (root / "results/logs/patient_features").exists()
    assert "rule features_table" in proc.stdout + proc.stderr
    again = snakemake(root, "--dry-run")
    assert "Nothing to be done" in again.stdout + again.stderr


def test_features_and_cohort_follow_the_table(table_run):
    root, imaged, _ = table_run
    features = io.read_tsv(root / "results/features/features.tsv")
    assert list(features.columns) == COLUMNS
    assert imaged[3] not in features.index and len(features) == N_IMAGED - 1
    missing = io.read_tsv(root / "results/features/missing.tsv", dtype=str, keep_default_na=False)
    assert list(missing.index) == [imaged[3]]
    assert missing.loc[imaged[3], "missing_features"] == "original_shape_Flatness"
    factors = io.read_tsv(root / "results/features/scale_factors.tsv", keep_default_na=False)
    assert list(factors.index) == COLUMNS
    assert factors["unit"].to_dict() == {c: {"original_shape_MeshVolume": "mm³",
                                             "original_shape_SurfaceArea": "mm²"}.get(c, "") for c in COLUMNS}
    patients = io.read_tsv(root / "results/cohort/patients.tsv", keep_default_na=False)
    supervised = patients.index[patients["supervised"].astype(str) == "True"]
    assert len(supervised) == N_IMAGED - 2  # one without a value, one without expression
    assert set(patients.loc[supervised, "note"]) == {"supervised: expression and all 7 image features"}
    assert "missing value of original_shape_Flatness" in patients.loc[imaged[3], "note"]
    assert patients.loc["TCGA-06-0036", "note"] == "not in pyradiomics_batch.csv"
    scaled = io.read_tsv(root / "results/features/features_scaled.tsv")
    assert list(scaled.columns) == COLUMNS and sorted(scaled.index) == sorted(supervised)


def test_models_predict_exactly_the_columns(table_run):
    root, _, _ = table_run
    for variant in ("scratch", "pretrain", "pretrain_dropout"):
        oof = io.read_tsv(root / f"results/dnn/{variant}/oof.tsv")
        assert list(oof.columns) == COLUMNS, variant
    baseline = io.read_tsv(root / "results/baseline/oof.tsv")
    assert list(baseline.columns) == COLUMNS
    assert list(io.read_tsv(root / "results/baseline/selection.tsv").index) == COLUMNS
    assert sorted(p.name for p in (root / "results/baseline").iterdir() if p.is_dir()) == sorted(COLUMNS)
    assert list(io.read_tsv(root / "results/associations/attributions.tsv").columns) == COLUMNS
    assert sorted(io.read_tsv(root / "results/associations/heatmap_matrix.tsv").columns) == sorted(COLUMNS)


def test_tables_summary_and_report_cover_exactly_the_columns(table_run):
    root, _, _ = table_run
    per_feature = io.read_tsv(root / "results/evaluation/per_feature.tsv", index_col=None)
    assert sorted(set(per_feature["feature"])) == sorted(COLUMNS)
    assert len(per_feature) == 5 * len(COLUMNS)  # 3 networks, the elastic net, the null model
    t2 = io.read_tsv(root / "results/evaluation/table2.tsv")
    assert list(t2.index) == ["scratch", "pretrain", "pretrain_dropout", "elastic_net", "mean"]
    assert t2.loc["pretrain_dropout", "n_best_mae"] <= len(COLUMNS)
    for name in ("table3", "table4"):
        table = io.read_tsv(root / f"results/evaluation/{name}.tsv", keep_default_na=False)
        assert list(table.index) == COLUMNS, name
        assert list(table["label"]) == COLUMNS and set(table["region"]) == {""}
    t3 = io.read_tsv(root / "results/evaluation/table3.tsv", keep_default_na=False)
    assert t3.loc["original_shape_MeshVolume", "unit"] == "mm³"
    md = (root / "results/summary.md").read_text()
    assert "Average over the 7 features" in md and "20 features" not in md
    assert "with all 7 features" in md and "of 7 features by MAE" in md
    assert "| in pyradiomics_batch.csv | 27 |" in md and "with a segmentation" not in md
    table3_md = md.split("## Table 3")[1].split("## Table 4")[0]
    rows = [ln for ln in table3_md.splitlines() if ln.startswith("| original_shape_")]
    assert len(rows) == len(COLUMNS) and rows[2].startswith("| original_shape_MeshVolume (mm³) |")
    assert "enhancing" not in md
    landing = (root / "results/report/workflow.rst").read_text()
    assert "predicts the 7 image features of\npyradiomics_batch.csv (data.features_table)" in landing
    assert "20 morphology" not in landing
    for page in ("table3", "table4"):
        html = (root / f"results/report/{page}.html").read_text()
        assert all(c in html for c in COLUMNS) and "enhancing" not in html
    report = (root / "results/report.html").read_text()
    assert "Bonferroni-adjusted over the 7 features" in report
    assert "columns of pyradiomics_batch.csv" in report
