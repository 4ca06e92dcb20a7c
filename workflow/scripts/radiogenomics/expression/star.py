"""GDC RNA-seq: STAR-counts files, one per aliquot, with the GDC sample sheet."""

from __future__ import annotations

import csv
import gzip
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import RadiogenomicsError, where
from .gene_rows import NA_VALUES, GenePolicy, _find_files, _gene_rows, _open_text, _split_line
from .qc import QC

#: The STAR-counts files of the current GDC (one per aliquot, named by UUID).
STAR_SUFFIX = ".rna_seq.augmented_star_gene_counts.tsv"
STAR_COLUMNS = ("gene_id", "gene_name", "gene_type", "unstranded", "stranded_first", "stranded_second",
                "tpm_unstranded", "fpkm_unstranded", "fpkm_uq_unstranded")
#: Columns of the GDC sample sheet that ingestion uses (the sheet has more).
SAMPLE_SHEET_COLUMNS = ("File Name", "Sample ID")
GENE_KEYS = ("gene_name", "gene_id")


@dataclass(frozen=True)
class RnaSeq:
    """How STAR counts become an expression matrix (config ``expression.rnaseq``):
    the ``value_column`` (one of the STAR value columns), ``log2(x + 1)`` when ``log2``,
    the genes whose ``gene_type`` is in ``gene_types``, keyed by ``gene_name`` (duplicated
    names combined by ``expression.duplicate_genes``) or by ``gene_id`` without its
    version suffix (``ENSG00000141510.18`` -> ``ENSG00000141510``)."""

    value_column: str = "tpm_unstranded"
    log2: bool = True
    gene_types: tuple = ("protein_coding",)
    gene_key: str = "gene_name"

    def __post_init__(self):
        if self.value_column not in STAR_COLUMNS[3:]:
            raise RadiogenomicsError(f"expression.rnaseq.value_column: expected one of "
                                     f"{', '.join(STAR_COLUMNS[3:])}, got {self.value_column!r}")
        if self.gene_key not in GENE_KEYS:
            raise RadiogenomicsError(f"expression.rnaseq.gene_key: expected gene_name or gene_id, "
                                     f"got {self.gene_key!r}")


def read_sample_sheet(path) -> dict[str, str]:
    """The GDC sample sheet (``gdc_sample_sheet.<date>.tsv``): file name -> sample barcode.

    Errors name the sheet and line: a missing column, a file listed twice, a row naming
    two samples (``Sample ID`` with a comma).
    """
    path = Path(path)
    try:
        with _open_text(path) as fh:
            header = _split_line(fh.readline())
            rows = [_split_line(line) for line in fh if line.strip()]
    except OSError as exc:
        raise RadiogenomicsError(f"data.sample_sheet: cannot read {path} ({exc.strerror})") from None
    missing = [c for c in SAMPLE_SHEET_COLUMNS if c not in header]
    if missing:
        raise RadiogenomicsError(
            f"{where(path, 1)}: not a GDC sample sheet: no column {', '.join(map(repr, missing))} "
            f"(expected a header with File ID, File Name, ..., Sample ID, Sample Type; found "
            f"{', '.join(map(repr, header[:6]))})"
        )
    name_col, sample_col = header.index("File Name"), header.index("Sample ID")
    out: dict[str, str] = {}
    for lineno, row in enumerate(rows, start=2):
        if len(row) != len(header):
            raise RadiogenomicsError(f"{where(path, lineno)}: expected {len(header)} tab-separated fields, "
                                     f"found {len(row)}")
        name, sample = row[name_col].strip(), row[sample_col].strip()
        if "," in sample:
            raise RadiogenomicsError(f"{where(path, lineno)}: {name} lists several samples ({sample}); "
                                     "expected one sample per expression file")
        if name in out:
            raise RadiogenomicsError(f"{where(path, lineno)}: file {name} is listed twice")
        out[name] = sample
    if not out:
        raise RadiogenomicsError(f"{where(path, 2)}: the sample sheet lists no file")
    return out


def _find_star(directory: Path, qc: QC) -> list[Path]:
    return _find_files(directory, qc, lambda name: name.endswith(STAR_SUFFIX),
                       f"GDC STAR-counts files (*{STAR_SUFFIX})")


def read_star_counts(path, rnaseq: RnaSeq = RnaSeq(), policy: GenePolicy = GenePolicy(),
                     qc: QC | None = None) -> pd.Series:
    """One GDC ``*.rna_seq.augmented_star_gene_counts.tsv``: gene -> value as ``rnaseq`` says.

    Layout: a comment ``# gene-model: GENCODE v36``, the header :data:`STAR_COLUMNS`, the
    four summary rows ``N_unmapped``, ``N_multimapping``, ``N_noFeature``, ``N_ambiguous``
    (dropped), then one row per gene with a versioned Ensembl ID.
    """
    path = Path(path)
    try:
        with _open_text(path) as fh:
            line1 = fh.readline()
            lineno = 1
            if line1.startswith("#"):
                header_line, lineno = fh.readline(), 2
            else:
                header_line = line1
            header = [h.strip() for h in _split_line(header_line)]
            if tuple(header) != STAR_COLUMNS:
                raise RadiogenomicsError(
                    f"{where(path, lineno)}: expected the STAR-counts header {chr(9).join(STAR_COLUMNS)!r}, "
                    f"found {header_line.rstrip()[:160]!r}"
                )
            table = pd.read_csv(fh, sep="\t", header=None, names=list(STAR_COLUMNS), dtype=str,
                                keep_default_na=False, quoting=csv.QUOTE_NONE)
    except (UnicodeDecodeError, gzip.BadGzipFile, EOFError) as exc:
        raise RadiogenomicsError(f"{path}: cannot read as UTF-8 text ({exc})") from None
    except pd.errors.ParserError as exc:
        raise RadiogenomicsError(f"{path}: not a tab-separated STAR-counts table ({exc})") from None
    first_gene_line = lineno + 1
    genes_only = ~table["gene_id"].str.startswith("N_")
    lines = first_gene_line + np.flatnonzero(genes_only.to_numpy())
    table = table[genes_only]
    keep = table["gene_type"].isin(rnaseq.gene_types).to_numpy()
    if qc is not None and (~keep).any():
        qc.add("dropped_gene_types", int((~keep).sum()), f"{path.name}: kept {', '.join(rnaseq.gene_types)}", keep=3)
    table, lines = table[keep], lines[keep]
    if table.empty:
        raise RadiogenomicsError(f"{path}: no gene of type {', '.join(rnaseq.gene_types)} "
                                 "(expression.rnaseq.gene_types)")
    text = table[rnaseq.value_column].str.strip()
    values = pd.to_numeric(text.where(~text.isin(NA_VALUES)), errors="coerce").to_numpy(dtype=np.float64)
    bad = np.isnan(values) & ~text.isin(NA_VALUES).to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise RadiogenomicsError(f"{where(path, int(lines[i]))}: non-numeric value {text.iloc[i]!r} in column "
                                 f"{rnaseq.value_column!r} for gene {table['gene_id'].iloc[i]!r}")
    if (values < 0).any():
        i = int(np.flatnonzero(values < 0)[0])
        raise RadiogenomicsError(f"{where(path, int(lines[i]))}: negative value {values[i]} in column "
                                 f"{rnaseq.value_column!r}")
    if rnaseq.log2:
        values = np.log2(values + 1.0)
    key = table["gene_name"] if rnaseq.gene_key == "gene_name" else table["gene_id"].str.replace(
        r"\.\d+$", "", regex=True)
    # the policies (blank names, duplicated names, missing cells) as for every other layout
    genes, out = _gene_rows(key.reset_index(drop=True), values[:, None], lines, np.zeros(len(key), dtype=bool),
                            path, [rnaseq.value_column], policy, qc)
    return pd.Series(out[:, 0], index=genes, name=path.name)


def _read_star_directory(directory: Path, sample_sheet, rnaseq: RnaSeq, policy: GenePolicy, qc: QC):
    """STAR-counts files + the GDC sample sheet -> (genes x files frame, (barcode, source, line) list)."""
    files = _find_star(directory, qc)
    sheet = read_sample_sheet(sample_sheet)
    unlisted = [f for f in files if f.name not in sheet]
    if unlisted:
        raise RadiogenomicsError(
            f"{unlisted[0]}: not listed in the sample sheet {sample_sheet} (data.sample_sheet)"
            + (f"; {len(unlisted)} files are not" if len(unlisted) > 1 else "")
        )
    present = {f.name for f in files}
    absent = [name for name in sheet if name not in present]
    if absent:
        raise RadiogenomicsError(
            f"{sample_sheet}: lists {absent[0]}, which is not in {directory}"
            + (f" ({len(absent)} listed files are missing)" if len(absent) > 1 else "")
            + "; download it or remove its row"
        )
    qc.set("input", len(files), f"GDC STAR counts in {directory} (sample sheet {sample_sheet}, "
                                f"{rnaseq.value_column}{', log2(x + 1)' if rnaseq.log2 else ''})")
    columns, sources = [], []
    for path in sorted(files):
        columns.append(read_star_counts(path, rnaseq, policy, qc))
        sources.append((sheet[path.name], path, 1))
    genes = columns[0].index
    for series, path in zip(columns[1:], sorted(files)[1:]):
        if not series.index.equals(genes) and set(series.index) != set(genes):
            raise RadiogenomicsError(f"{path}: gene set differs from {sorted(files)[0]} (the GDC files of one "
                                     "release share their genes; mixed releases?)")
    frame = pd.concat([c.reindex(genes) for c in columns], axis=1)
    frame.columns = range(frame.shape[1])
    frame.index.name = "gene"
    return frame, sources
