"""A merged genes x samples matrix file (``.gz`` accepted).

Tab-separated, first column the gene symbol, one column per sample barcode (UCSC Xena,
cBioPortal, GDC/Firehose layouts). A second column named ``Entrez_Gene_Id`` (cBioPortal) is
ignored. Firehose's merged Level-3 layout (header ``Hybridization REF<TAB>barcode...`` and
a second line ``Composite Element REF<TAB>Signal...``) is recognised too.
"""

from __future__ import annotations

import gzip
import io
from pathlib import Path

import pandas as pd

from ..errors import RadiogenomicsError, where
from .gene_rows import GenePolicy, _first_line, _open_text, _read_body, _split_line
from .qc import QC

_ANNOTATION_COLUMNS = {"entrez_gene_id"}


def _read_matrix(path: Path, qc: QC, policy: GenePolicy = GenePolicy()):
    """Merged genes x samples matrix -> (genes x samples frame, list of (barcode, source, line)).

    Layouts: a gene column then one column per sample (UCSC Xena's ``sample``, cBioPortal's
    ``Hugo_Symbol`` + ``Entrez_Gene_Id``, any other first-column name); Firehose's two
    header rows (``Hybridization REF`` / ``Composite Element REF``); and R's
    ``write.table`` of an assay matrix (e.g. curatedTCGAData/TCGAbiolinks ``assay()``), whose
    header has no cell for the row names (one field fewer than the rows) and whose names
    may be in double quotes.
    """
    try:
        with _open_text(path) as fh:
            line1 = _first_line(fh, path, "a genes x samples matrix")
            header = _split_line(line1)
            first_data = 2
            if header[0].strip() == "Hybridization REF":  # Firehose merged Level-3
                line2 = fh.readline()
                parts2 = _split_line(line2)
                if parts2[0].strip() != "Composite Element REF" or any(p.strip() != "Signal" for p in parts2[1:]) \
                        or len(parts2) != len(header):
                    raise RadiogenomicsError(
                        f"{where(path, 2)}: expected 'Composite Element REF' followed by one 'Signal' per "
                        f"sample column ({len(header) - 1}), found {line2.rstrip()[:120]!r}"
                    )
                first_data = 3
            if len(header) < 2:
                raise RadiogenomicsError(
                    f"{where(path, 1)}: expected a header 'gene<TAB>barcode<TAB>barcode...', found "
                    f"{line1.rstrip()[:120]!r}"
                )
            columns = [h.strip().strip('"') for h in header]
            body = fh.read()
            first_row = body.split("\n", 1)[0]
            if first_data == 2 and first_row.strip() and len(_split_line(first_row)) == len(header) + 1:
                columns = ["", *columns]        # R write.table: no header cell for the row names
            skip = {j for j in range(1, len(columns)) if columns[j].lower() in _ANNOTATION_COLUMNS}
            genes, values = _read_body(io.StringIO(body), path, first_data, columns[1:], skip,
                                       policy=policy, qc=qc)
    except (UnicodeDecodeError, gzip.BadGzipFile, EOFError) as exc:
        raise RadiogenomicsError(f"{path}: cannot read as UTF-8 text ({exc})") from None
    keep = [j for j in range(1, len(columns)) if j not in skip]
    sources = [(columns[j], path, 1) for j in keep]
    seen: dict[str, int] = {}
    for j in keep:
        if columns[j] in seen:
            raise RadiogenomicsError(
                f"{where(path, 1)}: sample column {columns[j]!r} appears twice (columns {seen[columns[j]] + 1} "
                f"and {j + 1})"
            )
        seen[columns[j]] = j
    qc.set("input", len(keep), f"matrix {path}")
    return pd.DataFrame(values, index=genes), sources
