"""Workflow glue: the elastic net of one image feature from the workflow's tables, and the
collection of the per-feature results (rules ``baseline_fit`` and ``baseline_collect``)."""

from __future__ import annotations

import logging

import numpy as np

from ..errors import RadiogenomicsError
from .cross_validation import SOLVERS, elastic_net_cv
from .grid import l1_ratio_grid

log = logging.getLogger(__name__)


def run_feature(*, expression_path, features_path, folds_path, feature, l1_ratios, n_lambdas,
                lambda_min_ratio, oof_path, coefficients_path, selection_path, standardize=True,
                solver="fast"):
    """Fit the elastic net of one image feature and write its three outputs.

    ``solver``: ``fast`` or ``reference`` (config key ``baseline.solver``, see
    ``elastic_net_cv``). ``selection.json`` records the solver whose results were written and
    the optimality certificate of the selected model (``certificate``).

    Patients: those of ``folds_path`` (the supervised patients, with the networks' fold
    assignment). Patients whose target is missing are left out of this feature (logged,
    listed in ``selection.json``; their ``oof.tsv`` entry is empty). A constant target
    cannot be fitted: the documented fallback is the intercept-only model (each patient
    predicted by its training folds' mean, all coefficients zero, ``r2`` null).
    """
    import time

    import pandas as pd

    from .. import io

    if solver not in SOLVERS:
        raise RadiogenomicsError(f"baseline.solver: expected one of {', '.join(SOLVERS)}, got {solver!r}")
    t0 = time.perf_counter()
    expr = io.read_tsv(expression_path)
    feats = io.read_tsv(features_path)
    folds = io.read_tsv(folds_path)
    expr.index = expr.index.astype(str)
    feats.index = feats.index.astype(str)
    folds.index = folds.index.astype(str)
    if "fold" not in folds.columns:
        raise RadiogenomicsError(f"{folds_path}: no 'fold' column (columns: {list(folds.columns)})")
    if feature not in feats.columns:
        raise RadiogenomicsError(f"{features_path}: no column {feature!r}")
    patients = list(folds.index)
    for path, table in ((expression_path, expr), (features_path, feats)):
        missing = [p for p in patients if p not in table.index]
        if missing:
            raise RadiogenomicsError(
                f"{path}: {len(missing)} patients of {folds_path} are missing: {', '.join(missing[:5])}"
            )
    y_all = pd.to_numeric(feats.loc[patients, feature], errors="coerce")
    left_out = sorted(y_all.index[~np.isfinite(y_all.to_numpy(dtype=float))])
    if left_out:
        log.warning("%s: %d patients have no value and are left out: %s", feature, len(left_out),
                    ", ".join(left_out))
    keep = [p for p in patients if p not in set(left_out)]
    X = expr.loc[keep].to_numpy(dtype=float)
    y = y_all.loc[keep].to_numpy(dtype=float)
    fold_ids = folds.loc[keep, "fold"].to_numpy()
    n_folds = folds["fold"].nunique()
    if len(keep) < n_folds:
        raise RadiogenomicsError(
            f"{feature}: only {len(keep)} patients with a value, fewer than the {n_folds} folds of {folds_path}"
        )
    ratios = l1_ratio_grid(int(l1_ratios))
    selection = {
        "feature": feature,
        "n_patients": len(keep),
        "n_genes": int(X.shape[1]),
        "left_out": left_out,
        "grid": {"l1_ratios": [float(a) for a in ratios], "n_lambdas": int(n_lambdas),
                 "lambda_min_ratio": float(lambda_min_ratio)},
        "criterion": "pooled out-of-fold R2 (cv.glmnet's pooled MSE); intercept-only models excluded",
        "standardize": bool(standardize),
    }
    oof = pd.Series(np.nan, index=pd.Index(patients, name="patient"), name=feature)
    if len(y) and np.ptp(y) == 0:
        log.warning("%s: constant target (%g): writing the intercept-only model (fallback)", feature, y[0])
        for f in np.unique(fold_ids):
            oof.loc[np.array(keep)[fold_ids == f]] = y[fold_ids != f].mean()
        coef = np.zeros(X.shape[1])
        selection.update({"l1_ratio": None, "lambda": None, "r2": None, "n_nonzero": 0,
                          "intercept": float(y[0]), "note": "constant target: intercept-only fallback",
                          "solver": None, "certificate": None})
    else:
        res = elastic_net_cv(X, y, fold_ids, ratios, int(n_lambdas), float(lambda_min_ratio),
                             standardize=standardize, label=feature, solver=solver)
        oof.loc[keep] = res["oof"]
        coef = res["coef"]
        a, t = res["index"]
        selection.update({
            "l1_ratio": res["l1_ratio"], "lambda": res["lambda"], "r2": res["r2"],
            "n_nonzero": res["n_nonzero"], "intercept": res["intercept"],
            "lambda_index": int(t), "lambda_max": float(res["lambdas"][a, 0]),
            "at_grid_edge": bool(t == res["lambdas"].shape[1] - 1),
            "solver_stats": {k: int(v) for k, v in res["solver_stats"].items()},
            "fallbacks": res["fallbacks"],
            "solver": res["solver"],
            "certificate": res["certificate"],
        })
        if selection["at_grid_edge"]:
            log.warning("%s: selected the smallest lambda of the grid (lambda_min_ratio may be too large)", feature)
        log.info("%s: l1_ratio=%g lambda=%.6g R2=%.4f non-zero genes=%d (%d patients)", feature,
                 res["l1_ratio"], res["lambda"], res["r2"], res["n_nonzero"], len(keep))
    selection["seconds"] = round(time.perf_counter() - t0, 2)
    io.write_tsv(oof.to_frame(), oof_path)
    io.write_tsv(pd.DataFrame({"weight": coef}, index=pd.Index(expr.columns.astype(str), name="gene")),
                 coefficients_path)
    io.write_json(selection, selection_path)
    return selection


def collect(*, oof_paths, selection_paths, features, oof_path, selection_path):
    """Patients × features out-of-fold table and the feature → selection table."""
    import pandas as pd

    from .. import io

    oofs = [io.read_tsv(p) for p in oof_paths]
    for path, frame, feat in zip(oof_paths, oofs, features):
        if list(frame.columns) != [feat]:
            raise RadiogenomicsError(f"{path}: expected one column {feat!r}, got {list(frame.columns)}")
    table = pd.concat(oofs, axis=1)
    table.index.name = "patient"
    rows = []
    for path, feat in zip(selection_paths, features):
        sel = io.read_json(path)
        rows.append({"feature": feat, "l1_ratio": sel.get("l1_ratio"), "lambda": sel.get("lambda"),
                     "r2": sel.get("r2"), "n_nonzero": sel.get("n_nonzero"),
                     "n_patients": sel.get("n_patients")})
    sel_table = pd.DataFrame(rows).set_index("feature")
    io.write_tsv(table[list(features)], oof_path)
    io.write_tsv(sel_table, selection_path)
    log.info("collected %d features x %d patients", len(features), len(table))
