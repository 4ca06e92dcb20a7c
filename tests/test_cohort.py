"""Cohort manifest and fold assignments (rule cohort)."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

from radiogenomics import cohort
from radiogenomics.errors import RadiogenomicsError
from radiogenomics.folds import assign_folds
from radiogenomics.names import IMAGE_FEATURES
from radiogenomics.seeds import derive


def features_frame(rows: dict[str, dict]) -> pd.DataFrame:
    """Patients x 20 features: 1.0 everywhere, NaN for the regions named in ``rows[p]['missing']``."""
    data = {}
    for patient, spec in rows.items():
        values = {f: 1.0 + i for i, f in enumerate(IMAGE_FEATURES)}
        for region in spec.get("missing", ()):
            for f in IMAGE_FEATURES:
                if f.startswith(region + "_"):
                    values[f] = np.nan
        data[patient] = values
    return pd.DataFrame.from_dict(data, orient="index").rename_axis("patient")


def test_manifest_flags_and_notes():
    feats = features_frame({"P1": {}, "P3": {}, "P4": {"missing": ["edema"]}, "P5": {"missing": ["enhancing"]}})
    manifest = cohort.build_manifest(["P1", "P2", "P4", "P5"], feats)
    assert list(manifest.index) == ["P1", "P2", "P3", "P4", "P5"]
    assert manifest.index.name == "patient"
    assert list(manifest.columns) == ["has_expression", "has_segmentation", "has_features", "supervised", "note"]
    expected = {
        "P1": (True, True, True, True),
        "P2": (True, False, False, False),
        "P3": (False, True, True, False),
        "P4": (True, True, False, False),
        "P5": (True, True, False, False),
    }
    for p, flags in expected.items():
        assert tuple(manifest.loc[p, ["has_expression", "has_segmentation", "has_features", "supervised"]]) == flags
    assert manifest.loc["P1", "note"] == "supervised: expression and all 20 image features"
    assert manifest.loc["P2", "note"] == "no segmentation"
    assert manifest.loc["P3", "note"] == "no expression profile"
    assert "missing edema region" in manifest.loc["P4", "note"]
    assert "missing enhancing region" in manifest.loc["P5", "note"]


def test_manifest_missing_region_error():
    feats = features_frame({"P1": {}, "P4": {"missing": ["edema"]}})
    with pytest.raises(RadiogenomicsError, match=r"feats\.tsv: patient P4 has no edema region"):
        cohort.build_manifest(["P1", "P4"], feats, missing_region="error", features_path="feats.tsv")


def test_manifest_bad_features_table():
    feats = features_frame({"P1": {}}).drop(columns=["edema_volume"])
    with pytest.raises(RadiogenomicsError, match="missing feature column.*edema_volume"):
        cohort.build_manifest(["P1"], feats, columns=IMAGE_FEATURES)
    feats = features_frame({"P1": {}})
    feats.iloc[0, 3] = np.inf
    with pytest.raises(RadiogenomicsError, match="infinite value of enhancing_sphericity for patient P1"):
        cohort.build_manifest(["P1"], feats)


def manifest_of(n_sup=12, n_expr_only=7, n_seg_only=2, n_missing=3):
    rows, expr = {}, []
    for i in range(n_sup):
        rows[f"S{i:02d}"] = {}
        expr.append(f"S{i:02d}")
    for i in range(n_expr_only):
        expr.append(f"E{i:02d}")
    for i in range(n_seg_only):
        rows[f"G{i:02d}"] = {}
    for i in range(n_missing):
        rows[f"M{i:02d}"] = {"missing": ["enhancing"]}
        expr.append(f"M{i:02d}")
    return cohort.build_manifest(expr, features_frame(rows))


def test_folds_supervised_and_autoencoder():
    manifest = manifest_of()
    sup, ae = cohort.cohort_folds(manifest, 3, seed=42)
    supervised = [p for p in manifest.index if manifest.loc[p, "supervised"]]
    assert list(sup.index) == sorted(supervised) and len(sup) == 12
    assert list(sup.columns) == ["fold"] and set(sup["fold"]) == {1, 2, 3}
    assert sup["fold"].value_counts().tolist() == [4, 4, 4]
    pd.testing.assert_series_equal(sup["fold"], assign_folds(supervised, 3, derive(42, "folds", "supervised")))
    # all 22 expression patients (12 supervised, 7 without image, 3 with a missing region)
    assert len(ae) == 22 and set(ae.index) == set(manifest.index[manifest["has_expression"]])
    pd.testing.assert_series_equal(ae["fold"], assign_folds(list(ae.index), 3, derive(42, "folds", "autoencoder")))
    # exclude_imaged: only patients without a segmentation
    _, ae_x = cohort.cohort_folds(manifest, 3, seed=42, exclude_imaged=True)
    assert sorted(ae_x.index) == [f"E{i:02d}" for i in range(7)]
    # deterministic, and the seed matters
    again, _ = cohort.cohort_folds(manifest, 3, seed=42)
    pd.testing.assert_frame_equal(sup, again)
    other, _ = cohort.cohort_folds(manifest, 3, seed=43)
    assert not other["fold"].equals(sup["fold"])


def test_too_few_supervised_patients():
    manifest = manifest_of(n_sup=4)
    with pytest.raises(RadiogenomicsError, match=r"cv.folds: 5 folds .* \(supervised patients"):
        cohort.cohort_folds(manifest, 5, seed=1)


def write_inputs(tmp_path, manifest_kwargs=None):
    expr = pd.DataFrame(np.zeros((5, 2)), columns=["EGFR", "PTEN"],
                        index=pd.Index([f"P{i}" for i in range(5)], name="patient"))
    expr.to_csv(tmp_path / "expression.tsv", sep="\t")
    feats = features_frame({"P0": {}, "P1": {}, "P2": {}, "P3": {"missing": ["edema"]}, "X9": {}})
    feats.to_csv(tmp_path / "features.tsv", sep="\t")
    return tmp_path / "expression.tsv", tmp_path / "features.tsv"


def test_build_cohort_writes_three_tables(tmp_path):
    e, f = write_inputs(tmp_path)
    out = tmp_path / "out"
    cohort.build_cohort(e, f, out / "patients.tsv", out / "folds.tsv", out / "ae" / "folds.tsv",
                        n_folds=2, seed=3)
    manifest = pd.read_csv(out / "patients.tsv", sep="\t", index_col=0, keep_default_na=False)
    assert list(manifest.index) == ["P0", "P1", "P2", "P3", "P4", "X9"]
    assert manifest["supervised"].tolist() == [True, True, True, False, False, False]
    folds = pd.read_csv(out / "folds.tsv", sep="\t", index_col=0)
    assert list(folds.index) == ["P0", "P1", "P2"] and folds.index.name == "patient"
    assert set(folds["fold"]) == {1, 2}
    ae = pd.read_csv(out / "ae" / "folds.tsv", sep="\t", index_col=0)
    assert list(ae.index) == ["P0", "P1", "P2", "P3", "P4"]


def test_build_cohort_writes_nothing_on_failure(tmp_path):
    e, f = write_inputs(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(RadiogenomicsError, match="cv.folds"):
        cohort.build_cohort(e, f, out / "patients.tsv", out / "folds.tsv", out / "ae_folds.tsv",
                            n_folds=4, seed=3)
    with pytest.raises(RadiogenomicsError, match="patient P3 has no edema region"):
        cohort.build_cohort(e, f, out / "patients.tsv", out / "folds.tsv", out / "ae_folds.tsv",
                            n_folds=2, seed=3, missing_region="error")
    assert os.listdir(out) == []


def test_manifest_with_the_features_stage_missing_table():
    """features.tsv holds complete patients only; missing.tsv the segmented ones left out."""
    feats = features_frame({"P1": {}})
    missing = pd.DataFrame({"missing_regions": ["edema", "enhancing,edema"], "note": ["x", "y"]},
                           index=pd.Index(["P2", "P3"], name="patient"))
    manifest = cohort.build_manifest(["P1", "P2", "P4"], feats, missing=missing)
    assert manifest.loc["P2", "has_segmentation"] and not manifest.loc["P2", "has_features"]
    assert not manifest.loc["P2", "supervised"]
    assert "missing edema region" in manifest.loc["P2", "note"]
    assert manifest.loc["P3", "has_segmentation"] and not manifest.loc["P3", "has_expression"]
    assert "missing enhancing and edema region" in manifest.loc["P3", "note"]
    assert manifest["supervised"].tolist() == [True, False, False, False]
    with pytest.raises(RadiogenomicsError, match=r"m\.tsv: patient P2 has no edema region"):
        cohort.build_manifest(["P1", "P2"], feats, missing_region="error", missing=missing, missing_path="m.tsv")
    empty = missing.iloc[:0]
    assert cohort.build_manifest(["P1"], feats, missing=empty, missing_region="error")["supervised"].all()


def test_build_cohort_reads_missing_table(tmp_path):
    e, f = write_inputs(tmp_path)
    pd.DataFrame({"missing_regions": ["enhancing"], "note": ["no enhancing voxels"]},
                 index=pd.Index(["P4"], name="patient")).to_csv(tmp_path / "missing.tsv", sep="\t")
    out = tmp_path / "out"
    manifest = cohort.build_cohort(e, f, out / "p.tsv", out / "f.tsv", out / "a.tsv", n_folds=2, seed=3,
                                   missing_path=tmp_path / "missing.tsv")
    assert manifest.loc["P4", "has_segmentation"] and not manifest.loc["P4", "supervised"]
    assert "missing enhancing region" in manifest.loc["P4", "note"]
    # every expression patient now has a segmentation: none left for an image-free autoencoder
    with pytest.raises(RadiogenomicsError, match="only 0 available .autoencoder patients"):
        cohort.cohort_folds(manifest, 2, seed=3, exclude_imaged=True)


def test_patient_list_restricts_the_supervised_cohort_and_says_why():
    feats = features_frame({"P1": {}, "P2": {}, "P3": {}, "P4": {"missing": ["edema"]}})
    manifest = cohort.build_manifest(["P1", "P2", "P3", "P4"], feats, listed=["P1", "P3", "P4", "P9"],
                                     list_path="paper_patients.txt")
    assert manifest["supervised"].to_dict() == {"P1": True, "P2": False, "P3": True, "P4": False, "P9": False}
    assert manifest.loc["P1", "note"] == "supervised: expression and all 20 image features, listed in paper_patients.txt"
    assert manifest.loc["P2", "note"] == "not in paper_patients.txt: excluded from supervised learning"
    assert "missing edema region" in manifest.loc["P4", "note"] and "listed in paper_patients.txt but not" in \
        manifest.loc["P4", "note"]
    assert manifest.loc["P9", "note"].startswith("no expression profile; no segmentation")
    assert not manifest.loc["P9", ["has_expression", "has_segmentation"]].any()


def test_read_patient_list(tmp_path):
    path = tmp_path / "patients.txt"
    path.write_text("# the paper's patients\nTCGA-02-0006\n\nTCGA-06-0122  # a comment\n")
    assert cohort.read_patient_list(path) == ["TCGA-02-0006", "TCGA-06-0122"]
    path.write_text("TCGA-02-0006\nTCGA-02-0006-01A\n")
    with pytest.raises(RadiogenomicsError, match=rf"^{path}:2: 'TCGA-02-0006-01A' is not a TCGA patient ID"):
        cohort.read_patient_list(path)
    path.write_text("TCGA-02-0006\nTCGA-02-0006\n")
    with pytest.raises(RadiogenomicsError, match=rf"^{path}:2: TCGA-02-0006 is listed twice \(also on line 1\)"):
        cohort.read_patient_list(path)


def test_scale_factors_are_the_supervised_patients_maxima(tmp_path):
    """Paper 2.1.2: features scaled by their maximum over the cohort the models see: a
    segmented patient without expression (or not listed) does not change the scale."""
    e, f = write_inputs(tmp_path)
    feats = pd.read_csv(f, sep="\t", index_col=0)
    feats.loc["X9"] *= 10                                        # the largest tumour has no expression
    feats.loc["P1"] *= 2
    feats.to_csv(f, sep="\t")
    out = tmp_path / "out"
    manifest = cohort.build_cohort(e, f, out / "patients.tsv", out / "folds.tsv", out / "ae" / "folds.tsv",
                                   n_folds=2, seed=3, out_scaled=out / "scaled.tsv",
                                   out_scale_factors=out / "factors.tsv")
    supervised = list(manifest.index[manifest["supervised"]])
    factors = pd.read_csv(out / "factors.tsv", sep="\t", index_col=0)
    scaled = pd.read_csv(out / "scaled.tsv", sep="\t", index_col=0)
    np.testing.assert_allclose(factors["scale"], feats.loc[supervised].max())
    np.testing.assert_allclose(factors["scale"], feats.loc["P1"])    # not X9's
    assert list(scaled.index) == supervised
    np.testing.assert_allclose(scaled * factors["scale"], feats.loc[supervised])
    assert "X9" in feats.index and "X9" not in supervised        # segmented, no expression
    listed = tmp_path / "list.txt"
    listed.write_text("P0\nP1\n")
    with pytest.raises(RadiogenomicsError, match="not a TCGA patient ID"):
        cohort.build_cohort(e, f, out / "p2.tsv", out / "f2.tsv", out / "a2.tsv", n_folds=2, seed=3,
                            patients_path=listed)
