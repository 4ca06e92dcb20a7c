"""Which patients have which data: segmentation discovery and the cohort manifest."""

from __future__ import annotations

import glob
import os
import re
from pathlib import Path

import pandas as pd

from .errors import RadiogenomicsError


def find_segmentations(directory, pattern: str, patient_regex: str, prefer: str | None = None) -> dict[str, str]:
    """Map patient ID -> segmentation file.

    Files are found with ``glob(directory/pattern)``; the patient ID is the first
    capture group (or the whole match) of ``patient_regex`` searched in the file
    name. The default regex matches the public TCGA-GBM segmentations
    (``TCGA-02-0006_2006.03.29_GlistrboostManuallyCorrected.nii.gz`` -> ``TCGA-02-0006``).
    Two files for one patient are an error naming both, unless exactly one of them
    contains ``prefer`` in its name (e.g. ``ManuallyCorrected``).
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise RadiogenomicsError(f"data.segmentations: {directory} is not a directory")
    try:
        regex = re.compile(patient_regex)
    except re.error as exc:
        raise RadiogenomicsError(f"data.patient_regex: not a valid regular expression ({exc})") from None
    found: dict[str, list[str]] = {}
    for path in sorted(glob.glob(os.path.join(str(directory), pattern))):
        name = os.path.basename(path)
        match = regex.search(name)
        if match is None:
            raise RadiogenomicsError(
                f"{path}: file name does not match data.patient_regex {patient_regex!r}; "
                "cannot tell which patient it belongs to"
            )
        patient = match.group(1) if regex.groups else match.group(0)
        found.setdefault(patient, []).append(path)
    if not found:
        raise RadiogenomicsError(f"data.segmentations: no file matches {pattern!r} in {directory}")
    result = {}
    for patient, paths in found.items():
        if len(paths) == 1:
            result[patient] = paths[0]
            continue
        preferred = [p for p in paths if prefer and prefer in os.path.basename(p)]
        if len(preferred) == 1:
            result[patient] = preferred[0]
        else:
            raise RadiogenomicsError(
                f"patient {patient} has {len(paths)} segmentation files: {', '.join(paths)}; "
                f"keep one, or set data.prefer_segmentation to text that only one of their names contains"
            )
    return result
