"""Figures 2 and 3: curve summaries by hand, PNGs written and non-empty."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from radiogenomics import evaluation, names, plots
from radiogenomics.errors import RadiogenomicsError

FEATURES = list(names.IMAGE_FEATURES)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _curves(k=3, epochs=6, base=0.3):
    rows = [(f, e, base / e + 0.01 * f, base / e + 0.1 + 0.02 * f) for f in range(1, k + 1)
            for e in range(1, epochs + 1)]
    return pd.DataFrame(rows, columns=["fold", "epoch", "loss", "val_loss"])


def _assert_png(path, min_size=(600, 300)):
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert width >= min_size[0] and height >= min_size[1]
    assert len(data) > 10_000  # not a blank canvas


def test_summarise_curves_by_hand():
    curves = pd.DataFrame({"fold": [1, 2, 1, 2], "epoch": [1, 1, 2, 2],
                           "loss": [1.0, 3.0, 0.5, 0.5], "val_loss": [2.0, 4.0, 1.0, 2.0]})
    s = plots.summarise_curves(curves)
    assert list(s.index) == [1, 2]
    assert s.loc[1, "loss_mean"] == 2.0 and s.loc[1, "loss_sd"] == pytest.approx(np.sqrt(2))  # sample s.d.
    assert s.loc[2, "loss_sd"] == 0.0
    assert s.loc[2, "val_loss_mean"] == 1.5 and s.loc[2, "val_loss_sd"] == pytest.approx(np.sqrt(0.5))
    assert (s["n_folds"] == 2).all()
    one = plots.summarise_curves(curves[curves["fold"] == 1])
    assert (one["loss_sd"] == 0).all()  # one fold: no spread, no NaN
    with pytest.raises(RadiogenomicsError, match="val_loss"):
        plots.summarise_curves(curves.drop(columns="val_loss"))


def test_stack_histories_and_final_losses():
    hist = {k: pd.DataFrame({"epoch": [1, 2], "loss": [1.0, 0.5 * k], "val_loss": [2.0, 1.0 * k]}) for k in (1, 2)}
    stacked = plots.stack_histories(hist)
    assert list(stacked.columns) == ["fold", "epoch", "loss", "val_loss"] and len(stacked) == 4
    final = plots.final_losses({"autoencoder": stacked},
                               {"autoencoder": pd.DataFrame({"epoch": [1, 2], "loss": [0.3, 0.2]})})
    row = final.loc["autoencoder"]
    assert row["loss"] == pytest.approx(0.75) and row["val_loss"] == pytest.approx(1.5)
    assert row["epochs"] == 2 and row["n_folds"] == 2 and row["retrained_loss"] == 0.2
    assert row["loss_function"] == "MSE"


def test_learning_curves_figure_is_written(tmp_path):
    curves = {"scratch": _curves(), "pretrain": _curves(base=0.4), "pretrain_dropout": _curves(base=0.2),
              "autoencoder": _curves(base=0.05)}
    final = {"autoencoder": pd.DataFrame({"epoch": range(1, 7), "loss": np.linspace(0.1, 0.02, 6)})}
    out = tmp_path / "figures" / "figure2.png"
    plots.plot_learning_curves(curves, out, final_histories=final, null_val_loss=0.5, dpi=80)
    _assert_png(out)
    assert [p.name for p in out.parent.iterdir()] == ["figure2.png"]  # no temporary left


def test_error_scatter_figure_is_written(tmp_path):
    rng = np.random.default_rng(0)
    patients = [f"P{i}" for i in range(25)]
    measured = pd.DataFrame(rng.uniform(0.1, 1, (25, 20)), index=patients, columns=FEATURES)
    preds = {"elastic_net": measured + rng.normal(0, 0.2, (25, 20)),
             "pretrain_dropout": measured + rng.normal(0, 0.05, (25, 20))}
    folds = pd.Series(np.arange(25) % 3 + 1, index=patients)
    per_feature = evaluation.evaluate(measured, preds, pd.Series(1.0, index=FEATURES), folds=folds)["per_feature"]
    assert (per_feature["p_mae_adjusted"] < 0.05).any()  # some stars to draw
    out = tmp_path / "figure3.png"
    plots.plot_error_scatter(per_feature, out, dpi=80)
    _assert_png(out)
    # the null's crosses are drawn: the figure differs from one without them
    bare = tmp_path / "bare.png"
    plots.plot_error_scatter(per_feature[per_feature["model"] != "mean"], bare, dpi=80)
    assert bare.read_bytes() != out.read_bytes()
    with pytest.raises(RadiogenomicsError, match="scratch"):
        plots.plot_error_scatter(per_feature, tmp_path / "x.png", network="scratch")
    assert not (tmp_path / "x.png").exists()


def test_short_labels():
    assert plots.short_label("edema_major_axis") == "edema major axis"
    assert plots.short_label("enhancing_sa_v_ratio") == "enh. SA:V ratio"
    assert plots.short_label("other") == "other"


def test_final_losses_with_the_null_row():
    hist = {k: pd.DataFrame({"epoch": [1, 2], "loss": [1.0, 0.5], "val_loss": [2.0, 1.0]}) for k in (1, 2)}
    curves = {"pretrain_dropout": plots.stack_histories(hist), "autoencoder": plots.stack_histories(hist)}
    null = pd.DataFrame({"fold": [1, 2], "loss": [0.2, 0.4], "val_loss": [0.3, 0.5]})
    table = plots.final_losses(curves, null_losses=null)
    assert list(table.index) == ["pretrain_dropout", "mean", "autoencoder"]
    assert table.loc["mean", "val_loss"] == pytest.approx(0.4)
    assert table.loc["mean", "val_loss_sd"] == pytest.approx(np.sqrt(0.02))
    assert pd.isna(table.loc["mean", "epochs"]) and table.loc["pretrain_dropout", "epochs"] == 2
