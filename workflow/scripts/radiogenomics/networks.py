"""One training recipe for every network job: seeds, split, build, encoder transfer, fit.

Every training job of the workflow -- the autoencoder's CV and final jobs (paper §2.2.2), the
radiogenomic network's grid jobs and comparison networks (§2.2.3, §2.4), and the association
stage's retrained fold and final models -- calls :func:`train` with

* a *spec*: :class:`AutoencoderSpec` or :class:`NetworkSpec` (architecture, configuration name,
  :class:`SGD` settings, the config seed);
* the *data*: :class:`Data` (inputs and targets by patient, and the fold of each patient to
  train on; :func:`read_profiles` for the autoencoder, :func:`read_supervised` for the network);
* the *fold*: k (train on the other folds, validate on fold k) or None (train on every
  patient of ``data.folds``, no validation).

:func:`train_folds` trains several folds of one spec in one job (``training.folds_per_job``):
with ``backend="tensorflow"`` one after another, each exactly as :func:`train` trains it alone
(so the files are those of single-fold jobs, byte for byte); with ``backend="jax"`` the folds'
Keras models are built by TensorFlow exactly as :func:`train` builds them (same seeds, same
encoder transfer) and trained all at once by :func:`radiogenomics.jax_loop.fit_folds`
(``training.backend: jax``; the models get the trained weights back, so saving and predicting
are unchanged).

The job's seed is ``seeds.derive(seed, "autoencoder", config, fold)`` or
``seeds.derive(seed, "dnn", variant, config, fold)`` with ``fold`` = ``"final"`` for None, so
the association stage's retraining of the selected ``pretrain_dropout`` configuration on fold k
is its CV job again: same seed, data and hyperparameters, hence (on a deterministic device)
the same model. :func:`check_reproduces` says whether it was, and raises when it was not.
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass, field

import pandas as pd

import numpy as np

from . import backend, io, models, seeds, sgd_loop, training
from .cohort import supervised_data
from .errors import RadiogenomicsError
from .folds import split

log = logging.getLogger(__name__)

#: "the retrained model is the CV model" when its last validation loss equals the CV job's at
#: that epoch to this relative tolerance: on the CPU the two runs are bit-identical; the
#: tolerance leaves room for another float32 summation order (another thread count), while a
#: differently trained model differs by far more
REPRODUCE_RTOL = 1e-4
#: absolute floor of that comparison, for validation losses near 0 (float32 resolution)
REPRODUCE_ATOL = 1e-7
#: training.backend values: TensorFlow's fast loop (radiogenomics.training) or JAX (jax_loop)
BACKENDS = ("tensorflow", "jax")


@dataclass(frozen=True)
class SGD:
    """The optimiser (paper §2.2: SGD with momentum and Keras-2 decay) and the fast loop's
    settings (:func:`radiogenomics.training.fit`)."""

    learning_rate: float
    decay: float
    momentum: float
    batch_size: int
    epochs: int
    flush_every: int = sgd_loop.FLUSH_EVERY
    span: bool = True
    block_mb: float = sgd_loop.BLOCK_MB

    def fit_arguments(self) -> dict:
        return {
            "learning_rate": float(self.learning_rate), "decay": float(self.decay),
            "momentum": float(self.momentum), "batch_size": int(self.batch_size),
            "epochs": int(self.epochs), "flush_every": int(self.flush_every),
            "span": bool(self.span), "block_mb": float(self.block_mb),
        }


@dataclass(frozen=True)
class AutoencoderSpec:
    """One autoencoder configuration: ``hidden`` sizes, hidden ``activation``, output activation."""

    config: str
    hidden: tuple
    activation: str
    output_activation: str
    sgd: SGD
    seed: int
    loss = "mse"
    pretrained = False

    def run_seed(self, fold) -> int:
        return seeds.derive(self.seed, "autoencoder", self.config, _fold_key(fold))

    def build(self, n_inputs: int, n_outputs: int, seed: int):
        """(model, names of the non-negative layers): :func:`radiogenomics.models.build_autoencoder`."""
        if n_outputs != n_inputs:
            raise RadiogenomicsError(f"autoencoder: {n_outputs} targets for {n_inputs} inputs (targets = inputs)")
        return models.build_autoencoder(n_inputs, list(self.hidden), self.activation, self.output_activation, seed), []

    def describe(self) -> str:
        return f"autoencoder {self.config}"


@dataclass(frozen=True)
class NetworkSpec:
    """One radiogenomic network: ``variant`` (``pretrain_dropout``, ``pretrain``, ``scratch``),
    its grid ``config`` name, the autoencoder's ``ae_hidden`` sizes (the first layers have the
    encoder's), ``hidden4`` units, ``dropout`` rate, ``nonneg`` mode, and whether the
    autoencoder's encoder weights are transferred (``pretrained``)."""

    variant: str
    config: str
    ae_hidden: tuple
    hidden4: int
    dropout: float
    nonneg: str
    pretrained: bool
    sgd: SGD
    seed: int
    loss = "mae"

    def run_seed(self, fold) -> int:
        return seeds.derive(self.seed, "dnn", self.variant, self.config, _fold_key(fold))

    def build(self, n_inputs: int, n_outputs: int, seed: int):
        """(model, names of the non-negative layers): :func:`radiogenomics.models.build_dnn`."""
        return models.build_dnn(n_inputs, models.encoder_sizes(self.ae_hidden), int(self.hidden4), n_outputs,
                                float(self.dropout), self.nonneg, seed)

    def describe(self) -> str:
        return f"network {self.variant} {self.config}"


def _fold_key(fold):
    return "final" if fold is None else int(fold)


@dataclass(frozen=True)
class Data:
    """``inputs`` (patients × genes, standardised expression), ``targets`` (patients × outputs;
    for the autoencoder the inputs themselves) and ``folds`` (patient -> fold: the patients a
    job trains and validates on)."""

    inputs: pd.DataFrame
    targets: pd.DataFrame
    folds: pd.Series

    def split(self, fold) -> tuple[list, list]:
        """(training, validation) patients of ``fold``; every patient and none for None."""
        if fold is None:
            return list(self.folds.index), []
        return split(self.folds, int(fold))


def read_profiles(expression_path, folds_path) -> Data:
    """The autoencoder's data: every profile of ``folds_path`` (results/autoencoder/folds.tsv)."""
    expression = io.read_tsv(expression_path)
    folds = io.read_tsv(folds_path)["fold"].astype(int)
    missing = sorted(set(folds.index) - set(expression.index))
    if missing:
        raise RadiogenomicsError(f"{folds_path}: patients without a profile in {expression_path}: {missing[:5]}")
    return Data(inputs=expression, targets=expression, folds=folds)


def read_supervised(expression_path, features_path, folds_path) -> Data:
    """The network's data: the supervised patients of ``folds_path`` with their scaled image
    features (:func:`radiogenomics.cohort.supervised_data` checks them)."""
    expression = io.read_tsv(expression_path)
    folds = io.read_tsv(folds_path)["fold"].astype(int)
    targets = supervised_data(expression, io.read_tsv(features_path), folds,
                              sources=(expression_path, features_path, folds_path))
    return Data(inputs=expression, targets=targets, folds=folds)


@dataclass
class Trained:
    """A trained ``model`` with its ``history`` (``epoch``, ``loss``, ``val_loss``), the run's
    ``seed``, its ``train_ids`` and ``val_ids``, and (when asked for) every epoch's validation
    predictions (``val_predictions``: float32 arrays, validation patients × outputs)."""

    model: object
    history: pd.DataFrame
    seed: int
    train_ids: list
    val_ids: list
    val_predictions: list | None = field(default=None)

    def predict(self, inputs: pd.DataFrame, columns) -> pd.DataFrame:
        """Predictions of the model for the rows of ``inputs`` (index kept, ``columns`` named)."""
        pred = self.model.predict(inputs.to_numpy("float32"), batch_size=256, verbose=0)
        return pd.DataFrame(pred, index=pd.Index(inputs.index, name="patient"), columns=list(columns))


def _check_backend(name) -> str:
    if name not in BACKENDS:
        raise RadiogenomicsError(f"config key training.backend: expected one of {BACKENDS}, got {name!r}")
    return name


def _build(spec, data: Data, fold, autoencoder):
    """(model, nonneg layer names, training ids, validation ids, seed) of ``fold``: the model
    built from the fold's seed, the autoencoder's encoder transferred into a pre-trained one
    (a path is loaded after the network is built and dropped at once)."""
    train_ids, val_ids = data.split(fold)
    seed = spec.run_seed(fold)
    n_inputs, n_outputs = data.inputs.shape[1], data.targets.shape[1]
    log.info("%s (%s): %d training / %d validation patients, %d inputs, %d outputs, seed %d", spec.describe(),
             "all patients" if fold is None else f"fold {fold}", len(train_ids), len(val_ids), n_inputs,
             n_outputs, seed)
    model, nonneg = spec.build(n_inputs, n_outputs, seed)
    if spec.pretrained:
        if autoencoder is None:
            raise RadiogenomicsError(f"{spec.describe()}: pre-trained, but no autoencoder given")
        source = autoencoder
        if isinstance(source, (str, os.PathLike)):
            source = backend.keras().models.load_model(source, compile=False)
        log.info("transferred %s", models.transfer_encoder(source, model))
        del source
    return model, nonneg, train_ids, val_ids, seed


def train(spec, data: Data, fold, *, autoencoder=None, keep_val_predictions: bool = False,
          backend: str = "tensorflow") -> Trained:
    """Train ``spec`` on ``data`` with fold ``fold`` held out (None: all patients); see the
    module docstring. ``autoencoder``: the trained autoencoder whose encoder a ``pretrained``
    network starts from, a Keras model or the path of its ``.keras`` file (then loaded after
    the network is built and dropped before training, as the CV jobs always did).
    ``keep_val_predictions``: also keep every epoch's validation predictions
    (``selection.epoch: best``). ``backend``: ``"tensorflow"`` (:func:`radiogenomics.training.fit`)
    or ``"jax"`` (:func:`train_folds` with this one fold)."""
    if _check_backend(backend) == "jax":
        return train_folds(spec, data, [fold], autoencoder=autoencoder, keep_val_predictions=keep_val_predictions,
                           backend="jax")[0]
    model, nonneg, train_ids, val_ids, seed = _build(spec, data, fold, autoencoder)
    x = data.inputs.loc[train_ids].to_numpy("float32")
    y = data.targets.loc[train_ids].to_numpy("float32")
    validation = {}
    if val_ids:
        validation = {"x_val": data.inputs.loc[val_ids].to_numpy("float32"),
                      "y_val": data.targets.loc[val_ids].to_numpy("float32")}
    predictions = [] if keep_val_predictions and val_ids else None
    history = training.fit(model, x, y, **validation, loss=spec.loss, seed=seed, nonneg=nonneg,
                           val_predictions=predictions, **spec.sgd.fit_arguments())
    if len(history):
        log.info("final epoch: loss %.6g, val_loss %.6g", history["loss"].iloc[-1], history["val_loss"].iloc[-1])
    return Trained(model=model, history=history, seed=seed, train_ids=train_ids, val_ids=val_ids,
                   val_predictions=predictions)


def train_folds(spec, data: Data, folds, *, autoencoder=None, keep_val_predictions: bool = False,
                backend: str = "tensorflow") -> list[Trained]:
    """Train ``spec`` once per fold of ``folds`` (each k: train on the other folds, validate on
    k; None: all patients), in one job; a list of :class:`Trained` in the order of ``folds``.

    ``backend="tensorflow"``: :func:`train` for each fold in turn (the same numbers as one job
    per fold). ``backend="jax"``: every fold's model is built as :func:`train` builds it, then
    all are trained by one :func:`radiogenomics.jax_loop.fit_folds` call (vmapped over the
    folds' stacked weights; every fold sees the batches and dropout masks it would see alone)
    and get the trained weights back; histories have the same columns (``epoch``, ``loss``,
    ``val_loss``). The other arguments are :func:`train`'s.
    """
    folds = list(folds)
    if not folds:
        raise RadiogenomicsError(f"{spec.describe()}: no folds to train")
    if _check_backend(backend) == "tensorflow":
        return [train(spec, data, fold, autoencoder=autoencoder, keep_val_predictions=keep_val_predictions)
                for fold in folds]
    return _train_folds_jax(spec, data, folds, autoencoder, keep_val_predictions)


def _train_folds_jax(spec, data: Data, folds, autoencoder, keep_val_predictions) -> list[Trained]:
    """:func:`train_folds` with ``backend="jax"``: TensorFlow builds the models (off the GPU),
    JAX trains them. ``x`` and ``y`` hold every patient of ``data.folds`` once; each fold is
    its training and validation rows' positions in them, in :func:`train`'s order."""
    backend.keep_tensorflow_off_gpus()
    backend.jax()  # a missing JAX is one line that says how to install it
    from . import jax_loop  # noqa: PLC0415 (imports JAX)

    rows = pd.Index(data.folds.index)
    x = data.inputs.loc[rows].to_numpy("float32")
    y = data.targets.loc[rows].to_numpy("float32")
    if isinstance(autoencoder, (str, os.PathLike)) and spec.pretrained:
        autoencoder = backend.keras().models.load_model(autoencoder, compile=False)  # once for all folds
    built, layers, initial, jobs = [], None, [], []
    for fold in folds:
        model, nonneg, train_ids, val_ids, seed = _build(spec, data, fold, autoencoder)
        described = jax_loop.describe(model, nonneg)
        if layers is not None and described != layers:
            raise RadiogenomicsError(f"{spec.describe()}: the folds' models differ in their layers")
        layers = described
        initial.append(jax_loop.weights_of(model))
        jobs.append(jax_loop.Fold(train=rows.get_indexer(train_ids), val=rows.get_indexer(val_ids), seed=seed))
        built.append((model, train_ids, val_ids, seed))
    del autoencoder
    sgd = spec.sgd
    results = jax_loop.fit_folds(
        layers, initial, x, y, jobs, loss=spec.loss, learning_rate=float(sgd.learning_rate),
        decay=float(sgd.decay), momentum=float(sgd.momentum), batch_size=int(sgd.batch_size),
        epochs=int(sgd.epochs), keep_val_predictions=bool(keep_val_predictions))
    trained = []
    for (model, train_ids, val_ids, seed), result in zip(built, results, strict=True):
        jax_loop.set_weights(model, result.weights)
        history = pd.DataFrame({
            "epoch": np.asarray(result.history["epoch"], dtype=np.int64),
            "loss": np.asarray(result.history["loss"], dtype=np.float64),
            "val_loss": np.asarray(result.history["val_loss"], dtype=np.float64),
        })
        predictions = None
        if keep_val_predictions and val_ids:
            predictions = [np.asarray(p, dtype=np.float32) for p in result.val_predictions]
        if len(history):
            log.info("seed %d, final epoch: loss %.6g, val_loss %.6g", seed, history["loss"].iloc[-1],
                     history["val_loss"].iloc[-1])
        trained.append(Trained(model=model, history=history, seed=seed, train_ids=train_ids, val_ids=val_ids,
                               val_predictions=predictions))
    return trained


def check_reproduces(history: pd.DataFrame, cv_history: pd.DataFrame, cv_path) -> None:
    """Raise unless a fold retrain reproduced its CV job: the CV job's ``val_loss`` at the
    retrain's last epoch equals the retrain's (:data:`REPRODUCE_RTOL`). The retrain stops at
    the selected epoch: the CV job's last or, with ``selection.epoch: best``, an earlier one."""
    n = len(history)
    b = float(history["val_loss"].iloc[-1]) if n else math.nan
    a = float(cv_history["val_loss"].iloc[n - 1]) if 0 < n <= len(cv_history) else math.nan
    if not math.isclose(a, b, rel_tol=REPRODUCE_RTOL, abs_tol=REPRODUCE_ATOL):
        raise RadiogenomicsError(
            f"{cv_path}: the retrained model's validation loss after epoch {n} is {b:.6g}, the CV job's "
            f"{a:.6g}: it is not the CV model (non-deterministic device, or training code changed since "
            f"the CV jobs ran: rerun them)")
    log.info("validation loss after epoch %d %.6g equals the CV job's (%s): same model", n, b, cv_path)


def epoch_count(selected: dict, epochs: int) -> int:
    """Epochs of the selected model: ``selected.json``'s ``epoch`` (``selection.epoch: best``)
    or all ``epochs``."""
    return int(selected.get("epoch") or epochs)

