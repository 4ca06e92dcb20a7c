"""Tests of radiogenomics.training.fit and its fast loop radiogenomics.sgd_loop (SGD + momentum +
Keras-2 decay, nonneg, determinism, the layer forms, the Keras reference)."""

from __future__ import annotations

import numpy as np
import pytest

import keras
import tensorflow as tf  # noqa: F401 (a test dependency: fail, do not skip, without it)

from radiogenomics import sgd_loop, training
from radiogenomics.errors import RadiogenomicsError


def make_model(sizes, activation="tanh", dropout=0.0, seed=0, output_activation=None,
               names=None):
    keras.utils.set_random_seed(seed)
    layers = [keras.Input((sizes[0],))]
    for i, units in enumerate(sizes[1:]):
        last = i == len(sizes) - 2
        if dropout and not last:
            layers.append(keras.layers.Dropout(dropout, name=f"dropout{i}"))
        name = names[i] if names else f"d{i}"
        layers.append(keras.layers.Dense(units, activation=output_activation if last else activation,
                                         name=name))
    return keras.Sequential(layers)


def weights(model):
    return [np.array(w) for w in model.get_weights()]


def data(n=23, d=7, k=3, seed=1):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, (n, d)).astype(np.float32)
    w = rng.normal(size=(d, k)).astype(np.float32)
    y = np.tanh(x @ w).astype(np.float32) * 0.5 + 0.5
    return x, y


KW = dict(learning_rate=0.1, decay=0.01, momentum=0.5, batch_size=5, epochs=3, seed=3)


def test_decay_rule():
    lr = training.decayed_learning_rate(0.3, 5e-5, np.arange(4))
    assert lr.dtype == np.float32
    np.testing.assert_allclose(lr, 0.3 / (1 + 5e-5 * np.arange(4)), rtol=1e-6)
    assert training.decayed_learning_rate(0.2, 1e-5, 0) == np.float32(0.2)
    # Keras 3's InverseTimeDecay(decay_steps=1) is the same schedule
    sched = keras.optimizers.schedules.InverseTimeDecay(0.3, decay_steps=1, decay_rate=0.01)
    for t in (0, 1, 7, 1000):
        assert float(sched(t)) == pytest.approx(float(training.decayed_learning_rate(0.3, 0.01, t)),
                                                rel=1e-6)


def numpy_reference(w0, x, y, perm_batches, lr, decay, mu, nonneg_last=False):
    """Plain numpy SGD+momentum on a 2-layer tanh/linear MSE net, float64."""
    w1, b1, w2, b2 = [a.astype(np.float64) for a in w0]
    params = [w1, b1, w2, b2]
    vel = [np.zeros_like(p) for p in params]
    t = 0
    for idx in perm_batches:
        xb, yb = x[idx].astype(np.float64), y[idx].astype(np.float64)
        h = np.tanh(xb @ w1 + b1)
        p = h @ w2 + b2
        dp = 2 * (p - yb) / p.size
        g2 = h.T @ dp
        gb2 = dp.sum(0)
        dh = dp @ w2.T * (1 - h ** 2)
        g1 = xb.T @ dh
        gb1 = dh.sum(0)
        lr_t = lr / (1 + decay * t)
        for i, g in enumerate([g1, gb1, g2, gb2]):
            vel[i] = mu * vel[i] - lr_t * g
            params[i] += vel[i]
            if nonneg_last and i >= 2:
                params[i] = np.maximum(params[i], 0)
        w1, b1, w2, b2 = params
        t += 1
    return params


def batches_of(seed, n, batch_size, epochs):
    from radiogenomics import seeds
    rng = np.random.default_rng(seeds.derive(seed, "training", "shuffle"))
    out = []
    for _ in range(epochs):
        perm = rng.permutation(n)
        out += [perm[i:i + batch_size] for i in range(0, n, batch_size)]
    return out


@pytest.mark.parametrize("nonneg", [False, True])
def test_momentum_update_matches_numpy(nonneg):
    x, y = data()
    model = make_model([7, 5, 3], output_activation=None)
    w0 = weights(model)
    training.fit(model, x, y, loss="mse", nonneg=("d1",) if nonneg else (), **KW)
    ref = numpy_reference(w0, x, y, batches_of(KW["seed"], len(x), KW["batch_size"], KW["epochs"]),
                          KW["learning_rate"], KW["decay"], KW["momentum"], nonneg_last=nonneg)
    for got, want in zip(weights(model), ref):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_nonneg_holds():
    x, y = data()
    y = y - 0.7  # negative targets push the output layer negative
    model = make_model([7, 6, 5, 3], dropout=0.25, activation="relu")
    hist = training.fit(model, x, y, loss="mae", nonneg=("d2",), **KW)
    k, b = model.get_layer("d2").get_weights()
    assert (k >= 0).all() and (b >= 0).all()
    assert (k == 0).any() or (b == 0).any()  # the projection was active
    assert np.isfinite(hist["loss"]).all()


def test_deterministic():
    x, y = data()
    out = []
    for _ in range(2):
        model = make_model([7, 6, 3], dropout=0.25, activation="relu", seed=5)
        hist = training.fit(model, x, y, x_val=x[:4], y_val=y[:4], loss="mae", **KW)
        out.append((hist, weights(model)))
    assert out[0][0].equals(out[1][0])
    for a, b in zip(out[0][1], out[1][1]):
        np.testing.assert_array_equal(a, b)
    # a different seed gives different numbers (shuffle and dropout depend on it)
    model = make_model([7, 6, 3], dropout=0.25, activation="relu", seed=5)
    hist = training.fit(model, x, y, x_val=x[:4], y_val=y[:4], loss="mae", **{**KW, "seed": 4})
    assert not hist.equals(out[0][0])


def test_history_columns_and_val_loss():
    x, y = data()
    model = make_model([7, 4, 3], dropout=0.5)
    hist = training.fit(model, x, y, x_val=x[:6], y_val=y[:6], loss="mse", **KW)
    assert list(hist.columns) == ["epoch", "loss", "val_loss"]
    assert hist["epoch"].tolist() == [1, 2, 3]
    pred = model.predict(x[:6], verbose=0)
    assert hist["val_loss"].iloc[-1] == pytest.approx(float(np.mean((pred - y[:6]) ** 2)), rel=1e-5)
    hist = training.fit(model, x, y, loss="mse", **KW)
    assert hist["val_loss"].isna().all()


def test_learns_planted_signal():
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (120, 30)).astype(np.float32)
    y = np.stack([0.5 + 0.4 * np.tanh(x[:, :3].sum(1)), 0.3 + 0.2 * x[:, 4]], 1).astype(np.float32)
    xtr, ytr, xva, yva = x[:90], y[:90], x[90:], y[90:]
    model = make_model([30, 16, 8, 2], dropout=0.1, activation="relu")
    hist = training.fit(model, xtr, ytr, x_val=xva, y_val=yva, loss="mae", learning_rate=0.2,
                        decay=1e-4, momentum=0.5, batch_size=10, epochs=60, seed=1, nonneg=("d2",))
    baseline = float(np.mean(np.abs(yva - ytr.mean(0))))
    assert hist["val_loss"].iloc[-1] < 0.75 * baseline


@pytest.mark.parametrize("loss,batch_size", [("mse", 5), ("mae", 4)])
def test_equals_keras_fit(loss, batch_size):
    """Without dropout, fit equals model.fit + SGD(momentum, InverseTimeDecay) on the same batches."""
    x, y = data(n=23)
    kw = {**KW, "batch_size": batch_size}
    a = make_model([7, 6, 3], seed=2)
    b = make_model([7, 6, 3], seed=2)
    b.set_weights(a.get_weights())
    hist = training.fit(a, x, y, loss=loss, **kw)
    sched = keras.optimizers.schedules.InverseTimeDecay(kw["learning_rate"], decay_steps=1,
                                                        decay_rate=kw["decay"])
    b.compile(optimizer=keras.optimizers.SGD(sched, momentum=kw["momentum"]), loss=loss)
    from radiogenomics import seeds
    rng = np.random.default_rng(seeds.derive(kw["seed"], "training", "shuffle"))
    losses = []
    for _ in range(kw["epochs"]):
        perm = rng.permutation(len(x))
        h = b.fit(x[perm], y[perm], batch_size=batch_size, epochs=1, shuffle=False, verbose=0)
        losses.append(h.history["loss"][0])
    for wa, wb in zip(weights(a), weights(b)):
        np.testing.assert_allclose(wa, wb, rtol=2e-5, atol=2e-6)
    np.testing.assert_allclose(hist["loss"], losses, rtol=2e-5)
    # method="keras" is exactly this model.fit
    c = make_model([7, 6, 3], seed=2)
    ref = training.fit(c, x, y, loss=loss, method="keras", **kw)
    assert ref["loss"].tolist() == losses
    for wc, wb in zip(weights(c), weights(b)):
        np.testing.assert_array_equal(wc, wb)


#: float32 agreement of two summation orders after a few epochs of SGD on a small model
#: (the differences of single updates, ~1e-7 relative, grow a little with each step)
RTOL, ATOL = 2e-5, 2e-6


@pytest.mark.parametrize("method", ["auto", "dense", "lowrank"])
@pytest.mark.parametrize("loss,momentum,nonneg", [("mse", 0.2, ()), ("mae", 0.5, ("d2",))])
def test_fast_loop_equals_the_keras_reference(method, loss, momentum, nonneg):
    """The fast loop (each layer plan) = Keras' model.fit on the same batches: weights, training
    losses, validation losses and validation predictions after a few epochs (no dropout: Keras
    draws its own masks). The ring holds 4 + window steps, so low-rank layers flush and wrap."""
    x, y = data(n=37, d=80)  # 2 x 30 training rows <= 80 inputs: "auto" plans a span first layer
    kw = {**KW, "momentum": momentum, "epochs": 4, "batch_size": 5, "learning_rate": 0.2,
          "decay": 0.05, "flush_every": 4}
    runs = {}
    for m in (method, "keras"):
        model = make_model([80, 16, 8, 3], activation="tanh", seed=6)
        preds = []
        hist = training.fit(model, x[:30], y[:30], x_val=x[30:], y_val=y[30:], loss=loss, nonneg=nonneg,
                            method=m, val_predictions=preds, **kw)
        runs[m] = (hist, weights(model), preds, model)
    net = sgd_loop.Net(make_model([80, 16, 8, 3], seed=6), nonneg)
    lowrank = sgd_loop.plan_layers(net, momentum, 5, method, 4, n_train=30)
    assert (len(lowrank) > 0) == (method != "dense")
    (h_fast, w_fast, p_fast, _), (h_ref, w_ref, p_ref, keras_model) = runs[method], runs["keras"]
    assert h_fast["epoch"].tolist() == h_ref["epoch"].tolist() == [1, 2, 3, 4]
    np.testing.assert_allclose(h_fast[["loss", "val_loss"]], h_ref[["loss", "val_loss"]], rtol=RTOL, atol=ATOL)
    for a, b in zip(w_fast, w_ref):
        np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL)
    assert len(p_fast) == len(p_ref) == 4
    np.testing.assert_allclose(p_fast[-1], p_ref[-1], rtol=RTOL, atol=ATOL)
    for name in nonneg:  # the reference projected too, and left the model as it found it
        layer = keras_model.get_layer(name)
        assert all((w >= 0).all() for w in layer.get_weights())
        assert layer.kernel.constraint is None and layer.bias.constraint is None


def test_loop_settings_are_arguments():
    """flush_every, span and block_mb are fit's arguments (no environment variables), checked."""
    x, y = data(n=12, d=30)
    model = make_model([30, 5, 3])
    net = sgd_loop.Net(model, ())
    assert sgd_loop.plan_layers(net, 0.2, 5, "auto", n_train=12) == ["d0"] and net.dense[0].span
    sgd_loop.plan_layers(net, 0.2, 5, "auto", n_train=12, span=False)
    assert not net.dense[0].span
    for bad in ({"flush_every": 0}, {"flush_every": 2.5}, {"block_mb": 0}):
        with pytest.raises(RadiogenomicsError, match=next(iter(bad))):
            training.fit(model, x, y, method="lowrank", **{**KW, **bad})
    with pytest.raises(RadiogenomicsError, match="method"):
        training.fit(model, x, y, method="fit", **KW)


def test_bad_arguments():
    x, y = data()
    model = make_model([7, 4, 3])
    with pytest.raises(RadiogenomicsError, match="nonneg"):
        training.fit(model, x, y, nonneg=("nope",), **KW)
    with pytest.raises(RadiogenomicsError, match="loss"):
        training.fit(model, x, y, loss="huber", **KW)
    with pytest.raises(RadiogenomicsError, match="rows"):
        training.fit(model, x, y[:5], **KW)


@pytest.mark.parametrize("momentum,flush_every,dropout,nonneg,block_bytes", [
    (0.5, 3, 0.25, ("d2",), None),
    (0.2, 4, 0.0, (), None),
    (0.2, 4, 0.0, (), 100),  # kernels as transposed blocks (9x8 -> 3 blocks, 8x6 -> 2)
    (0.0, 2, 0.1, ("d2",), 64),
    (0.9, 5, 0.0, ("d1",), None),
])
def test_lowrank_equals_dense(momentum, flush_every, dropout, nonneg, block_bytes):
    """The low-rank loop (look-ahead weights + factor ring + flushes) = the dense loop."""
    x, y = data(n=37, d=9)
    kw = {**KW, "momentum": momentum, "epochs": 4, "batch_size": 5, "learning_rate": 0.2,
          "decay": 0.05, "flush_every": flush_every}
    if block_bytes:
        kw["block_mb"] = block_bytes / 2**20
    out = {}
    for method in ("dense", "lowrank"):
        model = make_model([9, 8, 6, 3], dropout=dropout, activation="tanh", seed=4)
        hist = training.fit(model, x, y, x_val=x[:7], y_val=y[:7], loss="mae", nonneg=nonneg,
                            method=method, **kw)
        out[method] = (hist, weights(model))
    assert sgd_loop.momentum_window(momentum) + flush_every > 1
    np.testing.assert_allclose(out["lowrank"][0][["loss", "val_loss"]],
                               out["dense"][0][["loss", "val_loss"]], rtol=1e-5, atol=1e-6)
    for a, b in zip(out["lowrank"][1], out["dense"][1]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=2e-6)
    for name in nonneg:
        for w in model.get_layer(name).get_weights():
            assert (w >= 0).all()


def test_plan_layers():
    model = make_model([3000, 2000, 20], names=["big", "out"])
    net = sgd_loop.Net(model, nonneg=("out",))
    assert sgd_loop.plan_layers(net, 0.5, 10) == ["big"]
    net = sgd_loop.Net(model, nonneg=("big", "out"))
    assert sgd_loop.plan_layers(net, 0.5, 10) == []
    assert sgd_loop.momentum_window(0.2) == 10 and sgd_loop.momentum_window(0.5) == 23
    assert 0.2 ** (sgd_loop.momentum_window(0.2) + 1) < 2.0 ** -24 < 0.2 ** sgd_loop.momentum_window(0.2)


def test_keras_nonneg_constraint_is_honoured():
    x, y = data()
    y = y - 0.7
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((7,)), keras.layers.Dense(5, activation="relu"),
                              keras.layers.Dense(3, name="out", kernel_constraint="non_neg",
                                                 bias_constraint="non_neg")])
    training.fit(model, x, y, loss="mae", **KW)
    for w in model.get_layer("out").get_weights():
        assert (w >= 0).all()
    bad = keras.Sequential([keras.Input((7,)),
                            keras.layers.Dense(3, kernel_constraint=keras.constraints.MaxNorm(1))])
    with pytest.raises(RadiogenomicsError, match="NonNeg"):
        training.fit(bad, x, y, **KW)


@pytest.mark.parametrize("momentum,flush_every,n", [(0.2, 3, 17), (0.5, 4, 20), (0.0, 2, 12)])
def test_span_layer_equals_dense(momentum, flush_every, n):
    """First layer as D0 - Xᵀ C with the Gram matrix (n <= in/2) = the dense loop."""
    rng = np.random.default_rng(2)
    x = rng.uniform(-1, 1, (n, 48)).astype(np.float32)
    y = np.concatenate([np.tanh(x[:, :4]), x[:, 4:6] ** 2], 1).astype(np.float32)
    xv = rng.uniform(-1, 1, (6, 48)).astype(np.float32)
    yv = np.concatenate([np.tanh(xv[:, :4]), xv[:, 4:6] ** 2], 1).astype(np.float32)
    kw = {**KW, "momentum": momentum, "epochs": 6, "batch_size": 5, "learning_rate": 0.2,
          "decay": 0.05, "flush_every": flush_every}
    out = {}
    for method in ("dense", "auto", "lowrank"):
        keras.utils.set_random_seed(9)
        model = keras.Sequential([keras.Input((48,)), keras.layers.Dense(9, activation="tanh", name="a"),
                                  keras.layers.Dropout(0.2), keras.layers.Dense(7, activation="tanh"),
                                  keras.layers.Dense(6, name="out")])
        net = sgd_loop.Net(model, ())
        sgd_loop.plan_layers(net, momentum, 5, method, n_train=n)
        assert net.dense[0].span == (method != "dense")
        hist = training.fit(model, x, y, x_val=xv, y_val=yv, loss="mse", nonneg=("out",),
                            method=method, **kw)
        out[method] = (hist, weights(model))
    for method in ("auto", "lowrank"):
        np.testing.assert_allclose(out[method][0][["loss", "val_loss"]],
                                   out["dense"][0][["loss", "val_loss"]], rtol=1e-5, atol=1e-6)
        for a, b in zip(out[method][1], out["dense"][1]):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=2e-6)
