"""The autoencoder and the radiogenomic network (radiogenomics.models), paper §2.2."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from radiogenomics import models
from radiogenomics.errors import RadiogenomicsError

PAPER_HIDDEN = [2000, 1000, 500, 1000, 2000]
PAPER_GENES = 12042


def test_paper_sizes_and_parameter_counts():
    """Paper §2.2.2/§2.2.3 sizes; counts by sum_l n_{l-1} n_l + n_l, computed by hand here."""
    assert models.encoder_sizes(PAPER_HIDDEN) == [2000, 1000, 500]
    ae = models.autoencoder_sizes(PAPER_GENES, PAPER_HIDDEN)
    assert ae == [12042, 2000, 1000, 500, 1000, 2000, 12042]
    by_hand_ae = (12042 * 2000 + 2000) + (2000 * 1000 + 1000) + (1000 * 500 + 500) \
        + (500 * 1000 + 1000) + (1000 * 2000 + 2000) + (2000 * 12042 + 12042)
    assert models.parameter_count(ae) == by_hand_ae == 53_186_542
    dnn = models.dnn_sizes(PAPER_GENES, [2000, 1000, 500], 100, 20)
    assert dnn == [12042, 2000, 1000, 500, 100, 20]
    by_hand_dnn = (12042 * 2000 + 2000) + (2000 * 1000 + 1000) + (1000 * 500 + 500) \
        + (500 * 100 + 100) + (100 * 20 + 20)
    assert models.parameter_count(dnn) == by_hand_dnn == 26_639_620
    assert models.autoencoder_layer_names(PAPER_HIDDEN) == ["enc1", "enc2", "enc3", "dec1", "dec2", "recon"]
    assert models.dnn_layer_names(3) == ["hidden1", "hidden2", "hidden3", "hidden4", "output"]


def test_nonneg_modes():
    assert models.nonneg_layers("output", 3) == ["output"]
    assert models.nonneg_layers("all", 3) == ["hidden1", "hidden2", "hidden3", "hidden4", "output"]
    assert models.nonneg_layers("none", 3) == []
    with pytest.raises(RadiogenomicsError, match="dnn.nonneg"):
        models.nonneg_layers("some", 3)


keras = pytest.importorskip("keras")
from radiogenomics import training  # noqa: E402


def dense_layers(model):
    return [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]


def test_small_models_layers_and_counts():
    hidden = [24, 12, 6, 12, 24]
    ae = models.build_autoencoder(50, hidden, "sigmoid", "linear", seed=1)
    assert [layer.name for layer in dense_layers(ae)] == ["enc1", "enc2", "enc3", "dec1", "dec2", "recon"]
    assert [layer.units for layer in dense_layers(ae)] == [24, 12, 6, 12, 24, 50]
    assert {layer.activation.__name__ for layer in dense_layers(ae)[:-1]} == {"sigmoid"}
    assert dense_layers(ae)[-1].activation.__name__ == "linear"
    assert ae.count_params() == models.parameter_count(models.autoencoder_sizes(50, hidden))

    dnn, nonneg = models.build_dnn(50, models.encoder_sizes(hidden), 8, 20, 0.25, "output", seed=1)
    assert [layer.name for layer in dnn.layers] == [
        "dropout0", "hidden1", "dropout1", "hidden2", "dropout2", "hidden3", "dropout3", "hidden4", "output"]
    assert [layer.units for layer in dense_layers(dnn)] == [24, 12, 6, 8, 20]
    assert all(layer.rate == 0.25 for layer in dnn.layers if isinstance(layer, keras.layers.Dropout))
    assert {layer.activation.__name__ for layer in dense_layers(dnn)[:-1]} == {"relu"}
    assert dense_layers(dnn)[-1].activation.__name__ == "linear"
    assert nonneg == ["output"]
    assert dnn.count_params() == models.parameter_count(models.dnn_sizes(50, [24, 12, 6], 8, 20))

    plain, _ = models.build_dnn(50, [24, 12, 6], 8, 20, 0.0, "none", seed=1)
    assert [layer.name for layer in plain.layers] == ["hidden1", "hidden2", "hidden3", "hidden4", "output"]


@pytest.mark.slow
def test_paper_size_models_build_with_paper_counts():
    ae = models.build_autoencoder(PAPER_GENES, PAPER_HIDDEN, "tanh", "linear", seed=0)
    assert ae.count_params() == 53_186_542
    del ae
    dnn, _ = models.build_dnn(PAPER_GENES, [2000, 1000, 500], 100, 20, 0.25, "output", seed=0)
    assert dnn.count_params() == 26_639_620


def test_initialisation_is_seeded():
    a = models.build_autoencoder(30, [8, 4, 8], "tanh", "linear", seed=5)
    b = models.build_autoencoder(30, [8, 4, 8], "tanh", "linear", seed=5)
    c = models.build_autoencoder(30, [8, 4, 8], "tanh", "linear", seed=6)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)
    assert not np.array_equal(a.get_weights()[0], c.get_weights()[0])


def test_weight_transfer():
    ae = models.build_autoencoder(40, [16, 8, 4, 8, 16], "tanh", "linear", seed=2)
    dnn, _ = models.build_dnn(40, [16, 8, 4], 5, 20, 0.25, "output", seed=3)
    before_head = [w.copy() for w in dnn.get_layer("hidden4").get_weights()]
    assert not np.array_equal(ae.get_layer("enc1").get_weights()[0], dnn.get_layer("hidden1").get_weights()[0])
    pairs = models.transfer_encoder(ae, dnn)
    assert pairs == [("enc1", "hidden1"), ("enc2", "hidden2"), ("enc3", "hidden3")]
    for enc, hid in pairs:
        for w_ae, w_dnn in zip(ae.get_layer(enc).get_weights(), dnn.get_layer(hid).get_weights()):
            np.testing.assert_array_equal(w_ae, w_dnn)
    for w0, w1 in zip(before_head, dnn.get_layer("hidden4").get_weights()):
        np.testing.assert_array_equal(w0, w1)  # layers after the encoder keep their own init
    wrong, _ = models.build_dnn(41, [16, 8, 4], 5, 20, 0.25, "output", seed=3)
    with pytest.raises(RadiogenomicsError, match="enc1"):
        models.transfer_encoder(ae, wrong)


def test_weight_transfer_survives_keras_save(tmp_path):
    """The pipeline transfers from the saved final autoencoder (.keras)."""
    ae = models.build_autoencoder(40, [16, 8, 4, 8, 16], "tanh", "linear", seed=2)
    ae.save(tmp_path / "model.keras")
    loaded = keras.models.load_model(tmp_path / "model.keras", compile=False)
    dnn, _ = models.build_dnn(40, [16, 8, 4], 5, 20, 0.25, "output", seed=3)
    models.transfer_encoder(loaded, dnn)
    np.testing.assert_array_equal(dnn.get_layer("hidden2").get_weights()[0], ae.get_layer("enc2").get_weights()[0])


def planted(n=120, genes=30, seed=0, offset=-0.3):
    """Inputs in [-1, 1]; 20 targets driven by three directions of the inputs."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, (n, genes)).astype(np.float32)
    w = rng.normal(size=(genes, 3)) / np.sqrt(genes)
    y = np.maximum(0, offset + 0.5 + 0.4 * np.tanh(x @ w) @ rng.uniform(0.2, 1, (3, 20)))
    return x, y.astype(np.float32)


FIT = dict(loss="mae", learning_rate=0.1, decay=1e-4, momentum=0.5, batch_size=10)


@pytest.mark.parametrize("mode", ["output", "all"])
def test_nonneg_holds_after_training(mode):
    x, y = planted(offset=-0.45)  # many zero targets pull outputs (and weights) down
    dnn, nonneg = models.build_dnn(x.shape[1], [16, 8], 6, 20, 0.25, mode, seed=4)
    training.fit(dnn, x, y, epochs=6, seed=1, nonneg=nonneg, **FIT)
    for name in nonneg:
        for w in dnn.get_layer(name).get_weights():
            assert (w >= 0).all(), name
    rng = np.random.default_rng(9)
    probe = rng.uniform(-3, 3, (500, x.shape[1])).astype(np.float32)  # far outside the data, too
    assert (dnn.predict(probe, verbose=0) >= 0).all()
    if mode == "output":  # hidden layers stay free
        assert (dnn.get_layer("hidden1").get_weights()[0] < 0).any()


def test_same_job_twice_is_identical():
    """Initialisation, shuffling and dropout masks all come from the job's seed (CPU)."""
    x, y = planted()
    runs = []
    for _ in range(2):
        ae = models.build_autoencoder(x.shape[1], [12, 6, 12], "tanh", "linear", seed=11)
        ae_hist = training.fit(ae, x, x, x_val=x[:20], y_val=x[:20], loss="mse", learning_rate=0.1,
                               decay=1e-4, momentum=0.2, batch_size=10, epochs=3, seed=11)
        dnn, nonneg = models.build_dnn(x.shape[1], [12, 6], 5, 20, 0.25, "output", seed=12)
        models.transfer_encoder(ae, dnn)
        hist = training.fit(dnn, x[20:], y[20:], x_val=x[:20], y_val=y[:20], epochs=3, seed=12,
                            nonneg=nonneg, **FIT)
        runs.append((ae_hist, hist, dnn.predict(x[:20], verbose=0), dnn.get_weights()))
    (h_ae0, h0, p0, w0), (h_ae1, h1, p1, w1) = runs
    pd.testing.assert_frame_equal(h_ae0, h_ae1, check_exact=True)
    pd.testing.assert_frame_equal(h0, h1, check_exact=True)
    np.testing.assert_array_equal(p0, p1)
    for a, b in zip(w0, w1):
        np.testing.assert_array_equal(a, b)


def test_one_recipe_for_every_network_job(tmp_path):
    """networks.train: the job's seed, split, build, encoder transfer (from a model or its
    .keras file: the same network) and fit, as the manual steps of the recipe."""
    from radiogenomics import networks, seeds
    from radiogenomics.folds import split

    x, y = planted(n=60)
    patients = pd.Index([f"p{i}" for i in range(60)], name="patient")
    inputs = pd.DataFrame(x, index=patients, columns=[f"g{j}" for j in range(x.shape[1])])
    targets = pd.DataFrame(y, index=patients, columns=[f"f{k}" for k in range(20)])
    folds = pd.Series([1 + i % 3 for i in range(60)], index=patients, name="fold")
    data = networks.Data(inputs=inputs, targets=targets, folds=folds)
    sgd = networks.SGD(learning_rate=0.1, decay=1e-4, momentum=0.5, batch_size=10, epochs=3)
    ae_spec = networks.AutoencoderSpec(config="tanh_lr0.1_decay0.0001", hidden=(12, 6, 12), activation="tanh",
                                       output_activation="linear", sgd=sgd, seed=11)
    ae = networks.train(ae_spec, networks.Data(inputs, inputs, folds), None)
    assert ae.seed == seeds.derive(11, "autoencoder", "tanh_lr0.1_decay0.0001", "final")
    assert ae.train_ids == list(patients) and ae.val_ids == [] and ae.history["val_loss"].isna().all()
    ae.model.save(tmp_path / "ae.keras")

    spec = networks.NetworkSpec(variant="pretrain_dropout", config="lr0.1_decay0.0001", ae_hidden=(12, 6, 12),
                                hidden4=5, dropout=0.25, nonneg="output", pretrained=True, sgd=sgd, seed=11)
    net = networks.train(spec, data, 2, autoencoder=ae.model, keep_val_predictions=True)
    again = networks.train(spec, data, 2, autoencoder=tmp_path / "ae.keras")
    assert net.seed == seeds.derive(11, "dnn", "pretrain_dropout", "lr0.1_decay0.0001", 2)
    assert (net.train_ids, net.val_ids) == split(folds, 2) and len(net.val_predictions) == 3
    pd.testing.assert_frame_equal(net.history, again.history, check_exact=True)

    # the same steps by hand
    train_ids, val_ids = split(folds, 2)
    dnn, nonneg = models.build_dnn(x.shape[1], [12, 6], 5, 20, 0.25, "output", seed=net.seed)
    models.transfer_encoder(ae.model, dnn)
    hist = training.fit(dnn, inputs.loc[train_ids], targets.loc[train_ids], x_val=inputs.loc[val_ids],
                        y_val=targets.loc[val_ids], loss="mae", learning_rate=0.1, decay=1e-4, momentum=0.5,
                        batch_size=10, epochs=3, seed=net.seed, nonneg=nonneg)
    pd.testing.assert_frame_equal(net.history, hist, check_exact=True)
    for a, b in zip(net.model.get_weights(), dnn.get_weights()):
        np.testing.assert_array_equal(a, b)
    pred = net.predict(inputs.loc[val_ids], targets.columns)
    assert list(pred.index) == val_ids and list(pred.columns) == list(targets.columns)
    np.testing.assert_array_equal(pred.to_numpy(), net.val_predictions[-1])
    with pytest.raises(RadiogenomicsError, match="no autoencoder"):
        networks.train(spec, data, 1)


def test_tiny_network_learns_planted_signal_better_than_the_mean():
    x, y = planted(n=300, seed=3)
    x_tr, y_tr, x_va, y_va = x[:220], y[:220], x[220:], y[220:]
    dnn, nonneg = models.build_dnn(x.shape[1], [32, 16], 16, 20, 0.0, "output", seed=5)
    hist = training.fit(dnn, x_tr, y_tr, x_val=x_va, y_val=y_va, epochs=40, seed=5, nonneg=nonneg, **FIT)
    mae_model = np.abs(dnn.predict(x_va, verbose=0) - y_va).mean()
    mae_mean = np.abs(y_tr.mean(axis=0) - y_va).mean()
    assert hist["val_loss"].iloc[-1] == pytest.approx(mae_model, rel=1e-4)
    assert mae_model < 0.8 * mae_mean, (mae_model, mae_mean)


def test_tiny_autoencoder_reconstructs_low_rank_profiles_better_than_the_mean():
    rng = np.random.default_rng(1)
    z = rng.normal(size=(300, 3))
    x = np.tanh(z @ rng.normal(size=(3, 40)) * 0.5).astype(np.float32) * 0.8
    ae = models.build_autoencoder(40, [16, 4, 16], "tanh", "linear", seed=3)
    training.fit(ae, x[:240], x[:240], loss="mse", learning_rate=0.1, decay=1e-5, momentum=0.2,
                 batch_size=10, epochs=40, seed=3)
    mse_model = ((ae.predict(x[240:], verbose=0) - x[240:]) ** 2).mean()
    mse_mean = ((x[:240].mean(axis=0) - x[240:]) ** 2).mean()
    assert mse_model < 0.5 * mse_mean, (mse_model, mse_mean)


# ---------------------------------------------------------------------------------
# Rule scripts on small synthetic inputs (no upstream stages needed)
# ---------------------------------------------------------------------------------
def synthetic_inputs(root, n_patients=30, n_imaged=15, n_genes=40, k=3):
    from radiogenomics.folds import assign_folds
    from radiogenomics.names import IMAGE_FEATURES

    rng = np.random.default_rng(0)
    patients = [f"TCGA-02-{i:04d}" for i in range(n_patients)]
    x = rng.uniform(-1, 1, (n_patients, n_genes))
    expr = pd.DataFrame(x, index=pd.Index(patients, name="patient"), columns=[f"G{j}" for j in range(n_genes)])
    feats = pd.DataFrame(rng.uniform(0.1, 1, (n_imaged, 20)), index=pd.Index(patients[:n_imaged], name="patient"),
                         columns=list(IMAGE_FEATURES))
    for sub in ("expression", "features", "cohort", "autoencoder"):
        (root / "results" / sub).mkdir(parents=True, exist_ok=True)
    expr.to_csv(root / "results/expression/expression.tsv", sep="\t")
    feats.to_csv(root / "results/features/features_scaled.tsv", sep="\t")
    assign_folds(patients[:n_imaged], k, 1).to_frame().to_csv(root / "results/cohort/folds.tsv", sep="\t")
    assign_folds(patients, k, 2).to_frame().to_csv(root / "results/autoencoder/folds.tsv", sep="\t")


@pytest.mark.workflow
def test_autoencoder_cv_job_twice_gives_identical_history(tmp_path):
    from conftest import snakemake, tiny_config, workflow_dir

    root = workflow_dir(tmp_path / "wf", tiny_config())
    synthetic_inputs(root)
    target = "results/autoencoder/cv/tanh_lr0.05_decay1e-05/fold2/history.tsv"
    snakemake(root, target)
    first = (root / target).read_bytes()
    shutil.rmtree(root / "results/autoencoder/cv")
    snakemake(root, target)
    assert (root / target).read_bytes() == first
    history = pd.read_csv(root / target, sep="\t")
    assert list(history.columns) == ["epoch", "loss", "val_loss"]
    assert list(history["epoch"]) == list(range(1, tiny_config()["autoencoder"]["epochs"] + 1))
    assert np.isfinite(history.to_numpy()).all()
    assert (root / "results/benchmarks/autoencoder_cv/tanh_lr0.05_decay1e-05/fold2.tsv").exists()
    assert "training on the CPU" in (root / "results/logs/autoencoder_cv/tanh_lr0.05_decay1e-05/fold2.log").read_text()
