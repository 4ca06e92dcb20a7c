"""The QC table of ingestion: what was kept and dropped, and why.

Written to ``results/expression/qc.tsv`` (one row per check of :data:`_QC_ORDER`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd


@dataclass
class QC:
    """What ingestion and standardisation kept and dropped, and why.

    :meth:`frame` gives the table written to ``results/expression/qc.tsv``: index
    ``check``, columns ``count`` and ``detail``.
    """

    rows: dict = field(default_factory=dict)

    def set(self, check: str, count: int, detail: str = "") -> None:
        self.rows[check] = (int(count), detail)

    def add(self, check: str, count: int, detail: str = "", keep: int = 20) -> None:
        """Add ``count`` to a check and append ``detail`` (at most ``keep`` details listed)."""
        old_count, old_detail = self.rows.get(check, (0, ""))
        parts = [d for d in old_detail.split("; ") if d] if old_detail else []
        if detail:
            if len(parts) < keep:
                parts.append(detail)
            elif parts[-1] != "...":
                parts.append("...")
        self.rows[check] = (old_count + int(count), "; ".join(parts))

    def frame(self) -> pd.DataFrame:
        table = pd.DataFrame(
            [(k, c, d) for k, (c, d) in self.rows.items()], columns=["check", "count", "detail"]
        ).set_index("check")
        return table


_QC_ORDER = (
    ("input", "files (directory) or sample columns (matrix) read"),
    ("skipped_files", "files in the directory that are not expression data"),
    ("dropped_sample_type", "aliquots whose sample type is not in expression.sample_types"),
    ("dropped_duplicate_aliquots", "extra aliquots of one patient (averaged or dropped)"),
    ("dropped_genes_mismatch", "genes missing from some files (expression.gene_mismatch: intersect)"),
    ("dropped_blank_genes", "rows without a gene symbol (expression.blank_genes: drop)"),
    ("merged_duplicate_genes", "extra rows of a duplicated gene symbol (expression.duplicate_genes)"),
    ("dropped_genes_missing_values", "genes with missing cells (expression.missing_values: drop_gene)"),
    ("imputed_missing_values", "missing cells set to the gene's mean (expression.missing_values: impute_mean)"),
    ("dropped_gene_types", "RNA-seq genes of other types (expression.rnaseq.gene_types)"),
    ("dropped_constant_genes", "genes constant across patients (cannot be range-scaled)"),
    ("patients", "patients in the output"),
    ("genes", "genes in the output"),
)



def _new_qc() -> QC:
    qc = QC()
    for check, _ in _QC_ORDER:
        qc.set(check, 0, "")
    return qc
