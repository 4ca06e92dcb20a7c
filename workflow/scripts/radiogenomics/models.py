"""The deep autoencoder and the radiogenomic network (paper §2.2.2, §2.2.3, Fig. 1b).

Both are fully connected, feed-forward Keras 3 ``Sequential`` models of ``Dense`` and
``Dropout`` layers, float32, trained by :func:`radiogenomics.training.fit`.

Autoencoder (§2.2.2)::

    genes -> enc1 -> ... -> enc_m -> dec1 -> ... -> dec_{m-1} -> recon (genes)

``hidden`` (paper: 2000, 1000, 500, 1000, 2000) lists the hidden layer sizes; the first
``ceil(len(hidden) / 2)`` are the encoder (``enc1..``), the rest the decoder (``dec1..``).
Hidden units use the grid's activation (tanh or sigmoid). The reconstruction layer
``recon`` is linear by default: after range scaling (§2.1.1, x' = (x - mean) / range)
every gene lies in [-1, 1] with mean 0, so a sigmoid output (range (0, 1)) could not
reproduce negative values, and a tanh output only saturates towards values the data
never quite reach; a linear output has no such bias.

Radiogenomic network (§2.2.3)::

    genes -> dropout0 -> hidden1 -> dropout1 -> hidden2 -> dropout2 -> hidden3
          -> dropout3 -> hidden4 -> output (20)

``hidden1..hidden_m`` have the encoder's sizes and are initialised with its trained
weights (:func:`transfer_encoder`); ``hidden_{m+1}`` (paper: ``hidden4``) has
``dnn.hidden4`` units. ReLU hidden units, linear output. Dropout (rate ``dropout``) on
the input and on the first ``m`` hidden layers' outputs, as in the paper; with
``dropout == 0`` (the comparison networks) the Dropout layers are left out.

Non-negativity ("weights and biases were further constrained to be nonnegative to
ensure predictions were also nonnegative"): ``nonneg="output"`` constrains the output
layer's kernel and bias. Hidden ReLU units are >= 0, so a non-negative output layer
gives non-negative predictions whatever the hidden weights are; ``"all"`` constrains
every Dense layer as the paper's sentence reads literally, ``"none"`` none. As with
Keras' ``NonNeg`` constraint, the projection acts after every update (not on the
initial or transferred weights).

Parameter count of a Dense stack with sizes n_0, ..., n_L:
``sum_l n_{l-1} * n_l + n_l`` (kernel plus bias); paper autoencoder 53,186,542,
paper network 26,639,620 (:func:`parameter_count`, no weights allocated).
"""

from __future__ import annotations

import math

from . import backend, seeds
from .errors import RadiogenomicsError

NONNEG_MODES = ("output", "all", "none")


# ---------------------------------------------------------------------------------
# Sizes (no TensorFlow needed)
# ---------------------------------------------------------------------------------
def n_encoder_layers(hidden) -> int:
    """Number of encoder layers of an autoencoder with these hidden sizes: ceil(len/2)."""
    hidden = list(hidden)
    if not hidden:
        raise RadiogenomicsError("config key autoencoder.hidden: at least one hidden layer needed")
    return math.ceil(len(hidden) / 2)


def encoder_sizes(hidden) -> list[int]:
    """The encoder's layer sizes (paper: 2000, 1000, 500)."""
    hidden = [int(h) for h in hidden]
    return hidden[: n_encoder_layers(hidden)]


def autoencoder_sizes(n_genes: int, hidden) -> list[int]:
    """Layer widths from input to reconstruction: genes, *hidden, genes."""
    return [int(n_genes), *[int(h) for h in hidden], int(n_genes)]


def dnn_sizes(n_genes: int, encoder: list[int], hidden4: int, n_outputs: int = 20) -> list[int]:
    """Layer widths of the radiogenomic network: genes, *encoder, hidden4, outputs."""
    return [int(n_genes), *[int(h) for h in encoder], int(hidden4), int(n_outputs)]


def parameter_count(sizes) -> int:
    """Weights plus biases of a Dense stack: sum_l n_{l-1} n_l + n_l."""
    sizes = [int(s) for s in sizes]
    return sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))


def autoencoder_layer_names(hidden) -> list[str]:
    """Dense layer names: enc1.., dec1.., recon."""
    m = n_encoder_layers(hidden)
    n_dec = len(list(hidden)) - m
    return [f"enc{i}" for i in range(1, m + 1)] + [f"dec{i}" for i in range(1, n_dec + 1)] + ["recon"]


def dnn_layer_names(n_encoder: int) -> list[str]:
    """Dense layer names: hidden1..hidden{m+1}, output."""
    return [f"hidden{i}" for i in range(1, n_encoder + 2)] + ["output"]


def nonneg_layers(mode: str, n_encoder: int) -> list[str]:
    """Names of the Dense layers whose kernel and bias are kept >= 0 for a ``dnn.nonneg`` mode."""
    if mode == "output":
        return ["output"]
    if mode == "all":
        return dnn_layer_names(n_encoder)
    if mode == "none":
        return []
    raise RadiogenomicsError(f"config key dnn.nonneg: expected one of {NONNEG_MODES}, got {mode!r}")


# ---------------------------------------------------------------------------------
# Keras models (TensorFlow imported on first use only)
# ---------------------------------------------------------------------------------
def _dense(keras, units, activation, name, seed, nonneg=False):
    constraint = keras.constraints.NonNeg() if nonneg else None
    return keras.layers.Dense(
        int(units),
        activation=activation,
        name=name,
        kernel_initializer=keras.initializers.GlorotUniform(seed=seeds.derive(seed, name)),
        bias_initializer="zeros",
        kernel_constraint=constraint,
        bias_constraint=constraint,
        dtype="float32",
    )


def build_autoencoder(n_genes: int, hidden, activation: str = "tanh",
                      output_activation: str = "linear", seed: int = 0):
    """Deep autoencoder genes -> hidden... -> genes (paper §2.2.2).

    Weights: Glorot-uniform kernels (Keras' default) seeded per layer from ``seed`` and
    the layer name, zero biases.
    """
    keras = backend.keras()
    if activation not in ("tanh", "sigmoid", "relu", "linear"):
        raise RadiogenomicsError(f"config key autoencoder.grid.activation: unknown activation {activation!r}")
    hidden = [int(h) for h in hidden]
    names = autoencoder_layer_names(hidden)
    layers = [keras.Input(shape=(int(n_genes),), dtype="float32", name="genes")]
    for units, name in zip(hidden, names[:-1]):
        layers.append(_dense(keras, units, activation, name, seed))
    layers.append(_dense(keras, n_genes, output_activation, "recon", seed))
    return keras.Sequential(layers, name="autoencoder")


def build_dnn(n_genes: int, encoder_sizes, hidden4: int, n_outputs: int = 20,
              dropout: float = 0.25, nonneg: str = "output", seed: int = 0):
    """Radiogenomic network (paper §2.2.3, Fig. 1b); returns ``(model, nonneg_layer_names)``.

    ``dropout`` is the rate of ``dropout0`` (input) .. ``dropout{m}`` (after each
    encoder-sized hidden layer); 0 leaves the Dropout layers out.
    """
    keras = backend.keras()
    encoder_sizes = [int(h) for h in encoder_sizes]
    if not encoder_sizes:
        raise RadiogenomicsError("build_dnn: at least one encoder layer needed")
    if not 0 <= float(dropout) < 1:
        raise RadiogenomicsError(f"config key dnn.dropout: must be in [0, 1), got {dropout}")
    m = len(encoder_sizes)
    keep = set(nonneg_layers(nonneg, m))
    names = dnn_layer_names(m)
    layers = [keras.Input(shape=(int(n_genes),), dtype="float32", name="genes")]
    for i, (units, name) in enumerate(zip([*encoder_sizes, hidden4], names[:-1])):
        if dropout > 0 and i <= m:
            # dropout{i} precedes hidden{i+1} for i = 0..m (input and encoder outputs)
            layers.append(keras.layers.Dropout(float(dropout), name=f"dropout{i}",
                                               seed=seeds.derive(seed, f"dropout{i}")))
        layers.append(_dense(keras, units, "relu", name, seed, nonneg=name in keep))
    layers.append(_dense(keras, n_outputs, "linear", "output", seed, nonneg="output" in keep))
    model = keras.Sequential(layers, name="radiogenomic_network")
    return model, [n for n in names if n in keep]


def transfer_encoder(autoencoder, dnn) -> list[tuple[str, str]]:
    """Copy the autoencoder's encoder weights into the network's first hidden layers.

    ``enc{i}`` -> ``hidden{i}`` (kernel and bias) for every encoder layer. Returns the
    pairs copied. Raises :class:`RadiogenomicsError` when the shapes differ (network
    built for other genes or other layer sizes than the autoencoder).
    """
    enc = [layer for layer in autoencoder.layers if layer.name.startswith("enc")]
    if not enc:
        raise RadiogenomicsError("transfer_encoder: the autoencoder has no enc* layers")
    pairs = []
    for i, layer in enumerate(enc, start=1):
        try:
            target = dnn.get_layer(f"hidden{i}")
        except ValueError:
            raise RadiogenomicsError(f"transfer_encoder: the network has no layer hidden{i}") from None
        src = layer.get_weights()
        dst = target.get_weights()
        if [w.shape for w in src] != [w.shape for w in dst]:
            raise RadiogenomicsError(
                f"transfer_encoder: {layer.name} has weight shapes {[w.shape for w in src]} but "
                f"hidden{i} has {[w.shape for w in dst]} (same genes and autoencoder.hidden needed)"
            )
        target.set_weights(src)
        pairs.append((layer.name, target.name))
    return pairs
