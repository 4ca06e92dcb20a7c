"""A generated demo cohort in the real input formats, with a planted radiogenomic signal.

:func:`generate` writes TCGA Level-3 expression files, BraTS-style segmentations in the
TCIA archive's layout and the planted truth (for tests) under one directory. Modules:

* ``factors``: the hidden per-patient factors and the image features each drives.
* ``genes``: the gene symbols.
* ``expression``: patients, their aliquots and the planted expression values.
* ``tumours``: the synthetic tumour segmentations driven by the factors.
* ``files``: writing the cohort (Level-3 files, NIfTI maps, truth tables; :func:`generate`).
"""

from .expression import FORMS, NON_PRIMARY_TYPES
from .factors import DRIVES, FACTORS
from .files import ONLY_UNCORRECTED_EVERY, UNCORRECTED_EVERY, affine, generate, write_nifti
from .genes import gene_symbols
from .tumours import REFERENCE_REACH_MM, segmentation

__all__ = [
    "DRIVES", "FACTORS", "FORMS", "NON_PRIMARY_TYPES", "ONLY_UNCORRECTED_EVERY", "REFERENCE_REACH_MM",
    "UNCORRECTED_EVERY", "affine", "gene_symbols", "generate", "segmentation", "write_nifti",
]
