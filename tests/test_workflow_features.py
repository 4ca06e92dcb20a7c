"""End-to-end: the features stage's Snakemake rules on a few synthetic segmentations.

Runs only the features targets (demo generation off, data.segmentations pointing at a
folder of hand-made BraTS-style files), so it does not depend on the other stages.
"""

from __future__ import annotations

import math

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import snakemake, tiny_config, workflow_dir
from radiogenomics.names import IMAGE_FEATURES

pytestmark = pytest.mark.workflow

TARGETS = [
    "results/features/features.tsv",
    "results/features/features_scaled.tsv",   # (by the cohort rule: scaled over the supervised patients)
    "results/features/scale_factors.tsv",
    "results/features/missing.tsv",
]


def _segmentation(shape, centre, radii, spacing):
    g = np.meshgrid(*[np.arange(n) * s for n, s in zip(shape, spacing)], indexing="ij", sparse=True)
    r = np.sqrt(sum((x - c) ** 2 for x, c in zip(g, centre)))
    data = np.zeros(shape, dtype=np.int16)
    data[r < radii[0]] = 2
    data[r < radii[1]] = 4
    data[r < radii[2]] = 1
    return data


def _cohort(root, convention="paper", missing_region="exclude"):
    segs = root / "segs"
    segs.mkdir(parents=True)
    cases = {
        "TCGA-02-0001_2001.01.01_GlistrBoost_ManuallyCorrected.nii.gz": ((1, 1, 1), (14, 9, 4)),
        "TCGA-02-0002_2002.02.02_GlistrBoost_ManuallyCorrected.nii.gz": ((1, 1, 2), (16, 10, 5)),
        "TCGA-02-0003_2003.03.03_GlistrBoost_ManuallyCorrected.nii.gz": ((1, 1, 1), (12, 7, 3)),
        # a second, uncorrected file for patient 1: the corrected one is preferred
        "TCGA-02-0001_2001.01.01_GlistrBoost.nii.gz": ((1, 1, 1), (20, 15, 4)),
        # enhancing tumour of one voxel (below features.min_voxels); larger than everyone's
        # sphericity if it counted (1.61), so it would rescale the cohort
        "TCGA-02-0004_2004.04.04_GlistrBoost_ManuallyCorrected.nii.gz": ((1, 1, 1), (13, 8, 3)),
    }
    for name, (spacing, radii) in cases.items():
        data = _segmentation((48, 48, 40), (24.0, 23.0, 20.0 * spacing[2]), radii, spacing)
        if name.startswith("TCGA-02-0003"):
            data[data == 4] = 1  # no enhancing voxels
        if name.startswith("TCGA-02-0004"):
            data[data == 4] = 1
            data[5, 5, 5] = 4    # one enhancing voxel, apart from the rest
        nib.save(nib.Nifti1Image(data, np.diag([*spacing, 1.0])), str(segs / name))
    # expression for every segmented patient, so that all complete ones are supervised
    expression = root / "expression.tsv"
    expression.write_text("gene\t" + "\t".join(f"TCGA-02-000{i}-01" for i in range(1, 5)) + "\n"
                          "EGFR\t1\t2\t3\t4\nPTEN\t4\t1\t3\t2\n")
    config = tiny_config(
        demo={"enabled": False},
        data={"segmentations": "segs", "expression": "expression.tsv"},
        features={"convention": convention, "missing_region": missing_region},
        cv={"folds": 2},
    )
    return workflow_dir(root, config)


def test_features_stage(tmp_path):
    root = _cohort(tmp_path / "run")
    snakemake(root, *TARGETS)
    out = root / "results" / "features"
    for patient in ("TCGA-02-0001", "TCGA-02-0002", "TCGA-02-0003", "TCGA-02-0004"):
        row = pd.read_csv(out / f"{patient}.tsv", sep="\t", index_col=0)
        assert list(row.columns) == [*IMAGE_FEATURES, "enhancing_voxels", "edema_voxels"]
        assert list(row.index) == [patient]
        assert (root / "results" / "logs" / "patient_features" / f"{patient}.log").exists()
        assert (root / "results" / "benchmarks" / "patient_features" / f"{patient}.tsv").exists()
    # the patient without enhancing voxels: empty cells in its own table ...
    text = (out / "TCGA-02-0003.tsv").read_text().splitlines()[1].split("\t")
    assert text[1:11] == [""] * 10
    # ... left out of the cohort tables, listed in missing.tsv
    features = pd.read_csv(out / "features.tsv", sep="\t", index_col=0)
    assert list(features.index) == ["TCGA-02-0001", "TCGA-02-0002"]
    assert list(features.columns) == list(IMAGE_FEATURES)
    missing = pd.read_csv(out / "missing.tsv", sep="\t", index_col=0)
    assert list(missing.index) == ["TCGA-02-0003", "TCGA-02-0004"]
    assert missing.loc["TCGA-02-0003", "missing_regions"] == "enhancing"
    assert missing.loc["TCGA-02-0004", "missing_regions"] == "enhancing"
    assert "1 voxel(s), fewer than features.min_voxels = 50" in missing.loc["TCGA-02-0004", "note"]
    assert pd.read_csv(out / "range_warnings.tsv", sep="\t").empty
    inventory = pd.read_csv(out / "segmentation_files.tsv", sep="\t", keep_default_na=False)
    assert len(inventory) == 5 and inventory["used"].sum() == 4
    # the ManuallyCorrected file was used for patient 1 (enhancing radius 9, not 15)
    assert features.loc["TCGA-02-0001", "enhancing_volume"] < 4 / 3 * math.pi * 10**3 / 1000
    scaled = pd.read_csv(out / "features_scaled.tsv", sep="\t", index_col=0)
    factors = pd.read_csv(out / "scale_factors.tsv", sep="\t", index_col=0)
    assert list(factors.index) == list(IMAGE_FEATURES) and factors.index.name == "feature"
    assert factors.loc["enhancing_volume", "unit"] == "cm³"
    np.testing.assert_allclose(scaled.max(), 1.0)
    np.testing.assert_allclose(scaled * factors["scale"], features)
    # nothing to do on a second run
    again = snakemake(root, *TARGETS, "--dry-run")
    assert "Nothing to be done" in again.stdout + again.stderr


def test_min_voxels_one_lets_a_tiny_region_rescale_and_warns(tmp_path):
    """With features.min_voxels: 1 the 1-voxel region counts: its impossible values are
    reported in range_warnings.tsv, and its sphericity becomes the cohort's scale."""
    root = _cohort(tmp_path / "run")
    cfg = yaml.safe_load((root / "config" / "config.yaml").read_text())
    cfg["features"]["min_voxels"] = 1
    (root / "config" / "config.yaml").write_text(yaml.safe_dump(cfg))
    snakemake(root, *TARGETS)
    out = root / "results" / "features"
    warnings = pd.read_csv(out / "range_warnings.tsv", sep="\t")
    flagged = set(zip(warnings["patient"], warnings["feature"]))
    assert ("TCGA-02-0004", "enhancing_sphericity") in flagged
    assert ("TCGA-02-0004", "enhancing_compactness2") in flagged
    assert {p for p, _ in flagged} == {"TCGA-02-0004"}
    factors = pd.read_csv(out / "scale_factors.tsv", sep="\t", index_col=0)
    assert factors.loc["enhancing_sphericity", "scale"] == pytest.approx(1.6098, abs=1e-3)
    log = (root / "results" / "logs" / "patient_features" / "TCGA-02-0004.log").read_text()
    assert "enhancing_sphericity = 1.6" in log and "outside its documented range" in log


def test_missing_region_error(tmp_path):
    root = _cohort(tmp_path / "err", missing_region="error")
    proc = snakemake(root, *TARGETS, check=False)
    assert proc.returncode != 0
    log = (root / "results" / "logs" / "patient_features" / "TCGA-02-0003.log").read_text()
    assert "TCGA-02-0003_2003.03.03_GlistrBoost_ManuallyCorrected.nii.gz" in log
    assert "enhancing" in log
