"""A trained Keras network seen as a function split after its first Dense layer.

The attribution and probe computations (:mod:`radiogenomics.attribution`,
:mod:`radiogenomics.probes`) need F(x), its Jacobian and, for speed, the pre-activation of
the first Dense layer. For a network genes -> [Dropout] -> Dense -> rest::

    F(x) = G(act(x W₁ + b₁))          z = x W₁ + b₁ (12,042 × 2,000 at paper size)

:class:`Network` exposes ``first`` (z), ``head`` (F as a function of z), ``full`` (F) and
compiled Jacobians of all outputs at once, so a computation that moves x along a line (the
integrated-gradients path, masking a gene set) can move z instead and skip the big first
matmul. Dropout layers are the identity at inference and are skipped.
"""

from __future__ import annotations

import numpy as np

from . import backend
from .errors import RadiogenomicsError


class Network:
    """A trained Keras model seen as F(x) = G(act(x W₁ + b₁)) when it starts with a Dense layer.

    Leading Dropout layers are the identity at inference and are skipped; everything after the
    first Dense layer (``rest``) is called with ``training=False``. ``split`` is False when the
    model does not start that way (then every computation goes through the whole model).
    """

    def __init__(self, model, split: bool = True):
        keras = backend.keras()
        self.model = model
        layers = list(model.layers)
        i = 0
        while i < len(layers) and isinstance(layers[i], (keras.layers.Dropout, keras.layers.InputLayer)):
            i += 1
        self.split = bool(split) and i < len(layers) and isinstance(layers[i], keras.layers.Dense)
        if self.split:
            first = layers[i]
            self.kernel = first.kernel            # (genes, hidden1) variable
            self.bias = first.bias if first.use_bias else None
            self.activation = first.activation
            self.rest = layers[i + 1:]
        if self.split:
            self.n_inputs = int(self.kernel.shape[0])
        else:
            try:
                self.n_inputs = int(model.inputs[0].shape[-1])
            except (AttributeError, IndexError, TypeError, ValueError):
                raise RadiogenomicsError("associations: cannot tell the model's input width (build it with keras.Input)") from None
        self._fns = {}

    # pieces ------------------------------------------------------------------------------
    def _tf(self):
        return backend.tensorflow()

    def first(self, x):
        """Pre-activation z = x W₁ + b₁ of the first Dense layer."""
        tf = self._tf()
        z = tf.matmul(tf.convert_to_tensor(x, tf.float32), self.kernel)
        return z + self.bias if self.bias is not None else z

    def head(self, z):
        """F as a function of the first layer's pre-activation."""
        h = self.activation(z)
        for layer in self.rest:
            h = layer(h, training=False)
        return h

    def full(self, x):
        return self.model(x, training=False)

    def _fn(self, name, fn, width=None):
        """``fn`` compiled once for inputs of shape (any rows, ``width``)."""
        if name not in self._fns:
            tf = self._tf()
            if width is None:
                width = int(self.kernel.shape[1]) if name.startswith("head") else self.n_inputs
            spec = [tf.TensorSpec([None, width], tf.float32)]
            self._fns[name] = tf.function(fn, input_signature=spec, autograph=False)
        return self._fns[name]

    # compiled building blocks -----------------------------------------------------------------
    def predict(self, x, batch_rows: int = 4096) -> np.ndarray:
        """F(x) for the rows of ``x`` (inference mode), in chunks of ``batch_rows``."""
        fn = self._fn("full", self.full)
        x = np.asarray(x, np.float32)
        out = [fn(x[i:i + batch_rows]).numpy() for i in range(0, len(x), batch_rows)]
        return np.concatenate(out) if out else np.zeros((0, self.n_outputs), np.float32)

    @property
    def n_outputs(self) -> int:
        return int(self.model.outputs[0].shape[-1])

    def _jacobian(self, name, f, v):
        """(f(v), ∂f/∂v) for every row of ``v``, all outputs in one ``batch_jacobian`` call."""
        tf = self._tf()

        def fn(v):
            with tf.GradientTape() as tape:
                tape.watch(v)
                y = f(v)
            return y, tape.batch_jacobian(y, v)

        return self._fn(name, fn)(v)

    def head_jacobian(self, z):
        """(F(z), ∂F/∂z): shapes (n, K) and (n, K, hidden1); all K outputs in one call."""
        return self._jacobian("head_jacobian", self.head, z)

    def input_jacobian(self, x):
        """(F(x), ∂F/∂x) through the whole model: shapes (n, K) and (n, K, genes)."""
        return self._jacobian("input_jacobian", self.full, x)


def as_network(model) -> Network:
    return model if isinstance(model, Network) else Network(model)
