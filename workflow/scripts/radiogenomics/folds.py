"""Cross-validation fold assignment (paper §2.4: 10-fold cross-validation).

One assignment of the imaged patients is shared by the networks and the elastic-net
baseline, so that every patient's errors pair across models. Folds are numbered
1..K; a patient's fold is the one in which it is a *validation* patient.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.model_selection import KFold

from .errors import RadiogenomicsError


def assign_folds(patients, n_folds: int, seed: int) -> pd.Series:
    """Shuffled K-fold assignment (scikit-learn ``KFold(shuffle=True)``).

    Returns a Series ``patient -> fold`` (1..K), sorted by patient ID so that the
    result does not depend on the order of ``patients``.
    """
    patients = sorted(map(str, patients))
    if len(set(patients)) != len(patients):
        raise RadiogenomicsError("fold assignment: duplicated patient IDs")
    if n_folds < 2:
        raise RadiogenomicsError(f"cv.folds: need at least 2 folds, got {n_folds}")
    if len(patients) < n_folds:
        raise RadiogenomicsError(
            f"cv.folds: {n_folds} folds need at least {n_folds} patients, only {len(patients)} available"
        )
    fold = np.zeros(len(patients), dtype=int)
    splitter = KFold(n_splits=n_folds, shuffle=True, random_state=seed)
    for k, (_, val) in enumerate(splitter.split(patients), start=1):
        fold[val] = k
    return pd.Series(fold, index=pd.Index(patients, name="patient"), name="fold")


def split(folds: pd.Series, k: int) -> tuple[list[str], list[str]]:
    """Training and validation patient IDs of fold ``k``."""
    if k not in set(folds):
        raise RadiogenomicsError(f"fold {k} is not in the fold assignment (folds {sorted(set(folds))})")
    return list(folds.index[folds != k]), list(folds.index[folds == k])
