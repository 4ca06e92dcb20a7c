"""radiogenomics: gene expression -> tumour morphology (Smedley & Hsu, ISBI 2018).

All logic of the workflow lives in this package; the scripts in ``workflow/scripts``
are thin wrappers that read Snakemake's inputs and call it. No module here imports
Snakemake, and only the training modules import TensorFlow.
"""

from .errors import RadiogenomicsError

__all__ = ["RadiogenomicsError"]
__version__ = "0.1.0"
