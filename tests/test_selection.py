"""Hyperparameter selection and out-of-fold collection (radiogenomics.selection, pure pandas)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from radiogenomics import selection
from radiogenomics.errors import RadiogenomicsError
from radiogenomics.names import IMAGE_FEATURES


def hist(val, loss=None):
    """History whose val_loss runs through ``val`` (final epoch = last value)."""
    val = list(val)
    loss = list(loss) if loss is not None else [v + 0.01 for v in val]
    return pd.DataFrame({"epoch": range(1, len(val) + 1), "loss": loss, "val_loss": val})


HP = {
    "lr0.1_decay0.001": {"learning_rate": 0.1, "decay": 0.001},
    "lr0.2_decay0.001": {"learning_rate": 0.2, "decay": 0.001},
}


#: Two configurations x two folds; lr0.1 has the lowest loss at some epoch (0.01), lr0.2 the
#: lower final-epoch mean.
CURVES = {
    ("lr0.1_decay0.001", 1): hist([0.5, 0.01, 0.40]),
    ("lr0.1_decay0.001", 2): hist([0.5, 0.30, 0.30]),
    ("lr0.2_decay0.001", 1): hist([0.5, 0.40, 0.30]),
    ("lr0.2_decay0.001", 2): hist([0.5, 0.40, 0.32]),
}


def test_selects_lowest_mean_final_epoch_val_loss():
    # lr0.1 has the lowest loss at some epoch (0.01) but the higher final-epoch mean.
    histories = dict(CURVES)
    table, chosen = selection.select(histories, HP, n_folds=2)
    assert chosen["config"] == "lr0.2_decay0.001"
    assert chosen["learning_rate"] == 0.2 and chosen["decay"] == 0.001
    assert chosen["mean_val_loss"] == pytest.approx(0.31)
    assert table.loc["lr0.1_decay0.001", "mean_val_loss"] == pytest.approx(0.35)
    assert table.loc["lr0.2_decay0.001", "sd_val_loss"] == pytest.approx(np.std([0.30, 0.32], ddof=1))
    assert list(table["rank"]) == [1, 2]
    assert table["selected"].sum() == 1 and bool(table.loc["lr0.2_decay0.001", "selected"])
    assert list(table.index) == ["lr0.2_decay0.001", "lr0.1_decay0.001"]


def test_ties_are_broken_deterministically():
    hps = {
        "tanh_lr0.2_decay1e-05": {"activation": "tanh", "learning_rate": 0.2, "decay": 1e-5},
        "sigmoid_lr0.1_decay1e-05": {"activation": "sigmoid", "learning_rate": 0.1, "decay": 1e-5},
        "tanh_lr0.1_decay1e-05": {"activation": "tanh", "learning_rate": 0.1, "decay": 1e-5},
    }
    items = [((name, k), hist([0.3, 0.25])) for name in hps for k in (1, 2)]
    chosen = set()
    for order in (items, items[::-1], items[2:] + items[:2]):
        _, sel = selection.select(dict(order), hps, n_folds=2)
        chosen.add(sel["config"])
    # equal means: smallest learning rate, then decay, then activation name
    assert chosen == {"sigmoid_lr0.1_decay1e-05"}


def test_diverged_configuration_is_never_selected():
    histories = {
        ("lr0.1_decay0.001", 1): hist([0.5, 0.4]),
        ("lr0.1_decay0.001", 2): hist([0.5, 0.4]),
        ("lr0.2_decay0.001", 1): hist([0.5, math.nan]),
        ("lr0.2_decay0.001", 2): hist([0.5, 0.0]),
    }
    table, chosen = selection.select(histories, HP, n_folds=2)
    assert chosen["config"] == "lr0.1_decay0.001"
    assert math.isnan(table.loc["lr0.2_decay0.001", "mean_val_loss"])
    assert table.loc["lr0.2_decay0.001", "rank"] == 2
    all_nan = {key: hist([0.5, math.nan]) for key in histories}
    with pytest.raises(RadiogenomicsError, match="diverged"):
        selection.select(all_nan, HP, n_folds=2)


def test_selection_checks_folds_configs_and_epochs():
    full = {(c, k): hist([0.5, 0.4]) for c in HP for k in (1, 2)}
    with pytest.raises(RadiogenomicsError, match="expected 1..3"):
        selection.select(full, HP, n_folds=3)
    with pytest.raises(RadiogenomicsError, match="no histories"):
        selection.select({k: v for k, v in full.items() if k[0] != "lr0.2_decay0.001"}, HP, n_folds=2)
    with pytest.raises(RadiogenomicsError, match="unknown"):
        selection.select({**full, ("lr9_decay0", 1): hist([0.1, 0.1])}, HP, n_folds=2)
    uneven = dict(full)
    uneven[("lr0.1_decay0.001", 1)] = hist([0.5, 0.4, 0.3])
    with pytest.raises(RadiogenomicsError, match="epochs"):
        selection.select(uneven, HP, n_folds=2)
    with pytest.raises(RadiogenomicsError, match="missing column"):
        selection.select({**full, ("lr0.1_decay0.001", 1): hist([0.5, 0.4]).drop(columns="val_loss")},
                         HP, n_folds=2)


def make_folds(n=9, k=3):
    patients = [f"TCGA-02-{i:04d}" for i in range(n)]
    return pd.Series([i % k + 1 for i in range(n)], index=pd.Index(patients, name="patient"), name="fold")


def fold_predictions(folds, columns=IMAGE_FEATURES):
    rng = np.random.default_rng(0)
    out = {}
    for k in sorted(set(folds)):
        ids = list(folds.index[folds == k])[::-1]  # any row order within a fold
        out[k] = pd.DataFrame(rng.random((len(ids), len(columns))), index=pd.Index(ids, name="patient"),
                              columns=list(columns))
    return out


def test_collect_oof_stacks_each_patient_once():
    folds = make_folds()
    preds = fold_predictions(folds)
    oof = selection.collect_oof(preds, folds, columns=IMAGE_FEATURES)
    assert list(oof.index) == list(folds.index)
    assert oof.index.name == "patient"
    assert list(oof.columns) == list(IMAGE_FEATURES)
    for k, frame in preds.items():
        pd.testing.assert_frame_equal(oof.loc[frame.index], frame, check_names=False)


def test_collect_oof_rejects_bad_folds():
    folds = make_folds()
    preds = fold_predictions(folds)
    dup = dict(preds)
    dup[2] = pd.concat([preds[2], preds[1].iloc[:1]])  # a fold-1 patient predicted again
    with pytest.raises(RadiogenomicsError, match="fold 2"):
        selection.collect_oof(dup, folds)
    twice = dict(preds)
    twice[3] = pd.concat([preds[3], preds[3].iloc[:1]])
    with pytest.raises(RadiogenomicsError, match="twice"):
        selection.collect_oof(twice, folds)
    lost = dict(preds)
    lost[1] = preds[1].iloc[1:]
    with pytest.raises(RadiogenomicsError, match="missing"):
        selection.collect_oof(lost, folds)
    with pytest.raises(RadiogenomicsError, match="folds"):
        selection.collect_oof({k: v for k, v in preds.items() if k != 3}, folds)
    with pytest.raises(RadiogenomicsError, match="columns"):
        selection.collect_oof(fold_predictions(folds, IMAGE_FEATURES[::-1]), folds, columns=IMAGE_FEATURES)


def test_curves_and_summary():
    histories = {2: hist([0.4, 0.2], [0.5, 0.3]), 1: hist([0.6, 0.4], [0.7, 0.1])}
    long = selection.curves(histories)
    assert list(long.columns) == ["fold", "epoch", "loss", "val_loss"]
    assert list(long["fold"]) == [1, 1, 2, 2]
    summary = selection.curve_summary(long)
    assert summary.loc[2, "val_loss_mean"] == pytest.approx(0.3)
    assert summary.loc[2, "loss_mean"] == pytest.approx(0.2)
    assert summary.loc[1, "loss_sd"] == pytest.approx(np.std([0.5, 0.7], ddof=1))


def test_selection_module_does_not_import_tensorflow():
    import subprocess
    import sys

    code = ("import sys; import radiogenomics.selection; "
            "sys.exit(1 if any(m.split('.')[0] in ('tensorflow', 'keras') for m in sys.modules) else 0)")
    env_path = str(__import__("pathlib").Path(selection.__file__).parents[1])
    proc = subprocess.run([sys.executable, "-c", code], env={"PYTHONPATH": env_path}, capture_output=True)
    assert proc.returncode == 0, proc.stderr.decode()


@pytest.mark.workflow
def test_demo_selection_outputs(demo_run):
    from radiogenomics import io

    for stage in ("autoencoder", "dnn"):
        table = io.read_tsv(demo_run / f"results/{stage}/selection.tsv")
        chosen = io.read_json(demo_run / f"results/{stage}/selected.json")
        assert table["mean_val_loss"].idxmin() == chosen["config"]
        assert bool(table.loc[chosen["config"], "selected"])
    folds = io.read_tsv(demo_run / "results/cohort/folds.tsv")["fold"]
    for variant in ("scratch", "pretrain", "pretrain_dropout"):
        oof = io.read_tsv(demo_run / f"results/dnn/{variant}/oof.tsv")
        assert list(oof.index) == list(folds.index)
        assert list(oof.columns) == list(IMAGE_FEATURES)
        assert (oof.to_numpy() >= 0).all()  # nonneg: output (default)
        curves = io.read_tsv(demo_run / f"results/dnn/{variant}/curves.tsv", index_col=None)
        assert sorted(set(curves["fold"])) == sorted(set(folds))


def test_best_epoch_picks_the_minimum_of_the_mean_validation_curve():
    # mean curves: lr0.1 = [0.5, 0.155, 0.35] (minimum 0.155 at epoch 2),
    #              lr0.2 = [0.5, 0.40, 0.31]  (minimum 0.31 at epoch 3): lr0.1 at epoch 2 wins,
    # although fold 1 alone has its minimum elsewhere and lr0.2 wins at the final epoch
    histories = dict(CURVES)
    table, chosen = selection.select(histories, HP, n_folds=2, epoch="best")
    assert (chosen["config"], chosen["epoch"]) == ("lr0.1_decay0.001", 2)
    assert chosen["mean_val_loss"] == pytest.approx(0.155)
    assert table.loc["lr0.2_decay0.001", "epoch"] == 3
    assert table.loc["lr0.1_decay0.001", "mean_loss"] == pytest.approx(0.165)  # training loss at epoch 2
    _, final = selection.select(histories, HP, n_folds=2)
    assert (final["config"], final["epoch"]) == ("lr0.2_decay0.001", 3)
    # equal minima: the earliest epoch; a diverged epoch never wins
    flat = {("lr0.1_decay0.001", k): hist([0.3, float("nan"), 0.2, 0.2]) for k in (1, 2)}
    _, sel = selection.select(flat, {"lr0.1_decay0.001": HP["lr0.1_decay0.001"]}, n_folds=2, epoch="best")
    assert sel["epoch"] == 3
    with pytest.raises(RadiogenomicsError, match="epoch must be"):
        selection.select(histories, HP, epoch="last")


def test_epoch_predictions_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    preds = rng.normal(size=(4, 3, 2)).astype(np.float32)
    path = tmp_path / "val_predictions.tsv.gz"
    selection.write_epoch_predictions(preds, ["B", "A", "C"], ["f1", "f2"], path)
    again = tmp_path / "again.tsv.gz"
    selection.write_epoch_predictions(preds, ["B", "A", "C"], ["f1", "f2"], again)
    assert path.read_bytes() == again.read_bytes()  # no time stamp in the gzip header
    got = selection.read_epoch_predictions(path, 3)
    assert list(got.index) == ["B", "A", "C"] and list(got.columns) == ["f1", "f2"]
    np.testing.assert_array_equal(got.to_numpy(np.float32), preds[2])  # float32 exactly
    with pytest.raises(RadiogenomicsError, match="epoch 5"):
        selection.read_epoch_predictions(path, 5)
