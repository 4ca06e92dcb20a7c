# Configuration validation, naming conventions and input functions shared by every
# stage. All logic lives in the package radiogenomics (workflow/scripts/radiogenomics).
import glob
import os
import re
import sys
from pathlib import Path

# (The package's import path is set up by the Snakefile.)

from snakemake import __version__ as _SNAKEMAKE_VERSION

from radiogenomics import configuration as _configuration
from radiogenomics import names as _names
from radiogenomics.errors import RadiogenomicsError
from radiogenomics.features_table import target_columns as _target_columns

# Validate every key before any job starts (defaults from the schema are filled in).
try:
    _configuration.validate(
        config, Path(workflow.basedir) / "schemas" / "config.schema.yaml"
    )
except RadiogenomicsError as _err:
    raise WorkflowError(str(_err)) from None

# Ctrl-C always stops the run: Snakemake (9.x up to at least 9.27.1) drops a SIGINT that
# arrives while its console handler prints a line, and Python drops one that arrives inside
# a weakref callback; the guards raise it right after the print or the callback instead
# (workflow/scripts/radiogenomics/interrupts.py says how and why).
from snakemake.logging import ColorizingTextHandler as _ConsoleHandler
from radiogenomics.interrupts import (
    defer_sigint_during,
    redeliver_unraisable_interrupts,
)

defer_sigint_during(_ConsoleHandler, "emit")
redeliver_unraisable_interrupts()

SEED = int(config["seed"])
FOLDS = list(range(1, int(config["cv"]["folds"]) + 1))
# training.folds_per_job: 1 = one job per (configuration, fold), the rules autoencoder_cv,
# dnn_cv and dnn_compare; N > 1 = one job per configuration and run of N folds (FOLD_CHUNKS,
# the last may be shorter), one rule per run (e.g. autoencoder_cv_folds1to5), each fold's
# files at the same paths as with one fold per job.
FOLDS_PER_JOB = _configuration.folds_per_job(config)
FOLD_CHUNKS = _configuration.fold_chunks(FOLDS, FOLDS_PER_JOB)
TRAINING_BACKEND = config["training"]["backend"]
# The image features the models predict: the 20 extracted from the segmentations, or the
# columns chosen from data.features_table (read from its header; radiogenomics.features_table).
FEATURES_TABLE = config["data"]["features_table"]
try:
    FEATURES = _target_columns(FEATURES_TABLE)
except RadiogenomicsError as _err:
    raise WorkflowError(str(_err)) from None
FEATURE_UNITS = dict(FEATURES_TABLE["units"]) if FEATURES_TABLE else {}
DNN_VARIANTS = list(_names.NETWORKS)

# Final outputs of every stage; each rules/<stage>.smk appends its own, and rule all
# (the default target) builds them all.
ALL_TARGETS = []


wildcard_constraints:
    fold=r"\d+",
    lr=r"[0-9.e+-]+",
    decay=r"[0-9.e+-]+",
    activation=r"tanh|sigmoid",
    feature="|".join(re.escape(f) for f in FEATURES),
    patient=r"[^/]+",


def num(x):
    """How a hyperparameter value is written in paths: 0.3 -> '0.3', 5e-05 -> '5e-05'."""
    return f"{float(x):g}"


def is_demo():
    return bool(config["demo"]["enabled"])


def training_resources(kind, folds=1):
    """mem_mb / runtime / gpu of a training job ("autoencoder" or "dnn") of ``folds`` folds,
    from the models' sizes and the cohort's (radiogenomics/job_resources.py states the
    estimates): the ingested matrix once it exists, the demo's configured size, or the
    paper's matrix.
    """
    from radiogenomics import job_resources

    shape = job_resources.matrix_shape("results/expression/expression.tsv")
    if shape is None and is_demo():
        shape = (config["demo"]["n_patients"], config["demo"]["n_genes"])
    patients, genes = shape or (job_resources.PAPER_PATIENTS, job_resources.PAPER_GENES)
    section = config[kind]
    return job_resources.training_job(
        kind,
        n_genes=genes,
        n_patients=patients,
        hidden=config["autoencoder"]["hidden"],
        hidden4=config["dnn"]["hidden4"],
        n_outputs=len(FEATURES),
        epochs=section["epochs"],
        batch_size=section["batch_size"],
        folds=folds,
        backend=TRAINING_BACKEND,
    )


def _training_loop():
    """The training loop's settings (training.flush_every, span, block_mb): a param of every
    training rule, since they change the float32 summation order (radiogenomics/sgd_loop.py).
    """
    t = config["training"]
    return {
        "flush_every": int(t["flush_every"]),
        "span": bool(t["span"]),
        "block_mb": float(t["block_mb"]),
    }


def _ae_grid():
    """[(config name, {activation, learning_rate, decay})]; the name is
    '<activation>_lr<lr>_decay<decay>', the order activation, learning rate, decay."""
    g = config["autoencoder"]["grid"]
    return [
        (
            f"{act}_lr{num(lr)}_decay{num(decay)}",
            {"activation": act, "learning_rate": float(lr), "decay": float(decay)},
        )
        for act in g["activation"]
        for lr in g["learning_rate"]
        for decay in g["decay"]
    ]


def read_selected(path):
    """The selected.json of a selection checkpoint as a dict ({} when not written yet)."""
    import json

    try:
        with open(path) as fh:
            return json.load(fh)
    except FileNotFoundError:
        return {}


def _dnn_grid():
    """[(config name, {learning_rate, decay})]; the name is 'lr<lr>_decay<decay>'."""
    g = config["dnn"]["grid"]
    return [
        (
            f"lr{num(lr)}_decay{num(decay)}",
            {"learning_rate": float(lr), "decay": float(decay)},
        )
        for lr in g["learning_rate"]
        for decay in g["decay"]
    ]


def _dnn_training_params():
    """Every config value a supervised network's training uses (params: rerun triggers)."""
    dnn = config["dnn"]
    return {
        "seed": SEED,
        "ae_hidden": [int(h) for h in config["autoencoder"]["hidden"]],
        "hidden4": int(dnn["hidden4"]),
        "nonneg": dnn["nonneg"],
        "momentum": float(dnn["momentum"]),
        "batch_size": int(dnn["batch_size"]),
        "epochs": int(dnn["epochs"]),
        "loop": _training_loop(),
        "backend": TRAINING_BACKEND,
    }


# The supervised networks' data (grid, comparison, retrained and final networks).
SUPERVISED_DATA = {
    "expression": "results/expression/expression.tsv",
    "features": "results/features/features_scaled.tsv",
    "folds": "results/cohort/folds.tsv",
}
