"""SGD with momentum and Keras-2 learning-rate decay for Dense/Dropout Sequential models.

Paper §2.2 (the models were trained "with stochastic gradient descent ... using Keras"):
batch size 10, momentum 0.2 (autoencoder) / 0.5 (network), learning-rate decay as in
Keras 2, and non-negative weights on the constrained layers.

:func:`fit` trains a Keras 3 ``Sequential`` of ``Dense`` and ``Dropout`` layers in place:

* update (Keras ``SGD(momentum=mu, nesterov=False)``, TensorFlow's ``ApplyKerasMomentum``)::

      v <- mu * v - lr_t * g
      w <- w + v
      lr_t = lr / (1 + decay * t)      t = number of updates done before this one

  (Keras 3: ``InverseTimeDecay(lr, decay_steps=1, decay_rate=decay)``).
* mini-batches of ``batch_size`` from a shuffle of the rows redrawn every epoch from
  ``seed`` (the last batch may be smaller);
* dropout masks from stateless random numbers keyed by ``seed``, the update step and the
  layer (``tf.nn.experimental.stateless_dropout``: keep with probability 1 - rate, scale
  kept units by 1 / (1 - rate), as Keras' Dropout), so they depend on the arguments only;
* after every update the kernel and bias of the Dense layers named in ``nonneg`` (and of
  Dense layers that carry a Keras ``NonNeg`` kernel or bias constraint) are projected onto
  >= 0 (Keras' ``NonNeg`` constraint: ``w * (w >= 0)``);
* the reported training loss of an epoch is what Keras 3 reports: the mean of the batch
  losses weighted by batch size (= the plain mean over batches when all batches are full);
  ``val_loss`` is the loss on the whole validation set after the epoch, in inference mode.

Everything is float32 and deterministic on CPU (TensorFlow op determinism is switched on).

``method`` picks how this is computed:

``"keras"`` (the executable reference)
    Keras' own ``model.fit`` with ``SGD(InverseTimeDecay(lr, 1, decay), momentum)``, one
    epoch per call on the rows in this loop's shuffled order (``shuffle=False``), ``NonNeg``
    constraints on the ``nonneg`` layers for the duration of the fit. Keras draws its own
    dropout masks, so it gives the numbers of the fast loop only for models without dropout
    (``tests/test_training.py`` compares them). Slow at paper size: Keras forms every dense
    weight gradient and runs one Python step per batch.

``"dense"``, ``"lowrank"``, ``"auto"`` (the fast loop, :mod:`radiogenomics.sgd_loop`)
    One ``tf.function`` per epoch with the batch loop inside the graph (no per-step Python
    or host synchronisation). Each Dense layer is updated in one of three forms (dense,
    low-rank, span), chosen by :func:`radiogenomics.sgd_loop.plan_layers`: ``"dense"`` puts
    every layer in the dense form, ``"lowrank"`` every unconstrained layer in a low-rank
    form, ``"auto"`` the layers where the low-rank form saves memory traffic. All give the
    numbers of the Keras reference to float32 rounding (``tests/test_training.py``).

Loop settings (``flush_every``, ``span``, ``block_mb``; :mod:`radiogenomics.sgd_loop`): they
change the float32 summation order, hence the last bits of every trained number, and nothing
else. So they are explicit arguments of :func:`fit`, not environment variables, and the
workflow sets them from config keys (``training.flush_every``, ``training.span``,
``training.block_mb``; schema defaults 8, true and 16, the loop's defaults; config/README.md)
rather than fixed values in the rules: a user may tune them to a machine with
``tests/benchmarks/bench_training.py``, and every training rule passes them as params, so
changing one reruns training.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import backend, seeds
from .arrays import float32_rows
from .errors import RadiogenomicsError
from .sgd_loop import BLOCK_MB, FLUSH_EVERY, PLANS, Loop, Net, loss_function, plan_layers

#: the fast loop's layer plans and the Keras reference
METHODS = (*PLANS, "keras")


def decayed_learning_rate(learning_rate: float, decay: float, t) -> np.ndarray:
    """Keras-2 decay ``lr / (1 + decay * t)`` in float32 (``t``: updates done so far)."""
    lr = np.float32(learning_rate)
    return lr / (np.float32(1) + np.float32(decay) * np.asarray(t, dtype=np.float32))


def fit(
    model,
    x,
    y,
    *,
    x_val=None,
    y_val=None,
    loss="mse",
    learning_rate,
    decay,
    momentum,
    batch_size,
    epochs,
    seed,
    nonneg=(),
    verbose=False,
    method="auto",
    val_predictions=None,
    flush_every=FLUSH_EVERY,
    span=True,
    block_mb=BLOCK_MB,
) -> pd.DataFrame:
    """Train ``model`` in place (see the module docstring); return the per-epoch history.

    Returns a DataFrame with columns ``epoch`` (1..epochs), ``loss`` and ``val_loss``
    (NaN without validation data). ``method``: ``"dense"``, ``"lowrank"`` (every
    unconstrained layer low-rank) or ``"auto"`` (low-rank where it saves memory traffic),
    the fast loop's layer plans, which all give the same numbers to float32 rounding; or
    ``"keras"``, the reference (Keras' ``model.fit`` on the same batches; it compiles
    ``model``). ``val_predictions``: a list to which, after every epoch, the model's
    predictions for ``x_val`` (the ones its ``val_loss`` is computed from, float32 rows ×
    outputs) are appended. ``flush_every``, ``span``, ``block_mb``: the fast loop's
    settings (module docstring; the Keras reference ignores them).
    """
    tf = backend.tensorflow()
    tf.config.experimental.enable_op_determinism()
    loss_fn = loss_function(tf, loss)
    if method not in METHODS:
        raise RadiogenomicsError(f"method must be one of {METHODS}, got {method!r}")
    x = float32_rows(x, "x")
    y = float32_rows(y, "y")
    if len(x) != len(y):
        raise RadiogenomicsError(f"x has {len(x)} rows but y has {len(y)}")
    has_val = x_val is not None and y_val is not None
    if has_val:
        x_val = float32_rows(x_val, "x_val")
        y_val = float32_rows(y_val, "y_val")
    batch_size = int(batch_size)
    epochs = int(epochs)
    if batch_size < 1 or epochs < 0 or len(x) == 0:
        raise RadiogenomicsError(
            f"need batch_size >= 1, epochs >= 0 and training rows (got {batch_size}, {epochs}, {len(x)})"
        )
    if not 0 <= momentum < 1:
        raise RadiogenomicsError(f"momentum must be in [0, 1), got {momentum}")
    net = Net(model, nonneg)  # the same checks of layers and nonneg names for every method
    n = len(x)
    shuffle_rng = np.random.default_rng(seeds.derive(seed, "training", "shuffle"))
    if method == "keras":
        epoch_fn, evaluate_fn, finish = _keras_reference(
            tf, model, net, x, y, x_val if has_val else None, y_val if has_val else None, loss_fn,
            loss, learning_rate, decay, momentum, batch_size)
    else:
        plan_layers(net, momentum, batch_size, method, flush_every, n_train=n, span=span)
        xt, yt = tf.constant(x), tf.constant(y)
        loop = Loop(tf, net, loss_fn, learning_rate, decay, momentum, batch_size, -(-n // batch_size),
                     seeds.derive(seed, "training", "dropout"), flush_every=flush_every, x=xt,
                     block_mb=block_mb)
        if has_val:
            xv, yv = tf.constant(x_val), tf.constant(y_val)

        def epoch_fn(perm):
            return loop.epoch(xt, yt, tf.constant(perm.astype(np.int32)))

        def evaluate_fn():
            return loop.evaluate(xv, yv)

        finish = loop.finalize
    rows = []
    try:
        for epoch in range(1, epochs + 1):
            train_loss = float(epoch_fn(shuffle_rng.permutation(n)))
            val_loss = float("nan")
            if has_val:
                loss_t, pred_t = evaluate_fn()
                val_loss = float(loss_t)
                if val_predictions is not None:
                    val_predictions.append(pred_t.numpy())
            rows.append((epoch, train_loss, val_loss))
            if verbose:
                print(f"epoch {epoch}/{epochs}: loss {train_loss:.6g} val_loss {val_loss:.6g}",
                      flush=True)
    finally:
        finish()
    return pd.DataFrame(rows, columns=["epoch", "loss", "val_loss"])


def _keras_reference(tf, model, net, x, y, x_val, y_val, loss_fn, loss, learning_rate, decay,
                     momentum, batch_size):
    """(epoch, evaluate, finish) functions of the Keras reference: ``model.fit``, one epoch
    per call on ``x[perm]`` in that order; ``NonNeg`` on the constrained layers until
    ``finish``; the validation loss computed by the fast loop's formula."""
    keras = backend.keras()
    constrained = {d.name for d in net.dense if d.constrained}
    restore = []
    for layer in model.layers:
        if layer.name in constrained:
            for variable in (layer.kernel, layer.bias if layer.use_bias else None):
                if variable is not None and variable.constraint is None:
                    restore.append(variable)
                    variable.constraint = keras.constraints.NonNeg()
    schedule = keras.optimizers.schedules.InverseTimeDecay(
        float(learning_rate), decay_steps=1, decay_rate=float(decay))
    model.compile(optimizer=keras.optimizers.SGD(schedule, momentum=float(momentum)), loss=loss)

    def epoch_fn(perm):
        history = model.fit(x[perm], y[perm], batch_size=batch_size, epochs=1, shuffle=False,
                            verbose=0)
        return history.history["loss"][0]

    def evaluate_fn():
        pred = model(tf.constant(x_val), training=False)
        return loss_fn(tf.constant(y_val), pred), pred

    def finish():
        for variable in restore:
            variable.constraint = None

    return epoch_fn, evaluate_fn, finish
