"""Tests of radiogenomics.jax_loop: the JAX loop against radiogenomics.training.fit (TensorFlow),
folds batched against folds alone, dropout in distribution, determinism, describe()."""

from __future__ import annotations

import numpy as np
import pytest

jax = pytest.importorskip("jax")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402,F401 (the reference loop; a test dependency)

from radiogenomics import jax_loop, jax_lowrank, models, sgd_loop, training  # noqa: E402
from radiogenomics.errors import RadiogenomicsError  # noqa: E402

#: float32 agreement of two summation orders (XLA vs TensorFlow/Eigen) after a few epochs of
#: SGD on a tiny model: single updates differ by ~1e-7 relative, growing a little per step
RTOL, ATOL = 2e-5, 2e-6
#: two-sided bound, in standard errors of the mean paired difference over seeds, for "the same
#: mean loss within noise": beyond 4 standard errors a normal mean strays with probability 6e-5
NOISE_Z = 4.0

SGD = dict(learning_rate=0.1, decay=0.01, momentum=0.5, batch_size=5)
#: the JAX loop's layer plans (on the tiny models "auto" keeps every layer dense)
PLANS = jax_lowrank.PLANS


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


@pytest.mark.parametrize("method,plan", [("auto", "auto"), ("dense", "dense"), ("auto", "lowrank"),
                                         ("dense", "lowrank")])
@pytest.mark.parametrize("kind,loss,nonneg", [("ae", "mse", None), ("dnn", "mae", "output"),
                                              ("dnn", "mae", "all")])
def test_equals_the_tensorflow_loop(method, plan, kind, loss, nonneg):
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
                        keep_val_predictions=True, plan=plan)
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


@pytest.mark.parametrize("plan", PLANS)
def test_batched_folds_equal_single_folds(plan):
    """Three folds (different sizes, seeds, initial weights; dropout 0.25) in one fit_folds call =
    three single-fold calls: per-fold histories, weights and validation predictions."""
    x, y = data()
    folds, initial, layers = fold_setup(x, 0.25)
    assert [spec.dropout for spec in layers] == [0.25, 0.25, 0.25, 0.0]
    batched = jax_fit(layers, initial, x, y, folds, "mae", 4, keep_val_predictions=True, plan=plan)
    for fold, w0, got in zip(folds, initial, batched):
        (alone,) = jax_fit(layers, [w0], x, y, [fold], "mae", 4, keep_val_predictions=True, plan=plan)
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


@pytest.mark.parametrize("plan", PLANS)
def test_batched_folds_without_dropout_equal_the_tensorflow_loop(plan):
    """Padding and masking (inactive batches, a fold without validation) leave each fold's
    training that of the TensorFlow loop on its own rows."""
    x, y = data()
    folds, initial, layers = fold_setup(x, 0.0)
    results = jax_fit(layers, initial, x, y, folds, "mae", 3, plan=plan)
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


@pytest.mark.parametrize("plan", PLANS)
def test_deterministic(plan):
    """Same inputs twice: bit-identical weights and histories (dropout on, three folds)."""
    x, y = data()
    folds, initial, layers = fold_setup(x, 0.25)
    a = jax_fit(layers, initial, x, y, folds, "mae", 3, keep_val_predictions=True, plan=plan)
    b = jax_fit(layers, initial, x, y, folds, "mae", 3, keep_val_predictions=True, plan=plan)
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
    c = jax_fit(layers, initial, x, y, other, "mae", 3, plan=plan)
    assert not np.array_equal(a[0].history["loss"], c[0].history["loss"])


@pytest.mark.parametrize("kind,momentum", [("ae", 0.2), ("dnn", 0.5)])
def test_lowrank_equals_dense(kind, momentum):
    """Every unconstrained layer forced low-rank (the autoencoder's first in span form) = the
    dense reference after 8 epochs, three folds batched: 60 rows at batch size 5 make 12
    batches (a chunk of 8 steps with its flush, then one of 4), the folds' 60, 33 and 48
    training rows give 12, 7 and 10 batches (inactive steps in the ring), and the 96 steps
    are more than two rings, so slots are reused and tails dropped after L steps (L = 10 at
    mu 0.2, 23 at mu 0.5)."""
    x, y = data(n=80, d=9, seed=6)
    sizes = [(60, 10), (33, 0), (48, 20)]
    folds, initial = [], []
    for i, (n_train, n_val) in enumerate(sizes):
        order = np.random.default_rng(40 + i).permutation(len(x))
        folds.append(jax_loop.Fold(order[:n_train], order[n_train:n_train + n_val], 7 + i))
        if kind == "ae":
            model, names = autoencoder(x.shape[1], 50 + i)
        else:
            model, names = network(x.shape[1], 50 + i, "output", 0.25)
        initial.append(jax_loop.weights_of(model))
    layers = jax_loop.describe(model, names)
    yy = x if kind == "ae" else y
    loss = "mse" if kind == "ae" else "mae"
    kw = dict(momentum=momentum, keep_val_predictions=True)
    trainer = jax_loop.Trainer(layers, initial, x, yy, folds, loss=loss, **{**SGD, **kw},
                               plan="lowrank")
    plan = trainer.plan
    assert plan.lowrank == tuple(not spec.nonneg for spec in layers)
    assert plan.span == (kind == "ae") and plan.window == jax_lowrank.momentum_window(momentum)
    assert plan.ring == jax_lowrank.ring_size(plan.window, plan.flush_every, 12, 5)
    assert 2 * plan.ring < 8 * 12
    dense = jax_fit(layers, initial, x, yy, folds, loss, 8, plan="dense", **kw)
    lowrank = jax_fit(layers, initial, x, yy, folds, loss, 8, plan="lowrank", **kw)
    for a, b in zip(dense, lowrank):
        np.testing.assert_allclose(b.history["loss"], a.history["loss"], rtol=RTOL, atol=ATOL)
        np.testing.assert_allclose(b.history["val_loss"], a.history["val_loss"], rtol=RTOL, atol=ATOL)
        for (k, bias), (k1, bias1) in zip(b.weights, a.weights):
            np.testing.assert_allclose(k, k1, rtol=RTOL, atol=ATOL)
            np.testing.assert_allclose(bias, bias1, rtol=RTOL, atol=ATOL)
        for p, q in zip(b.val_predictions, a.val_predictions):
            np.testing.assert_allclose(p, q, rtol=RTOL, atol=ATOL)
    # the weights moved (the comparison is not of untrained weights)
    assert not np.allclose(lowrank[0].weights[0][0], initial[0][0][0], atol=1e-3)


def test_ring_size_and_plans():
    """The ring outlives a momentum tail in every fold; "auto" at paper size."""
    assert jax_lowrank.momentum_window(0.2) == 10 and jax_lowrank.momentum_window(0.5) == 23
    assert jax_lowrank.momentum_window(0.0) == 0
    assert 0.2 ** 11 < 2.0**-24 <= 0.2 ** 10
    assert jax_lowrank.ring_size(10, 8, 48, 0) == 11
    assert jax_lowrank.ring_size(0, 8, 48, 0) == 8
    for window, n_batches, gap in [(10, 48, 1), (23, 10, 1), (23, 12, 10), (5, 3, 2)]:
        r = jax_lowrank.ring_size(window, 8, n_batches, gap)
        active = np.resize(np.r_[np.ones(n_batches - gap), np.zeros(gap)], 3 * r + n_batches)
        # any r consecutive steps hold at least window + 1 active ones; r - 1 would not
        sums = [active[s:s + r].sum() for s in range(len(active) - r)]
        assert min(sums) >= window + 1
        if r > 8:
            assert min(active[s:s + r - 1].sum() for s in range(len(active) - r)) < window + 1
    L = jax_loop.Layer
    ae = [L("h0", "tanh", 0.0, False)] + [L(f"h{i}", "tanh", 0.0, False) for i in range(1, 5)] + \
        [L("recon", "linear", 0.0, False)]
    widths = [12042, 2000, 1000, 500, 1000, 2000, 12042]
    shapes = list(zip(widths[:-1], widths[1:]))
    plan = jax_lowrank.plan_layers(ae, shapes, momentum=0.2, batch_size=10, n_rows=475,
                                   n_batches=48, gap=1)
    assert plan.span and all(plan.lowrank)
    dnn = [L(f"hidden{i}", "relu", 0.25, False) for i in range(1, 5)] + [L("output", "linear", 0.0, True)]
    widths = [12042, 2000, 1000, 500, 100, 20]
    shapes = list(zip(widths[:-1], widths[1:]))
    plan = jax_lowrank.plan_layers(dnn, shapes, momentum=0.5, batch_size=10, n_rows=140,
                                   n_batches=10, gap=1)
    assert not plan.span and plan.lowrank == (True, True, False, False, False)
    forced = jax_lowrank.plan_layers(dnn, shapes, momentum=0.5, batch_size=10, n_rows=140,
                                     n_batches=10, gap=1, plan="lowrank")
    assert forced.lowrank == (True,) * 4 + (False,)  # the nonneg layer stays dense
    assert not any(jax_lowrank.plan_layers(dnn, shapes, momentum=0.5, batch_size=10, n_rows=140,
                                           n_batches=10, gap=1, plan="dense").lowrank)
    with pytest.raises(RadiogenomicsError, match="plan must be one of"):
        jax_lowrank.plan_layers(dnn, shapes, momentum=0.5, batch_size=10, n_rows=140,
                                n_batches=10, gap=1, plan="sparse")


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
        (dict(plan="sparse"), "plan must be one of"),
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


@pytest.mark.parametrize("module", [jax_loop, jax_lowrank])
def test_module_imports_no_tensorflow_or_pandas(module):
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(module))
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.module and node.level == 0}
    assert imported <= {"__future__", "functools", "dataclasses", "jax", "numpy", "math"}, imported
