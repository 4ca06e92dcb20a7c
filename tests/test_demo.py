"""The demo cohort generator: real formats, determinism, planted signal."""

from __future__ import annotations

import re

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from scipy import ndimage

from radiogenomics import demo
from radiogenomics.cohort import find_segmentations
from radiogenomics.errors import RadiogenomicsError
from radiogenomics.expression import load_expression, parse_barcode
from radiogenomics.names import IMAGE_FEATURES

SIZES = dict(n_patients=12, n_imaged=5, n_genes=60, n_signal_genes=12, n_duplicate_aliquots=2,
             n_non_primary=3, shape=(64, 64, 48), spacing=(1.0, 1.0, 1.5))
REGEX = "^(TCGA-[0-9A-Z]{2}-[0-9A-Z]{4})"


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    summary = demo.generate(out, seed=11, **SIZES)
    return out, summary


def test_summary_and_layout(cohort):
    out, summary = cohort
    assert summary["patients"] == 12 and summary["imaged"] == 5 and summary["genes"] == 60
    assert summary["files"] == 12 + 2 + 3
    assert sorted(p.name for p in out.iterdir()) == ["expression", "segmentations", "truth"]
    assert len(list((out / "expression").iterdir())) == 17
    assert len(list((out / "segmentations").iterdir())) == 5


def test_level3_files_have_the_tcga_format(cohort):
    out, _ = cohort
    genes = None
    barcodes = []
    for path in sorted((out / "expression").iterdir()):
        lines = path.read_text().splitlines()
        head1, head2 = lines[0].split("\t"), lines[1].split("\t")
        assert head1[0] == "Hybridization REF" and len(head1) == 2
        assert head2 == ["Composite Element REF", "Signal"]
        assert re.fullmatch(r"TCGA-\d{2}-\d{4}-\d{2}[A-Z]-\d{2}R-\d{4}-01", head1[1])
        barcodes.append(parse_barcode(head1[1]))
        rows = [line.split("\t") for line in lines[2:]]
        assert all(len(r) == 2 for r in rows)
        file_genes = [r[0] for r in rows]
        values = np.array([float(r[1]) for r in rows])
        assert len(file_genes) == 60 and len(set(file_genes)) == 60
        assert np.isfinite(values).all() and values.min() >= 2.0 and values.max() <= 15.0
        genes = genes or file_genes
        assert file_genes == genes
    assert all(re.fullmatch(r"[A-Za-z0-9-]+", g) for g in genes)
    assert len({b.barcode for b in barcodes}) == 17
    types = [b.sample_type for b in barcodes]
    assert types.count("01") == 14 and sorted(t for t in types if t != "01") in (["02", "02", "11"], ["02", "11", "11"])
    primary = pd.Series([b.patient for b in barcodes if b.sample_type == "01"])
    assert (primary.value_counts() == 2).sum() == 2  # two patients with two primary aliquots


def test_ingestion_of_the_demo_cohort(cohort):
    out, _ = cohort
    frame = load_expression(out / "expression")
    assert frame.shape == (12, 60)
    qc = frame.attrs["qc"].frame()
    assert qc.loc["dropped_sample_type", "count"] == 3
    assert qc.loc["dropped_duplicate_aliquots", "count"] == 2
    factors = pd.read_csv(out / "truth" / "factors.tsv", sep="\t", index_col=0)
    assert sorted(factors.index) == list(frame.index)
    assert list(factors.columns) == list(demo.FACTORS)


def test_segmentations_look_like_brats(cohort):
    out, _ = cohort
    # the TCIA archive's layout: one folder per patient, the corrected map preferred
    found = find_segmentations(out / "segmentations", "*/*_GlistrBoost*.nii.gz", REGEX, "ManuallyCorrected")
    assert len(found) == 5
    files = sorted(p.relative_to(out / "segmentations").as_posix() for p in (out / "segmentations").rglob("*"))
    folders = [f for f in files if "/" not in f]
    assert len(folders) == 5 and all(re.fullmatch(r"TCGA-\d{2}-\d{4}", f)
                                      for f in folders)
    corrected = [f for f in files if f.endswith("_GlistrBoost_ManuallyCorrected.nii.gz")]
    automatic = [f for f in files if f.endswith("_GlistrBoost.nii.gz")]
    # patient 0: both maps (the automatic one differs); patient 4: only the automatic one
    assert len(corrected) == 4 and len(automatic) == 2
    only_auto = {f.split("/")[0] for f in automatic} - {f.split("/")[0] for f in corrected}
    assert len(only_auto) == 1 and found[only_auto.pop()].endswith("_GlistrBoost.nii.gz")
    both = ({f.split("/")[0] for f in automatic} & {f.split("/")[0] for f in corrected}).pop()
    assert found[both].endswith("_GlistrBoost_ManuallyCorrected.nii.gz")
    auto = np.asanyarray(nib.load(found[both].replace("_ManuallyCorrected", "")).dataobj)
    assert not np.array_equal(auto, np.asanyarray(nib.load(found[both]).dataobj))
    patients = set(pd.read_csv(out / "truth" / "factors.tsv", sep="\t", index_col=0).index)
    assert set(found) <= patients
    truth = pd.read_csv(out / "truth" / "segmentations.tsv", sep="\t", index_col=0)
    assert set(truth.index) == set(found)
    for patient, path in found.items():
        assert re.fullmatch(rf"{patient}_\d{{4}}\.\d{{2}}\.\d{{2}}_GlistrBoost(_ManuallyCorrected)?\.nii\.gz",
                            path.rsplit("/", 1)[-1])
        assert path.rsplit("/", 2)[-2] == patient
        img = nib.load(path)
        assert img.shape == (64, 64, 48)
        assert img.get_data_dtype() == np.uint8
        np.testing.assert_allclose(img.header.get_zooms(), (1.0, 1.0, 1.5))
        np.testing.assert_allclose(np.abs(np.diag(img.affine)[:3]), (1.0, 1.0, 1.5))
        assert int(img.header["sform_code"]) == 1
        data = np.asanyarray(img.dataobj)
        labels = set(np.unique(data).tolist())
        assert labels <= {0, 1, 2, 4} and {2, 4} <= labels
        voxel_cm3 = 1.5 / 1000
        assert (data == 4).sum() * voxel_cm3 == pytest.approx(truth.loc[patient, "enhancing_cm3"], abs=2e-3)
        # tumour does not touch the volume border
        assert not data[[0, -1]].any() and not data[:, [0, -1]].any() and not data[:, :, [0, -1]].any()


def test_truth_tables(cohort):
    out, _ = cohort
    signal = pd.read_csv(out / "truth" / "signal_genes.tsv", sep="\t", index_col=0)
    assert len(signal) == 12 and list(signal.columns) == ["factor", "weight", "form"]
    assert set(signal["factor"]) <= set(demo.FACTORS) and set(signal["form"]) <= set(demo.FORMS)
    assert set(signal.index) <= set(demo.gene_symbols(60))
    drives = pd.read_csv(out / "truth" / "drives.tsv", sep="\t")
    assert list(drives.columns) == ["factor", "feature", "direction"]
    assert set(drives["feature"]) <= set(IMAGE_FEATURES)
    assert set(drives["factor"]) == set(demo.FACTORS)
    aliquots = pd.read_csv(out / "truth" / "aliquots.tsv", sep="\t", index_col=0, dtype=str)
    assert sorted(aliquots.index) == sorted(p.name for p in (out / "expression").iterdir())


def test_deterministic_from_seed(cohort, tmp_path):
    out, _ = cohort
    demo.generate(tmp_path / "again", seed=11, **SIZES)
    demo.generate(tmp_path / "other", seed=12, **SIZES)
    names = sorted(p.name for p in (out / "expression").iterdir())
    assert sorted(p.name for p in (tmp_path / "again" / "expression").iterdir()) == names
    for name in names:
        assert (out / "expression" / name).read_bytes() == (tmp_path / "again" / "expression" / name).read_bytes()
    segs = sorted((out / "segmentations").rglob("*.nii.gz"))
    assert [p.relative_to(out) for p in segs] == \
        [p.relative_to(tmp_path / "again") for p in sorted((tmp_path / "again" / "segmentations").rglob("*.nii.gz"))]
    for path in segs:
        a = np.asanyarray(nib.load(path).dataobj)
        b = np.asanyarray(nib.load(tmp_path / "again" / path.relative_to(out)).dataobj)
        np.testing.assert_array_equal(a, b)
    for name in ("factors.tsv", "signal_genes.tsv", "segmentations.tsv"):
        assert (out / "truth" / name).read_bytes() == (tmp_path / "again" / "truth" / name).read_bytes()
    assert sorted(p.name for p in (tmp_path / "other" / "expression").iterdir()) != names


def test_regenerating_replaces_and_leaves_no_temporary(tmp_path):
    small = dict(SIZES, n_imaged=2, shape=(40, 40, 32))
    demo.generate(tmp_path, seed=1, **small)
    demo.generate(tmp_path, seed=2, **dict(small, n_patients=8))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["expression", "segmentations", "truth"]
    assert len(list((tmp_path / "expression").iterdir())) == 8 + 2 + 3


def test_planted_signal_in_expression(tmp_path):
    """Signal genes follow their factor (linear ones strongly); noise genes do not."""
    demo.generate(tmp_path, n_patients=300, n_imaged=0, n_genes=80, n_signal_genes=24,
                  n_duplicate_aliquots=0, n_non_primary=0, shape=(32, 32, 32), seed=5)
    frame = load_expression(tmp_path / "expression")
    factors = pd.read_csv(tmp_path / "truth" / "factors.tsv", sep="\t", index_col=0).loc[frame.index]
    signal = pd.read_csv(tmp_path / "truth" / "signal_genes.tsv", sep="\t", index_col=0)
    for gene, row in signal.iterrows():
        z = factors[row["factor"]]
        x = frame[gene]
        if row["form"] == "linear":
            assert np.sign(np.corrcoef(x, z)[0, 1]) == np.sign(row["weight"])
            assert abs(np.corrcoef(x, z)[0, 1]) > 0.4, gene
        elif row["form"] == "tanh":
            assert abs(np.corrcoef(x, np.tanh(1.5 * z))[0, 1]) > 0.4, gene
        else:  # square: no linear correlation, but with z^2
            assert abs(np.corrcoef(x, z**2)[0, 1]) > 0.4, gene
    noise = [g for g in frame.columns if g not in signal.index]
    best = [max(abs(np.corrcoef(frame[g], factors[f])[0, 1]) for f in demo.FACTORS) for g in noise]
    assert np.mean(best) < 0.15


def test_geometry_follows_the_factors():
    def volumes(**f):
        base = dict(size=0.0, irregularity=0.0, edema=0.0, necrosis=0.0) | f
        vol, info = demo.segmentation(base, (240, 240, 155), (1.0, 1.0, 1.0), np.random.default_rng(3))
        return info

    small, large = volumes(size=-1.5), volumes(size=1.5)
    assert small["enhancing_cm3"] < large["enhancing_cm3"]
    assert 2.0 <= small["enhancing_cm3"] <= 15 and 40 <= large["enhancing_cm3"] <= 110
    dry, wet = volumes(edema=-1.5), volumes(edema=1.5)
    assert dry["edema_cm3"] < wet["edema_cm3"] and 6 <= dry["edema_cm3"] and wet["edema_cm3"] <= 200
    assert volumes(necrosis=-1.5)["necrosis_cm3"] < volumes(necrosis=1.5)["necrosis_cm3"]


def _surface_ratio(mask):
    """Exposed voxel faces / voxels^(2/3): larger for less compact shapes."""
    faces = sum(np.count_nonzero(np.diff(np.pad(mask, 1).astype(np.int8), axis=a)) for a in range(3))
    return faces / mask.sum() ** (2 / 3)


def test_irregularity_makes_shapes_less_compact():
    ratios = {}
    for irr in (-2.0, 2.0):
        vals = []
        for s in range(4):
            f = dict(size=0.5, irregularity=irr, edema=0.0, necrosis=-3.0)  # thin necrosis: solid core
            vol, _ = demo.segmentation(f, (240, 240, 155), (1.0, 1.0, 1.0), np.random.default_rng(s))
            vals.append(_surface_ratio((vol == 4) | (vol == 1)))
        ratios[irr] = np.mean(vals)
    assert ratios[2.0] > ratios[-2.0] * 1.05


def test_rim_necrosis_edema_and_second_focus():
    f = dict(size=0.5, irregularity=0.5, edema=0.5, necrosis=1.0)
    for s in range(40):
        vol, info = demo.segmentation(f, (240, 240, 155), (1.0, 1.0, 1.0), np.random.default_rng(s))
        if info["second_focus"]:
            break
    else:
        pytest.fail("no second focus in 40 tumours")
    _, n = ndimage.label(vol == 4, structure=np.ones((3, 3, 3)))
    assert n >= 2
    # necrosis is enclosed by enhancing tumour: no necrosis voxel touches edema or background
    necrosis = vol == 1
    grown = ndimage.binary_dilation(necrosis, structure=ndimage.generate_binary_structure(3, 1))
    assert set(np.unique(vol[grown & ~necrosis]).tolist()) <= {4}
    # edema surrounds the core: the core's face neighbours outside the core are edema or rim
    core = (vol == 4) | (vol == 1)
    ring = ndimage.binary_dilation(core, structure=ndimage.generate_binary_structure(3, 1)) & ~core
    assert (vol[ring] == 2).mean() > 0.95


def test_small_volume_scales_all_tumours_alike():
    infos = [demo.segmentation(dict(size=z, irregularity=0.0, edema=0.0, necrosis=0.0), (48, 48, 40),
                               (1.0, 1.0, 1.0), np.random.default_rng(0))[1] for z in (-1.0, 0.0, 1.0)]
    vols = [i["enhancing_cm3"] for i in infos]
    assert vols[0] < vols[1] < vols[2]


def test_gene_symbols():
    genes = demo.gene_symbols(12042)
    assert len(genes) == 12042 == len(set(genes)) and genes == sorted(genes)
    assert {"EGFR", "PTEN", "TP53", "VEGFA"} <= set(genes)
    assert set(demo.gene_symbols(100)) <= set(genes)
    assert len(set(demo.gene_symbols(40000))) == 40000


@pytest.mark.parametrize("change, key", [
    (dict(n_imaged=20), "demo.n_imaged"),
    (dict(n_signal_genes=100), "demo.n_signal_genes"),
    (dict(n_duplicate_aliquots=13), "demo.n_duplicate_aliquots"),
])
def test_inconsistent_sizes(tmp_path, change, key):
    with pytest.raises(RadiogenomicsError, match=key):
        demo.generate(tmp_path, seed=1, **(SIZES | change))

