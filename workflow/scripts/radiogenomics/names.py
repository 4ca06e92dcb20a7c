"""Names and units of the 20 image features (paper Table 1, §2.1.2).

Kept apart from :mod:`radiogenomics.features` so that modules which only need the
names (models, evaluation, plots) do not import the image libraries.
"""

#: The 10 shape features per region, in the paper's Table 1 order.
SHAPE_FEATURES = (
    "volume",
    "surface_area",
    "sa_v_ratio",
    "sphericity",
    "spherical_disproportion",
    "max_diameter",
    "major_axis",
    "minor_axis",
    "compactness1",
    "compactness2",
)

#: Units of each shape feature in the original (unscaled) tables.
UNITS = {
    "volume": "cm³",
    "surface_area": "cm²",
    "sa_v_ratio": "mm⁻¹",
    "sphericity": "",
    "spherical_disproportion": "",
    "max_diameter": "mm",
    "major_axis": "mm",
    "minor_axis": "mm",
    "compactness1": "",
    "compactness2": "",
}

#: Human-readable labels as in the paper's tables.
LABELS = {
    "volume": "volume",
    "surface_area": "surface area",
    "sa_v_ratio": "SA:V ratio",
    "sphericity": "sphericity",
    "spherical_disproportion": "spherical disprop.",
    "max_diameter": "max diameter",
    "major_axis": "major axis",
    "minor_axis": "minor axis",
    "compactness1": "compactness 1",
    "compactness2": "compactness 2",
}

#: The two regions of interest, enhancing tumour first as in the paper.
REGIONS = ("enhancing", "edema")

#: The 20 image feature column names, ``<region>_<feature>``.
IMAGE_FEATURES = tuple(f"{region}_{name}" for region in REGIONS for name in SHAPE_FEATURES)


def split_feature(column: str) -> tuple[str, str]:
    """``"edema_max_diameter"`` -> ``("edema", "max_diameter")``."""
    region, _, name = column.partition("_")
    if region not in REGIONS or name not in SHAPE_FEATURES:
        raise ValueError(f"not an image feature name: {column!r}")
    return region, name


def unit(column: str) -> str:
    """Unit of an image feature column in original units."""
    return UNITS[split_feature(column)[1]]
