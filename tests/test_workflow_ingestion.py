"""End to end: the demo cohort checkpoint and the expression rule, through Snakemake."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import snakemake, tiny_config, workflow_dir
from radiogenomics.expression import load_expression, standardize

pytestmark = pytest.mark.workflow

TARGET = "results/expression/expression.tsv"


def test_ingestion_of_the_generated_cohort(tmp_path):
    root = workflow_dir(tmp_path / "run", tiny_config())
    snakemake(root, TARGET)
    demo_cfg = tiny_config()["demo"]
    expr = pd.read_csv(root / TARGET, sep="\t", index_col=0)
    assert expr.index.name == "patient"
    assert expr.shape == (demo_cfg["n_patients"], demo_cfg["n_genes"])
    assert expr.index.is_monotonic_increasing and expr.index.str.fullmatch(r"TCGA-\d{2}-\d{4}").all()
    # range standardisation: mean 0 and max - min = 1 for every gene
    np.testing.assert_allclose(expr.mean(), 0.0, atol=1e-6)
    np.testing.assert_allclose(expr.max() - expr.min(), 1.0, atol=1e-6)
    # the same numbers as the package gives on the generated files
    direct = standardize(load_expression(root / "resources/demo/expression"))
    np.testing.assert_allclose(expr.to_numpy(), direct.to_numpy(), rtol=1e-6, atol=1e-7)
    qc = pd.read_csv(root / "results/expression/qc.tsv", sep="\t", index_col=0, keep_default_na=False)
    assert qc.loc["input", "count"] == (demo_cfg["n_patients"] + demo_cfg["n_duplicate_aliquots"]
                                        + demo_cfg["n_non_primary"])
    assert qc.loc["dropped_sample_type", "count"] == demo_cfg["n_non_primary"]
    assert qc.loc["dropped_duplicate_aliquots", "count"] == demo_cfg["n_duplicate_aliquots"]
    # the checkpoint's other outputs
    # the TCIA archive's layout: one folder per imaged patient
    folders = [d for d in (root / "resources/demo/segmentations").iterdir() if d.is_dir()]
    assert len(folders) == demo_cfg["n_imaged"]
    assert all(list(d.glob(f"{d.name}_*_GlistrBoost*.nii.gz")) for d in folders)
    assert (root / "resources/demo/truth/signal_genes.tsv").exists()
    assert (root / "results/logs/expression.log").exists()


def test_bad_level3_file_stops_the_rule_and_writes_nothing(tmp_path):
    data = tmp_path / "data"
    (data / "expression").mkdir(parents=True)
    (data / "segmentations").mkdir()
    for i, v in enumerate(([1.0, 2.0], [2.0, 3.0])):
        (data / "expression" / f"f{i}.txt").write_text(
            f"Hybridization REF\tTCGA-02-000{i}-01A-01R-0177-01\nComposite Element REF\tSignal\n"
            f"EGFR\t{v[0]}\nPTEN\t{v[1]}\n")
    bad = data / "expression" / "f9.txt"
    bad.write_text("Hybridization REF\tTCGA-02-0009-01A-01R-0177-01\nComposite Element REF\tSignal\n"
                   "EGFR\t1.0\nPTEN\tn/a?\n")
    cfg = tiny_config(demo={"enabled": False},
                      data={"expression": str(data / "expression"), "segmentations": str(data / "segmentations")})
    root = workflow_dir(tmp_path / "run", cfg)
    proc = snakemake(root, TARGET, check=False)
    assert proc.returncode != 0
    log = (root / "results/logs/expression.log").read_text()
    assert f"{bad}:4: non-numeric value 'n/a?'" in log
    assert not (root / "results/expression/expression.tsv").exists()
    assert not (root / "results/expression/qc.tsv").exists()


def test_demo_with_foreign_data_paths_is_refused(tmp_path):
    cfg = tiny_config(data={"expression": "/data/tcga/expression", "segmentations": "resources/demo/segmentations"})
    root = workflow_dir(tmp_path / "run", cfg)
    proc = snakemake(root, TARGET, "-n", check=False)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert "data.expression" in out and "demo.enabled" in out
    assert not Path(root / "resources").exists()


def test_cohort_tables_of_the_demo_run(demo_run):
    """The cohort rule's manifest and folds agree with the expression and feature tables."""
    cfg = tiny_config()
    expr = pd.read_csv(demo_run / TARGET, sep="\t", index_col=0, usecols=[0])
    feats = pd.read_csv(demo_run / "results/features/features.tsv", sep="\t", index_col=0)
    manifest = pd.read_csv(demo_run / "results/cohort/patients.tsv", sep="\t", index_col=0,
                           keep_default_na=False)
    assert list(manifest.columns) == ["has_expression", "has_segmentation", "has_features", "supervised", "note"]
    assert set(manifest.index[manifest["has_expression"]]) == set(expr.index)
    assert manifest["has_segmentation"].sum() == cfg["demo"]["n_imaged"]
    complete = set(feats.index[feats.notna().all(axis=1)])
    assert set(manifest.index[manifest["supervised"]]) == complete & set(expr.index)
    folds = pd.read_csv(demo_run / "results/cohort/folds.tsv", sep="\t", index_col=0)
    assert set(folds.index) == set(manifest.index[manifest["supervised"]])
    assert set(folds["fold"]) == set(range(1, cfg["cv"]["folds"] + 1))
    ae = pd.read_csv(demo_run / "results/autoencoder/folds.tsv", sep="\t", index_col=0)
    assert set(ae.index) == set(expr.index)
