"""Feature tables: per-patient rows, the cohort table, and its scaling by the cohort
maximum (paper §2.1.2)."""

from __future__ import annotations

import math

import numpy as np

from ..errors import RadiogenomicsError
from ..names import REGIONS, SHAPE_FEATURES


#: Extra columns of a per-patient table: the voxel count of each region's largest component.
SIZE_COLUMNS = tuple(f"{region}_voxels" for region in REGIONS)


def patient_table(patient: str, values: dict, sizes: dict | None = None):
    """One-row table (index ``patient``) with the 20 columns in the canonical order, then
    (when ``sizes`` is given, region -> voxel count) the :data:`SIZE_COLUMNS`."""
    import pandas as pd

    from ..names import IMAGE_FEATURES

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

    from .. import io
    from ..names import IMAGE_FEATURES

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

    from ..names import unit

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

    from ..names import IMAGE_FEATURES

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
