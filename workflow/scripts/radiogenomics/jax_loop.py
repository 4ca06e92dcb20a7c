"""The JAX training loop: SGD with momentum for many folds at once, one compiled program.

The same training as :func:`radiogenomics.training.fit` (paper §2.2: SGD with momentum and
Keras-2 decay, non-negative weights on the constrained layers, dropout, MSE or MAE), for a
Dense/Dropout ``Sequential`` given as a list of :class:`Layer` (:func:`describe`) and its
weights as plain arrays (:func:`weights_of`, :func:`set_weights`). :func:`fit_folds` trains the
folds of one configuration together: their parameters and momentum buffers are stacked along
a leading fold axis and one step is ``jax.vmap``-ped over it. It imports numpy and jax only
(no TensorFlow, no pandas), so it runs where JAX is the only framework (a GPU machine).

Step of fold f (its own step counter t = the updates it has done so far; ``W`` = every kernel
and bias; Keras ``SGD(momentum=mu, nesterov=False)``)::

    lr_t = lr / (1 + decay * t)                  (float32, Keras-2 decay)
    v   <- mu * v - lr_t * dL_B/dW
    W   <- W + v
    W   <- W * (W >= 0)                          (kernel and bias of the nonneg layers)

with the batch loss over the batch's r real rows (o outputs)::

    L_B = sum_{i real, j} e(y_ij - p_ij) / (r * o)      e(d) = d^2 (mse) | |d| (mae)

Forward pass ``h <- act(drop(h) K + b)`` per Dense layer; ``drop`` is inverted dropout in
training (keep each unit with probability ``1 - rate`` and scale kept units by
``1 / (1 - rate)``, as Keras' ``Dropout``), the identity in inference. A step draws one
block ``U`` of uniform [0, 1) numbers (batch_size rows × the summed input widths of the
dropout layers) from ``fold_in(key(dropout_seed), t)``; dropout layer j keeps the units
where its column slice of ``U`` is below ``1 - rate``. The epoch's reported
loss is Keras 3's: ``sum_B r_B L_B / n_train`` (batch losses weighted by batch size);
``val_loss`` is ``L`` on the whole validation set after the epoch, in inference mode.

Batches: every epoch each fold draws ``np.random.default_rng(seeds.derive(seed, "training",
"shuffle")).permutation(n_train)`` (the permutation stream of the TensorFlow loop) and cuts
it into batches of ``batch_size`` rows, the last one possibly smaller. The host sends each
epoch's row indices (folds × batches × batch_size) and masks; ``x`` and ``y`` are on the device
once for the whole fit, and a step gathers its rows from them by index.

Padding and masking: folds differ in size, so each fold's batches are padded to the largest
fold's batch count and each batch to ``batch_size`` rows. A padded row has mask 0: it
contributes nothing to ``L_B`` (hence to the gradient) or to r. A batch without real rows is
inactive: its update is discarded by a select (weights, momentum and t stay as they were),
so every fold sees exactly the updates it would see if trained alone, including a smaller
last batch whose loss and gradient are the mean over its real rows. Validation rows are
padded and masked the same way; a fold without validation rows gets ``val_loss`` NaN.

Compilation: one ``jax.jit`` epoch function per :func:`fit_folds` call (cached by layers,
loss, fold count and plan, so equal fits in one process compile once); inside it the batches run
as one ``lax.scan`` (no host round trip per step) and the validation pass follows it. The
parameter and momentum buffers are donated, so an epoch updates them in place; the momentum
buffer is written before the weights read it (an optimisation barrier), else XLA copies
every weight and momentum buffer at every step. Everything is float32 (JAX's default, x64
off).

Plans (``plan`` of :func:`fit_folds`): ``"dense"``, the reference above, forms every kernel's
dense gradient at every step (on a CPU about 9 passes over the parameters per step);
``"lowrank"`` and ``"auto"`` (the default) update the big unconstrained kernels in the low-rank
and span forms of :mod:`radiogenomics.jax_lowrank` (its docstring: formulas, and what they drop).
Single-threaded CPU time per step at paper size (``tests/benchmarks/bench_training.py``):
``"dense"`` 2.2-2.4x (network) and 3.0x (autoencoder) the TensorFlow loop's ``"auto"`` plan,
``"auto"`` 1.4-1.6x and 1.1x (per fold-step with 4 folds batched: 1.5x and 1.3x).

Differences from the TensorFlow loop: dropout masks are JAX's ``jax.random`` (threefry)
numbers keyed by the fold's dropout seed ``seeds.derive(seed, "training", "dropout")``, its
step t and the layer (its slice of U), not TensorFlow's stateless dropout, so with dropout
the numbers agree with the TensorFlow loop only in distribution (same mean validation loss
over seeds; ``tests/test_jax_loop.py``); without dropout they agree to float32 rounding
(another summation order). Masks depend on (seed, t, layer) only, hence are the same whether
a fold is trained alone or batched with others. A Dense layer without bias gets an empty
(0,) bias array; consecutive Dropout layers act as one (:func:`describe`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from . import seeds
from .arrays import float32_rows
from .errors import RadiogenomicsError

#: activations of the Dense layers
ACTIVATIONS = ("linear", "relu", "tanh", "sigmoid")
#: losses of the loop (as radiogenomics.sgd_loop.LOSSES)
LOSSES = ("mse", "mae")


@dataclass(frozen=True)
class Layer:
    """One Dense layer of a Sequential model, in order."""

    name: str
    activation: str  # "linear" | "relu" | "tanh" | "sigmoid"
    dropout: float  # rate of the Dropout layer(s) applied to this layer's INPUT (0: none)
    nonneg: bool  # kernel and bias projected onto >= 0 after every update


@dataclass(frozen=True)
class Fold:
    """One fold of a job: training and validation rows of ``x``/``y``, and the run seed."""

    train: np.ndarray
    val: np.ndarray
    seed: int


@dataclass
class Result:
    """A fold's trained ``weights`` (:func:`weights_of` format), ``history`` (``epoch``,
    ``loss``, ``val_loss`` arrays) and, when asked for, ``val_predictions`` (per epoch a
    float32 array, validation rows × outputs; empty rows for a fold without validation)."""

    weights: list
    history: dict
    val_predictions: list | None = None


# ---------------------------------------------------------------------------------
# The Keras model, read duck-typed (any Keras backend; no TensorFlow import here)
# ---------------------------------------------------------------------------------
def _is(obj, cls_name):
    return any(c.__name__ == cls_name for c in type(obj).__mro__)


def _dense_layers(model):
    return [layer for layer in model.layers if _is(layer, "Dense")]


def _activation_name(layer):
    name = getattr(layer.activation, "__name__", None)
    if name not in ACTIVATIONS:
        raise RadiogenomicsError(
            f"layer {layer.name!r}: activation {name!r} is not supported by the JAX loop "
            f"(expected one of {ACTIVATIONS})")
    return name


def describe(model, nonneg=()) -> list[Layer]:
    """The Dense layers of a Keras ``Sequential`` of Dense/Dropout layers, in order.

    The checks and error lines of :class:`radiogenomics.sgd_loop.Net`: only ``NonNeg``
    weight constraints (which make a layer nonneg as if it were named in ``nonneg``), only
    Dense and Dropout layers, and every name in ``nonneg`` a Dense layer of the model. A
    Dropout layer's rate goes to the next Dense layer (its input); consecutive Dropout layers
    of rates r1, r2 are one of rate ``1 - (1 - r1)(1 - r2)`` (the same keep probability and
    scale). A Dropout layer after the last Dense layer is refused.
    """
    nonneg = set(nonneg)
    layers, names = [], []
    keep = 1.0  # keep probability of the Dropout layers since the last Dense layer
    pending = None  # name of the first Dropout layer not yet followed by a Dense layer
    for layer in model.layers:
        if _is(layer, "Dense"):
            constraints = [c for c in (layer.kernel_constraint, layer.bias_constraint)
                           if c is not None]
            if any(not _is(c, "NonNeg") for c in constraints):
                raise RadiogenomicsError(
                    f"layer {layer.name!r}: only NonNeg weight constraints are supported "
                    f"(got {[type(c).__name__ for c in constraints]})"
                )
            layers.append(Layer(name=layer.name, activation=_activation_name(layer),
                                dropout=float(1.0 - keep),
                                nonneg=layer.name in nonneg or bool(constraints)))
            names.append(layer.name)
            keep, pending = 1.0, None
        elif _is(layer, "Dropout"):
            keep *= 1.0 - float(layer.rate)
            pending = pending or layer.name
        elif _is(layer, "InputLayer"):
            continue
        else:
            raise RadiogenomicsError(
                f"training.fit supports Dense and Dropout layers only, got {layer.name!r} "
                f"({type(layer).__name__})"
            )
    unknown = sorted(nonneg - set(names))
    if unknown:
        raise RadiogenomicsError(
            f"nonneg names Dense layers that the model lacks: {unknown} (layers: {names})"
        )
    if pending is not None:
        raise RadiogenomicsError(
            f"layer {pending!r}: a Dropout layer after the last Dense layer is not supported by "
            f"the JAX loop")
    return layers


def weights_of(model) -> list[tuple[np.ndarray, np.ndarray]]:
    """(kernel in × out, bias) float32 of every Dense layer; a layer without bias gets an
    empty (0,) bias, which :func:`fit_folds` leaves out and :func:`set_weights` skips."""
    out = []
    for layer in _dense_layers(model):
        w = layer.get_weights()
        kernel = np.array(w[0], dtype=np.float32)
        bias = np.array(w[1], dtype=np.float32) if len(w) > 1 else np.zeros(0, np.float32)
        out.append((kernel, bias))
    return out


def set_weights(model, weights) -> None:
    """Write (kernel, bias) pairs (:func:`weights_of` format) back into the Dense layers."""
    dense = _dense_layers(model)
    if len(dense) != len(weights):
        raise RadiogenomicsError(
            f"set_weights: {len(weights)} weight pairs for {len(dense)} Dense layers")
    for layer, (kernel, bias) in zip(dense, weights):
        layer.set_weights([np.asarray(kernel)] + ([np.asarray(bias)] if np.size(bias) else []))


# ---------------------------------------------------------------------------------
# The step and the epoch (pure functions of one fold; vmapped over folds)
# ---------------------------------------------------------------------------------
_ACT = {"linear": lambda z: z, "relu": jax.nn.relu, "tanh": jnp.tanh, "sigmoid": jax.nn.sigmoid}


def _forward(layers, params, h, uniform=None):
    """Prediction of one fold's network for rows ``h``; with ``uniform`` (rows × the summed
    input widths of the dropout layers, uniform on [0, 1)) in training mode: a unit of a
    dropout layer's input is kept where its slice of ``uniform`` is below ``1 - rate``."""
    offset = 0
    for spec, (kernel, bias) in zip(layers, params):
        if uniform is not None and spec.dropout > 0:
            keep = 1.0 - spec.dropout
            kept = uniform[:, offset:offset + h.shape[1]] < jnp.float32(keep)
            offset += h.shape[1]
            h = jnp.where(kept, h / jnp.float32(keep), jnp.float32(0))
        z = jnp.dot(h, kernel)
        if bias.shape[0]:
            z = z + bias
        h = _ACT[spec.activation](z)
    return h


def _dropout_width(layers, params):
    """Summed input widths of the dropout layers: the random numbers one row of a step uses."""
    return sum(kernel.shape[-2] for spec, (kernel, _) in zip(layers, params) if spec.dropout > 0)


def _masked_loss(loss, y, pred, mask):
    """sum over real rows of e(y - p) / (rows * outputs) and the real row count."""
    d = y - pred
    e = d * d if loss == "mse" else jnp.abs(d)
    rows = jnp.sum(mask)
    total = jnp.sum(e * mask[:, None])
    return total / (jnp.maximum(rows, 1.0) * jnp.float32(y.shape[1])), rows


def _update(layers, params, vel, grads, active, lr_t, mu):
    """Momentum step of every array (v <- mu v - lr_t g; w <- w + v; the nonneg projection),
    kept only where ``active``; per layer a tuple of arrays, as ``params``."""
    new_params, new_vel = [], []
    for spec, w_pair, v_pair, g_pair in zip(layers, params, vel, grads):
        wp, vp = [], []
        for w, v, g in zip(w_pair, v_pair, g_pair):
            # the barrier makes XLA write v1 (in place of v) before w1 reads it; without it XLA
            # recomputes v1 in w1's fusion and copies every v and w at every step (260 -> 190 ms)
            v1 = jax.lax.optimization_barrier(jnp.where(active, mu * v - lr_t * g, v))
            w1 = w + v1
            if spec.nonneg:
                w1 = w1 * (w1 >= 0).astype(w1.dtype)
            wp.append(jnp.where(active, w1, w))
            vp.append(v1)
        new_params.append(tuple(wp))
        new_vel.append(tuple(vp))
    return new_params, new_vel


def _fold_epoch(layers, loss, hyper, x, y, params, vel, t, seed, idx, mask, vidx, vmask):
    """One epoch of one fold: scan over its (padded) batches, then the validation loss."""
    lr0, decay, mu = hyper
    key = jax.random.key(seed)
    width = _dropout_width(layers, params)

    def batch_loss(p, xb, yb, m, uniform):
        value, _ = _masked_loss(loss, yb, _forward(layers, p, xb, uniform), m)
        return value

    grad_fn = jax.value_and_grad(batch_loss)

    def step(carry, batch):
        params, vel, t, total = carry
        bidx, m = batch
        uniform = None
        if width:  # one draw per step for every dropout layer, keyed by (seed, t)
            uniform = jax.random.uniform(jax.random.fold_in(key, t), (bidx.shape[0], width))
        value, grads = grad_fn(params, x[bidx], y[bidx], m, uniform)
        lr_t = lr0 / (1.0 + decay * t.astype(jnp.float32))
        active = jnp.sum(m) > 0
        new_params, new_vel = _update(layers, params, vel, grads, active, lr_t, mu)
        rows = jnp.sum(m)
        return (new_params, new_vel, t + active.astype(t.dtype), total + value * rows), None

    (params, vel, t, total), _ = jax.lax.scan(step, (params, vel, t, jnp.float32(0)), (idx, mask))
    train_loss = total / jnp.sum(mask)
    if vidx.shape[0]:
        pred = _forward(layers, params, x[vidx])
        val_loss, rows = _masked_loss(loss, y[vidx], pred, vmask)
        val_loss = jnp.where(rows > 0, val_loss, jnp.float32(jnp.nan))
    else:
        pred = jnp.zeros((0, y.shape[1]), jnp.float32)
        val_loss = jnp.float32(jnp.nan)
    return params, vel, t, train_loss, val_loss, pred


@functools.lru_cache(maxsize=16)
def _epoch_function(layers, loss, n_folds):
    """The jitted epoch of all folds: vmapped over the fold axis (none for a single fold).
    Cached by (layers, loss, fold count); jax.jit compiles once per set of array shapes."""

    def single(hyper, x, y, state, seeds_, idx, mask, vidx, vmask):
        params, vel, t = state
        sq = lambda tree: jax.tree_util.tree_map(lambda a: a[0], tree)  # noqa: E731
        ex = lambda tree: jax.tree_util.tree_map(lambda a: a[None], tree)  # noqa: E731
        out = _fold_epoch(layers, loss, hyper, x, y, sq(params), sq(vel), t[0], seeds_[0], idx[0],
                          mask[0], vidx[0], vmask[0])
        return ex(out)

    def batched(hyper, x, y, state, seeds_, idx, mask, vidx, vmask):
        params, vel, t = state
        fold = lambda *a: _fold_epoch(layers, loss, hyper, x, y, *a)  # noqa: E731
        return jax.vmap(fold)(params, vel, t, seeds_, idx, mask, vidx, vmask)

    def epoch(hyper, x, y, state, seeds_, idx, mask, vidx, vmask):
        body = single if n_folds == 1 else batched
        params, vel, t, loss_, val_loss, pred = body(hyper, x, y, state, seeds_, idx, mask, vidx, vmask)
        return (params, vel, t), loss_, val_loss, pred

    return jax.jit(epoch, donate_argnums=(3,))


# ---------------------------------------------------------------------------------
# fit_folds
# ---------------------------------------------------------------------------------
def _rows(a, n, what):
    arr = np.asarray(a)
    if arr.ndim != 1 or (arr.size and not np.issubdtype(arr.dtype, np.integer)):
        raise RadiogenomicsError(f"{what} must be a 1-d array of integer row indices, got {arr.dtype} {arr.shape}")
    arr = arr.astype(np.int64)
    if arr.size and (arr.min() < 0 or arr.max() >= n):
        raise RadiogenomicsError(f"{what}: row indices must lie in [0, {n}), got {arr.min()}..{arr.max()}")
    return arr


def _check_weights(layers, initial, n_in, n_out, n_folds):
    if len(initial) != n_folds:
        raise RadiogenomicsError(f"fit_folds: {len(initial)} initial weight lists for {n_folds} folds")
    shapes = None
    for f, weights in enumerate(initial):
        if len(weights) != len(layers):
            raise RadiogenomicsError(
                f"fit_folds: fold {f}: {len(weights)} weight pairs for {len(layers)} Dense layers")
        s = [(np.shape(k), np.shape(b)) for k, b in weights]
        if shapes is None:
            shapes = s
            width = n_in
            for spec, (ks, bs) in zip(layers, s):
                if len(ks) != 2 or ks[0] != width or bs not in ((ks[1],), (0,)):
                    raise RadiogenomicsError(
                        f"fit_folds: layer {spec.name!r}: kernel {ks} / bias {bs} do not follow "
                        f"{width} inputs")
                width = ks[1]
            if width != n_out:
                raise RadiogenomicsError(f"fit_folds: the network has {width} outputs, y has {n_out} columns")
        elif s != shapes:
            raise RadiogenomicsError(f"fit_folds: fold {f}'s weight shapes {s} differ from fold 0's {shapes}")


def _check_settings(layers, loss, momentum, batch_size, epochs):
    if loss not in LOSSES:
        raise RadiogenomicsError(f"loss must be one of {LOSSES}, got {loss!r}")
    if not 0 <= momentum < 1:
        raise RadiogenomicsError(f"momentum must be in [0, 1), got {momentum}")
    if int(batch_size) != batch_size or batch_size < 1 or int(epochs) != epochs or epochs < 0:
        raise RadiogenomicsError(f"need batch_size >= 1 and epochs >= 0 (got {batch_size}, {epochs})")
    for spec in layers:
        if spec.activation not in ACTIVATIONS:
            raise RadiogenomicsError(f"layer {spec.name!r}: activation must be one of {ACTIVATIONS}, "
                                     f"got {spec.activation!r}")
        if not 0 <= spec.dropout < 1:
            raise RadiogenomicsError(f"layer {spec.name!r}: dropout must be in [0, 1), got {spec.dropout}")


def _padded(index_lists, width):
    """(len × width) int32 indices (0 where padded) and float32 masks of 1-d index arrays."""
    idx = np.zeros((len(index_lists), width), np.int32)
    mask = np.zeros((len(index_lists), width), np.float32)
    for i, rows in enumerate(index_lists):
        idx[i, :len(rows)] = rows
        mask[i, :len(rows)] = 1
    return idx, mask


class Trainer:
    """The state of a :func:`fit_folds` run: checked inputs on the device, the stacked
    parameters and momentum buffers, the shuffle streams and the compiled epoch.
    :meth:`epoch` runs one epoch of every fold (asynchronously: it returns device arrays);
    :meth:`results` collects the per-fold :class:`Result` list."""

    def __init__(self, layers, initial, x, y, folds, *, loss, learning_rate, decay, momentum,
                 batch_size, epochs=0, keep_val_predictions=False, plan="auto"):
        from . import jax_lowrank  # (it builds on this module)

        self.layers = list(layers)
        folds = list(folds)
        if not folds:
            raise RadiogenomicsError("fit_folds: no folds given")
        x = float32_rows(x, "x")
        y = float32_rows(y, "y")
        if len(x) != len(y):
            raise RadiogenomicsError(f"x has {len(x)} rows but y has {len(y)}")
        _check_settings(self.layers, loss, momentum, batch_size, epochs)
        self.batch_size = int(batch_size)
        _check_weights(self.layers, initial, x.shape[1], y.shape[1], len(folds))
        self.train = [_rows(f.train, len(x), f"fold {i} train") for i, f in enumerate(folds)]
        self.val = [_rows(f.val, len(x), f"fold {i} val") for i, f in enumerate(folds)]
        if any(len(rows) == 0 for rows in self.train):
            raise RadiogenomicsError(
                f"fit_folds: every fold needs training rows (got {[len(r) for r in self.train]})")
        self.n_folds = len(folds)
        self.n_batches = max(-(-len(rows) // self.batch_size) for rows in self.train)
        self.keep_val_predictions = bool(keep_val_predictions)

        self.hyper = jax.device_put(np.array([learning_rate, decay, momentum], np.float32))
        self.dropout_seeds = jax.device_put(np.array(
            [seeds.derive(f.seed, "training", "dropout") for f in folds], np.uint32))
        self.shuffles = [np.random.default_rng(seeds.derive(f.seed, "training", "shuffle"))
                         for f in folds]
        n_val = max(len(rows) for rows in self.val)
        self.x, self.y, self.vidx, self.vmask = jax.device_put((x, y, *_padded(self.val, n_val)))
        params = [tuple(np.stack([np.asarray(w[li][k], np.float32) for w in initial]) for k in (0, 1))
                  for li in range(len(self.layers))]
        self.lowrank = jax_lowrank.LowRankFit(self.layers, params, loss, self.x, momentum=momentum,
                                              batch_size=self.batch_size, plan=plan,
                                              train_sizes=[len(rows) for rows in self.train])
        self.plan, self.epoch_fn, self.state = self.lowrank.plan, self.lowrank.epoch_fn, self.lowrank.state
        self.lowrank.state = None  # (the epochs donate it)
        if self.epoch_fn is None:  # no low-rank layer: the dense reference
            self.lowrank, self.epoch_fn = None, _epoch_function(tuple(self.layers), loss, self.n_folds)
            vel = [tuple(np.zeros_like(a) for a in pair) for pair in params]
            self.state = jax.device_put((params, vel, np.zeros(self.n_folds, np.int32)))
        del params
        self.losses, self.val_losses = [], []
        self.preds = [[] for _ in folds]

    def batches(self):
        """The next epoch's (folds × batches × batch_size) row indices and masks (0: padding)."""
        width = self.n_batches * self.batch_size
        idx = np.zeros((self.n_folds, width), np.int32)
        mask = np.zeros((self.n_folds, width), np.float32)
        for f, (rows, rng) in enumerate(zip(self.train, self.shuffles)):
            idx[f, :len(rows)] = rows[rng.permutation(len(rows))]
            mask[f, :len(rows)] = 1
        shape = (self.n_folds, self.n_batches, self.batch_size)
        return idx.reshape(shape), mask.reshape(shape)

    def epoch(self):
        """Train every fold one epoch; returns the (device) per-fold training losses."""
        idx, mask = jax.device_put(self.batches())
        args = (self.state, self.dropout_seeds, idx, mask, self.vidx, self.vmask)
        if self.lowrank:  # + the Gram matrix and the ring position of the epoch's first step
            args = self.lowrank.extra_args(len(self.losses) * self.n_batches) + args
        self.state, loss, val_loss, pred = self.epoch_fn(self.hyper, self.x, self.y, *args)
        self.losses.append(loss)
        self.val_losses.append(val_loss)
        if self.keep_val_predictions:
            pred = np.asarray(pred)
            for f, rows in enumerate(self.val):
                self.preds[f].append(pred[f, :len(rows)].copy())
        return loss

    def results(self) -> list[Result]:
        epochs = len(self.losses)
        loss = np.array([np.asarray(a) for a in self.losses], np.float32).reshape(epochs, self.n_folds)
        val_loss = np.array([np.asarray(a) for a in self.val_losses], np.float32).reshape(epochs, self.n_folds)
        final = self.lowrank.weights(self.hyper, self.state) if self.lowrank else self.state[0]
        final = [tuple(np.asarray(a) for a in pair) for pair in final]
        out = []
        for f in range(self.n_folds):
            history = {"epoch": np.arange(1, epochs + 1),
                       "loss": loss[:, f].astype(np.float64),
                       "val_loss": val_loss[:, f].astype(np.float64)}
            weights = [(k[f].copy(), b[f].copy()) for k, b in final]
            out.append(Result(weights=weights, history=history,
                              val_predictions=self.preds[f] if self.keep_val_predictions else None))
        return out


def fit_folds(layers, initial, x, y, folds, *, loss, learning_rate, decay, momentum,
              batch_size, epochs, keep_val_predictions=False, plan="auto") -> list[Result]:
    """Train every fold of ``folds`` from its ``initial`` weights, all at once; see the module
    docstring. ``x`` (rows × inputs) and ``y`` (rows × outputs): every row the folds index.
    Returns one :class:`Result` per fold, in order."""
    trainer = Trainer(layers, initial, x, y, folds, loss=loss, learning_rate=learning_rate,
                      decay=decay, momentum=momentum, batch_size=batch_size, epochs=epochs,
                      keep_val_predictions=keep_val_predictions, plan=plan)
    for _ in range(int(epochs)):
        trainer.epoch()
    return trainer.results()
