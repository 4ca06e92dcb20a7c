"""Hyperparameter selection and out-of-fold collection (paper §2.4), pure pandas.

Selection rule (§2.4: "the hyperparameters with the lowest average validation loss
was selected"): for every configuration take each fold's validation loss **at the
final epoch** (the model a fold job ends with, and the one whose predictions it
writes), average over the K folds, and select the configuration with the lowest mean.
A configuration whose loss is not finite in some fold (training diverged) has no mean
and cannot be selected. Ties (equal means) go to the configuration that sorts first
by (learning rate, decay, activation, name), so the choice never depends on file order.

Out-of-fold predictions: every supervised patient is a validation patient in exactly
one fold; :func:`collect_oof` stacks the fold jobs' predictions into one patients x 20
table and checks that each patient of the fold assignment appears exactly once.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .errors import RadiogenomicsError

HISTORY_COLUMNS = ("epoch", "loss", "val_loss")


def check_history(history: pd.DataFrame, source="history") -> pd.DataFrame:
    """Validate a per-epoch history table (columns epoch, loss, val_loss; epochs 1..E)."""
    frame = history.reset_index() if "epoch" not in history.columns else history
    missing = [c for c in HISTORY_COLUMNS if c not in frame.columns]
    if missing:
        raise RadiogenomicsError(f"{source}: missing column(s) {missing}; expected {list(HISTORY_COLUMNS)}")
    if frame.empty:
        raise RadiogenomicsError(f"{source}: no epochs")
    epochs = frame["epoch"].to_numpy()
    if not np.array_equal(epochs, np.arange(1, len(frame) + 1)):
        raise RadiogenomicsError(f"{source}: epochs must run 1..{len(frame)} in order")
    return frame[list(HISTORY_COLUMNS)].reset_index(drop=True)


def final_losses(histories: dict, column: str = "val_loss") -> pd.DataFrame:
    """One row per (config, fold): the final epoch's ``column`` and the number of epochs.

    ``histories`` maps ``(config, fold)`` to a history table.
    """
    rows = []
    for (config, fold), hist in histories.items():
        hist = check_history(hist, f"history of {config} fold {fold}")
        rows.append({"config": str(config), "fold": int(fold), "epochs": len(hist),
                     "final_loss": float(hist["loss"].iloc[-1]),
                     "final_val_loss": float(hist[column].iloc[-1])})
    if not rows:
        raise RadiogenomicsError("selection: no fold histories given")
    return pd.DataFrame(rows).sort_values(["config", "fold"]).reset_index(drop=True)


def select(histories: dict, hyperparameters: dict, n_folds: int | None = None):
    """Pick the configuration with the lowest mean final-epoch validation loss.

    ``hyperparameters`` maps config name -> dict of its values (``learning_rate``,
    ``decay`` and for the autoencoder ``activation``). Returns ``(table, selected)``:
    ``table`` indexed by ``config`` with the hyperparameters, ``mean_val_loss``,
    ``sd_val_loss`` (sample sd over folds), ``mean_loss`` (final training loss),
    ``n_folds``, ``rank`` (1 = selected) and ``selected``; ``selected`` a dict of the
    chosen config's hyperparameters plus ``config`` and ``mean_val_loss``.
    """
    per_fold = final_losses(histories)
    unknown = sorted(set(per_fold["config"]) - set(hyperparameters))
    if unknown:
        raise RadiogenomicsError(f"selection: histories of unknown configurations {unknown}")
    missing = sorted(set(hyperparameters) - set(per_fold["config"]))
    if missing:
        raise RadiogenomicsError(f"selection: no histories for configurations {missing}")
    if len(set(per_fold["epochs"])) != 1:
        raise RadiogenomicsError(
            f"selection: fold histories have different numbers of epochs {sorted(set(per_fold['epochs']))}"
        )
    rows = []
    for config, group in per_fold.groupby("config", sort=True):
        if n_folds is not None and sorted(group["fold"]) != list(range(1, n_folds + 1)):
            raise RadiogenomicsError(
                f"selection: configuration {config} has folds {sorted(group['fold'])}, expected 1..{n_folds}"
            )
        val = group["final_val_loss"].to_numpy(dtype=float)
        finite = bool(np.all(np.isfinite(val)))
        rows.append({
            "config": config,
            **hyperparameters[config],
            "n_folds": len(group),
            "mean_val_loss": float(val.mean()) if finite else math.nan,
            "sd_val_loss": float(val.std(ddof=1)) if finite and len(val) > 1 else math.nan,
            "mean_loss": float(group["final_loss"].mean()),
        })
    table = pd.DataFrame(rows)
    order_keys = [k for k in ("learning_rate", "decay", "activation") if k in table.columns]
    # Non-finite means rank last; ties broken by the hyperparameter values, then the name.
    table["_key"] = table["mean_val_loss"].where(np.isfinite(table["mean_val_loss"]), np.inf)
    table = table.sort_values(["_key", *order_keys, "config"], kind="mergesort").drop(columns="_key")
    table["rank"] = np.arange(1, len(table) + 1)
    if not np.isfinite(table["mean_val_loss"].iloc[0]):
        raise RadiogenomicsError(
            "selection: every configuration has a non-finite validation loss in some fold "
            "(training diverged); lower the learning rates"
        )
    table["selected"] = table["rank"] == 1
    table = table.set_index("config")
    best = table.index[0]
    selected = {"config": best, **hyperparameters[best],
                "mean_val_loss": float(table.loc[best, "mean_val_loss"]),
                "sd_val_loss": _none_if_nan(table.loc[best, "sd_val_loss"])}
    return table, selected


def _none_if_nan(value):
    value = float(value)
    return None if math.isnan(value) else value


def collect_oof(predictions: dict, folds: pd.Series, columns=None) -> pd.DataFrame:
    """Stack fold predictions into one table of out-of-fold predictions.

    ``predictions`` maps fold -> table (index patient, one column per feature) of that
    fold's validation patients; ``folds`` is the fold assignment (patient -> fold).
    Checks that each fold predicts exactly its validation patients, that every patient
    appears exactly once, and (when given) the column names and order. Returns the
    table in the order of ``folds``' index, index named ``patient``.
    """
    folds = folds.astype(int)
    expected_folds = sorted(set(folds))
    if sorted(int(k) for k in predictions) != expected_folds:
        raise RadiogenomicsError(
            f"out-of-fold predictions: got folds {sorted(predictions)}, expected {expected_folds}"
        )
    parts = []
    for k in expected_folds:
        frame = predictions[k] if k in predictions else predictions[str(k)]
        frame = frame.copy()
        frame.index = frame.index.astype(str)
        want = set(folds.index[folds == k].astype(str))
        got = set(frame.index)
        if frame.index.duplicated().any():
            dup = sorted(frame.index[frame.index.duplicated()])[:5]
            raise RadiogenomicsError(f"out-of-fold predictions: fold {k} predicts {dup} twice")
        if got != want:
            extra, lost = sorted(got - want)[:5], sorted(want - got)[:5]
            raise RadiogenomicsError(
                f"out-of-fold predictions: fold {k} must predict its {len(want)} validation patients; "
                f"unexpected {extra}, missing {lost}"
            )
        if columns is not None and list(frame.columns) != list(columns):
            raise RadiogenomicsError(
                f"out-of-fold predictions: fold {k} has columns {list(frame.columns)[:5]}..., "
                f"expected {list(columns)[:5]}... ({len(columns)} features)"
            )
        parts.append(frame)
    oof = pd.concat(parts)
    if columns is None and len({tuple(p.columns) for p in parts}) != 1:
        raise RadiogenomicsError("out-of-fold predictions: folds have different columns")
    oof = oof.loc[folds.index.astype(str)]
    oof.index.name = "patient"
    return oof


def curves(histories: dict) -> pd.DataFrame:
    """Long learning-curve table: columns fold, epoch, loss, val_loss (``histories``: fold -> table)."""
    parts = []
    for fold in sorted(histories, key=int):
        hist = check_history(histories[fold], f"history of fold {fold}")
        parts.append(hist.assign(fold=int(fold))[["fold", *HISTORY_COLUMNS]])
    if not parts:
        raise RadiogenomicsError("curves: no fold histories given")
    return pd.concat(parts, ignore_index=True)


def curve_summary(long: pd.DataFrame) -> pd.DataFrame:
    """Mean and sd over folds per epoch (paper Fig. 2): index epoch; loss_mean, loss_sd, val_loss_mean, val_loss_sd."""
    grouped = long.groupby("epoch")[["loss", "val_loss"]]
    mean, sd = grouped.mean(), grouped.std(ddof=1)
    out = pd.DataFrame({"loss_mean": mean["loss"], "loss_sd": sd["loss"],
                        "val_loss_mean": mean["val_loss"], "val_loss_sd": sd["val_loss"]})
    out.index.name = "epoch"
    return out
