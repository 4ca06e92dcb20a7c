"""End to end: an edited, added or removed input file reruns exactly what depends on it.

The expression rule's inputs are the files of the expression directory (not the directory,
whose time stamp does not change when a file in it is edited), and the features stage's
inputs are the segmentation files and the folder's listing. A small real-data layout (demo
off): TCGA Level-3 files, one in a ``gdc-client`` style sub-directory, and BraTS-style
segmentations, one of them ``.nii`` and a stray file that is listed as not read.
"""

from __future__ import annotations

import os
import re
import shutil

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from conftest import snakemake, tiny_config, workflow_dir

pytestmark = pytest.mark.workflow

EXPRESSION = "results/expression/expression.tsv"
FEATURES = "results/features/features.tsv"
INVENTORY = "results/features/segmentation_files.tsv"
TARGETS = [EXPRESSION, FEATURES, INVENTORY]
GENES = ["EGFR", "PTEN", "TP53", "IDH1"]


def level3(path, barcode, values):
    path.parent.mkdir(parents=True, exist_ok=True)
    body = "".join(f"{g}\t{v}\n" for g, v in zip(GENES, values))
    path.write_text(f"Hybridization REF\t{barcode}\nComposite Element REF\tSignal\n{body}")


def segmentation(path, radius):
    g = np.meshgrid(*[np.arange(n) for n in (40, 40, 32)], indexing="ij", sparse=True)
    r = np.sqrt(sum((x - c) ** 2 for x, c in zip(g, (20.0, 19.0, 16.0))))
    data = np.zeros((40, 40, 32), dtype=np.uint8)
    data[r < radius + 5] = 2
    data[r < radius] = 4
    data[r < radius / 3] = 1
    nib.save(nib.Nifti1Image(data, np.eye(4)), str(path))


def planned(root) -> list[tuple[str, str]]:
    """(rule, wildcards or output) of every job a dry run would execute."""
    proc = snakemake(root, *TARGETS, "--dry-run")
    out = proc.stdout + proc.stderr
    assert "InputFunctionException" not in out and "KeyError" not in out, out[-3000:]
    jobs = re.findall(r"^(?:local)?rule (\w+):\n(?:    .*\n)*?    output: ([^,\n]+)", out, flags=re.M)
    return sorted(jobs)


def mtime_bump(path):
    """Modification time = now (after every output so far; never in the future, which
    Snakemake reports as clock skew)."""
    os.utime(path, None)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("inputs") / "run"
    data = root / "data"
    for i in range(1, 7):
        where = data / "expression" / (f"{i:08x}-uuid" if i == 2 else "")  # a gdc-client sub-directory
        level3(where / f"level3_{i}.txt", f"TCGA-02-000{i}-01A-01R-0177-01", [i, 2 * i, 3 + i, 1 - i])
    (data / "expression" / "MANIFEST.txt").write_text("id\tfilename\n")
    segs = data / "segmentations"
    segs.mkdir(parents=True)
    for i, radius in zip(range(1, 5), (8, 9, 7, 10)):
        suffix = ".nii" if i == 4 else ".nii.gz"
        segmentation(segs / f"TCGA-02-000{i}_seg{suffix}", radius)
    (segs / "README.txt").write_text("not a segmentation\n")
    cfg = tiny_config(demo={"enabled": False},
                      data={"expression": "data/expression", "segmentations": "data/segmentations"})
    workflow_dir(root, cfg)
    proc = snakemake(root, *TARGETS, "--strict-dag-evaluation", "functions")
    assert "InputFunctionException" not in proc.stdout + proc.stderr
    return root


def test_first_run_reads_nii_and_lists_what_it_did_not_read(run):
    features = pd.read_csv(run / FEATURES, sep="\t", index_col=0)
    assert list(features.index) == [f"TCGA-02-000{i}" for i in range(1, 5)]   # .nii patient 4 included
    inventory = pd.read_csv(run / INVENTORY, sep="\t", keep_default_na=False).set_index("file")
    assert not inventory.loc["README.txt", "used"]
    assert "does not match data.segmentation_glob" in inventory.loc["README.txt", "reason"]
    assert inventory["used"].sum() == 4
    assert "README.txt not read" in (run / "results/logs/collect_features/collect_features.log").read_text()
    assert planned(run) == []


@pytest.mark.parametrize("change", ["edit", "add", "remove"])
def test_expression_file_change_reruns_ingestion_only(run, change):
    sub = run / "data" / "expression" / f"{2:08x}-uuid" / "level3_2.txt"
    new = run / "data" / "expression" / "level3_7.txt"
    backup = sub.read_text()
    before = pd.read_csv(run / EXPRESSION, sep="\t", index_col=0)
    try:
        if change == "edit":
            level3(sub, "TCGA-02-0002-01A-01R-0177-01", [9, 9, 0, 1])
            mtime_bump(sub)
        elif change == "add":
            level3(new, "TCGA-02-0007-01A-01R-0177-01", [7, 1, 2, 5])
        else:
            sub.unlink()
        assert [rule for rule, _ in planned(run)] == ["expression"], change
        snakemake(run, EXPRESSION)
        after = pd.read_csv(run / EXPRESSION, sep="\t", index_col=0)
        expected = {"edit": 6, "add": 7, "remove": 5}[change]
        assert len(after) == expected
        if change == "edit":
            assert not np.allclose(after.to_numpy(), before.to_numpy())
    finally:
        if new.exists():
            new.unlink()
        level3(sub, "TCGA-02-0002-01A-01R-0177-01", [2, 4, 5, -1])
        assert sub.read_text() == backup
        mtime_bump(sub)
        snakemake(run, *TARGETS)


@pytest.mark.parametrize("change", ["edit", "add", "remove", "stray"])
def test_segmentation_file_change_reruns_what_depends_on_it(run, change):
    segs = run / "data" / "segmentations"
    edited = segs / "TCGA-02-0003_seg.nii.gz"
    added = segs / "TCGA-02-0005_seg.nii.gz"
    stray = segs / "notes.csv"
    keep = run.parent / "keep.nii.gz"
    shutil.copy2(edited, keep)
    try:
        if change == "edit":
            segmentation(edited, 11)
            mtime_bump(edited)
            expected = [("collect_features", FEATURES), ("patient_features", "results/features/TCGA-02-0003.tsv")]
        elif change == "add":
            segmentation(added, 6)
            expected = [("collect_features", FEATURES), ("patient_features", "results/features/TCGA-02-0005.tsv")]
        elif change == "remove":
            edited.unlink()
            expected = [("collect_features", FEATURES)]
        else:                      # a file that is not read still changes the listing
            stray.write_text("x\n")
            expected = [("collect_features", FEATURES)]
        assert planned(run) == expected, change
        snakemake(run, *TARGETS)
        features = pd.read_csv(run / FEATURES, sep="\t", index_col=0)
        inventory = pd.read_csv(run / INVENTORY, sep="\t", keep_default_na=False)
        assert ("TCGA-02-0005" in features.index) == (change == "add")
        assert ("TCGA-02-0003" in features.index) == (change != "remove")
        assert ("notes.csv" in set(inventory["file"])) == (change == "stray")
    finally:
        for path in (added, stray):
            if path.exists():
                path.unlink()
        shutil.copy2(keep, edited)
        mtime_bump(edited)
        snakemake(run, *TARGETS)
