"""Memory and run-time requests of the training jobs (the rules' ``resources:``).

The estimates follow from the models' sizes (:func:`radiogenomics.models.autoencoder_sizes`,
:func:`~radiogenomics.models.dnn_sizes`, :func:`~radiogenomics.models.parameter_count`) and
the cohort's size:

    mem_mb  = TF_BASE_MB [+ JAX_BASE_MB] + (12 N P + 12 P_loaded + 8 n g) / 2^20
    runtime = max(MIN_RUNTIME_MIN, N S P FLOPS_PER_PARAMETER_STEP / PESSIMISTIC_FLOPS / 60
                                   + RUNTIME_MARGIN_MIN)                       (tensorflow)
    runtime = max(MIN_RUNTIME_MIN, S (GPU_STEP_LATENCY_S + N P GPU_BYTES_PER_PARAMETER_STEP
                                      / PESSIMISTIC_GPU_BYTES_PER_S) / 60 + RUNTIME_MARGIN_MIN)  (jax)

with N the folds the job trains (``training.folds_per_job``), S = epochs (n // batch + 1) the
SGD steps of one fold, P the trained model's parameters, P_loaded the pre-trained
autoencoder's (network jobs load it once: its file buffer, the loaded model and the copy into
the encoder), n patients and g genes. The data are held once, every fold's model and training
state once per fold. The TensorFlow backend trains the N folds one after another on the CPU:
N times one fold's time. The JAX backend is the GPU path: the N folds train at once, each step
bounded by memory traffic (every fold's weights, gradients and momentum once) plus a fixed
latency; :func:`gpu_memory_mb` is the GPU memory such a job needs
(``workflow/profiles/slurm/config.yaml`` says how to choose N from it). The cohort's size is read from the ingested expression matrix once it exists
(:func:`matrix_shape`); before that (a dry run of a real cohort) it is the paper's matrix.
Measured at the paper's sizes (tests/test_paper_size.py): the pre-trained variants' jobs
peak 500-650 MB above the scratch network's 1040 MB, inside these requests.
"""

from __future__ import annotations

import os

from .models import autoencoder_sizes, dnn_sizes, encoder_sizes, parameter_count

#: The paper's HT_HG-U133A matrix (curatedTCGAData: 12,042 genes x 528 samples): the size
#: assumed before the ingested matrix exists.
PAPER_GENES = 12042
PAPER_PATIENTS = 528

#: TensorFlow's own resident memory (import, graph, thread pools), measured about 1.2 GB.
TF_BASE_MB = 1500
#: float32 weights, gradients and momentum: 3 x 4 bytes per trained parameter.
BYTES_PER_TRAINED_PARAMETER = 12
#: float32 file buffer, loaded model and encoder copy: 3 x 4 bytes per loaded parameter.
BYTES_PER_LOADED_PARAMETER = 12
#: The expression matrix as float64 (read by pandas before the float32 copy).
BYTES_PER_EXPRESSION_VALUE = 8
#: Forward and backward pass: about 6 floating-point operations per parameter and row.
FLOPS_PER_PARAMETER_STEP = 6
#: A pessimistic sustained rate for skinny float32 products on one CPU core.
PESSIMISTIC_FLOPS = 0.5e9
#: No training job is requested for less (start-up, imports, writing outputs).
MIN_RUNTIME_MIN = 10
RUNTIME_MARGIN_MIN = 5
#: Attribution jobs also hold a few hundred MB of Jacobians (integrated gradients and
#: masking) and spend minutes on IG, masking and activation maximisation at paper size.
#: JAX's own resident memory (import, compiled programs) beside TensorFlow's in a
#: training.backend: jax job: about 200 MB measured on the CPU, plus its CUDA libraries on a GPU.
JAX_BASE_MB = 500
#: float32 memory traffic of one SGD step per parameter and fold, nothing fused: forward and
#: backward read the weight (8 bytes), the gradient is written and read (8), momentum and
#: weight are read and written (16).
GPU_BYTES_PER_PARAMETER_STEP = 32
#: A pessimistic sustained memory bandwidth of a training GPU: a third of an H100's 3.35 TB/s
#: (batch-10 steps are skinny products that do not reach the peak).
PESSIMISTIC_GPU_BYTES_PER_S = 1.0e12
#: A pessimistic fixed cost of one step on a GPU (kernel launches of the forward and
#: backward pass and the update, inside the device-side loop), whatever the number of folds.
GPU_STEP_LATENCY_S = 1.0e-3
#: GPU memory per trained parameter and fold: float32 weights, momentum, gradient and the
#: initial weights handed to the device.
GPU_BYTES_PER_TRAINED_PARAMETER = 16
#: GPU memory of the CUDA context, XLA's compiled programs and their workspace.
GPU_BASE_MB = 500
ATTRIBUTION_EXTRA_MB = 1024
ATTRIBUTION_EXTRA_MIN = 30

_SHAPES: dict = {}


def matrix_shape(path) -> tuple[int, int] | None:
    """(rows, columns) of a patient x gene TSV with a header row and an index column, or
    None when the file does not exist yet. Cached per path and modification time."""
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return None
    key = (os.fspath(path), stat.st_mtime_ns, stat.st_size)
    if key not in _SHAPES:
        with open(path, "rb") as fh:
            columns = fh.readline().count(b"\t")
            rows = sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b""))
        _SHAPES[key] = (rows, columns)
    return _SHAPES[key]


def _parameters(kind: str, n_genes: int, hidden, hidden4: int, n_outputs: int) -> tuple[int, int]:
    """(trained, loaded) parameters of a job: the autoencoder, or a network that loads it."""
    ae = autoencoder_sizes(n_genes, hidden)
    if kind == "autoencoder":
        return parameter_count(ae), 0
    return parameter_count(dnn_sizes(n_genes, encoder_sizes(hidden), hidden4, n_outputs)), parameter_count(ae)


def training_job(kind: str, *, n_genes: int, n_patients: int, hidden, hidden4: int,
                 n_outputs: int, epochs: int, batch_size: int, folds: int = 1,
                 backend: str = "tensorflow") -> dict:
    """``{"mem_mb", "runtime", "gpu"}`` of one training job of ``folds`` folds (module
    docstring); ``kind`` is "autoencoder" or "dnn" (any supervised network, which loads the
    pre-trained autoencoder), ``backend`` the training.backend."""
    trained, loaded = _parameters(kind, n_genes, hidden, hidden4, n_outputs)
    folds = int(folds)
    mem_bytes = (BYTES_PER_TRAINED_PARAMETER * folds * trained + BYTES_PER_LOADED_PARAMETER * loaded
                 + BYTES_PER_EXPRESSION_VALUE * n_patients * n_genes)
    steps = epochs * (n_patients // batch_size + 1)
    if backend == "jax":
        base = TF_BASE_MB + JAX_BASE_MB
        step_s = GPU_STEP_LATENCY_S + folds * trained * GPU_BYTES_PER_PARAMETER_STEP / PESSIMISTIC_GPU_BYTES_PER_S
        minutes = steps * step_s / 60
    else:
        base = TF_BASE_MB
        minutes = folds * steps * trained * FLOPS_PER_PARAMETER_STEP / PESSIMISTIC_FLOPS / 60
    return {
        "mem_mb": int(base + mem_bytes / 2**20),
        "runtime": max(MIN_RUNTIME_MIN, int(minutes) + RUNTIME_MARGIN_MIN),
        "gpu": 1,
    }


def gpu_memory_mb(kind: str, *, n_genes: int, n_patients: int, hidden, hidden4: int,
                  n_outputs: int, folds: int = 1) -> int:
    """GPU memory of a training.backend: jax job of ``folds`` folds:
    GPU_BASE_MB + (16 N P + 4 n g) / 2^20 (every fold's training state, the data once)."""
    trained, _ = _parameters(kind, n_genes, hidden, hidden4, n_outputs)
    return int(GPU_BASE_MB + (GPU_BYTES_PER_TRAINED_PARAMETER * int(folds) * trained
                              + 4 * n_patients * n_genes) / 2**20)


def attribution_job(training: dict) -> dict:
    """A network's training job plus the attributions computed in the same process."""
    return dict(training, mem_mb=training["mem_mb"] + ATTRIBUTION_EXTRA_MB,
                runtime=training["runtime"] + ATTRIBUTION_EXTRA_MIN)
