"""Package foundations: atomic writes, seeds, folds, segmentation discovery, names."""

import os

import numpy as np
import pandas as pd
import pytest

from radiogenomics import folds, io, names, seeds
from radiogenomics.cohort import find_segmentations
from radiogenomics.errors import RadiogenomicsError


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out" / "table.tsv"
    with pytest.raises(RuntimeError):
        with io.atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("boom")
    assert not target.exists()
    assert os.listdir(target.parent) == []


def test_atomic_write_replaces(tmp_path):
    target = tmp_path / "t.tsv"
    frame = pd.DataFrame({"a": [1.5, 2.0]}, index=pd.Index(["p1", "p2"], name="patient"))
    io.write_tsv(frame, target)
    back = io.read_tsv(target)
    pd.testing.assert_frame_equal(back, frame)
    assert [p.name for p in tmp_path.iterdir()] == ["t.tsv"]


def test_read_tsv_names_file(tmp_path):
    with pytest.raises(RadiogenomicsError, match="missing.tsv: file not found"):
        io.read_tsv(tmp_path / "missing.tsv")
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    with pytest.raises(RadiogenomicsError, match="bad.json"):
        io.read_json(bad)


def test_seed_derivation_is_stable_and_distinct():
    a = seeds.derive(2018, "dnn", "lr0.3_decay5e-05", 3)
    assert a == seeds.derive(2018, "dnn", "lr0.3_decay5e-05", 3)
    assert a != seeds.derive(2018, "dnn", "lr0.3_decay5e-05", 4)
    assert a != seeds.derive(2019, "dnn", "lr0.3_decay5e-05", 3)
    assert 0 <= a < 2**31


def test_fold_assignment():
    patients = [f"TCGA-00-{i:04d}" for i in range(23)]
    f = folds.assign_folds(patients, 10, seed=1)
    assert sorted(set(f)) == list(range(1, 11))
    counts = f.value_counts()
    assert counts.max() - counts.min() <= 1            # balanced: 3,3,3,2,...
    assert f.equals(folds.assign_folds(list(reversed(patients)), 10, seed=1))  # order-independent
    assert not f.equals(folds.assign_folds(patients, 10, seed=2))
    train, val = folds.split(f, 4)
    assert set(train) | set(val) == set(patients) and not set(train) & set(val)


def test_fold_assignment_errors():
    with pytest.raises(RadiogenomicsError, match="at least 5 patients"):
        folds.assign_folds(["a", "b", "c"], 5, seed=0)
    with pytest.raises(RadiogenomicsError, match="at least 2 folds"):
        folds.assign_folds(["a", "b", "c"], 1, seed=0)


def test_feature_names():
    assert len(names.IMAGE_FEATURES) == 20
    assert names.IMAGE_FEATURES[0] == "enhancing_volume"
    assert names.IMAGE_FEATURES[-1] == "edema_compactness2"
    assert names.split_feature("edema_max_diameter") == ("edema", "max_diameter")
    assert names.unit("enhancing_surface_area") == "cm²"


REGEX = r"^(TCGA-[0-9A-Z]{2}-[0-9A-Z]{4})"


def test_find_segmentations(tmp_path):
    for name in ["TCGA-02-0006_2006.03.29_GlistrboostManuallyCorrected.nii.gz",
                 "TCGA-02-0006_2006.03.29_Glistrboost.nii.gz",
                 "TCGA-06-0125_1996.12.10_GlistrboostManuallyCorrected.nii.gz"]:
        (tmp_path / name).write_bytes(b"")
    found = find_segmentations(tmp_path, "*.nii.gz", REGEX, prefer="ManuallyCorrected")
    assert found == {
        "TCGA-02-0006": str(tmp_path / "TCGA-02-0006_2006.03.29_GlistrboostManuallyCorrected.nii.gz"),
        "TCGA-06-0125": str(tmp_path / "TCGA-06-0125_1996.12.10_GlistrboostManuallyCorrected.nii.gz"),
    }
    with pytest.raises(RadiogenomicsError, match="TCGA-02-0006 has 2 segmentation files") as err:
        find_segmentations(tmp_path, "*.nii.gz", REGEX, prefer=None)
    assert "Glistrboost.nii.gz" in str(err.value)


def test_find_segmentations_errors(tmp_path):
    with pytest.raises(RadiogenomicsError, match="not a directory"):
        find_segmentations(tmp_path / "nope", "*.nii.gz", REGEX)
    with pytest.raises(RadiogenomicsError, match="no file matches"):
        find_segmentations(tmp_path, "*.nii.gz", REGEX)
    (tmp_path / "brain.nii.gz").write_bytes(b"")
    with pytest.raises(RadiogenomicsError, match="brain.nii.gz: file name does not match"):
        find_segmentations(tmp_path, "*.nii.gz", REGEX)


def test_atomic_write_uses_umask_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        io.write_text("x", tmp_path / "f.txt")
    finally:
        os.umask(old)
    assert (tmp_path / "f.txt").stat().st_mode & 0o777 == 0o644
