"""Any expression input -> patients x genes: the layout told apart, aliquots to patients.

Aliquots whose sample type (characters 14-15 of the barcode) is not in ``sample_types`` are
dropped; several aliquots of one patient are averaged (``duplicates="mean"``), reduced to
the first by barcode order (``"first"``) or are an error (``"error"``).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import RadiogenomicsError, where
from .barcodes import SAMPLE_TYPES, parse_barcode
from .gene_rows import GenePolicy, _handle_missing
from .level3 import _read_directory
from .matrix import _read_matrix
from .qc import QC, _new_qc
from .star import RnaSeq, _read_star_directory

log = logging.getLogger(__name__)


def load_expression(path, sample_types=("01",), duplicates: str = "mean", gene_mismatch: str = "error",
                    qc: QC | None = None, *, sample_sheet=None, blank_genes: str = "drop",
                    duplicate_genes: str = "error", missing_values: str = "error",
                    rnaseq: RnaSeq | dict | None = None) -> pd.DataFrame:
    """Read expression from a Level-3 directory or a merged matrix; patients x genes, raw values.

    ``path`` is a directory of TCGA Level-3 files or a genes x samples matrix file (told
    apart by whether it is a directory). Aliquot barcodes map to patients by their first
    12 characters; aliquots whose sample type is not in ``sample_types`` are dropped.
    ``duplicates`` says what to do with several kept aliquots of one patient: ``"mean"``
    (average the log2 values gene by gene), ``"first"`` (keep the first in barcode order)
    or ``"error"``. ``gene_mismatch`` (directories only): ``"error"`` when a file's gene
    set differs from the first file's, ``"intersect"`` to keep the genes in every file.

    With ``sample_sheet`` (a GDC sample sheet), ``path`` is a directory of GDC STAR-counts
    files (:func:`read_star_counts`, configured by ``rnaseq``, an :class:`RnaSeq` or its
    fields as a dict), mapped to sample barcodes by the sheet. ``blank_genes``,
    ``duplicate_genes`` and ``missing_values``: :class:`GenePolicy`.

    Returns a float DataFrame indexed by ``patient`` (sorted), one column per gene (in
    the order of the first file). What was dropped is recorded in ``qc`` (a :class:`QC`,
    created when not given) and the QC table is attached as ``frame.attrs["qc"]``.
    """
    policy = GenePolicy(blank_genes, duplicate_genes, missing_values)
    if isinstance(rnaseq, dict):
        rnaseq = RnaSeq(**{k: (tuple(v) if k == "gene_types" else v) for k, v in rnaseq.items()})
    rnaseq = rnaseq or RnaSeq()
    if duplicates not in ("mean", "first", "error"):
        raise RadiogenomicsError(f"expression.duplicates: expected mean, first or error, got {duplicates!r}")
    if gene_mismatch not in ("error", "intersect"):
        raise RadiogenomicsError(f"expression.gene_mismatch: expected error or intersect, got {gene_mismatch!r}")
    if isinstance(sample_types, str):
        sample_types = (sample_types,)
    sample_types = tuple(str(s) for s in sample_types)
    qc = qc if qc is not None else _new_qc()
    path = Path(path)
    if sample_sheet is not None and not path.is_dir():
        raise RadiogenomicsError(f"data.expression: {path} is not a directory (with data.sample_sheet it must be "
                                 "the directory of GDC STAR-counts files)")
    if path.is_dir() and sample_sheet is not None:
        raw, sources = _read_star_directory(path, sample_sheet, rnaseq, policy, qc)
    elif path.is_dir():
        raw, sources = _read_directory(path, gene_mismatch, qc, policy)
    elif path.is_file():
        raw, sources = _read_matrix(path, qc, policy)
    else:
        raise RadiogenomicsError(f"data.expression: {path} does not exist (expected a directory of Level-3 "
                                 "files or a genes x samples matrix file)")
    raw = _handle_missing(raw, policy, qc, path)
    # barcodes -> patients; same barcode twice is ambiguous whatever `duplicates` says
    parsed = []
    by_barcode: dict[str, tuple] = {}
    for j, (text, source, line) in enumerate(sources):
        bc = parse_barcode(text, source, line)
        if bc.sample_type is None:
            raise RadiogenomicsError(
                f"{where(source, line)}: barcode {text!r} has no sample type (characters 14-15, e.g. "
                "TCGA-02-0003-01), so primary tumours cannot be told from other samples"
            )
        if bc.barcode in by_barcode:
            other = by_barcode[bc.barcode]
            raise RadiogenomicsError(
                f"{where(source, line)}: aliquot {bc.barcode} also comes from {where(*other)}; "
                "one aliquot must appear once"
            )
        by_barcode[bc.barcode] = (source, line)
        parsed.append((j, bc, source, line))
    kept, dropped = [], []
    for item in parsed:
        (kept if item[1].sample_type in sample_types else dropped).append(item)
    if dropped:
        qc.set("dropped_sample_type", len(dropped), ", ".join(
            f"{bc.barcode} ({bc.sample_type} {SAMPLE_TYPES.get(bc.sample_type, 'other')})" for _, bc, _, _ in dropped))
        log.info("dropped %d aliquot(s) with sample types not in %s", len(dropped), list(sample_types))
    if not kept:
        found = sorted({bc.sample_type for _, bc, _, _ in parsed})
        raise RadiogenomicsError(
            f"{path}: no patients left after filtering: sample types found {found}, "
            f"expression.sample_types = {list(sample_types)}"
        )
    groups: dict[str, list] = {}
    for item in sorted(kept, key=lambda it: it[1].barcode):
        groups.setdefault(item[1].patient, []).append(item)
    patients = sorted(groups)
    values = raw.to_numpy()
    out = np.empty((len(patients), values.shape[0]))
    merged = []
    for i, patient in enumerate(patients):
        items = groups[patient]
        if len(items) > 1:
            if duplicates == "error":
                a, b = items[0], items[1]
                raise RadiogenomicsError(
                    f"{where(b[2], b[3])}: aliquot {b[1].barcode} and {a[1].barcode} ({where(a[2], a[3])}) "
                    f"are both patient {patient}; set expression.duplicates to mean or first"
                )
            merged.append(f"{patient}: {' + '.join(it[1].barcode for it in items)}"
                          f" ({'averaged' if duplicates == 'mean' else 'kept ' + items[0][1].barcode})")
        if duplicates == "mean" and len(items) > 1:
            out[i] = values[:, [it[0] for it in items]].mean(axis=1)
        else:
            out[i] = values[:, items[0][0]]
    qc.set("dropped_duplicate_aliquots", sum(len(groups[p]) - 1 for p in patients), "; ".join(merged))
    frame = pd.DataFrame(out, index=pd.Index(patients, name="patient"),
                         columns=pd.Index(raw.index.to_numpy(dtype=object), name="gene"))
    qc.set("patients", len(patients))
    qc.set("genes", frame.shape[1])
    frame.attrs["qc"] = qc
    return frame
