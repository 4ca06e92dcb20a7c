"""Paired bootstrap over patients: intervals for errors and their differences.

Every model is evaluated on the same N patients, so one resample draws N patient indices
with replacement and applies them to every model at once (a *paired* bootstrap: the
correlation between two models' errors on the same patient is kept, which is what makes
the interval of a difference narrower than the two intervals suggest). Resample b is
represented by its counts ``w_b`` (how often each patient was drawn, summing to N), so a
mean over the resample is a weighted mean::

    mean_b(e)   = sum_i w_bi e_i / sum_i w_bi                  (MAE of one feature)
    mean_b(ape) = sum_{i: y_i != 0} w_bi ape_i / sum_{i: y_i != 0} w_bi   (MAPE)

The average over features is then taken per resample (as the point estimate is), and a
difference of two models is the same average applied to the per-patient difference of
their errors (so a constant difference gives exactly that constant in every resample).
Intervals are percentile intervals (the 2.5 % and 97.5 % quantiles of the B resampled
values, NumPy's default linear interpolation). The draws come from a NumPy
``default_rng`` seeded from the run's seed, so the same seed gives the same intervals.
"""

from __future__ import annotations

import numpy as np

from .errors import RadiogenomicsError

#: Coverage of the reported intervals.
LEVEL = 0.95


def resample_counts(n: int, n_resamples: int, seed: int) -> np.ndarray:
    """(``n_resamples``, ``n``) counts: row b says how often each patient is in resample b."""
    if n < 1 or n_resamples < 1:
        raise RadiogenomicsError(f"bootstrap: need patients and resamples (got {n}, {n_resamples})")
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n, size=(int(n_resamples), int(n)))
    counts = np.zeros((int(n_resamples), int(n)))
    np.add.at(counts, (np.repeat(np.arange(int(n_resamples)), n), draws.ravel()), 1.0)
    return counts


def resampled_means(counts: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Per resample and column, the mean of ``values`` (patients × columns) over the
    resample's patients, ignoring NaN entries (a column with no usable patient in a
    resample gives NaN there). Returns (B, columns)."""
    values = np.asarray(values, dtype=float)
    if values.ndim == 1:
        values = values[:, None]
    usable = np.isfinite(values)
    total = counts @ np.where(usable, values, 0.0)
    weight = counts @ usable.astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(weight > 0, total / np.where(weight > 0, weight, 1.0), np.nan)


def percentile_interval(samples: np.ndarray, level: float = LEVEL) -> tuple[np.ndarray, np.ndarray]:
    """The ``level`` percentile interval of ``samples`` along axis 0 (NaN draws ignored)."""
    tail = 100.0 * (1.0 - level) / 2.0
    samples = np.asarray(samples, dtype=float)
    if samples.ndim == 1:
        samples = samples[:, None]
    low = np.full(samples.shape[1:], np.nan)
    high = low.copy()
    ok = np.isfinite(samples).any(axis=0)
    if ok.any():
        low[ok], high[ok] = np.nanpercentile(samples[:, ok], [tail, 100.0 - tail], axis=0)
    return low, high


def average_over_features(counts: np.ndarray, errors: np.ndarray) -> np.ndarray:
    """Per resample, the mean over features (NaN skipped) of each feature's resampled mean
    error; ``errors`` is patients × features. Returns (B,)."""
    per_feature = resampled_means(counts, errors)
    with np.errstate(invalid="ignore"):
        usable = np.isfinite(per_feature)
        n = usable.sum(axis=1)
        return np.where(n > 0, np.where(usable, per_feature, 0.0).sum(axis=1) / np.maximum(n, 1), np.nan)
