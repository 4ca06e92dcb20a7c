"""The ``expression`` rule: load, standardise, write the matrix and the QC table."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from .load import load_expression
from .qc import _QC_ORDER, _new_qc
from .standardization import standardize

log = logging.getLogger(__name__)


def write_matrix(frame: pd.DataFrame, path, fmt: str = "%.8g") -> None:
    """Write a numeric patients x genes frame as TSV atomically (index first).

    Formats each row with one C-level ``%`` operation: several times faster than
    ``DataFrame.to_csv`` for 528 x 12,042 values. 8 significant digits.
    """
    from .. import io as rio

    row_fmt = "\t".join([fmt] * frame.shape[1])
    with rio.atomic_path(path) as tmp:
        with open(tmp, "w") as fh:
            fh.write("\t".join([str(frame.index.name or "patient"), *map(str, frame.columns)]) + "\n")
            for name, row in zip(frame.index, frame.to_numpy(dtype=np.float64).tolist()):
                fh.write(f"{name}\t{row_fmt % tuple(row)}\n")


def ingest(path, out_expression, out_qc, sample_types=("01",), duplicates="mean", gene_mismatch="error",
           method="range", **options) -> pd.DataFrame:
    """The ``expression`` rule: load, standardise, then write both outputs atomically.

    Nothing is written unless loading and standardising succeed.
    """
    from .. import io as rio

    qc = _new_qc()
    frame = load_expression(path, sample_types=sample_types, duplicates=duplicates,
                            gene_mismatch=gene_mismatch, qc=qc, **options)
    std = standardize(frame, method=method, qc=qc)
    table = qc.frame()
    table.insert(1, "description", [dict(_QC_ORDER).get(k, "") for k in table.index])
    write_matrix(std, out_expression)
    rio.write_tsv(table, out_qc)
    log.info("expression: %d patients x %d genes (%s-standardised) -> %s", std.shape[0], std.shape[1],
             method, out_expression)
    return std
