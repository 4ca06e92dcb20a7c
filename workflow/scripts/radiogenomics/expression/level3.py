"""A directory of TCGA Level-3 files, one per aliquot (GDC legacy archive).

The directory is searched recursively, so a ``gdc-client`` download with one sub-directory
per file works. Each file: line 1 ``Hybridization REF<TAB><aliquot barcode>``, line 2
``Composite Element REF<TAB>Signal``, then ``<gene symbol><TAB><log2 value>`` per gene.
Files named ``*.txt``, ``*.tsv``, ``*.txt.gz``, ``*.tsv.gz`` are read, except
``MANIFEST.txt`` and ``annotations.txt`` of a GDC download; other files are skipped
(listed in the QC table). The barcode is taken from line 1, never from the file name.
"""

from __future__ import annotations

import gzip
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import RadiogenomicsError, where
from .gene_rows import GenePolicy, _first_line, _find_files, _open_text, _read_body, _split_line
from .qc import QC

log = logging.getLogger(__name__)

_DATA_SUFFIXES = (".txt", ".tsv", ".txt.gz", ".tsv.gz")
_GDC_EXTRAS = {"manifest.txt", "annotations.txt"}


def read_level3(path, reference: pd.Index | None = None, policy: GenePolicy = GenePolicy(),
                qc: QC | None = None) -> tuple[str, pd.Series]:
    """Read one TCGA Level-3 file; return (barcode text from line 1, Series gene -> value).

    ``reference``: the gene index of a file read before; when this file has the same
    genes in the same order, the series shares it (faster, less memory).
    """
    path = Path(path)
    try:
        with _open_text(path) as fh:
            line1 = _first_line(fh, path, "a TCGA Level-3 expression file")
            parts = _split_line(line1)
            if len(parts) != 2 or parts[0].strip() != "Hybridization REF" or not parts[1].strip():
                raise RadiogenomicsError(
                    f"{where(path, 1)}: expected header 'Hybridization REF<TAB><aliquot barcode>', "
                    f"found {line1.rstrip()!r}"
                )
            barcode = parts[1].strip()
            line2 = fh.readline()
            parts2 = _split_line(line2)
            if len(parts2) != 2 or parts2[0].strip() != "Composite Element REF" or parts2[1].strip() != "Signal":
                raise RadiogenomicsError(
                    f"{where(path, 2)}: expected header 'Composite Element REF<TAB>Signal', "
                    f"found {line2.rstrip()!r}" + (" (end of file)" if line2 == "" else "")
                )
            genes, values = _read_body(fh, path, 3, [barcode], reference=reference, policy=policy, qc=qc)
    except (UnicodeDecodeError, gzip.BadGzipFile, EOFError) as exc:
        raise RadiogenomicsError(f"{path}: cannot read as UTF-8 text ({exc})") from None
    return barcode, pd.Series(values[:, 0], index=genes, name=barcode)


def _find_level3(directory: Path, qc: QC) -> list[Path]:
    return _find_files(directory, qc, lambda name: name.lower() not in _GDC_EXTRAS
                       and name.lower().endswith(_DATA_SUFFIXES),
                       "Level-3 expression files (*.txt, *.tsv, optionally .gz)")


def _read_directory(directory: Path, gene_mismatch: str, qc: QC, policy: GenePolicy = GenePolicy()):
    """All Level-3 files -> (genes x aliquots frame, list of (barcode, source, line))."""
    files = _find_level3(directory, qc)
    qc.set("input", len(files), f"Level-3 directory {directory}")
    ref_path, ref_genes = None, None
    gene_sets = []
    columns, sources = [], []
    for path in files:
        barcode, series = read_level3(path, ref_genes, policy, qc)
        columns.append(series)
        sources.append((barcode, path, 1))
        if ref_genes is None:
            ref_path, ref_genes = path, series.index
        elif not series.index.equals(ref_genes):
            gene_sets.append((path, series.index))
    genes = ref_genes
    if gene_sets:
        ref_set = set(ref_genes)
        mismatched = []
        for path, index in gene_sets:
            other = set(index)
            if other == ref_set:
                continue  # same genes, other order: aligned below
            missing, extra = sorted(ref_set - other), sorted(other - ref_set)
            mismatched.append((path, missing, extra))
        if mismatched and gene_mismatch == "error":
            path, missing, extra = mismatched[0]
            parts = []
            if missing:
                parts.append(f"lacks {len(missing)} gene(s) of {ref_path.name} ({', '.join(missing[:5])}"
                             f"{', ...' if len(missing) > 5 else ''})")
            if extra:
                parts.append(f"has {len(extra)} gene(s) not in {ref_path.name} ({', '.join(extra[:5])}"
                             f"{', ...' if len(extra) > 5 else ''})")
            raise RadiogenomicsError(
                f"{path}: gene set differs from {ref_path}: {'; '.join(parts)}"
                f"{f' ({len(mismatched)} files differ)' if len(mismatched) > 1 else ''}. "
                "Set expression.gene_mismatch: intersect to keep the genes common to all files"
            )
        if mismatched:
            common = set(ref_genes)
            for _, index in gene_sets:
                common &= set(index)
            genes = pd.Index([g for g in ref_genes if g in common], name="gene")
            dropped = len(set().union(ref_genes, *(idx for _, idx in gene_sets))) - len(genes)
            detail = "; ".join(
                f"{p.relative_to(directory)}: lacks {len(m)}, has {len(e)} extra" for p, m, e in mismatched
            )
            qc.set("dropped_genes_mismatch", dropped, detail)
            log.warning("%d genes are not in every file; kept the %d common ones", dropped, len(genes))
            if len(genes) == 0:
                raise RadiogenomicsError(f"data.expression: the files in {directory} have no gene in common")
    values = np.empty((len(genes), len(columns)))
    for j, series in enumerate(columns):
        values[:, j] = series.to_numpy() if series.index.equals(genes) else series.reindex(genes).to_numpy()
    frame = pd.DataFrame(values, index=pd.Index(genes, name="gene"))
    return frame, sources
