"""The tab-separated gene rows every layout shares: a gene symbol, then numbers.

Vectorised reading of the data lines (pandas' C reader), with the first bad line found
and named on bad input; the policies for blank and duplicated gene symbols and missing
cells (:class:`GenePolicy`, config keys ``expression.*``); the data files of a directory.
"""

from __future__ import annotations

import csv
import gzip
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import RadiogenomicsError, where
from .qc import QC

log = logging.getLogger(__name__)

#: Cell texts read as missing values (then reported as errors).
NA_VALUES = ["", "NA", "N/A", "#N/A", "NaN", "nan", "-NaN", "-nan", "NULL", "null", "None", "NA.", "."]

_NUMBER = re.compile(r"^[+-]?((\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|inf|infinity)$", re.IGNORECASE)


#: The policy choices for problems real matrices have (config keys ``expression.*``).
BLANK_GENES = ("drop", "error")
DUPLICATE_GENES = ("error", "mean", "first")
MISSING_VALUES = ("error", "drop_gene", "impute_mean")


@dataclass(frozen=True)
class GenePolicy:
    """What to do with rows without a gene symbol (``blank``: drop them, or an error),
    with a gene symbol that appears twice (``duplicate``: an error naming both rows,
    their ``mean`` or the ``first``), and with missing cells (``missing``: an error naming
    the first cell and the count, ``drop_gene`` or ``impute_mean``, the gene's mean over
    the samples). Every choice but ``error`` is counted in the QC table."""

    blank: str = "drop"
    duplicate: str = "error"
    missing: str = "error"

    def __post_init__(self):
        for key, value, allowed in (("blank_genes", self.blank, BLANK_GENES),
                                    ("duplicate_genes", self.duplicate, DUPLICATE_GENES),
                                    ("missing_values", self.missing, MISSING_VALUES)):
            if value not in allowed:
                raise RadiogenomicsError(f"expression.{key}: expected one of {', '.join(allowed)}, got {value!r}")



# ------------------------------------------------------------------------- reading

def _open_text(path: Path):
    if path.name.endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8-sig", newline="")
    return open(path, encoding="utf-8-sig", newline="")


def _split_line(line: str) -> list[str]:
    return line.rstrip("\r\n").split("\t")


def _first_line(fh, path: Path, expected: str) -> str:
    """Line 1 of ``fh``; an error naming ``path`` and ``expected`` when the file is empty."""
    line1 = fh.readline()
    if line1 == "":
        raise RadiogenomicsError(f"{where(path, 1)}: empty file (expected {expected})")
    return line1


def _diagnose(path: Path, first_data_line: int, n_fields: int | None, columns: list[str] | None = None,
              skip=()):
    """Find the first bad data line with a plain Python scan (only called on the error path)."""
    blank = None
    with _open_text(path) as fh:
        for lineno, raw in enumerate(fh, start=1):
            if lineno < first_data_line:
                continue
            parts = _split_line(raw)
            if raw.strip() == "":
                blank = blank or lineno  # blank lines are only allowed at the end of the file
                continue
            if blank is not None:
                raise RadiogenomicsError(f"{where(path, blank)}: empty line inside the data")
            expected = n_fields if n_fields is not None else len(parts)
            if len(parts) != expected:
                raise RadiogenomicsError(
                    f"{where(path, lineno)}: expected {expected} tab-separated fields, found {len(parts)}"
                )
            for j, cell in enumerate(parts[1:], start=1):
                if j in skip:
                    continue
                name = f" in column {columns[j]!r}" if columns and len(columns) > 2 else ""
                text = cell.strip()
                if text in NA_VALUES:
                    raise RadiogenomicsError(f"{where(path, lineno)}: missing value (NaN){name} for gene {parts[0]!r}")
                if not _NUMBER.match(text):
                    raise RadiogenomicsError(
                        f"{where(path, lineno)}: non-numeric value {cell!r}{name} for gene {parts[0]!r}"
                    )
                value = float(text)
                if not np.isfinite(value):
                    raise RadiogenomicsError(
                        f"{where(path, lineno)}: non-finite value {cell!r}{name} for gene {parts[0]!r}"
                    )
    raise RadiogenomicsError(f"{path}: could not be parsed as a tab-separated table")


def _read_body(fh, path: Path, first_data_line: int, labels: list[str], skip=(),
               reference: pd.Index | None = None, policy: GenePolicy = GenePolicy(),
               qc: QC | None = None) -> tuple[pd.Index, np.ndarray]:
    """Read the data lines of ``fh``: a gene symbol, then one number per entry of ``labels``.

    ``labels`` name the value columns in messages; columns whose position (1-based,
    the gene column being 0) is in ``skip`` are read as text and ignored. Returns the
    gene index and the genes x values array (``reference`` is returned as the index when
    the genes are the same, in the same order). Vectorised (pandas' C reader); on bad input
    the first offending line is found by :func:`_diagnose` or from the parsed arrays, and
    the error names the file and line. Blank and duplicated gene symbols and missing cells
    are handled as ``policy`` says (missing cells other than errors stay NaN, for
    :func:`_handle_missing`), counted in ``qc``. Gene symbols in double quotes (R's
    ``write.table``) lose them.
    """
    n = len(labels)
    names = [f"c{j}" for j in range(n + 1)]
    value_cols = [names[j] for j in range(1, n + 1) if j not in skip]
    shown = [labels[j - 1] for j in range(1, n + 1) if j not in skip]
    try:
        frame = pd.read_csv(
            fh, sep="\t", header=None, names=names, index_col=False,
            dtype={c: (np.float64 if c in value_cols else object) for c in names[1:]} | {names[0]: object},
            skip_blank_lines=False, keep_default_na=False,
            na_values={c: NA_VALUES for c in value_cols}, quoting=csv.QUOTE_NONE, engine="c",
        )
    except (ValueError, pd.errors.ParserError):
        _diagnose(path, first_data_line, n + 1, ["gene", *labels], skip)
        raise  # pragma: no cover - _diagnose always raises
    first = frame[names[0]]
    blank = (first.isna() | (first == "")).to_numpy() & frame[names[1:]].isna().all(axis=1).to_numpy()
    if blank.any():  # blank lines at the end of the file are harmless: drop them
        last = np.flatnonzero(~blank)
        frame = frame.iloc[: (int(last[-1]) + 1 if len(last) else 0)]
    if len(frame) == 0:
        raise RadiogenomicsError(f"{where(path, first_data_line)}: no gene rows after the header")
    genes = frame[names[0]]
    gene_arr = genes.to_numpy(dtype=object)
    values = frame[value_cols].to_numpy(dtype=np.float64)
    if reference is not None and len(reference) == len(gene_arr) and np.isfinite(values).all() \
            and np.array_equal(reference.to_numpy(dtype=object), gene_arr):
        return reference, values  # the usual case: same genes as the first file, all values fine
    other_cells = frame[[c for c in names[1:] if c not in value_cols]]
    others_empty = (other_cells.isna() | (other_cells == "")).all(axis=1).to_numpy()
    return _gene_rows(genes, values, first_data_line + np.arange(len(genes)), others_empty, path, shown,
                      policy, qc)


def _gene_rows(genes: pd.Series, values: np.ndarray, lines: np.ndarray, others_empty: np.ndarray, path: Path,
               shown: list[str], policy: GenePolicy, qc: QC | None) -> tuple[pd.Index, np.ndarray]:
    """Check parsed gene rows and apply ``policy`` (blank and duplicated symbols, missing
    cells); ``lines``: each row's line number in ``path``, for the messages."""
    genes = genes.fillna("").astype(str).str.strip()
    quoted = genes.str.len().ge(2) & genes.str.startswith('"') & genes.str.endswith('"')
    if quoted.any():
        genes = genes.where(~quoted, genes.str[1:-1])
    # rows: an empty line inside the data is always an error; a row without a symbol
    # (but with cells, e.g. cBioPortal's rows with only an Entrez ID) follows the policy
    blank = (genes == "").to_numpy()
    empty_row = blank & np.isnan(values).all(axis=1) & others_empty
    if empty_row.any():
        raise RadiogenomicsError(f"{where(path, int(lines[np.flatnonzero(empty_row)[0]]))}: empty line inside the data")
    if blank.any():
        if policy.blank == "error":
            raise RadiogenomicsError(f"{where(path, int(lines[np.flatnonzero(blank)[0]]))}: empty gene symbol "
                                     f"({int(blank.sum())} such row(s); expression.blank_genes: drop drops them)")
        if qc is not None:
            qc.add("dropped_blank_genes", int(blank.sum()), f"{path.name}: line(s) "
                   + ", ".join(map(str, lines[blank][:5])) + (", ..." if blank.sum() > 5 else ""))
        keep = ~blank
        genes, values, lines = genes[keep], values[keep], lines[keep]
    infinite = np.isinf(values)
    missing = np.isnan(values)
    for mask, kind in ((infinite, "inf"), (missing, "nan")):
        if not mask.any() or (kind == "nan" and policy.missing != "error"):
            continue
        i, j = (int(v) for v in np.argwhere(mask)[0])
        name = f" in column {shown[j]!r}" if len(shown) > 1 else ""
        if kind == "inf":
            raise RadiogenomicsError(f"{where(path, int(lines[i]))}: non-finite value {values[i, j]}{name} "
                                     f"for gene {genes.iloc[i]!r}")
        raise RadiogenomicsError(
            f"{where(path, int(lines[i]))}: missing value (NaN){name} for gene {genes.iloc[i]!r} "
            f"({int(mask.sum())} missing cell(s) in the file; expression.missing_values: drop_gene or "
            "impute_mean handles them)"
        )
    dup = genes.duplicated(keep=False).to_numpy()
    if dup.any():
        first = genes[dup].iloc[0]
        dup_lines = [int(v) for v in lines[(genes == first).to_numpy()]]
        if policy.duplicate == "error":
            raise RadiogenomicsError(
                f"{where(path, dup_lines[1])}: duplicated gene row {first!r} (also on line {dup_lines[0]}); "
                f"{int(genes.duplicated().sum())} extra row(s) of duplicated symbols in the file "
                "(expression.duplicate_genes: mean or first combines them)"
            )
        extra = int(genes.duplicated().sum())
        if qc is not None:
            qc.add("merged_duplicate_genes", extra, f"{path.name}: {', '.join(genes[genes.duplicated()].unique()[:5])}"
                   + (", ..." if genes[genes.duplicated()].nunique() > 5 else "")
                   + (" (averaged)" if policy.duplicate == "mean" else " (first row kept)"))
        if policy.duplicate == "first":   # the first row as it is (groupby's first() would skip NaN)
            first_rows = ~genes.duplicated().to_numpy()
            return pd.Index(genes[first_rows].to_numpy(dtype=object), name="gene"), values[first_rows]
        # mean: cell by cell over the rows of the symbol that have a value, in first-row order
        table = pd.DataFrame(values, index=pd.Index(genes.to_numpy(dtype=object))).groupby(level=0, sort=False).mean()
        return pd.Index(table.index.to_numpy(dtype=object), name="gene"), table.to_numpy(dtype=np.float64)
    return pd.Index(genes.to_numpy(dtype=object), name="gene"), values


def _handle_missing(raw: pd.DataFrame, policy: GenePolicy, qc: QC, source) -> pd.DataFrame:
    """Missing cells of the genes x samples matrix, as ``policy.missing`` says (the
    ``error`` case was raised while reading, naming the cell)."""
    missing = raw.isna().to_numpy()
    if not missing.any():
        return raw
    if policy.missing == "error":   # (cells are named while reading; this is a safety net)
        gene = raw.index[missing.any(axis=1)][0]
        raise RadiogenomicsError(f"{source}: {int(missing.sum())} missing cell(s), the first for gene {gene!r} "
                                 "(expression.missing_values: drop_gene or impute_mean handles them)")
    rows = missing.any(axis=1)
    genes = raw.index[rows]
    detail = ", ".join(map(str, genes[:5])) + (", ..." if len(genes) > 5 else "")
    if policy.missing == "drop_gene":
        qc.add("dropped_genes_missing_values", int(rows.sum()), detail)
        log.warning("%s: dropped %d gene(s) with missing cells (%s)", source, int(rows.sum()), detail)
        raw = raw.loc[~rows]
    else:  # impute_mean
        all_missing = missing.all(axis=1)
        if all_missing.any():
            gone = raw.index[all_missing]
            qc.add("dropped_genes_missing_values", int(all_missing.sum()),
                   "no value to impute from: " + ", ".join(map(str, gone[:5])))
            raw = raw.loc[~all_missing]
            missing = missing[~all_missing]
        qc.add("imputed_missing_values", int(missing.sum()), detail)
        log.warning("%s: set %d missing cell(s) to their gene's mean (%s)", source, int(missing.sum()), detail)
        raw = raw.T.fillna(raw.mean(axis=1)).T
    if raw.shape[0] == 0:
        raise RadiogenomicsError(f"{source}: no gene left after expression.missing_values: {policy.missing}")
    return raw


def _find_files(directory: Path, qc: QC, is_data, what: str) -> list[Path]:
    """The data files under ``directory`` (``is_data(name)``); the others are listed in the
    QC table (``skipped_files``). ``what`` names the expected files in the error."""
    from ..io import files_under

    files, skipped = [], []
    for path in files_under(directory):
        (files if is_data(path.name) else skipped).append(path)
    qc.set("skipped_files", len(skipped), ", ".join(str(p.relative_to(directory)) for p in skipped))
    if not files:
        raise RadiogenomicsError(f"data.expression: no {what} in {directory}")
    return sorted(files)
