"""Each gene standardised over patients (paper §2.1.1: "each gene was standardized by
subtracting its mean and dividing by its range")."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from ..errors import RadiogenomicsError
from .qc import QC

log = logging.getLogger(__name__)


def standardize(frame: pd.DataFrame, method: str = "range", qc: QC | None = None) -> pd.DataFrame:
    """Standardise each gene over patients (paper §2.1.1).

    ``"range"``: ``(x - mean) / (max - min)``; ``"zscore"``: ``(x - mean) / sd`` with the
    sample standard deviation (ddof = 1, as R's ``scale``). Genes whose range is zero
    (constant across patients, within 1e-12 relative) cannot be scaled: they are
    dropped, logged and recorded in ``qc`` (``dropped_constant_genes``) and in
    ``result.attrs["constant_genes"]``.
    """
    if method not in ("range", "zscore"):
        raise RadiogenomicsError(f"expression.standardize: expected range or zscore, got {method!r}")
    if frame.shape[0] < 2:
        raise RadiogenomicsError(
            f"expression: standardisation needs at least 2 patients, got {frame.shape[0]}"
        )
    x = frame.to_numpy(dtype=np.float64)
    if not np.isfinite(x).all():
        raise RadiogenomicsError("expression: the matrix to standardise contains NaN or infinite values")
    mean = x.mean(axis=0)
    spread = x.max(axis=0) - x.min(axis=0)
    constant = spread <= 1e-12 * np.maximum(1.0, np.abs(mean))
    if method == "zscore":
        spread = x.std(axis=0, ddof=1)
    keep = ~constant
    dropped = [str(g) for g in frame.columns[constant]]
    if dropped:
        log.warning("dropped %d gene(s) constant across patients: %s", len(dropped), ", ".join(dropped[:20]))
    if not keep.any():
        raise RadiogenomicsError("expression: every gene is constant across patients; nothing to standardise")
    result = pd.DataFrame((x[:, keep] - mean[keep]) / spread[keep], index=frame.index,
                          columns=frame.columns[keep])
    result.attrs["constant_genes"] = dropped
    if qc is not None:
        qc.set("dropped_constant_genes", len(dropped), ", ".join(dropped))
        qc.set("genes", result.shape[1])
    return result
