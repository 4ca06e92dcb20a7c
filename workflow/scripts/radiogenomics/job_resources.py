"""Memory and run-time requests of the training jobs (the rules' ``resources:``).

The estimates follow from the models' sizes (:func:`radiogenomics.models.autoencoder_sizes`,
:func:`~radiogenomics.models.dnn_sizes`, :func:`~radiogenomics.models.parameter_count`) and
the cohort's size:

    mem_mb  = TF_BASE_MB + (12 P + 12 P_loaded + 8 n g) / 2^20
    runtime = max(MIN_RUNTIME_MIN, epochs (n // batch + 1) P FLOPS_PER_PARAMETER_STEP
                                   / PESSIMISTIC_FLOPS / 60 + RUNTIME_MARGIN_MIN)

with P the trained model's parameters, P_loaded the pre-trained autoencoder's (network
jobs load it: its file buffer, the loaded model and the copy into the encoder), n patients
and g genes. The cohort's size is read from the ingested expression matrix once it exists
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


def training_job(kind: str, *, n_genes: int, n_patients: int, hidden, hidden4: int,
                 n_outputs: int, epochs: int, batch_size: int) -> dict:
    """``{"mem_mb", "runtime", "gpu"}`` of one training job; ``kind`` is "autoencoder"
    or "dnn" (any supervised network, which loads the pre-trained autoencoder)."""
    ae = autoencoder_sizes(n_genes, hidden)
    if kind == "autoencoder":
        trained, loaded = parameter_count(ae), 0
    else:
        trained = parameter_count(dnn_sizes(n_genes, encoder_sizes(hidden), hidden4, n_outputs))
        loaded = parameter_count(ae)
    mem_bytes = (BYTES_PER_TRAINED_PARAMETER * trained + BYTES_PER_LOADED_PARAMETER * loaded
                 + BYTES_PER_EXPRESSION_VALUE * n_patients * n_genes)
    steps = epochs * (n_patients // batch_size + 1)
    minutes = steps * trained * FLOPS_PER_PARAMETER_STEP / PESSIMISTIC_FLOPS / 60
    return {
        "mem_mb": int(TF_BASE_MB + mem_bytes / 2**20),
        "runtime": max(MIN_RUNTIME_MIN, int(minutes) + RUNTIME_MARGIN_MIN),
        "gpu": 1,
    }


def attribution_job(training: dict) -> dict:
    """A network's training job plus the attributions computed in the same process."""
    return dict(training, mem_mb=training["mem_mb"] + ATTRIBUTION_EXTRA_MB,
                runtime=training["runtime"] + ATTRIBUTION_EXTRA_MIN)
