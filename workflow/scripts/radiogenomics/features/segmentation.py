"""A segmentation file: the label image read and checked, its axial axis, and the 20
features of its regions (``features.labels`` maps region names to label values)."""

from __future__ import annotations

import math
import zlib
from pathlib import Path

import numpy as np

from ..errors import RadiogenomicsError
from ..names import REGIONS, SHAPE_FEATURES
from .shape import CONVENTIONS, _roi_features


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
