"""Test helper: how well a genes × features score table recovers a planted signal.

Used by tests/test_associations.py (a network trained on a planted problem) and
tests/test_demo_associations.py (the demo cohort's truth tables, resources/demo/truth/).
The workflow never reads the truth, so this lives with the tests.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def planted_recovery(score: pd.DataFrame, signal_genes: pd.DataFrame, drives: pd.DataFrame,
                     top_n: int = 10) -> pd.DataFrame:
    """How well a genes × features score table recovers a planted signal (demo truth).

    ``signal_genes``: index gene, column ``factor``; ``drives``: columns ``factor``, ``feature``.
    Per driven feature: the planted genes (those of the factors that drive it), their mean rank,
    how many are in the top ``top_n``, and the AUC = P(score of a planted gene > score of another
    gene) (0.5 = chance, 1 = all planted genes first).
    """
    from scipy.stats import rankdata

    rows = []
    genes = score.index.astype(str)
    for feature, group in drives.groupby("feature"):
        if feature not in score.columns:
            continue
        planted = set(signal_genes.index[signal_genes["factor"].isin(set(group["factor"]))].astype(str)) & set(genes)
        values = score[feature].to_numpy(dtype=float)
        ranks = rankdata(-values, method="average")
        mask = np.array([g in planted for g in genes])
        n1, n0 = int(mask.sum()), int((~mask).sum())
        if n1 == 0 or n0 == 0:
            continue
        low = rankdata(values, method="average")          # Mann-Whitney U of the planted genes
        auc = (low[mask].sum() - n1 * (n1 + 1) / 2) / (n1 * n0)
        rows.append({
            "feature": feature,
            "factors": ",".join(sorted(set(group["factor"]))),
            "n_planted": n1,
            "mean_rank": float(ranks[mask].mean()),
            "in_top": int((ranks[mask] <= top_n).sum()),
            "auc": float(auc),
        })
    return pd.DataFrame(rows).set_index("feature")
