"""Tests of radiogenomics.features: the 20 image features (paper §2.1.2, Table 1).

Analytic shapes (ball, ellipsoid, box) at 1 mm and anisotropic spacing, the
largest-component rule, both conventions, orientation invariance, PyRadiomics'
published values for three real masks, bad inputs, and the cohort tables.
"""

from __future__ import annotations

import gzip
import math
import struct
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from radiogenomics import features as F
from radiogenomics import io
from radiogenomics.errors import RadiogenomicsError
from radiogenomics.names import IMAGE_FEATURES, SHAPE_FEATURES, UNITS

LABELS = {"enhancing": 4, "edema": 2, "necrosis": 1}
REFERENCE = Path(__file__).resolve().parents[1].parent / "shared" / "reference"


# ---------------------------------------------------------------------------------------
# helpers


def grid(extent_mm, spacing):
    """Physical voxel-centre coordinates (open mesh) covering ±extent_mm on each axis,
    with a voxel centred on 0 along every axis."""
    axes = []
    for extent, s in zip(extent_mm, spacing):
        n = int(math.ceil(extent / s)) + 2
        axes.append(np.arange(-n, n + 1) * s)
    return np.meshgrid(*axes, indexing="ij", sparse=True)


def ellipsoid(semi_axes, spacing, offset=(0.0, 0.0, 0.0)):
    g = grid(semi_axes, spacing)
    return sum(((x - o) / a) ** 2 for x, a, o in zip(g, semi_axes, offset)) <= 1.0


def rel(a, b):
    return abs(a - b) / abs(b)


def save(path, data, affine=None, spacing=(1.0, 1.0, 1.0)):
    if affine is None:
        affine = np.diag([*spacing, 1.0])
    nib.save(nib.Nifti1Image(data, affine), str(path))
    return path


def brats_case(shape=(60, 56, 40)):
    """Necrosis (1) inside enhancing rim (4) inside edema (2), off-centre ellipsoids."""
    g = np.meshgrid(*[np.arange(n) for n in shape], indexing="ij", sparse=True)
    centre = (31.0, 26.0, 19.0)
    r = np.sqrt(sum(((x - c) / s) ** 2 for x, c, s in zip(g, centre, (1.0, 1.2, 0.9))))
    data = np.zeros(shape, dtype=np.uint8)
    data[r < 17] = 2
    data[r < 10] = 4
    data[r < 5] = 1
    return data


# ---------------------------------------------------------------------------------------
# Crofton weights and surface area


def test_crofton_weights_isotropic_match_legland():
    w = F.crofton_weights((1.0, 1.0, 1.0))
    # Legland et al. 2007 / MatImage: 2 × 0.04577789, 2 × 0.03698063, 2 × 0.03519564
    np.testing.assert_allclose(w[:3], 0.09155578240952, rtol=1e-9)
    np.testing.assert_allclose(w[3:9], 0.07396125575216, rtol=1e-9)
    np.testing.assert_allclose(w[9:], 0.07039127956464, rtol=1e-9)
    assert w.sum() == pytest.approx(1.0)


@pytest.mark.parametrize("spacing", [(2.5, 2.5, 7.5), (0.57, 0.57, 5.0), (0.5, 1.0, 2.0)])
def test_crofton_weights_anisotropic(spacing):
    w = F.crofton_weights(spacing)
    assert w.sum() == pytest.approx(1.0)
    assert np.all(w > 0)
    # symmetric pairs keep equal weights; the thick axis gets less of the sphere
    assert w[3] == pytest.approx(w[4]) and w[5] == pytest.approx(w[6])
    assert np.allclose(w[9:], w[9])
    assert w[2] < w[0]


@pytest.mark.parametrize("spacing", [(1.0, 1.0, 1.0), (1.0, 0.5, 2.0)])
def test_box_crofton_counts(spacing):
    """Axis-aligned box of p×q×r voxels: the run counts along the 13 directions are
    known in closed form, so SA follows exactly."""
    p, q, r = 20, 30, 10
    mask = np.zeros((p + 4, q + 4, r + 4), bool)
    mask[2:2 + p, 3:3 + q, 1:1 + r] = True
    runs = {
        (1, 0, 0): q * r, (0, 1, 0): p * r, (0, 0, 1): p * q,
        (1, 1, 0): (p + q - 1) * r, (1, -1, 0): (p + q - 1) * r,
        (1, 0, 1): (p + r - 1) * q, (1, 0, -1): (p + r - 1) * q,
        (0, 1, 1): (q + r - 1) * p, (0, 1, -1): (q + r - 1) * p,
    }
    diag = p * q + q * r + r * p - p - q - r + 1
    w = F.crofton_weights(spacing)
    vol = np.prod(spacing)
    expected = 0.0
    for weight, step in zip(w, F.CROFTON_DIRECTIONS):
        n = runs.get(step, diag)
        expected += weight * n / math.sqrt(sum((a * s) ** 2 for a, s in zip(step, spacing)))
    expected *= 4 * vol
    assert F.crofton_surface_area(mask, spacing) == pytest.approx(expected, rel=1e-12)


# ---------------------------------------------------------------------------------------
# analytic shapes

BALL_V = 4 / 3 * math.pi * 20**3 / 1000  # 33.510 cm³
BALL_SA = 4 * math.pi * 20**2 / 100  # 50.265 cm²


@pytest.mark.parametrize("spacing", [(1.0, 1.0, 1.0), (0.8, 1.1, 2.0), (1.0, 1.0, 3.0)])
def test_ball_paper(spacing):
    f = F.roi_features(ellipsoid((20, 20, 20), spacing, (0.3, 0.2, 0.1)), spacing, "paper")
    assert set(f) == set(SHAPE_FEATURES)
    assert f["volume"] == pytest.approx(BALL_V, rel=0.01)
    assert f["surface_area"] == pytest.approx(BALL_SA, rel=0.015)
    assert f["sphericity"] == pytest.approx(1.0, abs=0.02)
    assert f["spherical_disproportion"] == pytest.approx(1.0, abs=0.02)
    assert f["compactness2"] == pytest.approx(1.0, abs=0.05)
    assert f["compactness1"] == pytest.approx(1 / (6 * math.pi), rel=0.03)
    assert f["sa_v_ratio"] == pytest.approx(3 / 20, rel=0.02)
    # voxel centres: slightly less than 2r, by at most a voxel diagonal
    assert 40 - 2 * max(spacing) <= f["max_diameter"] <= 40.0
    assert f["major_axis"] == pytest.approx(40.0, rel=0.02)
    assert f["minor_axis"] == pytest.approx(40.0, rel=0.02)


@pytest.mark.parametrize("spacing", [(1.0, 1.0, 1.0), (0.8, 1.1, 2.0)])
def test_ball_ibsi(spacing):
    f = F.roi_features(ellipsoid((20, 20, 20), spacing, (0.3, 0.2, 0.1)), spacing, "ibsi")
    assert f["volume"] == pytest.approx(BALL_V, rel=0.01)
    # a marching-cubes mesh of a binary mask is a staircase: it overestimates the area
    # (≈ 9 % for this ball at 1 mm), which is why the paper convention differs
    assert BALL_SA < f["surface_area"] < 1.2 * BALL_SA
    assert 0.8 < f["sphericity"] < 1.0
    # mesh vertices lie on voxel faces: about 2r
    assert f["max_diameter"] == pytest.approx(40.0, rel=0.05)
    # 4·√(r²/5) for a solid ball
    assert f["major_axis"] == pytest.approx(4 * 20 / math.sqrt(5), rel=0.01)
    assert f["minor_axis"] == pytest.approx(4 * 20 / math.sqrt(5), rel=0.01)


@pytest.mark.parametrize("spacing", [(1.0, 1.0, 1.0), (0.9, 1.2, 2.5)])
def test_ellipsoid_axes(spacing):
    a, b, c = 30.0, 20.0, 12.0  # axis 0, 1, 2; axis 2 is axial
    mask = ellipsoid((a, b, c), spacing)
    paper = F.roi_features(mask, spacing, "paper", axial_axis=2)
    # the central axial slice is the ellipse with semi-axes a, b
    assert paper["major_axis"] == pytest.approx(2 * a, rel=0.02)
    assert paper["minor_axis"] == pytest.approx(2 * b, rel=0.02)
    assert paper["max_diameter"] == pytest.approx(2 * a, rel=0.02)
    assert paper["volume"] == pytest.approx(4 / 3 * math.pi * a * b * c / 1000, rel=0.01)
    # with axis 0 as the axial one, the slices are (b, c) ellipses
    sideways = F.roi_features(mask, spacing, "paper", axial_axis=0)
    assert sideways["major_axis"] == pytest.approx(2 * b, rel=0.03)
    assert sideways["minor_axis"] == pytest.approx(2 * c, rel=0.05)
    ibsi = F.roi_features(mask, spacing, "ibsi")
    assert ibsi["major_axis"] == pytest.approx(4 * a / math.sqrt(5), rel=0.015)
    assert ibsi["minor_axis"] == pytest.approx(4 * b / math.sqrt(5), rel=0.015)
    assert ibsi["volume"] == pytest.approx(paper["volume"], rel=0.01)


@pytest.mark.parametrize("spacing", [(1.0, 1.0, 1.0), (1.0, 0.5, 2.0)])
def test_box(spacing):
    p, q, r = 20, 30, 10
    mask = np.zeros((p + 2, q + 2, r + 2), bool)
    mask[1:1 + p, 1:1 + q, 1:1 + r] = True
    sides = np.array([p, q, r]) * spacing
    paper = F.roi_features(mask, spacing, "paper", axial_axis=2)
    assert paper["volume"] == pytest.approx(np.prod(sides) / 1000, rel=1e-12)
    centres = (np.array([p, q, r]) - 1) * spacing
    assert paper["max_diameter"] == pytest.approx(np.linalg.norm(centres), rel=1e-12)
    # regionprops: rectangle of side L (pixels included) -> 4·√(L²/12)
    lengths = sorted(sides[:2], reverse=True)
    assert paper["major_axis"] == pytest.approx(4 * math.sqrt(lengths[0] ** 2 / 12), rel=1e-9)
    assert paper["minor_axis"] == pytest.approx(4 * math.sqrt(lengths[1] ** 2 / 12), rel=1e-9)
    # Flat axis-aligned faces are the 13-direction estimator's worst case (a face normal
    # to an axis is counted as Σ c_i |cos θ_i| ≈ 0.93 of its area at 1 mm, less at
    # anisotropic spacing); exact run counts are checked in test_box_crofton_counts.
    true_sa = 2 * (sides[0] * sides[1] + sides[1] * sides[2] + sides[0] * sides[2]) / 100
    assert 0.75 * true_sa < paper["surface_area"] < true_sa
    ibsi = F.roi_features(mask, spacing, "ibsi")
    # voxel-centre covariance of a box: variance s²(n² − 1)/12 per axis
    var = sorted((np.array([p, q, r]) ** 2 - 1) * np.array(spacing) ** 2 / 12, reverse=True)
    assert ibsi["major_axis"] == pytest.approx(4 * math.sqrt(var[0]), rel=1e-9)
    assert ibsi["minor_axis"] == pytest.approx(4 * math.sqrt(var[1]), rel=1e-9)
    # the mesh cuts the box's edges and corners: a bit less than the box
    assert 0.9 * np.prod(sides) / 1000 < ibsi["volume"] < np.prod(sides) / 1000
    assert ibsi["max_diameter"] <= np.linalg.norm(sides) + 1e-9


def test_dimensionless_features_consistent():
    f = F.roi_features(ellipsoid((15, 10, 8), (1, 1, 1)), (1, 1, 1), "paper")
    v, s = f["volume"] * 1000, f["surface_area"] * 100
    assert f["sa_v_ratio"] == pytest.approx(s / v)
    assert f["sphericity"] == pytest.approx((36 * math.pi * v**2) ** (1 / 3) / s)
    assert f["spherical_disproportion"] == pytest.approx(1 / f["sphericity"])
    assert f["compactness1"] == pytest.approx(v / (math.sqrt(math.pi) * s**1.5))
    assert f["compactness2"] == pytest.approx(f["sphericity"] ** 3)


def test_single_voxel_and_empty():
    mask = np.zeros((3, 3, 3), bool)
    assert all(math.isnan(v) for v in F.roi_features(mask, (1, 1, 1)).values())
    mask[1, 1, 1] = True
    for convention in F.CONVENTIONS:
        f = F.roi_features(mask, (1.0, 2.0, 3.0), convention)
        assert all(math.isfinite(v) for v in f.values())
    assert F.roi_features(mask, (1.0, 2.0, 3.0))["volume"] == pytest.approx(6 / 1000)
    assert F.roi_features(mask, (1.0, 2.0, 3.0))["max_diameter"] == 0.0


def test_flat_and_thin_regions():
    """A one-slice region (coplanar voxel centres) and a line still have a diameter."""
    mask = np.zeros((30, 30, 5), bool)
    mask[5:25, 8:20, 2] = True
    f = F.roi_features(mask, (1.0, 1.0, 2.0), "paper")
    assert f["max_diameter"] == pytest.approx(math.hypot(19, 11))
    line = np.zeros((30, 5, 5), bool)
    line[3:23, 2, 2] = True
    assert F.roi_features(line, (0.5, 1, 1), "paper")["max_diameter"] == pytest.approx(9.5)


# ---------------------------------------------------------------------------------------
# largest component, conventions


def test_largest_component_only():
    big = ellipsoid((12, 12, 12), (1, 1, 1))
    mask = np.zeros((80, 40, 40), bool)
    mask[: big.shape[0], : big.shape[1], : big.shape[2]] = big
    small = ellipsoid((5, 5, 5), (1, 1, 1))
    mask[60:60 + small.shape[0], 5:5 + small.shape[1], 5:5 + small.shape[2]] = small
    for convention in F.CONVENTIONS:
        alone = F.roi_features(big, (1, 1, 1), convention)
        both = F.roi_features(mask, (1, 1, 1), convention)
        for name in SHAPE_FEATURES:
            assert both[name] == pytest.approx(alone[name], rel=1e-12), (convention, name)


def test_connectivity_rule():
    """Two cubes touching at one corner are one 26-connected region but two
    6-connected ones; 18-connectivity joins cubes sharing an edge."""
    mask = np.zeros((12, 12, 12), bool)
    mask[1:5, 1:5, 1:5] = True  # 64 voxels
    mask[5:8, 5:8, 5:8] = True  # 27 voxels, touches at a corner
    assert F.roi_features(mask, (1, 1, 1), connectivity=26)["volume"] == pytest.approx(0.091)
    assert F.roi_features(mask, (1, 1, 1), connectivity=18)["volume"] == pytest.approx(0.064)
    assert F.roi_features(mask, (1, 1, 1), connectivity=6)["volume"] == pytest.approx(0.064)
    edge = np.zeros((12, 12, 12), bool)
    edge[1:5, 1:5, 1:5] = True
    edge[5:8, 5:8, 1:4] = True  # shares an edge line
    assert F.roi_features(edge, (1, 1, 1), connectivity=18)["volume"] == pytest.approx(0.091)
    assert F.roi_features(edge, (1, 1, 1), connectivity=6)["volume"] == pytest.approx(0.064)
    assert F.roi_features(mask, (1, 1, 1))["volume"] == pytest.approx(0.091)  # default 26


def test_conventions_differ_where_expected():
    mask = ellipsoid((18, 12, 9), (1.0, 1.0, 1.0))
    paper = F.roi_features(mask, (1, 1, 1), "paper")
    ibsi = F.roi_features(mask, (1, 1, 1), "ibsi")
    assert paper["volume"] == pytest.approx(ibsi["volume"], rel=0.01)
    assert ibsi["surface_area"] > paper["surface_area"]  # staircase mesh
    assert ibsi["max_diameter"] > paper["max_diameter"]  # faces vs centres
    assert paper["major_axis"] > ibsi["major_axis"]  # 2a vs 4a/√5
    with pytest.raises(RadiogenomicsError, match="features.convention: expected one of paper, ibsi, got 'matlab'"):
        F.roi_features(mask, (1, 1, 1), "matlab")
    with pytest.raises(RadiogenomicsError, match="spacing"):
        F.roi_features(mask, (1, 0, 1))


def test_bad_arguments_raise_the_packages_error():
    mask = ellipsoid((8, 6, 5), (1.0, 1.0, 1.0))
    for call, message in (
        (lambda: F.roi_features(mask, (1, 1)), r"spacing must be three numbers, got \(1, 1\)"),
        (lambda: F.roi_features(mask, 1.0), "spacing must be three numbers, got 1.0"),
        (lambda: F.roi_features(mask, (1, 1, float("nan"))), "voxel spacing must be positive and finite"),
        (lambda: F.roi_features(mask, (1, 1, 1), connectivity=8), "features.connectivity: expected 6, 18 or 26, got 8"),
        (lambda: F.roi_features(mask, (1, 1, 1), axial_axis=3), "axial_axis must be 0, 1 or 2, got 3"),
        (lambda: F.roi_features(mask[0], (1, 1, 1)), r"mask must be 3-D, got shape \(\d+, \d+\)"),
        (lambda: F.slice_ellipse_axes(mask, (1, 1, 1), axial_axis=-1), "axial_axis must be 0, 1 or 2, got -1"),
        (lambda: F.largest_component(mask, connectivity=4), "features.connectivity: expected 6, 18 or 26"),
    ):
        with pytest.raises(RadiogenomicsError, match=message):
            call()


# ---------------------------------------------------------------------------------------
# NIfTI: orientation, anisotropy, patient features


def test_patient_features_names_and_values(tmp_path):
    data = brats_case()
    path = save(tmp_path / "TCGA-02-0001_seg.nii.gz", data)
    values = F.patient_features(path, LABELS, "paper")
    assert list(values) == list(IMAGE_FEATURES)
    direct = F.roi_features(data == 4, (1, 1, 1), "paper", 2)
    for name in SHAPE_FEATURES:
        assert values[f"enhancing_{name}"] == pytest.approx(direct[name])
    assert values["edema_volume"] == pytest.approx(np.count_nonzero(data == 2) / 1000)


@pytest.mark.parametrize("convention", F.CONVENTIONS)
def test_orientation_invariance(tmp_path, convention):
    """Flipped and permuted voxel axes with a matching affine describe the same
    physical object: same values (the axial axis comes from the affine)."""
    data = brats_case()
    spacing = np.array([0.9, 1.1, 2.5])
    base_affine = np.diag([*spacing, 1.0])
    base = F.patient_features(save(tmp_path / "ras.nii.gz", data, base_affine), LABELS, convention)

    # LPS-like flips of axes 0 and 1
    flipped = data[::-1, ::-1, :]
    affine = base_affine.copy()
    affine[:3, 0] *= -1
    affine[:3, 1] *= -1
    affine[:3, 3] = [spacing[0] * (data.shape[0] - 1), spacing[1] * (data.shape[1] - 1), 0]
    # permutation: voxel axes (z, x, y) -> world (x, y, z) columns permuted accordingly
    permuted = np.ascontiguousarray(data.transpose(2, 0, 1))
    perm_affine = np.zeros((4, 4))
    perm_affine[2, 0] = spacing[2]
    perm_affine[0, 1] = spacing[0]
    perm_affine[1, 2] = spacing[1]
    perm_affine[3, 3] = 1
    assert F.axial_axis_of(perm_affine) == 0
    for name, arr, aff in [("lps", flipped, affine), ("perm", permuted, perm_affine)]:
        other = F.patient_features(save(tmp_path / f"{name}.nii.gz", arr, aff), LABELS, convention)
        for key in IMAGE_FEATURES:
            assert other[key] == pytest.approx(base[key], rel=1e-9), (name, key)


def test_axial_axis_from_oblique_affine():
    angle = math.radians(20)
    rot = np.array([[1, 0, 0], [0, math.cos(angle), -math.sin(angle)], [0, math.sin(angle), math.cos(angle)]])
    affine = np.eye(4)
    affine[:3, :3] = rot @ np.diag([1.0, 1.0, 3.0])
    assert F.axial_axis_of(affine) == 2
    affine[:3, :3] = affine[:3, [2, 0, 1]]
    assert F.axial_axis_of(affine) == 0


def test_anisotropic_equals_isotropic_equivalent(tmp_path):
    """The same object stored at 1 mm and at 1 × 1 × 0.5 mm (each slice repeated) has
    the same volume, diameters and axes, and nearly the same surface area."""
    data = brats_case()
    iso = F.patient_features(save(tmp_path / "iso.nii.gz", data), LABELS, "paper")
    fine = np.repeat(data, 2, axis=2)
    aniso = F.patient_features(
        save(tmp_path / "aniso.nii.gz", fine, np.diag([1.0, 1.0, 0.5, 1.0])), LABELS, "paper")
    for region in ("enhancing", "edema"):
        assert aniso[f"{region}_volume"] == pytest.approx(iso[f"{region}_volume"], rel=1e-12)
        assert aniso[f"{region}_major_axis"] == pytest.approx(iso[f"{region}_major_axis"], rel=1e-9)
        assert aniso[f"{region}_surface_area"] == pytest.approx(iso[f"{region}_surface_area"], rel=0.05)
        # voxel centres move by 0.25 mm at each end along z
        assert abs(aniso[f"{region}_max_diameter"] - iso[f"{region}_max_diameter"]) <= 0.5


def test_ball_at_thick_slices_matches_isotropic(tmp_path):
    iso = F.roi_features(ellipsoid((20, 20, 20), (1, 1, 1)), (1, 1, 1), "paper")
    thick = F.roi_features(ellipsoid((20, 20, 20), (1, 1, 2.5)), (1, 1, 2.5), "paper")
    for name in ("volume", "surface_area", "sphericity", "major_axis"):
        assert thick[name] == pytest.approx(iso[name], rel=0.02), name


def test_float_labels_with_integer_values_are_accepted(tmp_path):
    data = brats_case().astype(np.float32)
    values = F.patient_features(save(tmp_path / "f.nii.gz", data), LABELS, "paper")
    assert values["enhancing_volume"] > 0


def test_missing_region_gives_nan(tmp_path):
    data = brats_case()
    data[data == 4] = 1
    values = F.patient_features(save(tmp_path / "noenh.nii.gz", data), LABELS, "ibsi")
    assert all(math.isnan(values[f"enhancing_{n}"]) for n in SHAPE_FEATURES)
    assert all(math.isfinite(values[f"edema_{n}"]) for n in SHAPE_FEATURES)
    assert F.missing_regions(values) == ["enhancing"]


def test_brats2021_labels(tmp_path):
    data = brats_case()
    data[data == 4] = 3
    labels = {"enhancing": 3, "edema": 2, "necrosis": 1}
    values = F.patient_features(save(tmp_path / "b21.nii.gz", data), labels, "paper")
    assert values["enhancing_volume"] > 0
    with pytest.raises(RadiogenomicsError, match=r"b21\.nii\.gz.*\[3\]"):
        F.patient_features(tmp_path / "b21.nii.gz", LABELS, "paper")


# ---------------------------------------------------------------------------------------
# bad input: a clear error naming the file


def test_unexpected_label(tmp_path):
    data = brats_case()
    data[0, 0, 0] = 7
    path = save(tmp_path / "TCGA-02-0007_bad.nii.gz", data)
    with pytest.raises(RadiogenomicsError, match=r"TCGA-02-0007_bad\.nii\.gz.*\[7\]"):
        F.patient_features(path, LABELS, "paper")


def test_non_integer_image(tmp_path):
    data = brats_case().astype(np.float32)
    data[10, 10, 10] = 0.5
    path = save(tmp_path / "fractional.nii.gz", data)
    with pytest.raises(RadiogenomicsError, match=r"fractional\.nii\.gz.*integer"):
        F.patient_features(path, LABELS, "paper")
    data[10, 10, 10] = np.nan
    path = save(tmp_path / "nan.nii.gz", data)
    with pytest.raises(RadiogenomicsError, match=r"nan\.nii\.gz.*integer"):
        F.patient_features(path, LABELS, "paper")


def test_four_d_image(tmp_path):
    data = np.stack([brats_case(), brats_case()], axis=-1)
    path = save(tmp_path / "fourd.nii.gz", data)
    with pytest.raises(RadiogenomicsError, match=r"fourd\.nii\.gz.*3-D"):
        F.patient_features(path, LABELS, "paper")


def _patched_pixdim(tmp_path, name, zooms):
    """A .nii.gz whose header pixdim[1:4] is set to ``zooms`` byte by byte (nibabel
    refuses to write such headers itself)."""
    plain = save(tmp_path / "plain.nii", brats_case())
    raw = bytearray(plain.read_bytes())
    raw[80:92] = struct.pack("<3f", *zooms)  # NIfTI-1: pixdim[8] float32 at byte 76
    out = tmp_path / name
    out.write_bytes(gzip.compress(bytes(raw)))
    return out


@pytest.mark.parametrize("zooms", [(1.0, 0.0, 1.0), (1.0, 1.0, -2.0)])
def test_bad_spacing(tmp_path, zooms):
    path = _patched_pixdim(tmp_path, "badspacing.nii.gz", zooms)
    with pytest.raises(RadiogenomicsError, match=r"badspacing\.nii\.gz.*spacing"):
        F.patient_features(path, LABELS, "paper")


def test_truncated_and_unreadable(tmp_path):
    good = save(tmp_path / "good.nii.gz", brats_case())
    raw = good.read_bytes()
    truncated = tmp_path / "truncated.nii.gz"
    truncated.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(RadiogenomicsError, match=r"truncated\.nii\.gz.*cannot read"):
        F.patient_features(truncated, LABELS, "paper")
    garbage = tmp_path / "garbage.nii.gz"
    garbage.write_bytes(b"this is not a NIfTI file at all" * 20)
    with pytest.raises(RadiogenomicsError, match=r"garbage\.nii\.gz.*cannot read"):
        F.patient_features(garbage, LABELS, "paper")
    with pytest.raises(RadiogenomicsError, match=r"absent\.nii\.gz.*not found"):
        F.patient_features(tmp_path / "absent.nii.gz", LABELS, "paper")


# ---------------------------------------------------------------------------------------
# PyRadiomics' published values for three real masks (IBSI convention)

# Source: PyRadiomics' test baseline (its pyradiomics_baseline_shape.csv, AIM-Harvard/pyradiomics,
# BSD 3-clause), copied below: MeshVolume (mm³), SurfaceArea (mm²), Maximum3DDiameter,
# MajorAxisLength, MinorAxisLength (mm), Sphericity.
PYRADIOMICS = {
    "breast1": dict(volume=124.091304832, area=172.887079476, diameter=9.08101860833,
                    major=7.730961315078334, minor=5.4115477584202925, sphericity=0.695903713518),
    "lung1": dict(volume=1330.97607931, area=782.241457999, diameter=21.3449467202,
                  major=17.374483317150464, minor=12.488622781409092, sphericity=0.748037658194),
    "lung2": dict(volume=48292.5216046, area=9537.54487991, diameter=68.9824710303,
                  major=55.77446577218634, minor=41.45975188669023, sphericity=0.672409930059),
}


@pytest.mark.parametrize("case", sorted(PYRADIOMICS))
def test_pyradiomics_reference(case):
    path = REFERENCE / "masks" / f"{case}_label.nii.gz"
    if not path.is_file():
        pytest.skip(f"{path} absent: the PyRadiomics reference masks live in ../shared/reference "
                    "beside the checkout (CI only), see that folder's README")
    image = nib.load(str(path))
    mask = np.asanyarray(image.dataobj) != 0
    f = F.roi_features(mask, image.header.get_zooms()[:3], "ibsi", F.axial_axis_of(image.affine))
    ref = PYRADIOMICS[case]
    v, s = ref["volume"], ref["area"]
    assert f["volume"] == pytest.approx(v / 1000, rel=0.01)
    assert f["surface_area"] == pytest.approx(s / 100, rel=0.01)
    assert f["max_diameter"] == pytest.approx(ref["diameter"], rel=0.01)
    assert f["major_axis"] == pytest.approx(ref["major"], rel=0.01)
    assert f["minor_axis"] == pytest.approx(ref["minor"], rel=0.01)
    assert f["sa_v_ratio"] == pytest.approx(s / v, rel=0.01)
    assert f["sphericity"] == pytest.approx(ref["sphericity"], rel=0.01)
    assert f["compactness1"] == pytest.approx(v / (math.sqrt(math.pi) * s**1.5), rel=0.015)
    assert f["compactness2"] == pytest.approx(36 * math.pi * v**2 / s**3, rel=0.015)


# ---------------------------------------------------------------------------------------
# cohort tables


def _table(values_by_patient):
    return pd.concat([F.patient_table(p, v) for p, v in values_by_patient.items()]).sort_index()


def _values(scale):
    return {c: scale * (i + 1) for i, c in enumerate(IMAGE_FEATURES)}


def test_patient_table_writes_empty_cells(tmp_path):
    values = _values(1.0)
    for name in SHAPE_FEATURES:
        values[f"enhancing_{name}"] = math.nan
    path = tmp_path / "P1.tsv"
    io.write_tsv(F.patient_table("P1", values), path)
    lines = path.read_text().splitlines()
    assert lines[0].split("\t") == ["patient", *IMAGE_FEATURES]
    cells = lines[1].split("\t")
    assert cells[0] == "P1" and cells[1:11] == [""] * 10 and all(cells[11:])
    back = F.read_patient_tables([path])
    assert back.loc["P1", "enhancing_volume"] != back.loc["P1", "enhancing_volume"]  # NaN


def test_collect_scales_by_cohort_max_and_leaves_out_missing():
    vals = {"A": _values(1.0), "B": _values(2.0), "C": _values(3.0)}
    vals["C"]["enhancing_volume"] = math.nan
    complete, scaled, factors, missing = F.collect(_table(vals))
    assert list(complete.index) == ["A", "B"]
    assert list(missing.index) == ["C"] and missing.loc["C", "missing_regions"] == "enhancing"
    assert np.allclose(scaled.max(), 1.0)
    np.testing.assert_allclose(scaled.loc["A"], 0.5)
    assert list(factors.columns) == ["scale", "unit"] and factors.index.name == "feature"
    assert list(factors.index) == list(IMAGE_FEATURES)
    assert factors.loc["edema_volume", "scale"] == pytest.approx(2.0 * (IMAGE_FEATURES.index("edema_volume") + 1))
    assert factors.loc["enhancing_volume", "unit"] == UNITS["volume"]
    np.testing.assert_allclose(scaled * factors["scale"], complete)
    with pytest.raises(RadiogenomicsError, match=r"C\.nii\.gz.*enhancing"):
        F.collect(_table(vals), "error", sources={"C": "segs/C.nii.gz"})


def test_read_patient_tables_checks(tmp_path):
    bad = tmp_path / "bad.tsv"
    bad.write_text("patient\tvolume\nP\t1\n")
    with pytest.raises(RadiogenomicsError, match=r"bad\.tsv"):
        F.read_patient_tables([bad])
    a = tmp_path / "a.tsv"
    io.write_tsv(F.patient_table("P", _values(1.0)), a)
    with pytest.raises(RadiogenomicsError, match="two feature tables"):
        F.read_patient_tables([a, a])


# ---------------------------------------------------------------------------------------
# tiny regions (features.min_voxels) and the documented ranges


def test_single_voxel_region_has_impossible_values_and_counts_as_missing_below_min_voxels(tmp_path):
    data = brats_case()
    data[data == 4] = 1
    data[31, 26, 19] = 4                                # a 1-voxel enhancing region
    path = save(tmp_path / "TCGA-02-0001_seg.nii.gz", data)
    raw, sizes = F.patient_features_and_sizes(path, LABELS, "paper", 26, 1)
    assert sizes == {"enhancing": 1, "edema": int(np.count_nonzero(data == 2))}
    # what the issue measured: sphericity 1.61, compactness 2 = 4.17, max diameter 0
    assert raw["enhancing_sphericity"] == pytest.approx(1.6098, abs=1e-3)
    assert raw["enhancing_compactness2"] == pytest.approx(4.1717, abs=1e-3)
    assert raw["enhancing_max_diameter"] == 0.0
    flagged = {f for f, _, _ in F.range_violations(raw)}
    assert {"enhancing_sphericity", "enhancing_compactness2", "enhancing_max_diameter",
            "enhancing_spherical_disproportion", "enhancing_compactness1"} <= flagged
    assert not any(f.startswith("edema_") for f in flagged)
    values, sizes = F.patient_features_and_sizes(path, LABELS, "paper", 26, F.MIN_VOXELS)
    assert F.missing_regions(values) == ["enhancing"] and sizes["enhancing"] == 1
    assert all(math.isfinite(values[f"edema_{n}"]) for n in SHAPE_FEATURES)
    assert not F.range_violations(values)


@pytest.mark.parametrize("convention", ["paper", "ibsi"])
def test_regions_at_min_voxels_are_kept_and_in_range(convention):
    rng = np.random.default_rng(3)
    for radius in (2.4, 3.0, 4.0, 6.0, 9.0):
        ball = ellipsoid((radius,) * 3, (1.0, 1.0, 1.0), rng.uniform(-0.5, 0.5, 3))
        assert np.count_nonzero(ball) >= F.MIN_VOXELS
        values = F.roi_features(ball, (1, 1, 1), convention, min_voxels=F.MIN_VOXELS)
        assert all(math.isfinite(v) for v in values.values())
        assert not F.range_violations({f"enhancing_{k}": v for k, v in values.items()}), (radius, values)
    small = ellipsoid((1.5,) * 3, (1.0, 1.0, 1.0))
    assert np.count_nonzero(small) < F.MIN_VOXELS
    assert all(math.isnan(v) for v in F.roi_features(small, (1, 1, 1), convention,
                                                     min_voxels=F.MIN_VOXELS).values())


def test_range_violations_bounds():
    good = {f"enhancing_{n}": v for n, v in zip(SHAPE_FEATURES, (1.0, 2.0, 0.2, 0.7, 1 / 0.7, 20.0, 15.0, 10.0,
                                                                 0.7 ** 1.5 / (6 * math.pi), 0.7 ** 3))}
    assert F.range_violations(good) == []
    assert F.range_violations({**good, "enhancing_volume": math.nan}) == []       # missing: not checked
    s = 1 + F.SPHERICITY_SLACK
    cases = {"enhancing_sphericity": s * 1.001, "enhancing_compactness2": s ** 3 * 1.001,
             "enhancing_compactness1": s ** 1.5 / (6 * math.pi) * 1.001,
             "enhancing_spherical_disproportion": 1 / s * 0.999, "enhancing_volume": 0.0,
             "enhancing_max_diameter": -1.0, "enhancing_minor_axis": 16.0, "enhancing_sa_v_ratio": math.inf}
    for feature, value in cases.items():
        problems = F.range_violations({**good, feature: value})
        assert [p[0] for p in problems] == [feature], (feature, problems)
        assert problems[0][1] == value
    # just inside the slack is accepted (estimator noise of small compact regions)
    assert F.range_violations({**good, "enhancing_sphericity": s * 0.999}) == []


def test_tiny_region_patient_is_left_out_with_reason_and_does_not_rescale_the_cohort():
    vals = {"A": _values(1.0), "B": _values(2.0), "C": _values(3.0)}
    sizes = {"A": (900, 5000), "B": (800, 4000), "C": (1, 3000)}
    for name in SHAPE_FEATURES:
        vals["C"][f"enhancing_{name}"] = math.nan             # C's 1-voxel region is below min_voxels
    table = _table(vals)
    for p, (e, d) in sizes.items():
        table.loc[p, "enhancing_voxels"], table.loc[p, "edema_voxels"] = e, d
    complete, scaled, factors, missing = F.collect(table, min_voxels=50)
    assert list(complete.columns) == list(IMAGE_FEATURES) and list(complete.index) == ["A", "B"]
    assert list(missing.index) == ["C"] and missing.loc["C", "missing_regions"] == "enhancing"
    assert "largest enhancing component has 1 voxel(s), fewer than features.min_voxels = 50" \
        in missing.loc["C", "note"]
    # the scale factors are the maxima over A and B only
    ref = F.scale_by_max(_table({"A": vals["A"], "B": vals["B"]}))[1]
    pd.testing.assert_frame_equal(factors, ref)
    # without sizes (old per-patient tables) the note says the region has no voxels
    _, _, _, missing = F.collect(_table(vals))
    assert missing.loc["C", "note"].startswith("no enhancing voxels")


def test_patient_table_with_sizes_round_trips(tmp_path):
    path = tmp_path / "P.tsv"
    io.write_tsv(F.patient_table("P", _values(1.0), {"enhancing": 7, "edema": 90}), path)
    assert path.read_text().splitlines()[0].split("\t") == ["patient", *IMAGE_FEATURES, *F.SIZE_COLUMNS]
    back = F.read_patient_tables([path])
    assert back.loc["P", "enhancing_voxels"] == 7 and back.loc["P", "edema_voxels"] == 90
