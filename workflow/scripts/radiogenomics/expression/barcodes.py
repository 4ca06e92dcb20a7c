"""TCGA barcodes: their parts, and the patient a sample belongs to.

Barcodes map to patients by their first 12 characters (``TCGA-06-0125``); the sample type
(characters 14-15) tells primary tumours from other samples (:data:`SAMPLE_TYPES`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import RadiogenomicsError, where

#: TCGA sample type codes (https://gdc.cancer.gov/resources-tcga-users/tcga-code-tables).
SAMPLE_TYPES = {
    "01": "primary solid tumour",
    "02": "recurrent solid tumour",
    "03": "primary blood derived cancer",
    "05": "additional new primary",
    "06": "metastatic",
    "07": "additional metastatic",
    "10": "blood derived normal",
    "11": "solid tissue normal",
    "12": "buccal cell normal",
    "14": "bone marrow normal",
}


_BARCODE = re.compile(
    r"^(?P<project>TCGA)-(?P<tss>[0-9A-Z]{2})-(?P<participant>[0-9A-Z]{4})"
    r"(?:-(?P<sample_type>[0-9]{2})(?P<vial>[A-Z])?"
    r"(?:-(?P<portion>[0-9]{2})(?P<analyte>[A-Z])?"
    r"(?:-(?P<plate>[0-9A-Z]{4})"
    r"(?:-(?P<center>[0-9]{2}))?)?)?)?$"
)


@dataclass(frozen=True)
class Barcode:
    """The parts of a TCGA barcode (``None`` where the barcode is shorter)."""

    barcode: str
    project: str
    tss: str
    participant: str
    sample_type: str | None = None
    vial: str | None = None
    portion: str | None = None
    analyte: str | None = None
    plate: str | None = None
    center: str | None = None

    @property
    def patient(self) -> str:
        """The participant barcode: the first 12 characters, ``TCGA-06-0125``."""
        return f"{self.project}-{self.tss}-{self.participant}"


def parse_barcode(barcode: str, source=None, line=None) -> Barcode:
    """Split a TCGA barcode into its parts.

    Accepts every prefix of the full aliquot barcode ``TCGA-06-0125-01A-01R-1849-01``
    that ends at a field boundary: ``TCGA-06-0125`` (participant), ``TCGA-02-0003-01``,
    ``TCGA-02-0003-01A``, ``TCGA-02-0003-01A-01``, ``TCGA-02-0003-01A-01R``,
    ``...-01R-1849`` and the full aliquot barcode. Surrounding whitespace and quotes are
    ignored; letters must be upper case as TCGA writes them. ``source``/``line`` name
    where the barcode came from in the error message.
    """
    text = str(barcode).strip().strip('"').strip("'")
    match = _BARCODE.match(text)
    if match is None:
        raise RadiogenomicsError(
            f"{where(source, line) if source is not None else 'barcode'}: {barcode!r} is not a TCGA barcode "
            "(expected e.g. TCGA-06-0125-01A-01R-1849-01, TCGA-02-0003-01A-01 or TCGA-02-0003-01)"
        )
    return Barcode(barcode=text, **match.groupdict())
