"""Gene rankings by attribution, their stability across CV folds, and their agreement with
the elastic net.

* :func:`rank_genes`, :func:`top_set` -- genes by decreasing score (mean |IG|), ties by name;
* :func:`jaccard`, :func:`mean_pairwise_jaccard` -- |A ∩ B| / |A ∪ B| and its mean over pairs;
* :func:`stability` -- per feature, the agreement of the fold models' top genes; per gene, the
  fraction of folds that rank it in the top;
* :func:`top_genes_table` -- the long table of each feature's top genes;
* :func:`enet_overlap`, :func:`read_enet_nonzero` -- overlap of the top genes with the elastic
  net's non-zero coefficients, with its hypergeometric tail probability;
* :func:`heatmap_matrix` -- the directional, per-feature scaled matrix of the association map
  (drawn by :func:`radiogenomics.plots.clustermap`).

No TensorFlow: these work on the tables the attribution jobs write.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from .errors import RadiogenomicsError


def rank_genes(scores: pd.Series) -> pd.Index:
    """Genes ordered by decreasing score (ties broken by gene name, so the order is stable)."""
    frame = pd.DataFrame({"score": scores.to_numpy(dtype=float), "gene": scores.index.astype(str)})
    frame = frame.sort_values(["score", "gene"], ascending=[False, True], kind="mergesort")
    return pd.Index(frame["gene"].to_numpy(), name=scores.index.name)


def top_set(scores: pd.Series, n: int) -> set:
    return set(rank_genes(scores)[:n])


def jaccard(a, b) -> float:
    """|A ∩ B| / |A ∪ B| (1 for two empty sets)."""
    a, b = set(a), set(b)
    union = a | b
    return 1.0 if not union else len(a & b) / len(union)


def mean_pairwise_jaccard(sets) -> float:
    """Mean Jaccard index over all unordered pairs of ``sets`` (NaN for fewer than two sets)."""
    sets = [set(s) for s in sets]
    pairs = list(itertools.combinations(sets, 2))
    return float(np.mean([jaccard(a, b) for a, b in pairs])) if pairs else float("nan")


def stability(fold_scores: dict, top_n: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Agreement of each feature's top-``top_n`` genes across the fold models.

    ``fold_scores``: fold -> genes × features score table (mean |IG|). Returns (per feature:
    mean/min/max pairwise Jaccard, number of folds; per gene × feature: the fraction of folds whose
    top-``top_n`` contains the gene).
    """
    folds = sorted(fold_scores)
    if not folds:
        raise RadiogenomicsError("stability: no fold attribution tables")
    features = list(fold_scores[folds[0]].columns)
    genes = fold_scores[folds[0]].index
    rows, freq = [], pd.DataFrame(0.0, index=genes, columns=features)
    for feature in features:
        sets = [top_set(fold_scores[f][feature], top_n) for f in folds]
        values = [jaccard(a, b) for a, b in itertools.combinations(sets, 2)]
        rows.append({
            "feature": feature,
            "jaccard_mean": float(np.mean(values)) if values else float("nan"),
            "jaccard_min": float(np.min(values)) if values else float("nan"),
            "jaccard_max": float(np.max(values)) if values else float("nan"),
            "n_folds": len(folds),
            "top_n": int(top_n),
        })
        for s in sets:
            freq.loc[list(s), feature] += 1.0 / len(folds)
    return pd.DataFrame(rows).set_index("feature"), freq


def top_genes_table(score: pd.DataFrame, signed: pd.DataFrame, top_n: int,
                    gene_stability: pd.DataFrame | None = None,
                    feature_stability: pd.DataFrame | None = None,
                    enet_nonzero: dict | None = None,
                    gradient: pd.DataFrame | None = None) -> pd.DataFrame:
    """Long table: feature, rank (1 = strongest), gene, score (mean |IG|), stability (fraction of
    fold models with the gene in their top-``top_n``), signed mean IG, the mean path gradient and
    its sign (``direction``: +1 when higher expression raises the predicted feature), the
    feature's mean pairwise Jaccard across folds, and whether the elastic net kept the gene."""
    rows = []
    for feature in score.columns:
        order = rank_genes(score[feature])[:top_n]
        for rank, gene in enumerate(order, start=1):
            row = {
                "feature": feature,
                "rank": rank,
                "gene": gene,
                "score": float(score.at[gene, feature]),
                "stability": float(gene_stability.at[gene, feature]) if gene_stability is not None else float("nan"),
                "signed": float(signed.at[gene, feature]),
            }
            if gradient is not None:
                g = float(gradient.at[gene, feature])
                row["mean_gradient"] = g
                row["direction"] = int(np.sign(g))
            row["feature_jaccard"] = (float(feature_stability.at[feature, "jaccard_mean"])
                                      if feature_stability is not None else float("nan"))
            if enet_nonzero is not None:
                row["in_elastic_net"] = gene in enet_nonzero.get(feature, set())
            rows.append(row)
    return pd.DataFrame(rows).set_index("feature")


def enet_overlap(score: pd.DataFrame, enet_nonzero: dict, top_n: int) -> pd.DataFrame:
    """Per feature: overlap of the top-``top_n`` genes by attribution with the elastic net's
    non-zero genes; hypergeometric P(overlap ≥ observed) under random top sets."""
    from scipy.stats import hypergeom

    n_genes = len(score.index)
    rows = []
    for feature in score.columns:
        top = top_set(score[feature], top_n)
        enet = set(enet_nonzero.get(feature, set())) & set(score.index)
        k = len(top & enet)
        rows.append({
            "feature": feature,
            "n_top": len(top),
            "n_enet_nonzero": len(enet),
            "n_overlap": k,
            "expected_overlap": len(top) * len(enet) / n_genes if n_genes else float("nan"),
            "jaccard": jaccard(top, enet),
            "fraction_of_enet": k / len(enet) if enet else float("nan"),
            "p_value": float(hypergeom.sf(k - 1, n_genes, len(enet), len(top))) if enet else float("nan"),
        })
    return pd.DataFrame(rows).set_index("feature")


def read_enet_nonzero(paths: dict) -> dict:
    """feature -> set of genes with a non-zero elastic-net coefficient (coefficients.tsv: gene -> weight)."""
    from .io import read_tsv

    out = {}
    for feature, path in paths.items():
        table = read_tsv(path)
        if table.shape[1] < 1:
            raise RadiogenomicsError(f"{path}: expected a column of coefficients (gene -> weight)")
        weights = pd.to_numeric(table.iloc[:, 0], errors="coerce").fillna(0.0)
        out[feature] = set(table.index[weights != 0].astype(str))
    return out


# --------------------------------------------------------------------------------------------
# the association map


def heatmap_matrix(score: pd.DataFrame, gradient: pd.DataFrame, genes_per_feature: int) -> pd.DataFrame:
    """Union of each feature's top genes (by ``score``, mean |IG|) × features: the directional
    score sign(mean path gradient) · mean |IG|, divided by the feature's largest mean |IG| over
    all genes (so features are comparable; values in [-1, 1])."""
    genes = []
    for feature in score.columns:
        for gene in rank_genes(score[feature])[:genes_per_feature]:
            if gene not in genes:
                genes.append(gene)
    scale = score.abs().max(axis=0).replace(0, np.nan)
    directional = np.sign(gradient.loc[genes, score.columns]) * score.loc[genes]
    return (directional / scale).fillna(0.0)
