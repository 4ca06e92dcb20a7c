# Configuration validation, naming conventions and input functions shared by every
# stage. All logic lives in the package radiogenomics (workflow/scripts/radiogenomics).
import glob
import os
import re
import sys
from pathlib import Path

# The package is importable by rule scripts (subprocesses inherit os.environ, and the
# SLURM executor exports the environment), whether or not it was pip-installed.
_PKG_DIR = str(Path(workflow.basedir) / "scripts")
if _PKG_DIR not in sys.path:
    sys.path.insert(0, _PKG_DIR)
os.environ["PYTHONPATH"] = os.pathsep.join(
    p for p in (_PKG_DIR, os.environ.get("PYTHONPATH", "")) if p
)

from radiogenomics import configuration as _configuration
from radiogenomics.errors import RadiogenomicsError
from radiogenomics.names import IMAGE_FEATURES

# Validate every key before any job starts (defaults from the schema are filled in).
try:
    _configuration.validate(config, Path(workflow.basedir) / "schemas" / "config.schema.yaml")
except RadiogenomicsError as _err:
    raise WorkflowError(str(_err)) from None

SEED = int(config["seed"])
FOLDS = list(range(1, int(config["cv"]["folds"]) + 1))
FEATURES = list(IMAGE_FEATURES)
DNN_VARIANTS = ["scratch", "pretrain", "pretrain_dropout"]

# Final outputs of every stage; each rules/<stage>.smk appends its own, and rule all
# (the default target) builds them all.
ALL_TARGETS = []


wildcard_constraints:
    fold=r"\d+",
    lr=r"[0-9.e+-]+",
    decay=r"[0-9.e+-]+",
    activation=r"tanh|sigmoid",
    feature="|".join(FEATURES),
    patient=r"[^/]+",


def num(x):
    """How a hyperparameter value is written in paths: 0.3 -> '0.3', 5e-05 -> '5e-05'."""
    return f"{float(x):g}"


def ae_configs():
    """Autoencoder grid configuration names: '<activation>_lr<lr>_decay<decay>'."""
    g = config["autoencoder"]["grid"]
    return [
        f"{act}_lr{num(lr)}_decay{num(decay)}"
        for act in g["activation"]
        for lr in g["learning_rate"]
        for decay in g["decay"]
    ]


def dnn_configs():
    """Supervised-network grid configuration names: 'lr<lr>_decay<decay>'."""
    g = config["dnn"]["grid"]
    return [f"lr{num(lr)}_decay{num(decay)}" for lr in g["learning_rate"] for decay in g["decay"]]


def is_demo():
    return bool(config["demo"]["enabled"])


def segmentation_dir():
    return config["data"]["segmentations"]


def segmentation_files():
    """Patient ID -> segmentation path, after the demo cohort exists (checkpoint)."""
    from radiogenomics.cohort import find_segmentations

    if is_demo():
        checkpoints.demo_cohort.get()
    return find_segmentations(
        segmentation_dir(),
        config["data"]["segmentation_glob"],
        config["data"]["patient_regex"],
        config["data"]["prefer_segmentation"],
    )


def patient_feature_files(wildcards):
    return [f"results/features/{p}.tsv" for p in sorted(segmentation_files())]


def segmentation_of(wildcards):
    return segmentation_files()[wildcards.patient]


def training_resources(kind):
    """mem_mb / runtime estimates for a training job, scaled by model and cohort size.

    Memory: weights, gradients and momentum (3 x 4 bytes per parameter) plus the input
    matrix, plus 1.5 GB for TensorFlow itself. Runtime (minutes): epochs x steps per
    epoch x parameters at a pessimistic 0.5 GFLOP/s per parameter-step, at least 10.
    """
    genes = config["demo"]["n_genes"] if is_demo() else 12042
    patients = config["demo"]["n_patients"] if is_demo() else 528
    hidden = config["autoencoder"]["hidden"]
    sizes = [genes, *hidden, genes] if kind == "autoencoder" else [
        genes, *hidden[: (len(hidden) + 1) // 2], config["dnn"]["hidden4"], len(FEATURES)
    ]
    params = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))
    mem_mb = int(1500 + (12 * params + 8 * patients * genes) / 2**20)
    section = config[kind]
    steps = section["epochs"] * (patients // section["batch_size"] + 1)
    runtime = max(10, int(steps * params * 6 / 0.5e9 / 60) + 5)
    return {"mem_mb": mem_mb, "runtime": runtime, "gpu": 1}
