"""networks.train_folds: several folds of one configuration in one job (training.folds_per_job),
on either training.backend; the job layout (configuration.fold_chunks) and its resources."""

from __future__ import annotations

import dataclasses
import os
import sys

import numpy as np
import pandas as pd
import pytest

from radiogenomics import backend, configuration, networks
from radiogenomics import job_resources as jr
from radiogenomics.errors import RadiogenomicsError

#: float32 tolerance between two summation orders of the same few SGD steps (the vmapped
#: program and the single-fold one, or JAX and TensorFlow): a few hundred ulps of O(1) losses
FLOAT32_RTOL = 1e-5


def tiny_data(n=45, genes=24, seed=0):
    """45 patients in 3 folds of 15 (one fold a row short when n is not a multiple of 3)."""
    rng = np.random.default_rng(seed)
    patients = pd.Index([f"p{i:02d}" for i in range(n)], name="patient")
    x = rng.uniform(-1, 1, (n, genes)).astype(np.float32)
    y = np.maximum(0, 0.3 + 0.4 * np.tanh(x @ rng.normal(size=(genes, 4)) / 3)).astype(np.float32)
    inputs = pd.DataFrame(x, index=patients, columns=[f"g{j}" for j in range(genes)])
    targets = pd.DataFrame(y, index=patients, columns=[f"f{k}" for k in range(4)])
    folds = pd.Series([1 + i % 3 for i in range(n)], index=patients, name="fold")
    return inputs, targets, folds


SGD = networks.SGD(learning_rate=0.1, decay=1e-4, momentum=0.5, batch_size=10, epochs=3)


def specs(dropout=0.25):
    ae = networks.AutoencoderSpec(config="tanh_lr0.1_decay0.0001", hidden=(8, 4, 8), activation="tanh",
                                  output_activation="linear", sgd=SGD, seed=3)
    net = networks.NetworkSpec(variant="pretrain_dropout", config="lr0.1_decay0.0001", ae_hidden=(8, 4, 8),
                               hidden4=5, dropout=dropout, nonneg="output", pretrained=True, sgd=SGD, seed=3)
    return ae, net


def test_tensorflow_folds_in_one_job_are_the_single_fold_jobs():
    inputs, targets, folds = tiny_data(n=44)
    ae_spec, net_spec = specs()
    ae = networks.train(ae_spec, networks.Data(inputs, inputs, folds), None)
    data = networks.Data(inputs, targets, folds)
    batched = networks.train_folds(net_spec, data, [1, 2, 3], autoencoder=ae.model, keep_val_predictions=True)
    assert len(batched) == 3
    for k, net in zip([1, 2, 3], batched):
        alone = networks.train(net_spec, data, k, autoencoder=ae.model, keep_val_predictions=True)
        assert (net.seed, net.train_ids, net.val_ids) == (alone.seed, alone.train_ids, alone.val_ids)
        pd.testing.assert_frame_equal(net.history, alone.history, check_exact=True)
        np.testing.assert_array_equal(np.asarray(net.val_predictions), np.asarray(alone.val_predictions))
        for a, b in zip(net.model.get_weights(), alone.model.get_weights()):
            np.testing.assert_array_equal(a, b)
    with pytest.raises(RadiogenomicsError, match="no folds"):
        networks.train_folds(net_spec, data, [], autoencoder=ae.model)
    with pytest.raises(RadiogenomicsError, match="training.backend"):
        networks.train_folds(net_spec, data, [1], autoencoder=ae.model, backend="torch")


def test_jax_job_builds_the_tensorflow_models_and_batches_like_single_folds(tmp_path):
    pytest.importorskip("jax")
    inputs, targets, folds = tiny_data(n=44)  # folds of 15, 15 and 14 patients: padded batches
    ae_spec, net_spec = specs(dropout=0.25)
    ae = networks.train(ae_spec, networks.Data(inputs, inputs, folds), None)
    ae.model.save(tmp_path / "ae.keras")
    data = networks.Data(inputs, targets, folds)

    # no epochs: the models JAX starts from are exactly TensorFlow's (seed, encoder transfer)
    still = dataclasses.replace(net_spec, sgd=dataclasses.replace(SGD, epochs=0))
    for tf_net, jax_net in zip(networks.train_folds(still, data, [1, 2], autoencoder=ae.model),
                               networks.train_folds(still, data, [1, 2], autoencoder=tmp_path / "ae.keras",
                                                    backend="jax")):
        assert (jax_net.seed, jax_net.train_ids, jax_net.val_ids) == (tf_net.seed, tf_net.train_ids, tf_net.val_ids)
        for a, b in zip(tf_net.model.get_weights(), jax_net.model.get_weights()):
            np.testing.assert_array_equal(a, b)

    batched = networks.train_folds(net_spec, data, [1, 2, 3], autoencoder=tmp_path / "ae.keras",
                                   keep_val_predictions=True, backend="jax")
    for k, net in zip([1, 2, 3], batched):
        alone = networks.train(net_spec, data, k, autoencoder=ae.model, keep_val_predictions=True, backend="jax")
        assert list(net.history.columns) == ["epoch", "loss", "val_loss"]
        assert net.history.dtypes.tolist() == alone.history.dtypes.tolist() == ["int64", "float64", "float64"]
        assert list(net.history["epoch"]) == [1, 2, 3]
        np.testing.assert_allclose(net.history[["loss", "val_loss"]], alone.history[["loss", "val_loss"]],
                                   rtol=FLOAT32_RTOL)
        assert len(net.val_predictions) == 3 and net.val_predictions[-1].shape == (len(net.val_ids), 4)
        # the trained weights are back in the Keras model: its predictions are the last epoch's
        pred = net.predict(inputs.loc[net.val_ids], targets.columns)
        np.testing.assert_allclose(pred.to_numpy(), net.val_predictions[-1], rtol=FLOAT32_RTOL, atol=1e-6)
        assert (net.model.get_layer("output").get_weights()[0] >= 0).all()  # nonneg: output
    # the same job twice: the same numbers (JAX on the CPU is deterministic)
    again = networks.train_folds(net_spec, data, [1, 2, 3], autoencoder=ae.model, keep_val_predictions=True,
                                 backend="jax")
    for a, b in zip(batched, again):
        pd.testing.assert_frame_equal(a.history, b.history, check_exact=True)


def test_jax_autoencoder_without_validation_has_nan_val_loss():
    pytest.importorskip("jax")
    inputs, _, folds = tiny_data()
    ae_spec, _ = specs()
    (final,) = networks.train_folds(ae_spec, networks.Data(inputs, inputs, folds), [None], backend="jax")
    assert final.train_ids == list(inputs.index) and final.val_ids == [] and final.val_predictions is None
    assert final.history["val_loss"].isna().all() and np.isfinite(final.history["loss"]).all()


def test_jax_missing_is_one_line_that_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "jax", None)  # import jax raises ImportError
    monkeypatch.delenv("XLA_FLAGS", raising=False)
    with pytest.raises(RadiogenomicsError, match=r"training.backend: jax needs the jax package.*pip install"):
        backend.jax(threads=1)
    assert backend.JAX_ONE_THREAD_FLAG in os.environ["XLA_FLAGS"].split()


def test_tensorflow_keeps_off_the_gpus():
    backend.keep_tensorflow_off_gpus()  # also after TensorFlow started (this test process)
    assert backend.tensorflow().config.get_visible_devices("GPU") == []


def test_fold_chunks():
    assert configuration.fold_chunks(range(1, 11), 1) == [[k] for k in range(1, 11)]
    assert configuration.fold_chunks(range(1, 11), 4) == [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10]]
    assert configuration.fold_chunks(range(1, 11), 10) == [list(range(1, 11))]
    assert configuration.folds_per_job({"cv": {"folds": 10}, "training": {"folds_per_job": "all"}}) == 10
    assert configuration.folds_per_job({"cv": {"folds": 10}, "training": {"folds_per_job": 3}}) == 3
    with pytest.raises(RadiogenomicsError, match="training.folds_per_job"):
        configuration.fold_chunks([1, 2], 0)


PAPER = dict(n_genes=12042, n_patients=528, hidden=[2000, 1000, 500, 1000, 2000], hidden4=100, n_outputs=20)


@pytest.mark.parametrize("kind", ["autoencoder", "dnn"])
def test_a_job_of_n_folds_requests_n_models_and_the_data_once(kind):
    one = jr.training_job(kind, **PAPER, epochs=200, batch_size=10)
    ten = jr.training_job(kind, **PAPER, epochs=200, batch_size=10, folds=10)
    trained = jr._parameters(kind, PAPER["n_genes"], PAPER["hidden"], PAPER["hidden4"], PAPER["n_outputs"])[0]
    model_mb = jr.BYTES_PER_TRAINED_PARAMETER * trained / 2**20
    assert ten["mem_mb"] - one["mem_mb"] == pytest.approx(9 * model_mb, abs=1)
    # TensorFlow trains the folds one after another: ten folds' time, one margin
    assert ten["runtime"] - jr.RUNTIME_MARGIN_MIN == pytest.approx(10 * (one["runtime"] - jr.RUNTIME_MARGIN_MIN),
                                                                   abs=10)
    assert ten["gpu"] == one["gpu"] == 1
    # JAX (the GPU path): JAX's memory on top, a traffic-bound time that grows with the folds
    jax_ten = jr.training_job(kind, **PAPER, epochs=200, batch_size=10, folds=10, backend="jax")
    assert jax_ten["mem_mb"] == ten["mem_mb"] + jr.JAX_BASE_MB and jax_ten["gpu"] == 1
    steps = 200 * (528 // 10 + 1)
    seconds = steps * (jr.GPU_STEP_LATENCY_S + 10 * trained * jr.GPU_BYTES_PER_PARAMETER_STEP
                       / jr.PESSIMISTIC_GPU_BYTES_PER_S)
    assert jax_ten["runtime"] == max(jr.MIN_RUNTIME_MIN, int(seconds / 60) + jr.RUNTIME_MARGIN_MIN)
    # GPU memory: every fold's training state, the data once
    gpu = [jr.gpu_memory_mb(kind, **PAPER, folds=n) for n in (1, 10)]
    assert gpu[1] - gpu[0] == pytest.approx(9 * jr.GPU_BYTES_PER_TRAINED_PARAMETER * trained / 2**20, abs=1)
    assert gpu[0] > jr.GPU_BASE_MB + 4 * 528 * 12042 / 2**20
