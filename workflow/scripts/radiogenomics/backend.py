"""TensorFlow and Keras, imported on first use.

Importing TensorFlow costs seconds of CPU and, on a GPU machine, claims the visible GPUs.
So no module of the package imports it at module level: every function that needs it calls
:func:`tensorflow` or :func:`keras` (the table, selection and plotting code never does), and
the training scripts claim their GPU slot (:func:`radiogenomics.gpu.claim`) before anything
calls these. :func:`configure_threads` sets the size of TensorFlow's thread pools, which must
happen before TensorFlow runs its first op.
"""

from __future__ import annotations


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
