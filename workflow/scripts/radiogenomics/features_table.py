"""Image features read from a table instead of extracted (``data.features_table``).

Beyond the paper: a CSV or TSV of image features keyed by patient, e.g. a PyRadiomics
batch output (columns ``original_shape_Elongation``, ...) or the TCIA collection's
``TCGA_GBM_radiomicFeatures.csv`` (patient column ``ID``). The spec is a mapping::

    file: path/to/features.csv
    patient_column: ID
    columns: [original_shape_Elongation, ...]   # or
    regex: "^original_shape_"                    # every column whose name it matches (re.search)
    units: {original_shape_MeshVolume: mm³}      # optional

The chosen columns, in the file's column order for ``regex`` and in the listed order for
``columns``, are the targets: the networks, the elastic net, the evaluation and the
report predict and describe exactly those (:mod:`radiogenomics.names`). Each patient cell
is a TCGA barcode (``TCGA-02-0006``; a longer barcode is read as its first 12
characters, the patient, as the expression side does) so that the table joins the
expression profiles. An empty or ``NA`` cell is a missing value: the patient follows
``features.missing_region`` as a patient with a missing region does (``exclude``: left out
of the supervised models and listed in ``missing.tsv``; ``error``: an error naming the
line).

Bad input stops with one line naming the file, the line or key and what was expected: a
missing file, a missing patient column, a listed column that is not in the file, a regex
that matches no column, a non-numeric or infinite value, a patient on two lines, a cell
that is not a TCGA barcode.
"""

from __future__ import annotations

import csv
import math
import re
from pathlib import Path

import pandas as pd

from .errors import RadiogenomicsError, where

#: Cell texts read as a missing value (as in the expression tables).
NA_VALUES = frozenset(v.lower() for v in ("", "NA", "N/A", "#N/A", "NaN", "-NaN", "NULL", "None", "."))

#: Columns of ``results/features/missing.tsv`` for patients left out by this table.
MISSING_COLUMNS = ["patient", "missing_features", "note"]

_KEY = "data.features_table"

#: A feature column name names result folders (``results/baseline/<feature>/``) and wildcards.
_SAFE_NAME = re.compile(r"[^./\\\s][^/\\\s]*")


def _open_rows(path: Path):
    """(separator, csv reader) of a CSV or TSV file, told apart by the header line."""
    try:
        handle = open(path, encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise RadiogenomicsError(f"{_KEY}.file: cannot read {path} ({exc.strerror})") from None
    header = handle.readline()
    handle.seek(0)
    sep = "\t" if header.count("\t") >= header.count(",") else ","
    return handle, csv.reader(handle, delimiter=sep)


def read_header(path) -> list[str]:
    """The column names of the table (its first line); an error for a missing or empty file
    or a column named twice."""
    path = Path(path)
    handle, rows = _open_rows(path)
    with handle:
        header = next(rows, None)
    if not header or not any(h.strip() for h in header):
        raise RadiogenomicsError(f"{path}: empty file; expected a header line with the patient and feature columns")
    header = [h.strip() for h in header]
    seen = set()
    for name in header:
        if name in seen:
            raise RadiogenomicsError(f"{path}:1: column {name!r} appears twice in the header")
        seen.add(name)
    return header


def _shown(columns, n: int = 8) -> str:
    columns = list(columns)
    return ", ".join(map(repr, columns[:n])) + (f", ... ({len(columns)} columns)" if len(columns) > n else "")


def select_columns(header: list[str], spec: dict, path) -> list[str]:
    """The target columns of ``header`` that ``spec`` chooses (``columns`` or ``regex``),
    after checking the patient column and the units."""
    patient = spec["patient_column"]
    if patient not in header:
        raise RadiogenomicsError(f"{path}: no patient column {patient!r} ({_KEY}.patient_column; the file has "
                                 f"{_shown(header)})")
    others = [h for h in header if h != patient]
    if spec.get("columns") is not None:
        chosen = [str(c) for c in spec["columns"]]
        if patient in chosen:
            raise RadiogenomicsError(f"{_KEY}.columns: {patient!r} is the patient column, not a feature")
        missing = [c for c in chosen if c not in header]
        if missing:
            raise RadiogenomicsError(f"{path}: no column {missing[0]!r} ({_KEY}.columns"
                                     + (f"; {len(missing)} listed columns missing" if len(missing) > 1 else "")
                                     + f"; the file has {_shown(header)})")
    elif spec.get("regex") is not None:
        try:
            regex = re.compile(spec["regex"])
        except re.error as exc:
            raise RadiogenomicsError(f"{_KEY}.regex: not a valid regular expression ({exc})") from None
        chosen = [h for h in others if regex.search(h)]
        if not chosen:
            raise RadiogenomicsError(f"{path}: {_KEY}.regex {spec['regex']!r} matches none of the "
                                     f"{len(others)} feature columns ({_shown(others)})")
    else:
        raise RadiogenomicsError(f"{_KEY}: set columns (a list) or regex, the feature columns to read")
    for name in chosen:
        if not _SAFE_NAME.fullmatch(name):
            raise RadiogenomicsError(f"{path}: column {name!r} cannot name the per-feature result folders "
                                     "(results/baseline/<feature>/): no '/', '\\', spaces or leading '.'")
    unknown = [c for c in (spec.get("units") or {}) if c not in chosen]
    if unknown:
        raise RadiogenomicsError(f"{_KEY}.units: {unknown[0]!r} is not one of the chosen feature columns")
    return chosen


def feature_columns(spec: dict) -> list[str]:
    """The target columns of a ``data.features_table`` spec, from the file's header only
    (cheap enough for the workflow to call when it is parsed)."""
    path = Path(spec["file"])
    return select_columns(read_header(path), spec, path)


def target_columns(spec: dict | None) -> list[str]:
    """The features the models predict: the 20 default features when ``spec`` (the value of
    ``data.features_table``) is ``None``, else the columns the spec chooses."""
    from .names import IMAGE_FEATURES

    return list(IMAGE_FEATURES) if spec is None else feature_columns(spec)


def _patient(text: str, path, line: int, column: str) -> str:
    from .expression import parse_barcode

    try:
        return parse_barcode(text).patient
    except RadiogenomicsError:
        raise RadiogenomicsError(f"{path}:{line}: {text!r} in column {column!r} is not a TCGA patient ID "
                                 "(expected e.g. TCGA-02-0006, the first 12 characters of a barcode)") from None


def _number(text: str, path, line: int, column: str, patient: str) -> float:
    if text.lower() in NA_VALUES:
        return math.nan
    try:
        value = float(text)
    except ValueError:
        value = None
    if value is None or not math.isfinite(value):
        raise RadiogenomicsError(f"{path}:{line}: column {column!r} of patient {patient}: {text!r} is not a "
                                 "finite number (an empty cell or NA is a missing value)")
    return value


def read_features_table(spec: dict, missing_region: str = "exclude") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read ``data.features_table``: (features, missing).

    ``features``: index ``patient`` (sorted), the chosen columns (float, original units),
    the patients with a value in every column. ``missing``: the patients with a missing value
    (index ``patient``; columns ``missing_features``, comma-separated, and ``note``), left
    out of the supervised models; with ``missing_region="error"`` the first such patient is
    an error naming its line instead.
    """
    if missing_region not in ("exclude", "error"):
        raise RadiogenomicsError(f"features.missing_region: expected exclude or error, got {missing_region!r}")
    path = Path(spec["file"])
    header = read_header(path)
    columns = select_columns(header, spec, path)
    patient_at = header.index(spec["patient_column"])
    at = [header.index(c) for c in columns]
    rows, lines, absent = {}, {}, {}
    handle, reader = _open_rows(path)
    with handle:
        next(reader)
        for cells in reader:
            line = reader.line_num
            if not any(c.strip() for c in cells):
                continue  # a blank line
            if len(cells) != len(header):
                raise RadiogenomicsError(f"{path}:{line}: {len(cells)} cells, the header has {len(header)}")
            patient = _patient(cells[patient_at].strip(), path, line, spec["patient_column"])
            if patient in lines:
                raise RadiogenomicsError(f"{path}:{line}: patient {patient} appears twice (also on line "
                                         f"{lines[patient]})")
            lines[patient] = line
            values = [_number(cells[i].strip(), path, line, c, patient) for i, c in zip(at, columns)]
            gaps = [c for c, v in zip(columns, values) if math.isnan(v)]
            if gaps and missing_region == "error":
                raise RadiogenomicsError(
                    f"{path}:{line}: patient {patient} has no value in column {gaps[0]!r}"
                    + (f" (and {len(gaps) - 1} more)" if len(gaps) > 1 else "")
                    + "; features.missing_region is 'error' (set it to 'exclude' to leave such patients out)")
            if gaps:
                absent[patient] = gaps
            rows[patient] = values
    if not rows:
        raise RadiogenomicsError(f"{path}: no patient rows below the header")
    table = pd.DataFrame.from_dict(rows, orient="index", columns=columns, dtype=float).sort_index()
    table.index.name = "patient"
    missing = pd.DataFrame(
        [(p, ",".join(gaps), f"no value in {', '.join(gaps[:4])}{', ...' if len(gaps) > 4 else ''} "
          f"({where(path, lines[p])}); left out of the supervised models") for p, gaps in sorted(absent.items())],
        columns=MISSING_COLUMNS).set_index("patient")
    complete = table.drop(index=list(absent))
    if complete.empty:
        raise RadiogenomicsError(f"{path}: no patient has a value in every chosen column")
    return complete, missing
