"""Hyperparameter selection and out-of-fold collection (paper §2.4), pure pandas.

Selection rule (§2.4: "the hyperparameters with the lowest average validation loss
was selected"): for every configuration take each fold's validation loss **at the
final epoch** (the model a fold job ends with, and the one whose predictions it
writes), average over the K folds, and select the configuration with the lowest mean.
A configuration whose loss is not finite in some fold (training diverged) has no mean
and cannot be selected. Ties (equal means) go to the configuration that sorts first
by (learning rate, decay, activation, name), so the choice never depends on file order.

``epoch="best"`` (config ``selection.epoch: best``; the authors' later code,
novasmedley/deepRadiogenomics, kept each model's best epoch): the epoch is chosen too.
For every configuration the mean over the folds of the validation loss at each epoch
(Figure 2's mean validation curve) is formed, and the (configuration, epoch) with the
lowest mean is selected (ties: the configuration as above, then the earliest epoch);
every fold is then judged by its predictions at that epoch
(:func:`write_epoch_predictions`). This is optimistic: the epoch is chosen on the same
validation patients that report the error.

Out-of-fold predictions: every supervised patient is a validation patient in exactly
one fold; :func:`collect_oof` stacks the fold jobs' predictions into one patients x 20
table and checks that each patient of the fold assignment appears exactly once.
"""

from __future__ import annotations

import gzip
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


EPOCH_RULES = ("final", "best")


def select(histories: dict, hyperparameters: dict, n_folds: int | None = None, epoch: str = "final"):
    """Pick the configuration (and with ``epoch="best"`` the epoch) with the lowest mean
    validation loss over the folds (see the module docstring).

    ``hyperparameters`` maps config name -> dict of its values (``learning_rate``,
    ``decay`` and for the autoencoder ``activation``). Returns ``(table, selected)``:
    ``table`` indexed by ``config`` with the hyperparameters, ``epoch`` (the epoch the
    configuration is judged at: the last, or its best), ``mean_val_loss``, ``sd_val_loss``
    (sample sd over folds) and ``mean_loss`` (training loss) at that epoch, ``n_folds``,
    ``rank`` (1 = selected) and ``selected``; ``selected`` a dict of the chosen config's
    hyperparameters plus ``config``, ``epoch`` and ``mean_val_loss``.
    """
    if epoch not in EPOCH_RULES:
        raise RadiogenomicsError(f"selection: epoch must be one of {EPOCH_RULES}, got {epoch!r}")
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
    if epoch == "best":  # judge every configuration at its best epoch instead of the last
        per_fold = final_losses(_at_best_epoch(histories))
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
            "epoch": int(group["epochs"].iloc[0]),
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
    selected = {"config": best, **hyperparameters[best], "epoch": int(table.loc[best, "epoch"]),
                "mean_val_loss": float(table.loc[best, "mean_val_loss"]),
                "sd_val_loss": _none_if_nan(table.loc[best, "sd_val_loss"])}
    return table, selected


def _at_best_epoch(histories: dict) -> dict:
    """Every history cut after its configuration's best epoch: the epoch with the lowest
    mean validation loss over the configuration's folds (the earliest of equal ones; a
    non-finite mean never wins). The cut histories' last rows are what is compared. The
    histories are checked (and of one length) already: :func:`select` calls this after
    :func:`final_losses`."""
    by_config = {}
    for (config, fold), hist in histories.items():
        by_config.setdefault(str(config), {})[fold] = check_history(hist, f"history of {config} fold {fold}")
    out = {}
    for config, folds in by_config.items():
        mean = np.mean(np.stack([h["val_loss"].to_numpy(float) for h in folds.values()]), axis=0)
        mean = np.where(np.isfinite(mean), mean, np.inf)
        best = int(np.argmin(mean)) + 1  # argmin: the first of equal minima
        for fold, hist in folds.items():
            out[(config, fold)] = hist.iloc[:best]
    return out


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


def write_epoch_predictions(predictions, patients, columns, path) -> None:
    """Every epoch's validation predictions of a fold job, for ``selection.epoch: best``.

    ``predictions``: epochs × patients × columns (as ``training.fit(val_predictions=...)``
    collects them). Written as gzip-compressed TSV (columns ``epoch``, ``patient``, then
    ``columns``; 9 significant digits, which round-trip float32), with the gzip header's
    time stamp fixed so that the same job gives the same bytes.
    """
    from . import io

    values = np.asarray(predictions, dtype=np.float64)
    epochs, n, k = values.shape
    frame = pd.DataFrame(values.reshape(epochs * n, k), columns=list(columns))
    frame.insert(0, "patient", np.tile(np.asarray(patients, dtype=object), epochs))
    frame.insert(0, "epoch", np.repeat(np.arange(1, epochs + 1), n))
    text = frame.to_csv(sep="\t", index=False, float_format="%.9g").encode()
    # no file name and no time in the header (pandas' gzip writes the temporary's name)
    with io.atomic_path(path) as tmp, open(tmp, "wb") as raw, \
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as handle:
        handle.write(text)


def read_epoch_predictions(path, epoch: int) -> pd.DataFrame:
    """The predictions of one epoch from :func:`write_epoch_predictions`' file (index patient)."""
    frame = pd.read_csv(path, sep="\t", compression="gzip", dtype={"patient": str})
    if "epoch" not in frame.columns or "patient" not in frame.columns:
        raise RadiogenomicsError(f"{path}: expected columns 'epoch' and 'patient'")
    part = frame[frame["epoch"] == int(epoch)].drop(columns="epoch").set_index("patient")
    if part.empty:
        raise RadiogenomicsError(f"{path}: no predictions for epoch {epoch} (epochs {frame['epoch'].min()}-"
                                 f"{frame['epoch'].max()})")
    return part


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
