"""The paper's Figures 2 and 3 (matplotlib with the Agg backend, seaborn styling).

- Figure 2 (learning curves, §3.1): for each network's selected configuration and for
  the autoencoder's, the training and validation loss per epoch averaged over the K
  cross-validation folds, with a band of ±1 sample standard deviation over folds.
- Figure 3 (§3, "Predicting image features (dots) from gene expressions"): one dot per
  image feature, x = the network's error, y = the reference model's (elastic net) error,
  MAE and MAPE side by side; the diagonal is equal error, so dots *above* it are
  features the network predicts better (the paper's orientation). Features whose
  Bonferroni-adjusted Wilcoxon p-value is below 0.05 are drawn as stars, and the
  :data:`MAX_LABELS` of them farthest from the diagonal are labelled.

Both figures mark the null model (each feature predicted by its training-fold mean): a
horizontal line at its validation MAE in each network panel of Figure 2, a cross per
feature on the diagonal of Figure 3.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from . import io, names, null_model  # noqa: E402
from .errors import RadiogenomicsError  # noqa: E402


#: The loss each model's curves are measured in (§2.2.2, §2.2.3).
LOSS_LABELS = {
    "autoencoder": "loss (MSE, standardised expression)",
}
DEFAULT_LOSS_LABEL = "loss (MAE, scaled units)"

CURVE_COLUMNS = ("fold", "epoch", "loss", "val_loss")


def model_label(model: str) -> str:
    """A model's figure label (:func:`radiogenomics.names.label`)."""
    return names.label(model)


def short_label(feature: str) -> str:
    """``edema_major_axis`` -> ``edema major axis``; ``enhancing_...`` -> ``enh. ...``; a
    column that is not a default feature: its name."""
    region, label, _ = names.describe(feature)
    return f"{'enh.' if region == 'enhancing' else region} {label}" if region else label


# ------------------------------------------------------------ learning curves
def stack_histories(histories) -> pd.DataFrame:
    """``{fold: history}`` (columns epoch, loss, val_loss) -> one ``fold, epoch, loss, val_loss`` table."""
    frames = []
    for fold, hist in sorted(histories.items()):
        h = hist.reset_index() if "epoch" not in hist.columns else hist
        missing = [c for c in ("epoch", "loss", "val_loss") if c not in h.columns]
        if missing:
            raise RadiogenomicsError(f"history of fold {fold}: missing column(s) {missing}")
        frames.append(h[["epoch", "loss", "val_loss"]].assign(fold=int(fold)))
    if not frames:
        raise RadiogenomicsError("learning curves: no fold histories")
    return pd.concat(frames, ignore_index=True)[list(CURVE_COLUMNS)]


def summarise_curves(curves: pd.DataFrame, source: str = "curves") -> pd.DataFrame:
    """Mean and sample s.d. over folds of ``loss`` and ``val_loss`` per epoch.

    ``curves`` has columns ``fold, epoch, loss, val_loss`` (``curves.tsv``; the row key
    may be the first column or the index). Returns a frame indexed by ``epoch`` with
    ``loss_mean, loss_sd, val_loss_mean, val_loss_sd, n_folds`` (s.d. 0 with one fold).
    """
    frame = curves.reset_index() if "fold" not in curves.columns or "epoch" not in curves.columns else curves
    missing = [c for c in CURVE_COLUMNS if c not in frame.columns]
    if missing:
        raise RadiogenomicsError(f"{source}: missing column(s) {missing}; expected {list(CURVE_COLUMNS)}")
    if frame.empty:
        raise RadiogenomicsError(f"{source}: no rows")
    grouped = frame.groupby("epoch", sort=True)
    out = pd.DataFrame({
        "loss_mean": grouped["loss"].mean(),
        "loss_sd": grouped["loss"].std(ddof=1),
        "val_loss_mean": grouped["val_loss"].mean(),
        "val_loss_sd": grouped["val_loss"].std(ddof=1),
        "n_folds": grouped["fold"].nunique(),
    })
    out[["loss_sd", "val_loss_sd"]] = out[["loss_sd", "val_loss_sd"]].fillna(0.0)
    return out


def final_losses(curves_by_model: dict, final_histories: dict | None = None,
                 null_losses: pd.DataFrame | None = None) -> pd.DataFrame:
    """The numbers of §3.1: mean (and s.d.) over folds of the last epoch's losses.

    ``final_histories`` (model -> history of a model retrained on all data, e.g. the
    autoencoder's) adds ``retrained_loss`` (its last training loss; the paper's "0.014 loss
    (mean squared error) after retraining"). ``null_losses`` (the null model's per-fold
    ``loss`` and ``val_loss``, :func:`radiogenomics.null_model.losses_per_fold`) adds its
    row, :data:`radiogenomics.null_model.NAME`, after the networks.
    """
    rows = []
    for model, curves in curves_by_model.items():
        s = summarise_curves(curves, f"curves of {model}")
        last = s.iloc[-1]
        row = {"model": model, "epochs": int(s.index[-1]), "n_folds": int(last["n_folds"]),
               "loss": float(last["loss_mean"]), "loss_sd": float(last["loss_sd"]),
               "val_loss": float(last["val_loss_mean"]), "val_loss_sd": float(last["val_loss_sd"]),
               "loss_function": "MSE" if model == "autoencoder" else "MAE",
               "retrained_loss": np.nan}
        if final_histories and model in final_histories and final_histories[model] is not None:
            row["retrained_loss"] = float(final_histories[model]["loss"].iloc[-1])
        rows.append(row)
    if null_losses is not None:
        sd = (lambda v: float(v.std(ddof=1)) if len(v) > 1 else 0.0)
        null = {"model": null_model.NAME, "epochs": np.nan, "n_folds": len(null_losses),
                "loss": float(null_losses["loss"].mean()), "loss_sd": sd(null_losses["loss"]),
                "val_loss": float(null_losses["val_loss"].mean()), "val_loss_sd": sd(null_losses["val_loss"]),
                "loss_function": "MAE", "retrained_loss": np.nan}
        at = next((i for i, r in enumerate(rows) if r["model"] == "autoencoder"), len(rows))
        rows.insert(at, null)
    out = pd.DataFrame(rows).set_index("model")
    out["epochs"] = out["epochs"].astype("Int64")  # the null model has no epochs
    return out


def plot_learning_curves(curves_by_model: dict, path, *, final_histories: dict | None = None,
                         null_val_loss: float | None = None, selected_epoch: int | None = None,
                         dpi: int = 150) -> None:
    """Figure 2: one panel per model, mean train/validation loss ± 1 s.d. over folds.

    Networks share one y-axis range (so their losses compare at a glance); the
    autoencoder (a different loss) has its own. A retrained model's training loss
    (``final_histories``) is drawn dashed. ``null_val_loss`` (the null model's validation
    MAE, mean over folds: :func:`radiogenomics.null_model.losses_per_fold`) is drawn as a
    horizontal line in every network panel: the level a validation curve must go below.
    ``selected_epoch`` (``selection.epoch: best``) is marked by a vertical line there.
    """
    if not curves_by_model:
        raise RadiogenomicsError("learning curves: nothing to plot")
    summaries = {m: summarise_curves(c, f"curves of {m}") for m, c in curves_by_model.items()}
    n = len(summaries)
    ncols = 2 if n > 1 else 1
    nrows = int(np.ceil(n / ncols))
    sns.set_theme(style="whitegrid", context="notebook")
    fig, axes = plt.subplots(nrows, ncols, figsize=(6.0 * ncols, 4.2 * nrows), squeeze=False)
    networks = [m for m in summaries if m != "autoencoder"]
    net_top = 0.0
    for m in networks:
        s = summaries[m]
        net_top = max(net_top, float(np.nanmax(s[["loss_mean", "val_loss_mean"]].to_numpy()
                                                 + s[["loss_sd", "val_loss_sd"]].to_numpy())))
    if null_val_loss is not None and np.isfinite(null_val_loss):
        net_top = max(net_top, float(null_val_loss))
    palette = sns.color_palette("colorblind", 3)
    for ax, (model, s) in zip(axes.flat, summaries.items()):
        epochs = s.index.to_numpy()
        for col, label, colour in (("loss", "training", palette[0]), ("val_loss", "validation", palette[1])):
            mean, sd = s[f"{col}_mean"].to_numpy(float), s[f"{col}_sd"].to_numpy(float)
            if np.all(np.isnan(mean)):
                continue
            ax.plot(epochs, mean, color=colour, lw=2, label=f"{label} (mean)")
            ax.fill_between(epochs, mean - sd, mean + sd, color=colour, alpha=0.25, lw=0,
                            label=f"{label} ± 1 s.d.")
        if model != "autoencoder" and null_val_loss is not None and np.isfinite(null_val_loss):
            ax.axhline(float(null_val_loss), color="0.25", lw=1.3, ls=":",
                       label="null: training-fold mean (validation)")
        if model != "autoencoder" and selected_epoch is not None:
            ax.axvline(int(selected_epoch), color="0.25", lw=1.0, ls="-.", label="selected epoch")
        hist = (final_histories or {}).get(model)
        if hist is not None and len(hist):
            ax.plot(hist["epoch"], hist["loss"], color=palette[2], lw=1.5, ls="--",
                    label="retrained on all profiles")
        ax.set_title(f"{model_label(model)} ({int(s['n_folds'].max())} folds)", fontsize=12)
        ax.set_xlabel("epoch")
        ax.set_ylabel(LOSS_LABELS.get(model, DEFAULT_LOSS_LABEL))
        if model != "autoencoder" and net_top > 0:
            ax.set_ylim(0, net_top * 1.05)
        ax.set_xlim(epochs.min(), max(epochs.max(), epochs.min() + 1))
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.legend(fontsize=9, loc="best")
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    fig.suptitle("Learning curves of the selected configurations (cross-validation)", fontsize=13)
    fig.tight_layout()
    _save(fig, path, dpi)


# ----------------------------------------------------------------- Figure 3
def plot_error_scatter(per_feature: pd.DataFrame, path, *, network: str = names.GRID_NETWORK,
                       reference: str = names.REFERENCE, alpha: float = 0.05, dpi: int = 150) -> None:
    """Figure 3: network error (x) against reference error (y), MAE and MAPE panels.

    ``per_feature`` is :func:`radiogenomics.evaluation.evaluate`'s table. A feature above
    the diagonal has lower error with the network; stars mark adjusted p < ``alpha``. When
    the table has the null model's rows, each feature's null error is marked by a grey
    cross on the diagonal, at (null, null), joined to the feature's dot: a dot to the right
    of its cross is a feature the network predicts worse than the training-fold mean, a
    dot above it one the elastic net predicts worse.
    """
    needed = {"model", "feature", "mae", "mape", "p_mae_adjusted", "p_mape_adjusted"}
    missing = sorted(needed - set(per_feature.columns))
    if missing:
        raise RadiogenomicsError(f"per-feature table: missing column(s) {missing}")
    models = set(per_feature["model"])
    for m in (network, reference):
        if m not in models:
            raise RadiogenomicsError(f"per-feature table: no rows for model {m!r} (have {sorted(models)})")
    net = per_feature[per_feature["model"] == network].set_index("feature")
    ref = per_feature[per_feature["model"] == reference].set_index("feature").loc[net.index]
    null = None
    if null_model.NAME in models:
        null = per_feature[per_feature["model"] == null_model.NAME].set_index("feature").loc[net.index]
    sns.set_theme(style="whitegrid", context="notebook")
    fig, axes = plt.subplots(1, 2, figsize=(12.0, 5.6))
    regions = [names.describe(f)[0] or "other" for f in net.index]
    palette = dict(zip(["enhancing", "edema", "other"], sns.color_palette("colorblind", 3)))
    panels = (("mae", "p_mae_adjusted", "MAE (scaled units: fraction of cohort maximum)"),
              ("mape", "p_mape_adjusted", "MAPE (%)"))
    for ax, (metric, pcol, unit) in zip(axes, panels):
        x = net[metric].to_numpy(float)
        y = ref[metric].to_numpy(float)
        sig = (net[pcol].to_numpy(float) < alpha)
        finite = np.isfinite(x) & np.isfinite(y)
        z = null[metric].to_numpy(float) if null is not None else np.full(len(x), np.nan)
        marked = finite & np.isfinite(z)
        hi = float(np.nanmax(np.concatenate([x[finite], y[finite], z[marked]]))) if finite.any() else 1.0
        lo = 0.0
        hi = hi * 1.08 if hi > 0 else 1.0
        ax.fill_between([lo, hi], [lo, hi], [hi, hi], color="0.92", zorder=0)
        ax.plot([lo, hi], [lo, hi], color="0.3", lw=1.2, ls="--", zorder=1, label="equal error")
        ax.text(lo + 0.04 * (hi - lo), hi - 0.05 * (hi - lo), "network better", fontsize=9,
                va="top", color="0.35")
        ax.text(hi - 0.04 * (hi - lo), lo + 0.04 * (hi - lo), "elastic net better", fontsize=9,
                ha="right", color="0.35")
        if marked.any():
            for xi, yi, zi in zip(x[marked], y[marked], z[marked]):
                ax.plot([zi, xi], [zi, yi], color="0.6", lw=0.7, zorder=2)
            ax.scatter(z[marked], z[marked], marker="x", s=40, color="0.35", linewidth=1.2, zorder=2,
                       label="null: training-fold mean (joined to its feature)")
        for region in dict.fromkeys(regions):
            idx = np.array([r == region for r in regions]) & finite
            for is_sig, marker, size in ((False, "o", 60), (True, "*", 260)):
                sel = idx & (sig == is_sig)
                if not sel.any():
                    continue
                label = f"{region}" + (" (adjusted p < %g)" % alpha if is_sig else "")
                ax.scatter(x[sel], y[sel], s=size, marker=marker, color=palette[region],
                           edgecolor="black" if is_sig else "white", linewidth=0.8, zorder=3, label=label)
        shown = np.flatnonzero(sig & finite)
        # the significant features farthest from the diagonal get a label (too many overlap)
        shown = shown[np.argsort(-np.abs(x[shown] - y[shown]), kind="stable")[:MAX_LABELS]]
        _label_points(ax, [short_label(f) for f in net.index[shown]], x[shown], y[shown], lo, hi)
        ax.set_xlim(lo, hi)
        ax.set_ylim(lo, hi)
        ax.set_aspect("equal")
        ax.set_xlabel(f"{model_label(network)}\n{unit}")
        ax.set_ylabel(f"{model_label(reference)}\n{unit}")
        ax.set_title(f"{metric.upper()} per image feature ({len(net)} features)", fontsize=12)
    # one legend for both panels, below them, so that it never hides a dot
    legend = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            legend.setdefault(label, handle)
    fig.legend(list(legend.values()), list(legend.keys()), loc="lower center", ncol=3, fontsize=9,
               frameon=False)
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    _save(fig, path, dpi)


#: Figure 3 labels at most this many significant features per panel (the farthest from the
#: diagonal): the vertical nudging keeps about this many labels apart inside the axes.
MAX_LABELS = 8


def _label_points(ax, labels, x, y, lo, hi) -> None:
    """Label points to their right, nudged vertically so that labels do not overlap."""
    gap = 0.045 * (hi - lo)
    order = np.argsort(-np.asarray(y, float))
    last = np.inf
    for i in order:
        ty = min(float(y[i]), last - gap)
        last = ty
        tx = float(x[i]) + 0.05 * (hi - lo)
        ha = "left"
        if tx > lo + 0.7 * (hi - lo):  # near the right edge: put the label on the left
            tx, ha = float(x[i]) - 0.05 * (hi - lo), "right"
        ax.annotate(labels[i], (x[i], y[i]), xytext=(tx, ty), textcoords="data", fontsize=9,
                    ha=ha, va="center", zorder=4,
                    arrowprops={"arrowstyle": "-", "color": "0.4", "lw": 0.6})


def _save(fig, path, dpi: int) -> None:
    try:
        with io.atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=dpi, format="png")
    finally:
        plt.close(fig)


# ------------------------------------------------------------ association map
def clustermap(matrix: pd.DataFrame, path, dpi: int = 150, title: str | None = None) -> None:
    """The association map: seaborn clustermap of a genes × features matrix in [-1, 1]
    (:func:`radiogenomics.rankings.heatmap_matrix`), average linkage, correlation distance
    when every row and column varies (else Euclidean), written atomically (format from the
    file name's suffix)."""
    rows, cols = matrix.shape
    cluster_rows = rows >= 2 and np.all(matrix.std(axis=1) > 0)
    cluster_cols = cols >= 2 and np.all(matrix.std(axis=0) > 0)
    height = max(4.0, 0.18 * rows + 3)
    width = max(6.0, 0.35 * cols + 4)
    grid = sns.clustermap(
        matrix, method="average", metric="correlation" if (cluster_rows and cluster_cols) else "euclidean",
        row_cluster=cluster_rows, col_cluster=cluster_cols, cmap="RdBu_r", vmin=-1, vmax=1, center=0,
        figsize=(width, height), yticklabels=rows <= 150, xticklabels=True,
        cbar_kws={"label": "direction × mean |IG| / feature max"},
    )
    if title:
        grid.figure.suptitle(title, y=1.01)
    with io.atomic_path(path) as tmp:
        grid.figure.savefig(tmp, dpi=dpi, bbox_inches="tight", format=str(path).rsplit(".", 1)[-1])
    plt.close(grid.figure)
