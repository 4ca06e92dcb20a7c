"""The 20 morphological image features of the paper (§2.1.2, Table 1).

For each region of interest (enhancing tumour, peritumoral edema) ten shape features
are computed on the region's *largest connected component* ("the largest contiguously
segmented area", 26-connectivity by default), in physical units taken from the voxel
spacing (never assuming 1 mm voxels):

========================  ======  ===================================================
name                      unit    definition (V in mm³ and SA in mm² for the ratios)
========================  ======  ===================================================
volume                    cm³     V / 1000
surface_area              cm²     SA / 100
sa_v_ratio                mm⁻¹    SA / V
sphericity                        π^(1/3) (6V)^(2/3) / SA                  (0, 1]
spherical_disproportion           SA / (4π R²), R = (3V / 4π)^(1/3)        ≥ 1
max_diameter              mm      largest distance between two points of the region
major_axis                mm      see the conventions below
minor_axis                mm      see the conventions below
compactness1                      V / (√π · SA^(3/2))                      (0, 1/(6π)]
compactness2                      36π V² / SA³                             (0, 1]
========================  ======  ===================================================

Two conventions (``features.convention``):

``paper`` — what the paper's MATLAB code computed (ref. [18], Legland et al. 2007):
    * V = number of voxels × voxel volume.
    * SA = the discrete Crofton formula over 13 directions (the 3 axes, the 6 face
      diagonals and the 4 cube diagonals of the voxel grid): along each direction
      ``v_i`` (physical length ``d_i``) the number ``n_i`` of runs of foreground voxels
      is counted (each run = 2 intersections of a line with the surface); then
      ``SA = 4 · a_v · Σ_i c_i n_i / d_i`` with ``a_v`` the voxel volume (so that
      ``d_i / a_v`` is the density of lines) and ``c_i`` the fraction of the unit
      sphere closest to ±v_i (spherical Voronoi cell areas of the 26 physical
      directions; Σ c_i = 1), which depend on the voxel spacing.
    * max_diameter = largest distance between two voxel centres (searched over the
      vertices of their convex hull).
    * major_axis / minor_axis = MATLAB ``regionprops`` MajorAxisLength /
      MinorAxisLength (lengths of the ellipse with the same normalised second central
      moments, each moment including the 1/12 pixel term) of the region on each axial
      slice, in physical units; major_axis is the largest over the slices and
      minor_axis the minor axis on that same slice. All pixels of the component on a
      slice form one region (as ``regionprops`` on a label image).

``ibsi`` — the Image Biomarker Standardisation Initiative definitions as PyRadiomics
implements them (van Griethuysen et al. 2017, ref. [17]):
    * V and SA of the marching-cubes mesh of the mask (padded by one voxel, level 0.5,
      ``skimage.measure.marching_cubes`` with the voxel spacing); V by the divergence
      theorem (sum of signed tetrahedra).
    * max_diameter = largest distance between two mesh vertices.
    * major_axis / minor_axis = 4·√λ₁ and 4·√λ₂, λ₁ ≥ λ₂ ≥ λ₃ the eigenvalues of the
      covariance (normalised by N) of the physical voxel-centre coordinates.

The mask is cropped to its bounding box before anything else, so a 240×240×155
segmentation costs little more than its tumour.

Tiny regions (``features.min_voxels``, default :data:`MIN_VOXELS`): a region whose largest
component has fewer voxels counts as missing, like a region without voxels. Shape
features of a handful of voxels are artefacts of the grid, not shape: a single voxel has
the paper convention's sphericity 1.61, compactness 2 = 4.17 (both at most 1 by
definition) and max diameter 0, and because features are scaled by the cohort maximum
(§2.1.2) one such patient would rescale everyone. 50 is the smallest lesion the BraTS 2023
glioma challenge evaluates (its lesion-wise metrics ignore components under 50 voxels of
1 mm³). Measured on digital balls (paper convention): sphericity 1.61 at 1 voxel, 1.08 at
7, 1.04 at 33, at most 1.052 from 50 voxels on and at most 1.018 from 250 on.

Range checks (:func:`range_violations`): every computed value is checked against the
range in the table above; lengths, areas and volumes must be positive and the minor axis
at most the major one. The discrete estimators can exceed the sphere bound slightly
(Crofton underestimates a digital ball's surface by up to about 5 % at 50 voxels), so the
ratio bounds get :data:`SPHERICITY_SLACK`. A value outside is reported (warning naming the
patient, feature and value; ``results/features/range_warnings.tsv``), not changed.
"""

from __future__ import annotations

import functools
import math
import zlib
from pathlib import Path

import numpy as np
from scipy import ndimage
from scipy.spatial import ConvexHull, QhullError, SphericalVoronoi
from scipy.spatial.distance import cdist

from .errors import RadiogenomicsError
from .names import REGIONS, SHAPE_FEATURES

CONVENTIONS = ("paper", "ibsi")

#: Default ``features.min_voxels``: regions whose largest component is smaller count as
#: missing (module docstring: the BraTS 2023 glioma challenge's smallest evaluated lesion).
MIN_VOXELS = 50

#: Relative slack on the sphericity bound (and the bounds it implies for spherical
#: disproportion and the compactnesses) in :func:`range_violations`: the paper
#: convention's Crofton surface of a digital ball is up to ~5 % low at 50-250 voxels
#: (sphericity measured up to 1.052), so values up to 1.06 are estimator noise.
SPHERICITY_SLACK = 0.06

#: The 13 directions of the Crofton estimate (one of each ± pair), in voxel steps.
CROFTON_DIRECTIONS = (
    (1, 0, 0), (0, 1, 0), (0, 0, 1),
    (1, 1, 0), (1, -1, 0), (1, 0, 1), (1, 0, -1), (0, 1, 1), (0, 1, -1),
    (1, 1, 1), (1, 1, -1), (1, -1, 1), (1, -1, -1),
)


# ---------------------------------------------------------------------------------------
# helpers


def _spacing(spacing) -> tuple[float, float, float]:
    try:
        values = tuple(float(s) for s in spacing)
    except TypeError:
        raise RadiogenomicsError(f"spacing must be three numbers, got {spacing!r}") from None
    if len(values) != 3:
        raise RadiogenomicsError(f"spacing must be three numbers, got {spacing!r}")
    if not all(math.isfinite(s) and s > 0 for s in values):
        raise RadiogenomicsError(f"voxel spacing must be positive and finite, got {values}")
    return values


def _structure(connectivity: int) -> np.ndarray:
    """3×3×3 structuring element: 6 (faces), 18 (+edges) or 26 (+corners) neighbours."""
    rank = {6: 1, 18: 2, 26: 3}.get(int(connectivity))
    if rank is None:
        raise RadiogenomicsError(f"features.connectivity: expected 6, 18 or 26, got {connectivity!r}")
    return ndimage.generate_binary_structure(3, rank)


def largest_component(mask: np.ndarray, connectivity: int = 26) -> np.ndarray:
    """The largest connected component of ``mask``, cropped to its bounding box.

    Ties between equally large components go to the one found first in C order.
    Returns an empty ``(0, 0, 0)`` array when ``mask`` has no voxel.
    """
    mask = _crop(np.asarray(mask, dtype=bool))
    if mask.size == 0:
        return mask
    labelled, count = ndimage.label(mask, structure=_structure(connectivity))
    if count > 1:
        sizes = np.bincount(labelled.ravel())
        sizes[0] = 0
        mask = labelled == int(np.argmax(sizes))
        mask = _crop(mask)
    return mask


def _crop(mask: np.ndarray) -> np.ndarray:
    """``mask`` cut to the bounding box of its True voxels (empty array if none)."""
    slices = []
    for axis in range(mask.ndim):
        other = tuple(a for a in range(mask.ndim) if a != axis)
        hit = np.flatnonzero(mask.any(axis=other))
        if hit.size == 0:
            return np.zeros((0,) * mask.ndim, dtype=bool)
        slices.append(slice(int(hit[0]), int(hit[-1]) + 1))
    return mask[tuple(slices)]


@functools.lru_cache(maxsize=64)
def crofton_weights(spacing: tuple[float, float, float]) -> np.ndarray:
    """Direction weights c_i of :data:`CROFTON_DIRECTIONS` for a voxel spacing.

    c_i is the fraction of the unit sphere whose closest direction among the 26
    physical directions ±(i·s0, j·s1, k·s2) is ±v_i (area of the two spherical Voronoi
    cells / 4π). The 13 weights sum to 1. For 1 mm isotropic voxels they are
    0.091556 (axes), 0.073961 (face diagonals) and 0.070391 (cube diagonals), the
    values of Legland et al. (2007).
    """
    vectors = np.array(CROFTON_DIRECTIONS, dtype=float) * np.asarray(spacing, dtype=float)
    vectors /= np.linalg.norm(vectors, axis=1)[:, None]
    voronoi = SphericalVoronoi(np.vstack([vectors, -vectors]), radius=1.0)
    areas = voronoi.calculate_areas()
    weights = (areas[:13] + areas[13:]) / (4.0 * math.pi)
    weights.flags.writeable = False  # cached: shared between calls
    return weights


def _shifted_pair(mask: np.ndarray, step) -> tuple[np.ndarray, np.ndarray]:
    """Views ``a``, ``b`` of ``mask`` with ``b[p] = mask[p + step]`` where both exist."""
    first, second = [], []
    for s, n in zip(step, mask.shape):
        if s > 0:
            first.append(slice(0, n - s))
            second.append(slice(s, n))
        elif s < 0:
            first.append(slice(-s, n))
            second.append(slice(0, n + s))
        else:
            first.append(slice(None))
            second.append(slice(None))
    return mask[tuple(first)], mask[tuple(second)]


def crofton_surface_area(mask: np.ndarray, spacing) -> float:
    """Surface area (mm²) of a binary 3-D image by the 13-direction Crofton formula.

    Legland, Kiêu & Devaux (2007), Image Anal Stereol 26:83–92: for each direction
    ``v_i`` the number of foreground runs along lines parallel to it is
    ``n_i = N − #{p : X(p) ∧ X(p + v_i)}`` (N the number of foreground voxels); then
    ``SA = 4 · a_v · Σ_i c_i · n_i / d_i`` with ``a_v`` the voxel volume, ``d_i`` the
    physical length of ``v_i`` and ``c_i`` the spacing-aware Voronoi weights of
    :func:`crofton_weights`. The image border counts as background.
    """
    spacing = _spacing(spacing)
    mask = np.asarray(mask, dtype=bool)
    n_voxels = int(np.count_nonzero(mask))
    if n_voxels == 0:
        return 0.0
    weights = crofton_weights(spacing)
    voxel_volume = spacing[0] * spacing[1] * spacing[2]
    total = 0.0
    for weight, step in zip(weights, CROFTON_DIRECTIONS):
        a, b = _shifted_pair(mask, step)
        runs = n_voxels - int(np.count_nonzero(a & b))
        length = math.sqrt(sum((s * d) ** 2 for s, d in zip(step, spacing)))
        total += weight * runs / length
    return 4.0 * voxel_volume * total


def _max_distance(points: np.ndarray) -> float:
    """Largest Euclidean distance between two of ``points`` (n × 3), exactly.

    The farthest pair lies on the convex hull, so only hull vertices are compared.
    Flat (coplanar or collinear) point sets are handled in their own subspace.
    """
    points = np.asarray(points, dtype=float)
    if len(points) < 2:
        return 0.0
    candidates = points
    if len(points) > 4:
        try:
            candidates = points[ConvexHull(points).vertices]
        except QhullError:
            centred = points - points.mean(axis=0)
            _, singular, vt = np.linalg.svd(centred, full_matrices=False)
            rank = int(np.sum(singular > 1e-9 * max(singular[0], 1e-300)))
            if rank <= 1:
                proj = centred @ vt[0]
                candidates = points[[int(np.argmin(proj)), int(np.argmax(proj))]]
            else:
                flat = centred @ vt[:2].T
                try:
                    candidates = points[ConvexHull(flat).vertices]
                except QhullError:  # pragma: no cover - numerically degenerate
                    candidates = points
    best = 0.0
    for start in range(0, len(candidates), 1024):
        block = cdist(candidates[start:start + 1024], candidates, "sqeuclidean")
        best = max(best, float(block.max()))
    return math.sqrt(best)


def _extreme_voxel_centres(mask: np.ndarray, spacing) -> np.ndarray:
    """Physical centres of the first and last foreground voxel on every line along
    axis 2 — a superset of the convex hull's vertices, much smaller than the mask."""
    present = mask.any(axis=2)
    i, j = np.nonzero(present)
    first = np.argmax(mask, axis=2)[i, j]
    last = mask.shape[2] - 1 - np.argmax(mask[:, :, ::-1], axis=2)[i, j]
    index = np.concatenate([np.stack([i, j, first], 1), np.stack([i, j, last], 1)])
    return index * np.asarray(spacing, dtype=float)


def _voxel_centres(mask: np.ndarray, spacing) -> np.ndarray:
    return np.argwhere(mask) * np.asarray(spacing, dtype=float)


def slice_ellipse_axes(mask: np.ndarray, spacing, axial_axis: int = 2) -> tuple[float, float]:
    """(major_axis, minor_axis) in mm, MATLAB ``regionprops`` style, on axial slices.

    For the pixels of one slice with in-plane physical coordinates (x, y) and pixel
    size (sx, sy): uxx = var(x) + sx²/12, uyy = var(y) + sy²/12, uxy = cov(x, y)
    (normalised by N, the 1/12 term is the second moment of a uniform pixel), and the
    axis lengths are 2√2·√(uxx + uyy ± √((uxx − uyy)² + 4uxy²)), i.e. 4·√eigenvalue.
    Returns the largest major axis over the slices and the minor axis of that slice.
    """
    spacing = _spacing(spacing)
    if axial_axis not in (0, 1, 2):
        raise RadiogenomicsError(f"axial_axis must be 0, 1 or 2, got {axial_axis!r}")
    coords = np.nonzero(mask)
    if coords[0].size == 0:
        return math.nan, math.nan
    in_plane = [a for a in range(3) if a != axial_axis]
    slice_index = coords[axial_axis]
    n_slices = mask.shape[axial_axis]
    u = coords[in_plane[0]] * spacing[in_plane[0]]
    v = coords[in_plane[1]] * spacing[in_plane[1]]
    # centre per slice first (numerically safer sums)
    count = np.bincount(slice_index, minlength=n_slices).astype(float)
    present = count > 0
    safe = np.where(present, count, 1.0)
    mean_u = np.bincount(slice_index, u, n_slices) / safe
    mean_v = np.bincount(slice_index, v, n_slices) / safe
    du = u - mean_u[slice_index]
    dv = v - mean_v[slice_index]
    uxx = np.bincount(slice_index, du * du, n_slices) / safe + spacing[in_plane[0]] ** 2 / 12.0
    uyy = np.bincount(slice_index, dv * dv, n_slices) / safe + spacing[in_plane[1]] ** 2 / 12.0
    uxy = np.bincount(slice_index, du * dv, n_slices) / safe
    common = np.sqrt((uxx - uyy) ** 2 + 4.0 * uxy ** 2)
    major = 2.0 * math.sqrt(2.0) * np.sqrt(uxx + uyy + common)
    minor = 2.0 * math.sqrt(2.0) * np.sqrt(np.maximum(uxx + uyy - common, 0.0))
    major = np.where(present, major, -np.inf)
    best = int(np.argmax(major))
    return float(major[best]), float(minor[best])


def _mesh(mask: np.ndarray, spacing):
    """Marching-cubes mesh (vertices in mm, faces) of a binary mask padded by one voxel."""
    from skimage.measure import marching_cubes

    padded = np.pad(mask, 1).astype(np.float32)
    verts, faces, _, _ = marching_cubes(padded, level=0.5, spacing=spacing, allow_degenerate=True)
    return verts, faces


def mesh_volume_area(verts: np.ndarray, faces: np.ndarray) -> tuple[float, float]:
    """(volume mm³, area mm²) of a closed triangle mesh.

    Volume by the divergence theorem: |Σ a·(b × c)| / 6 over the triangles (a, b, c);
    area: Σ |(b − a) × (c − a)| / 2.
    """
    a, b, c = verts[faces[:, 0]], verts[faces[:, 1]], verts[faces[:, 2]]
    volume = abs(float(np.einsum("ij,ij->", a, np.cross(b, c)))) / 6.0
    area = float(np.linalg.norm(np.cross(b - a, c - a), axis=1).sum()) / 2.0
    return volume, area


def _covariance_axes(mask: np.ndarray, spacing) -> tuple[float, float]:
    """PyRadiomics MajorAxisLength, MinorAxisLength: 4·√λ₁, 4·√λ₂ of the voxel-centre
    covariance normalised by N."""
    points = _voxel_centres(mask, spacing)
    centred = points - points.mean(axis=0)
    cov = centred.T @ centred / len(points)
    eig = np.sort(np.clip(np.linalg.eigvalsh(cov), 0.0, None))[::-1]
    return 4.0 * math.sqrt(eig[0]), 4.0 * math.sqrt(eig[1])


def _derived(volume_mm3: float, area_mm2: float) -> dict:
    """The five ratio features from V (mm³) and SA (mm²)."""
    v, s = volume_mm3, area_mm2
    return {
        "sa_v_ratio": s / v,
        "sphericity": math.pi ** (1.0 / 3.0) * (6.0 * v) ** (2.0 / 3.0) / s,
        "spherical_disproportion": s / (4.0 * math.pi * (3.0 * v / (4.0 * math.pi)) ** (2.0 / 3.0)),
        "compactness1": v / (math.sqrt(math.pi) * s ** 1.5),
        "compactness2": 36.0 * math.pi * v ** 2 / s ** 3,
    }


def missing_features() -> dict:
    """All 10 features as NaN (a region without voxels)."""
    return {name: math.nan for name in SHAPE_FEATURES}


# ---------------------------------------------------------------------------------------
# public API


def roi_features(mask, spacing, convention: str = "paper", axial_axis: int = 2,
                 connectivity: int = 26, min_voxels: int = 1) -> dict:
    """The 10 shape features of one region (paper Table 1), in the units of the module.

    ``mask``: boolean 3-D array (voxel axes in array order); ``spacing``: voxel size in
    mm along those axes; ``convention``: ``"paper"`` or ``"ibsi"`` (module docstring);
    ``axial_axis``: the array axis that runs superior–inferior (used by the ``paper``
    major/minor axes); ``connectivity``: 6, 18 or 26 for the largest-component rule.
    ``min_voxels``: a largest component with fewer voxels counts as missing.
    Returns a dict with the names of :data:`radiogenomics.names.SHAPE_FEATURES`; all
    NaN when the mask is empty or its largest component smaller than ``min_voxels``.
    """
    return _roi_features(mask, spacing, convention, axial_axis, connectivity, min_voxels)[0]


def _roi_features(mask, spacing, convention, axial_axis, connectivity, min_voxels) -> tuple[dict, int]:
    """:func:`roi_features` and the voxel count of the largest component."""
    if convention not in CONVENTIONS:
        raise RadiogenomicsError(f"features.convention: expected one of {', '.join(CONVENTIONS)}, got {convention!r}")
    spacing = _spacing(spacing)
    mask = np.asarray(mask)
    if mask.ndim != 3:
        raise RadiogenomicsError(f"mask must be 3-D, got shape {mask.shape}")
    if axial_axis not in (0, 1, 2):
        raise RadiogenomicsError(f"axial_axis must be 0, 1 or 2, got {axial_axis!r}")
    component = largest_component(mask.astype(bool, copy=False), connectivity)
    n_voxels = int(np.count_nonzero(component))
    if n_voxels == 0 or n_voxels < int(min_voxels):
        return missing_features(), n_voxels

    if convention == "paper":
        volume = n_voxels * spacing[0] * spacing[1] * spacing[2]
        area = crofton_surface_area(component, spacing)
        diameter = _max_distance(_extreme_voxel_centres(component, spacing))
        major, minor = slice_ellipse_axes(component, spacing, axial_axis)
    else:
        verts, faces = _mesh(component, spacing)
        volume, area = mesh_volume_area(verts, faces)
        diameter = _max_distance(verts)
        major, minor = _covariance_axes(component, spacing)

    result = {
        "volume": volume / 1000.0,
        "surface_area": area / 100.0,
        "max_diameter": diameter,
        "major_axis": major,
        "minor_axis": minor,
    }
    result.update(_derived(volume, area))
    return {name: float(result[name]) for name in SHAPE_FEATURES}, n_voxels


def axial_axis_of(affine) -> int:
    """The voxel axis whose direction (affine column) is closest to superior–inferior."""
    rotation = np.asarray(affine, dtype=float)[:3, :3]
    norms = np.linalg.norm(rotation, axis=0)
    norms[norms == 0] = 1.0
    return int(np.argmax(np.abs(rotation[2] / norms)))


def load_segmentation(nifti_path, labels: dict):
    """Read and check a segmentation: returns (integer label array, spacing, affine).

    Raises :class:`RadiogenomicsError` naming the file for: an unreadable or truncated
    file, an image that is not 3-D, a voxel spacing that is zero, negative or not
    finite, non-integer voxel values, and label values other than 0 and the
    configured ``labels``.
    """
    import nibabel as nib

    path = Path(nifti_path)
    if not path.is_file():
        raise RadiogenomicsError(f"{path}: segmentation file not found")
    try:
        image = nib.load(str(path))
        header_shape = tuple(image.shape)
        if len(header_shape) != 3:
            raise RadiogenomicsError(
                f"{path}: expected a 3-D label image, got {len(header_shape)}-D shape {header_shape}"
            )
        zooms = _raw_zooms(image, path)
        affine = np.asarray(image.affine, dtype=float)
        data = np.asanyarray(image.dataobj)
    except RadiogenomicsError:
        raise
    except (OSError, EOFError, zlib.error, ValueError, TypeError, MemoryError,
            nib.filebasedimages.ImageFileError) as exc:
        raise RadiogenomicsError(
            f"{path}: cannot read NIfTI image ({type(exc).__name__}: {exc}); "
            "is the file complete and a valid .nii/.nii.gz?"
        ) from None
    if not all(math.isfinite(z) and z > 0 for z in zooms):
        raise RadiogenomicsError(
            f"{path}: voxel spacing in the header must be positive, got {zooms} mm"
        )
    if not np.all(np.isfinite(affine)):
        raise RadiogenomicsError(f"{path}: the header's affine has non-finite values")
    data = _integer_labels(data, path)
    allowed = sorted({0, *(int(v) for v in labels.values())})
    valid = data == allowed[0]
    for value in allowed[1:]:  # a few comparisons beat np.unique/np.isin on 9 M voxels
        valid |= data == value
    if not valid.all():
        unexpected = [int(v) for v in np.unique(data[~valid])]
        raise RadiogenomicsError(
            f"{path}: label values {unexpected} are not among the configured labels "
            f"{dict(labels)} (features.labels) or 0 (background)"
        )
    return data, zooms, affine


def _raw_zooms(image, path) -> tuple[float, float, float]:
    """Voxel spacing as stored in the file's header.

    nibabel silently replaces zero pixdim values by 1 and negative ones by their
    absolute value when it loads a header; a segmentation with such a header is
    broken, so the stored values are read again without those fixes.
    """
    from nibabel.openers import ImageOpener

    zooms = tuple(float(z) for z in image.header.get_zooms()[:3])
    header_class = type(image.header)
    fields = getattr(getattr(header_class, "template_dtype", None), "names", None) or ()
    if "pixdim" in fields:
        with ImageOpener(str(path)) as handle:
            raw = header_class.from_fileobj(handle, check=False)
        zooms = tuple(float(z) for z in raw["pixdim"][1:4])
    return zooms


def _integer_labels(data: np.ndarray, path) -> np.ndarray:
    """``data`` as an integer array; an error naming ``path`` for non-integer values."""
    if data.dtype == bool:
        return data.astype(np.uint8)
    if np.issubdtype(data.dtype, np.integer):
        return data
    if not np.issubdtype(data.dtype, np.floating):
        raise RadiogenomicsError(f"{path}: voxel type {data.dtype} is not a label image")
    finite = np.isfinite(data)
    if not finite.all() or not np.array_equal(data, np.round(data)):
        bad = data[~finite] if not finite.all() else data[data != np.round(data)]
        raise RadiogenomicsError(
            f"{path}: not a label image: voxel values must be integers, found {bad.flat[0]!r} "
            f"(stored as {data.dtype})"
        )
    if data.size and (data.min() < -(2**31) or data.max() >= 2**31):
        raise RadiogenomicsError(f"{path}: label values out of range")
    return data.astype(np.int32)


def patient_features(nifti_path, labels: dict, convention: str = "paper",
                     connectivity: int = 26, min_voxels: int = 1) -> dict:
    """The 20 image features of one patient: ``enhancing_<name>`` and ``edema_<name>``.

    ``labels`` maps region name to label value, e.g. ``{"enhancing": 4, "edema": 2,
    "necrosis": 1}`` (BraTS ≤ 2020; BraTS 2021+ uses 3 for enhancing tumour). Values of
    a region without voxels are NaN. The voxel spacing comes from the header and the
    axial axis from the affine (:func:`axial_axis_of`), so anisotropic and non-RAS
    images give the same physical values as their isotropic RAS equivalents.
    ``min_voxels``: see :func:`roi_features`.
    """
    return patient_features_and_sizes(nifti_path, labels, convention, connectivity, min_voxels)[0]


def patient_features_and_sizes(nifti_path, labels: dict, convention: str = "paper",
                               connectivity: int = 26, min_voxels: int = 1) -> tuple[dict, dict]:
    """:func:`patient_features` and, per region, the voxel count of its largest component
    (``{"enhancing": n, "edema": m}``; 0 for a region without voxels)."""
    if convention not in CONVENTIONS:
        raise RadiogenomicsError(
            f"features.convention must be one of {', '.join(CONVENTIONS)}, got {convention!r}"
        )
    for region in REGIONS:
        if region not in labels:
            raise RadiogenomicsError(f"features.labels: no label value for region {region!r}")
    data, spacing, affine = load_segmentation(nifti_path, labels)
    axial = axial_axis_of(affine)
    out, sizes = {}, {}
    for region in REGIONS:
        values, sizes[region] = _roi_features(data == int(labels[region]), spacing, convention, axial,
                                              connectivity, min_voxels)
        out.update({f"{region}_{name}": values[name] for name in SHAPE_FEATURES})
    return out, sizes


def _ranges() -> dict:
    """Per shape feature: (lower bound, lower bound allowed?, upper bound) of the module
    docstring's table, the ratio bounds widened by :data:`SPHERICITY_SLACK`."""
    s = 1.0 + SPHERICITY_SLACK
    positive = (0.0, False, math.inf)
    return {
        "volume": positive, "surface_area": positive, "sa_v_ratio": positive,
        "max_diameter": positive, "major_axis": positive, "minor_axis": positive,
        "sphericity": (0.0, False, s),                       # π^(1/3)(6V)^(2/3)/SA ≤ 1
        "spherical_disproportion": (1.0 / s, True, math.inf),  # = 1 / sphericity ≥ 1
        "compactness1": (0.0, False, s ** 1.5 / (6.0 * math.pi)),  # = sphericity^(3/2) / 6π
        "compactness2": (0.0, False, s ** 3),                # = sphericity³ ≤ 1
    }


def range_violations(values: dict) -> list[tuple[str, float, str]]:
    """The computed features (``<region>_<name>`` -> value; NaN = missing, not checked)
    outside their documented ranges: a list of (feature, value, expected range)."""
    out = []
    ranges = _ranges()
    for column, value in values.items():
        region, _, name = column.partition("_")
        if name not in ranges or not math.isfinite(value):
            if name in ranges and not math.isnan(value):
                out.append((column, value, "a finite number"))
            continue
        low, closed, high = ranges[name]
        if value < low or (value == low and not closed) or value > high:
            bracket = "[" if closed else "("
            out.append((column, value, f"{bracket}{low:.4g}, {high:.4g}]" if math.isfinite(high)
                        else f"{'≥' if closed else '>'} {low:.4g}"))
    for region in REGIONS:
        major, minor = values.get(f"{region}_major_axis"), values.get(f"{region}_minor_axis")
        if major is not None and minor is not None and math.isfinite(major) and math.isfinite(minor) \
                and minor > major * (1.0 + 1e-9):
            out.append((f"{region}_minor_axis", minor, f"at most the major axis ({major:.4g})"))
    return out


def missing_regions(values: dict) -> list[str]:
    """Regions whose features are missing (NaN) in a :func:`patient_features` result."""
    return [r for r in REGIONS if any(
        not math.isfinite(values[f"{r}_{name}"]) for name in SHAPE_FEATURES)]


# ---------------------------------------------------------------------------------------
# tables (per-patient rows, the cohort table and its scaling, paper §2.1.2)


#: Extra columns of a per-patient table: the voxel count of each region's largest component.
SIZE_COLUMNS = tuple(f"{region}_voxels" for region in REGIONS)


def patient_table(patient: str, values: dict, sizes: dict | None = None):
    """One-row table (index ``patient``) with the 20 columns in the canonical order, then
    (when ``sizes`` is given, region -> voxel count) the :data:`SIZE_COLUMNS`."""
    import pandas as pd

    from .names import IMAGE_FEATURES

    row = [values[c] for c in IMAGE_FEATURES]
    columns = list(IMAGE_FEATURES)
    if sizes is not None:
        row += [sizes[r] for r in REGIONS]
        columns += list(SIZE_COLUMNS)
    frame = pd.DataFrame([row], columns=columns, index=pd.Index([str(patient)], name="patient"), dtype=float)
    return frame


def read_patient_tables(paths) -> "pd.DataFrame":
    """Concatenate per-patient tables, checking columns and duplicate patients."""
    import pandas as pd

    from . import io
    from .names import IMAGE_FEATURES

    frames = []
    for path in paths:
        frame = io.read_tsv(path, index_col=0)
        frame.index = frame.index.astype(str)
        if list(frame.columns) not in (list(IMAGE_FEATURES), [*IMAGE_FEATURES, *SIZE_COLUMNS]):
            raise RadiogenomicsError(
                f"{path}: expected the 20 image feature columns {list(IMAGE_FEATURES)[:2]}…, "
                f"got {list(frame.columns)[:4]}…"
            )
        if len(frame) != 1:
            raise RadiogenomicsError(f"{path}: expected one patient row, got {len(frame)}")
        frames.append(frame.astype(float))
    if not frames:
        raise RadiogenomicsError("no per-patient feature tables to collect (no segmentations found)")
    table = pd.concat(frames)
    table.index.name = "patient"
    duplicated = table.index[table.index.duplicated()].unique()
    if len(duplicated):
        raise RadiogenomicsError(f"patients with two feature tables: {', '.join(map(str, duplicated))}")
    return table.sort_index()


def scale_by_max(table, units: dict | None = None):
    """Each feature divided by its maximum over the cohort (paper §2.1.2).

    Returns (scaled table, scale factors): the factors table has index ``feature`` and
    columns ``scale`` (the maximum, in original units) and ``unit``, so that scaled
    values and errors can be turned back into cm³, cm² and mm (multiply by ``scale``).
    ``units`` (column -> unit, e.g. ``data.features_table.units``): see
    :func:`radiogenomics.names.unit`; a column that is neither there nor a default feature
    has no unit.
    """
    import pandas as pd

    from .names import unit

    maxima = table.max(axis=0, skipna=True)
    bad = [c for c in table.columns if not (np.isfinite(maxima[c]) and maxima[c] > 0)]
    if bad:
        raise RadiogenomicsError(
            f"cannot scale features {bad}: the cohort maximum is not a positive number"
        )
    scaled = table / maxima
    factors = pd.DataFrame(
        {"scale": maxima.astype(float), "unit": [unit(c, units) for c in table.columns]},
        index=pd.Index(list(table.columns), name="feature"),
    )
    return scaled, factors


def range_table(table):
    """:func:`range_violations` of every patient of a features table: a frame with columns
    ``patient``, ``feature``, ``value``, ``expected`` (empty when all values are in range)."""
    import pandas as pd

    from .names import IMAGE_FEATURES

    rows = []
    for patient, row in table[list(IMAGE_FEATURES)].iterrows():
        for feature, value, expected in range_violations({c: float(v) for c, v in row.items()}):
            rows.append((str(patient), feature, value, expected))
    return pd.DataFrame(rows, columns=["patient", "feature", "value", "expected"])


def _missing_note(regions, sizes, min_voxels) -> str:
    """Why a patient's regions are missing: no voxels, or a largest component too small."""
    empty, small = [], []
    for region in regions:
        n = sizes.get(f"{region}_voxels", math.nan)
        if math.isfinite(n) and n > 0:
            small.append(f"the largest {region} component has {int(n)} voxel(s), fewer than "
                         f"features.min_voxels = {int(min_voxels)}")
        else:
            empty.append(region)
    parts = []
    if empty:
        parts.append(f"no {' and no '.join(empty)} voxels (label missing from the segmentation)")
    parts.extend(small)
    return "; ".join(parts) + "; left out of the supervised models"


def collect(table, missing_region: str = "exclude", sources: dict | None = None, min_voxels: int = 1):
    """Split the cohort into complete patients and patients with a missing region.

    ``table``: the per-patient tables (:func:`read_patient_tables`), optionally with the
    :data:`SIZE_COLUMNS`. Returns (features, scaled, scale_factors, missing): ``features``
    holds the patients with all 20 values (original units), ``scaled`` the same divided by
    the maxima over those patients, ``missing`` (index ``patient``, columns
    ``missing_regions``, ``note``) the patients left out because a region has no voxels or
    a largest component under ``min_voxels`` (the note says which) — they are excluded
    from the supervised models for all features. With ``missing_region="error"`` any such
    patient raises an error naming its file (``sources``: patient -> file).
    """
    import pandas as pd

    from .names import IMAGE_FEATURES

    size_cols = [c for c in SIZE_COLUMNS if c in table.columns]
    sizes = table[size_cols]
    table = table[list(IMAGE_FEATURES)]
    incomplete = table.index[~np.isfinite(table.to_numpy()).all(axis=1)]
    rows = []
    for patient in incomplete:
        row = table.loc[patient]
        regions = [r for r in REGIONS if not np.isfinite(
            row[[f"{r}_{n}" for n in SHAPE_FEATURES]].to_numpy(dtype=float)).all()]
        rows.append((patient, ",".join(regions),
                     _missing_note(regions, {c: float(sizes.loc[patient, c]) for c in size_cols}, min_voxels)))
    if rows and missing_region == "error":
        where = (sources or {}).get(rows[0][0], rows[0][0])
        raise RadiogenomicsError(
            f"{where}: region(s) {rows[0][1]} have no voxels or fewer than features.min_voxels "
            f"(features.missing_region: error; set it to 'exclude' to leave such patients out); "
            f"{len(rows)} patient(s) affected: " + ", ".join(r[0] for r in rows)
        )
    missing = pd.DataFrame(rows, columns=["patient", "missing_regions", "note"]).set_index("patient")
    complete = table.drop(index=incomplete)
    if complete.empty:
        raise RadiogenomicsError(
            "no patient has both an enhancing and an edema region; nothing to scale "
            "(check features.labels against the segmentations' label values, and features.min_voxels)"
        )
    scaled, factors = scale_by_max(complete)
    return complete, scaled, factors, missing
