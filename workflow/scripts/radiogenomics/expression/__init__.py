"""Gene expression ingestion: TCGA Level-3 files or a merged matrix -> patients x genes.

Paper §2.1.1: 528 GBM patients with untreated primary tumour samples, Broad Affymetrix
HT_HG-U133A Level-3 data (already background-corrected and quantile-normalised) from the
GDC legacy archive, 12,042 genes; "each gene was standardized by subtracting its mean and
dividing by its range".

Modules, one per input layout and stage (told apart automatically by :func:`load_expression`):

* ``level3``: a directory of TCGA Level-3 files, one per aliquot.
* ``matrix``: a merged genes x samples matrix (cBioPortal, UCSC Xena, Firehose, R's
  ``write.table``).
* ``star``: GDC STAR-counts files with the GDC sample sheet.
* ``gene_rows``: the tab-separated gene rows all layouts share, and the policies for blank
  and duplicated gene symbols and missing cells (:class:`GenePolicy`).
* ``barcodes``: TCGA barcodes and the patient and sample type they name.
* ``load``: any of the layouts -> patients x genes (sample types filtered, aliquots of one
  patient merged).
* ``standardization``: each gene scaled over patients (range or z-score).
* ``qc``: the QC table of what was kept and dropped (``frame.attrs["qc"]``).
* ``workflow``: the ``expression`` rule's entry point (:func:`ingest`).

Every problem with the input raises :class:`RadiogenomicsError` naming the file and line.
"""

from .barcodes import SAMPLE_TYPES, Barcode, parse_barcode
from .gene_rows import BLANK_GENES, DUPLICATE_GENES, MISSING_VALUES, NA_VALUES, GenePolicy
from .level3 import read_level3
from .load import load_expression
from .qc import QC, _new_qc
from .standardization import standardize
from .star import GENE_KEYS, SAMPLE_SHEET_COLUMNS, STAR_COLUMNS, STAR_SUFFIX, RnaSeq, read_sample_sheet, \
    read_star_counts
from .workflow import ingest, write_matrix

__all__ = [
    "BLANK_GENES", "DUPLICATE_GENES", "GENE_KEYS", "MISSING_VALUES", "NA_VALUES", "QC", "SAMPLE_SHEET_COLUMNS",
    "SAMPLE_TYPES", "STAR_COLUMNS", "STAR_SUFFIX", "Barcode", "GenePolicy", "RnaSeq", "_new_qc", "ingest",
    "load_expression", "parse_barcode", "read_level3", "read_sample_sheet", "read_star_counts", "standardize",
    "write_matrix",
]
