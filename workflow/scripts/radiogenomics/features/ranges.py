"""The documented range of each feature, and the computed values outside it.

Range checks (:func:`range_violations`): every computed value is checked against the
range in the table of :mod:`radiogenomics.features.shape`; lengths, areas and volumes
must be positive and the minor axis at most the major one. The discrete estimators can
exceed the sphere bound slightly (Crofton underestimates a digital ball's surface by up to
about 5 % at 50 voxels), so the ratio bounds get :data:`SPHERICITY_SLACK`. A value outside
is reported (warning naming the patient, feature and value;
``results/features/range_warnings.tsv``), not changed.
"""

from __future__ import annotations

import math

from ..names import REGIONS, SHAPE_FEATURES

#: Relative slack on the sphericity bound (and the bounds it implies for spherical
#: disproportion and the compactnesses) in :func:`range_violations`: the paper
#: convention's Crofton surface of a digital ball is up to ~5 % low at 50-250 voxels
#: (sphericity measured up to 1.052), so values up to 1.06 are estimator noise.
SPHERICITY_SLACK = 0.06


def _ranges() -> dict:
    """Per shape feature: (lower bound, lower bound allowed?, upper bound) of the table in
    :mod:`radiogenomics.features.shape`, the ratio bounds widened by :data:`SPHERICITY_SLACK`."""
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



def range_table(table):
    """:func:`range_violations` of every patient of a features table: a frame with columns
    ``patient``, ``feature``, ``value``, ``expected`` (empty when all values are in range)."""
    import pandas as pd

    from ..names import IMAGE_FEATURES

    rows = []
    for patient, row in table[list(IMAGE_FEATURES)].iterrows():
        for feature, value, expected in range_violations({c: float(v) for c, v in row.items()}):
            rows.append((str(patient), feature, value, expected))
    return pd.DataFrame(rows, columns=["patient", "feature", "value", "expected"])
