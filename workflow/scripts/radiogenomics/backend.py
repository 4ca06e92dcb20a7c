"""TensorFlow, Keras and JAX, imported on first use.

Importing TensorFlow costs seconds of CPU and, on a GPU machine, claims the visible GPUs.
So no module of the package imports it at module level: every function that needs it calls
:func:`tensorflow` or :func:`keras` (the table, selection and plotting code never does), and
the training scripts claim their GPU slot (:func:`radiogenomics.gpu.claim`) before anything
calls these. :func:`configure_threads` sets the size of TensorFlow's thread pools, which must
happen before TensorFlow runs its first op.

With ``training.backend: jax`` TensorFlow still builds, saves and evaluates the Keras models,
but JAX trains them (:mod:`radiogenomics.jax_loop`). Such a job calls
:func:`keep_tensorflow_off_gpus` before TensorFlow's first op, so that TensorFlow never
creates a context on (and reserves the memory of) the job's GPU, and imports JAX through
:func:`jax`, which says how to install it when it is missing.
"""

from __future__ import annotations

import os

from .errors import RadiogenomicsError

#: XLA flag that keeps JAX's CPU matrix products on one thread (Eigen's thread pool off): a job
#: with ``threads: 1`` must not take every core of a machine it shares with other jobs
JAX_ONE_THREAD_FLAG = "--xla_cpu_multi_thread_eigen=false"


def tensorflow():
    """The ``tensorflow`` module (imported on the first call)."""
    import tensorflow as tf  # noqa: PLC0415 (the one place the package imports TensorFlow)

    return tf


def keras():
    """The ``keras`` module (Keras 3 on the TensorFlow backend; imported on the first call)."""
    import keras as keras_module  # noqa: PLC0415

    return keras_module


def configure_threads(threads: int) -> None:
    """Use ``threads`` CPU threads for TensorFlow's intra- and inter-op pools.

    Must run before TensorFlow executes its first op (the pools are created then); the
    training scripts call it with the rule's ``threads``. Once the pools exist (e.g. in a
    test process that already trained a model) they are kept.
    """
    tf = tensorflow()
    threads = max(1, int(threads))
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:  # already initialised: keep its pools
        pass


def configure_job(name: str, threads: int) -> None:
    """Set up a training job's frameworks before anything trains: TensorFlow's thread pools
    (:func:`configure_threads`) and, for ``training.backend`` ``name == "jax"``, TensorFlow off
    the GPUs (:func:`keep_tensorflow_off_gpus`) and JAX imported with ``threads``
    (:func:`jax`)."""
    configure_threads(threads)
    if name == "jax":
        keep_tensorflow_off_gpus()
        jax(threads)


def keep_tensorflow_off_gpus() -> None:
    """Hide every GPU from TensorFlow (``tf.config.set_visible_devices([], "GPU")``), so that
    a ``training.backend: jax`` job leaves its GPU to JAX.

    Must run before TensorFlow executes its first op. When TensorFlow is already initialised
    (a test process that trained before) it is a no-op if TensorFlow sees no GPU, and an
    error if it does (it would hold the GPU's memory beside JAX).
    """
    tf = tensorflow()
    try:
        tf.config.set_visible_devices([], "GPU")
    except RuntimeError:  # already initialised
        if tf.config.get_visible_devices("GPU"):
            raise RadiogenomicsError(
                "training.backend: jax: TensorFlow was initialised on a GPU before the JAX training "
                "started (it would hold the GPU's memory); hide the GPUs from TensorFlow first") from None


def jax(threads: int | None = None):
    """The ``jax`` module (imported on the first call; training.backend: jax).

    ``threads == 1`` adds :data:`JAX_ONE_THREAD_FLAG` to ``XLA_FLAGS`` (unless it is set there
    already) before the import; it only has an effect before JAX's CPU backend starts, and
    none on a GPU. A missing JAX is a :class:`RadiogenomicsError` that says how to install it.
    """
    if threads is not None and int(threads) == 1:
        flags = os.environ.get("XLA_FLAGS", "").split()
        name = JAX_ONE_THREAD_FLAG.split("=")[0]
        if not any(f.split("=")[0] == name for f in flags):
            os.environ["XLA_FLAGS"] = " ".join([*flags, JAX_ONE_THREAD_FLAG])
    try:
        import jax as jax_module  # noqa: PLC0415 (training.backend: jax only)
    except ImportError as exc:
        raise RadiogenomicsError(
            f"config key training.backend: jax needs the jax package ({exc}); install it with "
            "pip install '.[jax]' (CPU) or pip install 'jax[cuda12]' (NVIDIA GPU), see README.md") from None
    return jax_module
