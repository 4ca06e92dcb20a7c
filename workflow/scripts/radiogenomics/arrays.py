"""Checks of the numeric inputs of the training loops (numpy only: the JAX loop runs without
TensorFlow and pandas, so the checks cannot live in :mod:`radiogenomics.training`)."""

from __future__ import annotations

import numpy as np

from .errors import RadiogenomicsError


def float32_rows(x, what: str) -> np.ndarray:
    """``x`` as a C-contiguous float32 matrix (rows = samples); a :class:`RadiogenomicsError`
    naming ``what`` when it is not 2-d or holds NaN or infinite values."""
    arr = np.ascontiguousarray(np.asarray(x, dtype=np.float32))
    if arr.ndim != 2:
        raise RadiogenomicsError(f"{what} must be a 2-d array (rows = samples), got {arr.shape}")
    if not np.isfinite(arr).all():
        raise RadiogenomicsError(f"{what} contains NaN or infinite values")
    return arr
