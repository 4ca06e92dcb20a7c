"""The names every stage shares: the models, the network variants, and the image features.

The models (paper §2.3-2.4, Table 2) and their display names are defined here once; the
rule files, the evaluation, the tables, the figures and the verdict import them.

The image features the models predict come from the data: the columns of the features
table (``results/features/features_scaled.tsv``). By default that table holds the
paper's 20 shape features (Table 1, §2.1.2), defined below with their units and regions;
with ``data.features_table`` (:mod:`radiogenomics.features_table`) it holds the columns
chosen from that table. :func:`describe` gives any column's region, label and unit: a
known column its own, an unknown one its column name and no unit.

Kept apart from :mod:`radiogenomics.features` so that modules which only need the
names (models, evaluation, plots) do not import the image libraries.
"""

from __future__ import annotations

from dataclasses import dataclass

# ------------------------------------------------------------------------------- models


@dataclass(frozen=True)
class Model:
    """A model of the comparison and its display names."""

    name: str    #: in paths, tables (``model`` column) and seeds
    head: str    #: column head of Tables 2-4 (summary.md and the report)
    label: str   #: figure label (Figures 2 and 3)
    phrase: str  #: in the verdict's sentences


#: The network variants (paper §2.4): no pre-training, pre-training, pre-training + dropout.
#: The last one is grid-searched; the other two use its selected hyperparameters.
NETWORKS = ("scratch", "pretrain", "pretrain_dropout")

#: The network whose hyperparameters are grid-searched (and shown in Figure 3).
GRID_NETWORK = "pretrain_dropout"

#: The reference the networks are tested against (the paper's linear regression).
REFERENCE = "elastic_net"

#: The null model (:mod:`radiogenomics.null_model`: each feature's training-fold mean).
NULL_MODEL = "mean"

#: The compared models in the paper's column order (Table 2).
MODELS = (*NETWORKS, REFERENCE)

#: Every model of the tables, in their order: networks, the reference, the null model.
MODEL_ORDER = (*MODELS, NULL_MODEL)

_MODELS = (
    Model("scratch", "NN, no pre-train", "network, no pre-training", "network without pre-training"),
    Model("pretrain", "NN, pre-train", "network, pre-training", "network with pre-training"),
    Model("pretrain_dropout", "NN, pre-train + dropout", "network, pre-training + dropout",
          "network with pre-training and dropout"),
    Model("elastic_net", "linear regression (elastic net)", "elastic net (linear regression)", "elastic net"),
    Model("mean", "null (training-fold mean)", "null model (training-fold mean)",
          "null model (training-fold mean)"),
    Model("autoencoder", "autoencoder", "autoencoder", "autoencoder"),
)

#: Every model (and the autoencoder, which Figure 2 and the losses table show) by name.
MODEL_INFO = {m.name: m for m in _MODELS}


def head(model: str) -> str:
    """Column head of a model in Tables 2-4 (an unknown model: its name)."""
    return MODEL_INFO[model].head if model in MODEL_INFO else model


def label(model: str) -> str:
    """Figure label of a model (an unknown model: its name)."""
    return MODEL_INFO[model].label if model in MODEL_INFO else model


def phrase(model: str) -> str:
    """A model as the verdict names it (an unknown model: its name)."""
    return MODEL_INFO[model].phrase if model in MODEL_INFO else model


# ------------------------------------------------------------- default image features

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

#: The 20 default image feature column names, ``<region>_<feature>`` (extracted from the
#: segmentations when ``data.features_table`` is not set).
IMAGE_FEATURES = tuple(f"{region}_{name}" for region in REGIONS for name in SHAPE_FEATURES)


def split_feature(column: str) -> tuple[str, str]:
    """``"edema_max_diameter"`` -> ``("edema", "max_diameter")``; ``ValueError`` for a
    column that is not one of :data:`IMAGE_FEATURES`."""
    region, _, name = column.partition("_")
    if region not in REGIONS or name not in SHAPE_FEATURES:
        raise ValueError(f"not an image feature name: {column!r}")
    return region, name


def is_default_feature(column: str) -> bool:
    """Whether ``column`` is one of the 20 default features (:data:`IMAGE_FEATURES`)."""
    return column in IMAGE_FEATURES


def unit(column: str, units: dict | None = None) -> str:
    """Unit of a feature column in original units: ``units[column]`` when given (the
    ``data.features_table.units`` mapping), else a default feature's own unit, else none."""
    if units and column in units:
        return str(units[column])
    return UNITS[split_feature(column)[1]] if is_default_feature(column) else ""


def describe(column: str, units: dict | None = None) -> tuple[str, str, str]:
    """(region, label, unit) of a feature column: a default feature's region, its label as in
    the paper's tables and its unit; any other column no region, its name as the label and
    the unit of ``units`` (or none)."""
    if is_default_feature(column):
        region, shape = split_feature(column)
        return region, LABELS[shape], unit(column, units)
    return "", column, unit(column, units)


def is_paper_feature_set(columns) -> bool:
    """Whether ``columns`` are exactly the paper's 20 features (in any order): only then are
    averages over the features comparable with the paper's Table 2 and §3.1 losses."""
    columns = list(columns)
    return set(columns) == set(IMAGE_FEATURES) and len(columns) == len(IMAGE_FEATURES)
