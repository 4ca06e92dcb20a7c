"""Package foundations: atomic writes, seeds, folds, segmentation discovery, names."""

import os

import numpy as np
import pandas as pd
import pytest

from radiogenomics import folds, io, names, seeds
from radiogenomics.cohort import find_segmentations, segmentation_inventory
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
    for name in ["TCGA-02-0006_2006.03.29_GlistrBoost_ManuallyCorrected.nii.gz",
                 "TCGA-02-0006_2006.03.29_GlistrBoost.nii.gz",
                 "TCGA-06-0125_1996.12.10_GlistrBoost_ManuallyCorrected.nii.gz"]:
        (tmp_path / name).write_bytes(b"")
    found = find_segmentations(tmp_path, "*.nii.gz", REGEX, prefer="ManuallyCorrected")
    assert found == {
        "TCGA-02-0006": str(tmp_path / "TCGA-02-0006_2006.03.29_GlistrBoost_ManuallyCorrected.nii.gz"),
        "TCGA-06-0125": str(tmp_path / "TCGA-06-0125_1996.12.10_GlistrBoost_ManuallyCorrected.nii.gz"),
    }
    with pytest.raises(RadiogenomicsError, match="TCGA-02-0006 has 2 segmentation files") as err:
        find_segmentations(tmp_path, "*.nii.gz", REGEX, prefer=None)
    assert "GlistrBoost.nii.gz" in str(err.value)


def test_find_segmentations_errors(tmp_path):
    with pytest.raises(RadiogenomicsError, match="not a directory"):
        find_segmentations(tmp_path / "nope", "*.nii.gz", REGEX)
    with pytest.raises(RadiogenomicsError, match="no file matches"):
        find_segmentations(tmp_path, "*.nii.gz", REGEX)
    (tmp_path / "brain.nii.gz").write_bytes(b"")
    with pytest.raises(RadiogenomicsError, match="brain.nii.gz: file name does not match"):
        find_segmentations(tmp_path, "*.nii.gz", REGEX)


def test_segmentation_inventory_lists_every_file_and_reads_nii(tmp_path):
    """Nothing in the folder is skipped without a word; .nii is read as .nii.gz is."""
    names_ = ["TCGA-02-0006_2006.03.29_GlistrBoost_ManuallyCorrected.nii.gz",
              "TCGA-02-0006_2006.03.29_GlistrBoost.nii.gz",
              "TCGA-06-0125_1996.12.10_seg.nii",
              "TCGA-06-0130_seg.nii.gz.bak", "notes.txt", "sub/TCGA-06-0145_seg.nii.gz", ".hidden.nii.gz"]
    for name in names_:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    table = segmentation_inventory(tmp_path, ["*.nii.gz", "*.nii"], REGEX, "ManuallyCorrected")
    assert list(table.columns) == ["file", "id", "patient", "used", "reason"]
    rows = table.set_index("file")
    assert sorted(rows.index) == sorted(n for n in names_ if not n.startswith("."))
    assert set(rows.index[rows["used"]]) == {names_[0], names_[2]}
    assert "ManuallyCorrected" in rows.loc[names_[1], "reason"] and rows.loc[names_[1], "patient"] == "TCGA-02-0006"
    for unread in ("TCGA-06-0130_seg.nii.gz.bak", "notes.txt", "sub/TCGA-06-0145_seg.nii.gz"):
        assert not rows.loc[unread, "used"] and "does not match data.segmentation_glob" in rows.loc[unread, "reason"]
    assert find_segmentations(tmp_path, ["*.nii.gz", "*.nii"], REGEX, "ManuallyCorrected") == {
        "TCGA-02-0006": str(tmp_path / names_[0]), "TCGA-06-0125": str(tmp_path / names_[2])}
    # a sub-directory glob (the TCIA tree: one folder per patient)
    assert find_segmentations(tmp_path, "*/*.nii.gz", REGEX) == {"TCGA-06-0145": str(tmp_path / names_[5])}
    # the schema's default reads both
    from radiogenomics import configuration
    from conftest import REPO, tiny_config
    cfg = tiny_config()
    cfg["data"].pop("segmentation_glob", None)
    configuration.validate(cfg, REPO / "workflow" / "schemas" / "config.schema.yaml")
    assert cfg["data"]["segmentation_glob"] == ["*.nii.gz", "*.nii", "*/*_GlistrBoost*.nii.gz"]


def test_atomic_write_uses_umask_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        io.write_text("x", tmp_path / "f.txt")
    finally:
        os.umask(old)
    assert (tmp_path / "f.txt").stat().st_mode & 0o777 == 0o644


def test_files_under_and_input_files(tmp_path):
    (tmp_path / "d" / "sub").mkdir(parents=True)
    (tmp_path / "d" / ".hidden").mkdir()
    for name in ("b.txt", "a.txt", "sub/c.tsv", ".dot.txt", ".hidden/x.txt"):
        (tmp_path / "d" / name).write_text("x")
    assert [p.relative_to(tmp_path / "d").as_posix() for p in io.files_under(tmp_path / "d")] == \
        ["a.txt", "b.txt", "sub/c.tsv"]
    sheet = tmp_path / "sheet.tsv"
    assert io.input_files(tmp_path / "d", sheet, None) == [str(tmp_path / "d" / n) for n in
                                                           ("a.txt", "b.txt", "sub/c.tsv")] + [str(sheet)]
    assert io.input_files(tmp_path / "m.tsv") == [str(tmp_path / "m.tsv")]          # file, or missing: as is
