"""Tests of radiogenomics.jax_loop: the JAX loop against radiogenomics.training.fit (TensorFlow),
folds batched against folds alone, dropout in distribution, determinism, describe()."""

from __future__ import annotations

import numpy as np
import pytest

jax = pytest.importorskip("jax")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402,F401 (the reference loop; a test dependency)

from radiogenomics import jax_loop, models, sgd_loop, training  # noqa: E402
from radiogenomics.errors import RadiogenomicsError  # noqa: E402

#: float32 agreement of two summation orders (XLA vs TensorFlow/Eigen) after a few epochs of
#: SGD on a tiny model: single updates differ by ~1e-7 relative, growing a little per step
RTOL, ATOL = 2e-5, 2e-6
#: two-sided bound, in standard errors of the mean paired difference over seeds, for "the same
#: mean loss within noise": beyond 4 standard errors a normal mean strays with probability 6e-5
NOISE_Z = 4.0

SGD = dict(learning_rate=0.1, decay=0.01, momentum=0.5, batch_size=5)


def data(n=40, d=7, k=3, seed=1):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, (n, d)).astype(np.float32)
    w = rng.normal(size=(d, k)).astype(np.float32)
    y = (np.tanh(x @ w) * 0.5 + 0.5).astype(np.float32)
    return x, y


def autoencoder(d, seed):
    return models.build_autoencoder(d, [5, 3, 5], "tanh", "linear", seed), []


def network(d, seed, nonneg="output", dropout=0.0, k=3):
    return models.build_dnn(d, [6, 5], 4, n_outputs=k, dropout=dropout, nonneg=nonneg, seed=seed)


def tf_fit(model, nonneg, x, y, train, val, seed, loss, epochs, method="auto", preds=None, **sgd):
    validation = {"x_val": x[val], "y_val": y[val]} if len(val) else {}
    hist = training.fit(model, x[train], y[train], **validation, loss=loss, seed=seed, nonneg=nonneg,
                        epochs=epochs, method=method, val_predictions=preds, **{**SGD, **sgd})
    return hist


def jax_fit(layers, initial, x, y, folds, loss, epochs, **kw):
    return jax_loop.fit_folds(layers, initial, x, y, folds, loss=loss, epochs=epochs,
                              **{**SGD, **kw})


def assert_close(result, hist, weights, preds=None):
    np.testing.assert_array_equal(result.history["epoch"], hist["epoch"])
    np.testing.assert_allclose(result.history["loss"], hist["loss"], rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(result.history["val_loss"], hist["val_loss"], rtol=RTOL, atol=ATOL)
    for (k, b), (k_ref, b_ref) in zip(result.weights, weights):
        np.testing.assert_allclose(k, k_ref, rtol=RTOL, atol=ATOL)
        np.testing.assert_allclose(b, b_ref, rtol=RTOL, atol=ATOL)
    if preds is not None:
        assert len(result.val_predictions) == len(preds)
        for a, b in zip(result.val_predictions, preds):
            np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("method", ["auto", "dense"])
@pytest.mark.parametrize("kind,loss,nonneg", [("ae", "mse", None), ("dnn", "mae", "output"),
                                              ("dnn", "mae", "all")])
def test_equals_the_tensorflow_loop(method, kind, loss, nonneg):
    """Without dropout the JAX loop = training.fit (TensorFlow) after 3 epochs: weights, per-epoch
    losses, validation losses and predictions. 23 training rows at batch size 5: the last batch
    of every epoch has 3 rows; the training rows are a shuffled subset of x (indexing)."""
    x, y = data()
    if kind == "ae":
        y = x
    order = np.random.default_rng(0).permutation(len(x))
    train, val = order[:23], order[23:29]
    build = (lambda s: autoencoder(x.shape[1], s)) if kind == "ae" else \
        (lambda s: network(x.shape[1], s, nonneg))
    model, names = build(11)
    initial = jax_loop.weights_of(model)
    layers = jax_loop.describe(model, names)
    assert [spec.nonneg for spec in layers] == (
        [False] * 4 if kind == "ae" else [nonneg == "all"] * 3 + [True])
    preds = []
    hist = tf_fit(model, names, x, y, train, val, 5, loss, 3, method, preds)
    (result,) = jax_fit(layers, [initial], x, y, [jax_loop.Fold(train, val, 5)], loss, 3,
                        keep_val_predictions=True)
    assert result.val_predictions[0].shape == (6, y.shape[1])
    assert result.val_predictions[0].dtype == np.float32
    assert_close(result, hist, jax_loop.weights_of(model), preds)
    if nonneg:
        assert all((k >= 0).all() and (b >= 0).all() for k, b in result.weights[-1:])
        # the projection was active on the output layer (MAE towards targets in (0, 1))
        assert any((k == 0).any() or (b == 0).any() for k, b in result.weights[-1:]) or nonneg == "all"
    # set_weights writes them back: the Keras model then predicts the JAX loop's predictions
    jax_loop.set_weights(model, result.weights)
    np.testing.assert_allclose(model.predict(x[val], verbose=0), result.val_predictions[-1],
                               rtol=RTOL, atol=ATOL)


def fold_setup(x, dropout):
    """Three folds of different sizes (23, 17, 20 training rows; 6, 0, 9 validation rows), each
    with its own seed and initial weights."""
    rng = np.random.default_rng(3)
    folds, initial = [], []
    for i, (n_train, n_val) in enumerate([(23, 6), (17, 0), (20, 9)]):
        order = rng.permutation(len(x))
        folds.append(jax_loop.Fold(order[:n_train], order[n_train:n_train + n_val], 100 + i))
        model, names = network(x.shape[1], 20 + i, "output", dropout)
        initial.append(jax_loop.weights_of(model))
    return folds, initial, jax_loop.describe(model, names)


def test_batched_folds_equal_single_folds():
    """Three folds (different sizes, seeds, initial weights; dropout 0.25) in one fit_folds call =
    three single-fold calls: per-fold histories, weights and validation predictions."""
    x, y = data()
    folds, initial, layers = fold_setup(x, 0.25)
    assert [spec.dropout for spec in layers] == [0.25, 0.25, 0.25, 0.0]
    batched = jax_fit(layers, initial, x, y, folds, "mae", 4, keep_val_predictions=True)
    for fold, w0, got in zip(folds, initial, batched):
        (alone,) = jax_fit(layers, [w0], x, y, [fold], "mae", 4, keep_val_predictions=True)
        np.testing.assert_allclose(got.history["loss"], alone.history["loss"], rtol=RTOL, atol=ATOL)
        np.testing.assert_allclose(got.history["val_loss"], alone.history["val_loss"], rtol=RTOL,
                                   atol=ATOL)
        for (k, b), (k1, b1) in zip(got.weights, alone.weights):
            np.testing.assert_allclose(k, k1, rtol=RTOL, atol=ATOL)
            np.testing.assert_allclose(b, b1, rtol=RTOL, atol=ATOL)
        assert len(got.val_predictions) == 4
        for a, b in zip(got.val_predictions, alone.val_predictions):
            assert a.shape == b.shape == (len(fold.val), y.shape[1])
            np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL)
    # the fold without validation rows: NaN val_loss, empty predictions; the others finite
    assert np.isnan(batched[1].history["val_loss"]).all()
    assert np.isfinite(batched[0].history["val_loss"]).all()
    assert np.isfinite(batched[2].history["val_loss"]).all()
    # the folds really trained differently (different seeds, data and starting points)
    assert not np.allclose(batched[0].history["loss"], batched[2].history["loss"])


def test_batched_folds_without_dropout_equal_the_tensorflow_loop():
    """Padding and masking (inactive batches, a fold without validation) leave each fold's
    training that of the TensorFlow loop on its own rows."""
    x, y = data()
    folds, initial, layers = fold_setup(x, 0.0)
    results = jax_fit(layers, initial, x, y, folds, "mae", 3)
    for fold, w0, result in zip(folds, initial, results):
        model, names = network(x.shape[1], 0, "output")
        jax_loop.set_weights(model, w0)
        hist = tf_fit(model, names, x, y, fold.train, fold.val, fold.seed, "mae", 3)
        assert_close(result, hist, jax_loop.weights_of(model))


def test_dropout_matches_the_tensorflow_loop_in_distribution():
    """With dropout the masks differ (jax.random vs TensorFlow's stateless dropout), so only the
    distribution over masks can agree. For k seeds, both loops train the same initial weights on
    the same batches (the seed fixes both); the paired differences d_s of the final validation
    loss (and of the final training loss, which dropout raises) must have a mean within
    NOISE_Z standard errors (sd(d) / sqrt(k)) of 0. Power check: a network trained without
    dropout is further from the TensorFlow loop's mean than that bound (so a JAX loop that
    ignored dropout, or scaled it wrongly, would fail)."""
    x, y = data(n=60, d=10, seed=4)
    train, val = np.arange(45), np.arange(45, 60)
    k, epochs = 8, 12
    finals = {"tf": [], "jax": [], "none": []}
    for s in range(k):
        model, names = network(x.shape[1], 30 + s, "output", 0.5)
        w0 = jax_loop.weights_of(model)
        layers = jax_loop.describe(model, names)
        hist = tf_fit(model, names, x, y, train, val, s, "mae", epochs, learning_rate=0.2)
        (res,) = jax_fit(layers, [w0], x, y, [jax_loop.Fold(train, val, s)], "mae", epochs,
                         learning_rate=0.2)
        no_drop = [jax_loop.Layer(sp.name, sp.activation, 0.0, sp.nonneg) for sp in layers]
        (ref,) = jax_fit(no_drop, [w0], x, y, [jax_loop.Fold(train, val, s)], "mae", epochs,
                         learning_rate=0.2)
        finals["tf"].append([hist["loss"].iloc[-1], hist["val_loss"].iloc[-1]])
        finals["jax"].append([res.history["loss"][-1], res.history["val_loss"][-1]])
        finals["none"].append([ref.history["loss"][-1], ref.history["val_loss"][-1]])
    tf_, jx, none = (np.array(finals[key]) for key in ("tf", "jax", "none"))
    d = jx - tf_
    bound = NOISE_Z * d.std(axis=0, ddof=1) / np.sqrt(k)
    assert (np.abs(d.mean(axis=0)) <= bound).all(), (d.mean(axis=0), bound)
    # power: without dropout the (paired) training loss is far outside that bound
    d_none = none - tf_
    assert abs(d_none[:, 0].mean()) > NOISE_Z * d_none[:, 0].std(ddof=1) / np.sqrt(k)
    assert not np.array_equal(jx, none)


def test_deterministic():
    """Same inputs twice: bit-identical weights and histories (dropout on, three folds)."""
    x, y = data()
    folds, initial, layers = fold_setup(x, 0.25)
    a = jax_fit(layers, initial, x, y, folds, "mae", 3, keep_val_predictions=True)
    b = jax_fit(layers, initial, x, y, folds, "mae", 3, keep_val_predictions=True)
    for ra, rb in zip(a, b):
        for key in ("epoch", "loss", "val_loss"):
            np.testing.assert_array_equal(ra.history[key], rb.history[key])
        for (k, bias), (k2, bias2) in zip(ra.weights, rb.weights):
            np.testing.assert_array_equal(k, k2)
            np.testing.assert_array_equal(bias, bias2)
        for p, q in zip(ra.val_predictions, rb.val_predictions):
            np.testing.assert_array_equal(p, q)
    # another seed gives other numbers (shuffle and dropout streams)
    other = [jax_loop.Fold(f.train, f.val, f.seed + 1) for f in folds]
    c = jax_fit(layers, initial, x, y, other, "mae", 3)
    assert not np.array_equal(a[0].history["loss"], c[0].history["loss"])


def net_layers(model, nonneg):
    """The layer list of sgd_loop.Net in describe()'s form."""
    net = sgd_loop.Net(model, nonneg)
    out, keep = [], 1.0
    for spec in net.layers:
        if isinstance(spec, float):
            keep *= 1 - spec
            continue
        out.append(jax_loop.Layer(spec.name, spec.activation.__name__, 1 - keep, spec.constrained))
        keep = 1.0
    return out


@pytest.mark.parametrize("nonneg", ["output", "all", "none"])
def test_describe_equals_net(nonneg):
    ae, names = autoencoder(12, 0)
    assert jax_loop.describe(ae, names) == net_layers(ae, names)
    assert [s.name for s in jax_loop.describe(ae)] == ["enc1", "enc2", "dec1", "recon"]
    for dropout in (0.0, 0.25):
        dnn, names = network(12, 0, nonneg, dropout)
        layers = jax_loop.describe(dnn, names)
        assert layers == net_layers(dnn, names)
        assert [s.dropout for s in layers] == [dropout] * 3 + [0.0]
        assert [s.activation for s in layers] == ["relu"] * 3 + ["linear"]
        # NonNeg constraints count without names too
        assert jax_loop.describe(dnn) == layers
        assert [(k.shape, b.shape) for k, b in jax_loop.weights_of(dnn)] == \
            [((12, 6), (6,)), ((6, 5), (5,)), ((5, 4), (4,)), ((4, 3), (3,))]


def error_line(fn):
    with pytest.raises(RadiogenomicsError) as info:
        fn()
    return str(info.value)


def test_describe_error_lines_equal_net():
    ae, _ = autoencoder(12, 0)
    assert error_line(lambda: jax_loop.describe(ae, ["nope"])) == \
        error_line(lambda: sgd_loop.Net(ae, ["nope"]))
    bad = keras.Sequential([keras.Input((7,)),
                            keras.layers.Dense(3, kernel_constraint=keras.constraints.MaxNorm(1))])
    assert error_line(lambda: jax_loop.describe(bad)) == error_line(lambda: sgd_loop.Net(bad, ()))
    odd = keras.Sequential([keras.Input((7,)), keras.layers.Dense(3), keras.layers.LayerNormalization()])
    line = error_line(lambda: jax_loop.describe(odd))
    assert line == error_line(lambda: sgd_loop.Net(odd, ())) and "Dense and Dropout" in line
    trailing = keras.Sequential([keras.Input((7,)), keras.layers.Dense(3), keras.layers.Dropout(0.1)])
    assert "after the last Dense" in error_line(lambda: jax_loop.describe(trailing))


def test_layer_without_bias_and_stacked_dropout():
    """A bias-free Dense layer trains its kernel only (empty bias); two Dropout layers in a row
    are one of the combined rate."""
    x, y = data()
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((7,)), keras.layers.Dropout(0.5), keras.layers.Dropout(0.2),
                              keras.layers.Dense(4, activation="sigmoid", use_bias=False),
                              keras.layers.Dense(3)])
    layers = jax_loop.describe(model)
    assert layers[0].dropout == pytest.approx(0.6) and layers[0].activation == "sigmoid"
    w0 = jax_loop.weights_of(model)
    assert w0[0][1].shape == (0,)
    no_drop = [jax_loop.Layer(s.name, s.activation, 0.0, s.nonneg) for s in layers]
    (res,) = jax_fit(no_drop, [w0], x, y, [jax_loop.Fold(np.arange(23), np.arange(23, 30), 2)], "mse", 3)
    model2 = keras.Sequential([keras.Input((7,)), keras.layers.Dense(4, activation="sigmoid", use_bias=False),
                               keras.layers.Dense(3)])
    jax_loop.set_weights(model2, w0)
    hist = tf_fit(model2, (), x, y, np.arange(23), np.arange(23, 30), 2, "mse", 3)
    assert_close(res, hist, jax_loop.weights_of(model2))
    (drop,) = jax_fit(layers, [w0], x, y, [jax_loop.Fold(np.arange(23), np.arange(23, 30), 2)], "mse", 3)
    assert np.isfinite(drop.history["loss"]).all()


def test_bad_arguments():
    x, y = data()
    model, names = network(7, 0)
    layers, w0 = jax_loop.describe(model, names), jax_loop.weights_of(model)
    fold = jax_loop.Fold(np.arange(20), np.arange(20, 25), 1)
    cases = [
        (dict(loss="huber"), "loss"),
        (dict(momentum=1.0), "momentum"),
        (dict(batch_size=0), "batch_size"),
        (dict(folds=[jax_loop.Fold(np.arange(0), np.arange(3), 1)]), "training rows"),
        (dict(folds=[jax_loop.Fold(np.arange(45), np.arange(3), 1)]), r"\[0, 40\)"),
        (dict(initial=[w0, w0]), "2 initial"),
        (dict(y=y[:, :2]), "outputs"),
        (dict(x=x[:10]), "rows"),
    ]
    for change, match in cases:
        kw = dict(layers=layers, initial=[w0], x=x, y=y, folds=[fold], loss="mae", epochs=1, **SGD)
        kw.update(change)
        with pytest.raises(RadiogenomicsError, match=match):
            jax_loop.fit_folds(**kw)
    (res,) = jax_loop.fit_folds(layers, [w0], x, y, [fold], loss="mae", epochs=0, **SGD)
    assert len(res.history["loss"]) == 0
    for (k, b), (k0, b0) in zip(res.weights, w0):
        np.testing.assert_array_equal(k, k0)


def test_module_imports_no_tensorflow_or_pandas():
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(jax_loop))
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.module and node.level == 0}
    assert imported <= {"__future__", "functools", "dataclasses", "jax", "numpy"}, imported
