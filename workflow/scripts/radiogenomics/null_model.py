"""The null model every predictor must beat: each feature's training-fold mean.

For the validation patients of fold k, every image feature is predicted by its mean over
the training patients of fold k (the patients of the other folds)::

    yhat_i,f = 1/|T_k| * sum_{j in T_k} y_j,f        for i in fold k, T_k = patients not in k

on the same fold assignment as the networks and the elastic net, so its errors pair with
theirs patient by patient. It is the intercept-only model: what a regression that learns
nothing from the genes predicts. Its name in every table is :data:`NAME`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .errors import RadiogenomicsError
from .names import NULL_MODEL

#: The null model's name in the ``model`` column of every output (:mod:`radiogenomics.names`).
NAME = NULL_MODEL


def _values_and_folds(measured: pd.DataFrame, folds) -> tuple[np.ndarray, np.ndarray]:
    """The measured values (checked complete) and each row's fold (checked present, >= 2 folds)."""
    folds = pd.Series(folds)
    folds.index = folds.index.astype(str)
    missing = [p for p in measured.index if str(p) not in folds.index]
    if missing:
        raise RadiogenomicsError(f"null model: no fold for {len(missing)} patient(s), e.g. {missing[:5]}")
    fold_of = folds.loc[[str(p) for p in measured.index]].to_numpy()
    if len(np.unique(fold_of)) < 2:
        raise RadiogenomicsError("null model: need at least 2 folds")
    values = measured.to_numpy(dtype=float)
    if not np.isfinite(values).all():
        raise RadiogenomicsError("null model: the measured features have missing values")
    return values, fold_of


def training_fold_means(measured: pd.DataFrame, folds: pd.Series) -> pd.DataFrame:
    """Out-of-fold predictions of the null model (patients × features, like ``measured``).

    ``measured``: supervised patients × features without missing values; ``folds``:
    patient -> fold (every patient of ``measured`` must have one).
    """
    values, fold_of = _values_and_folds(measured, folds)
    out = np.empty_like(values)
    for k in np.unique(fold_of):
        held_out = fold_of == k
        out[held_out] = values[~held_out].mean(axis=0)
    return pd.DataFrame(out, index=measured.index, columns=measured.columns)


def losses_per_fold(measured: pd.DataFrame, folds: pd.Series) -> pd.DataFrame:
    """The null model's training and validation MAE in each fold (mean over the fold's
    patients and all features): columns ``fold``, ``loss``, ``val_loss``.

    The same quantities as a network's per-epoch ``loss`` and ``val_loss`` (Keras' MAE over
    patients and features), so ``val_loss`` is the line Figure 2's validation curves must
    go below.
    """
    values, fold_of = _values_and_folds(measured, folds)
    rows = []
    for k in np.unique(fold_of):
        held_out = fold_of == k
        train_mean = values[~held_out].mean(axis=0)
        rows.append({"fold": int(k), "loss": float(np.mean(np.abs(values[~held_out] - train_mean))),
                     "val_loss": float(np.mean(np.abs(values[held_out] - train_mean)))})
    return pd.DataFrame(rows, columns=["fold", "loss", "val_loss"])
