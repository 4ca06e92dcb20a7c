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
    _configuration.validate(config, Path(workflow.basedir) / "schemas" / "config.schema.yaml")
except RadiogenomicsError as _err:
    raise WorkflowError(str(_err)) from None

# Ctrl-C always stops the run: Snakemake (9.x up to at least 9.27.1) drops a SIGINT that
# arrives while its console handler prints a line; the guard raises it right after the
# print instead (workflow/scripts/radiogenomics/interrupts.py says how and why).
from snakemake.logging import ColorizingTextHandler as _ConsoleHandler
from radiogenomics.interrupts import defer_sigint_during

defer_sigint_during(_ConsoleHandler, "emit")

SEED = int(config["seed"])
FOLDS = list(range(1, int(config["cv"]["folds"]) + 1))
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


# Segmentation discovery walks the whole folder (and reads data.patient_map): done once per
# Snakemake invocation, not once per patient job (at 528 patients in the TCIA tree this
# took a dry run of the features stage from 26 s to 5 s).
_SEGMENTATIONS = {}


def segmentation_files():
    """Patient ID -> segmentation path, after the demo cohort exists (checkpoint)."""
    from radiogenomics.cohort import find_segmentations, patient_map_from

    if is_demo():
        checkpoints.demo_cohort.get()
    if "files" not in _SEGMENTATIONS:
        data = config["data"]
        _SEGMENTATIONS["files"] = find_segmentations(
            segmentation_dir(),
            data["segmentation_glob"],
            data["patient_regex"],
            data["prefer_segmentation"],
            patient_map=patient_map_from(data["patient_map"]),
        )
    return _SEGMENTATIONS["files"]


def expression_inputs(wildcards):
    """The expression files themselves, not their directory (whose time stamp does not
    change when a file in it is edited): an edited, added or removed file reruns ingestion.
    For the demo, after the demo_cohort checkpoint has written them."""
    from radiogenomics.io import input_files

    if is_demo():
        checkpoints.demo_cohort.get()
    return input_files(config["data"]["expression"], config["data"]["sample_sheet"])


def segmentation_folder_files(wildcards):
    """Every file in the segmentation folder (the inventory lists them all, read or not), so
    that adding, removing or editing any file there updates the inventory."""
    from radiogenomics.io import input_files

    segmentation_files()  # after the demo checkpoint; stops on a bad folder
    spec = config["data"]["patient_map"]
    return input_files(segmentation_dir(), spec["file"] if spec else None)


def patient_feature_files(wildcards):
    return [f"results/features/{p}.tsv" for p in sorted(segmentation_files())]


def segmentation_of(wildcards):
    return segmentation_files()[wildcards.patient]


def training_resources(kind):
    """mem_mb / runtime estimates for a training job, scaled by model and cohort size.

    Memory: weights, gradients and momentum (3 x 4 bytes per parameter) plus the input
    matrix, plus 1.5 GB for TensorFlow itself; network jobs also load the pre-trained
    autoencoder (model.keras: its file buffer, the loaded model and the copy into the
    encoder, 3 x 4 bytes per autoencoder parameter). Measured at the paper's sizes
    (tests/test_paper_size.py): the pre-trained variants' jobs peak 500-650 MB above the
    scratch network's 1040 MB. Runtime (minutes): epochs x steps per epoch x parameters at
    a pessimistic 0.5 GFLOP/s per parameter-step, at least 10.
    """
    genes = config["demo"]["n_genes"] if is_demo() else 12042
    patients = config["demo"]["n_patients"] if is_demo() else 528
    hidden = config["autoencoder"]["hidden"]
    ae_sizes = [genes, *hidden, genes]
    sizes = ae_sizes if kind == "autoencoder" else [
        genes, *hidden[: (len(hidden) + 1) // 2], config["dnn"]["hidden4"], len(FEATURES)
    ]
    params = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))
    loaded = 0 if kind == "autoencoder" else sum(a * b + b for a, b in zip(ae_sizes[:-1], ae_sizes[1:]))
    mem_mb = int(1500 + (12 * params + 12 * loaded + 8 * patients * genes) / 2**20)
    section = config[kind]
    steps = section["epochs"] * (patients // section["batch_size"] + 1)
    runtime = max(10, int(steps * params * 6 / 0.5e9 / 60) + 5)
    return {"mem_mb": mem_mb, "runtime": runtime, "gpu": 1}


def _training_loop():
    """The training loop's settings (training.flush_every, span, block_mb): a param of every
    training rule, since they change the float32 summation order (radiogenomics/sgd_loop.py)."""
    t = config["training"]
    return {"flush_every": int(t["flush_every"]), "span": bool(t["span"]), "block_mb": float(t["block_mb"])}


# ---- autoencoder (input functions and helpers of autoencoder.smk) ----


def _ae_grid():
    """[(config name, {activation, learning_rate, decay})] in ae_configs() order."""
    g = config["autoencoder"]["grid"]
    return [
        (f"{act}_lr{num(lr)}_decay{num(decay)}",
         {"activation": act, "learning_rate": float(lr), "decay": float(decay)})
        for act in g["activation"]
        for lr in g["learning_rate"]
        for decay in g["decay"]
    ]

def _ae_training_params():
    ae = config["autoencoder"]
    return {
        "seed": SEED,
        "hidden": [int(h) for h in ae["hidden"]],
        "output_activation": ae["output_activation"],
        "momentum": float(ae["momentum"]),
        "batch_size": int(ae["batch_size"]),
        "epochs": int(ae["epochs"]),
        "loop": _training_loop(),
    }

def _ae_selected_histories(wildcards):
    """The selected configuration's fold histories (waits for the selection checkpoint).

    The retraining depends on these, not on selected.json itself, so re-running the
    selection (e.g. after adding a grid value) retrains only when the choice changes:
    the chosen hyperparameters are params (rerun trigger), not an input file's mtime.
    """
    selected = checkpoints.autoencoder_select.get().output.selected
    name = read_selected(selected)["config"]
    return [f"results/autoencoder/cv/{name}/fold{k}/history.tsv" for k in FOLDS]

def _ae_selected(key):
    """Params function: a value of results/autoencoder/selected.json (None before it exists)."""
    return lambda wildcards: read_selected("results/autoencoder/selected.json").get(key)

def read_selected(path):
    """The selected.json of a selection checkpoint as a dict ({} when not written yet)."""
    import json

    try:
        with open(path) as fh:
            return json.load(fh)
    except FileNotFoundError:
        return {}


# ---- dnn (input functions and helpers of dnn.smk) ----


def _dnn_grid():
    """[(config name, {learning_rate, decay})] in dnn_configs() order."""
    g = config["dnn"]["grid"]
    return [
        (f"lr{num(lr)}_decay{num(decay)}", {"learning_rate": float(lr), "decay": float(decay)})
        for lr in g["learning_rate"]
        for decay in g["decay"]
    ]

def _dnn_training_params():
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
    }

_DNN_DATA = {
    "expression": "results/expression/expression.tsv",
    "features": "results/features/features_scaled.tsv",
    "folds": "results/cohort/folds.tsv",
}

def _comparison_inputs(wildcards):
    """Data, the selected grid configuration's fold histories (after the selection
    checkpoint; not selected.json itself, so an unchanged choice reruns nothing), and the
    autoencoder for the pre-trained variant."""
    selected = checkpoints.dnn_select.get().output.selected
    name = read_selected(selected)["config"]
    inputs = dict(_DNN_DATA, histories=[f"results/dnn/pretrain_dropout/{name}/fold{k}/history.tsv" for k in FOLDS])
    if wildcards.variant == "pretrain":
        inputs["autoencoder"] = "results/autoencoder/final/model.keras"
    return inputs

def _collect_jobs(variant):
    if variant == "pretrain_dropout":
        return [(name, k, f"results/dnn/pretrain_dropout/{name}/fold{k}") for name, _ in _dnn_grid() for k in FOLDS]
    return [("selected", k, f"results/dnn/{variant}/selected/fold{k}") for k in FOLDS]


# ---- evaluation (input functions and helpers of evaluation.smk) ----


EVAL_REFERENCE = _names.REFERENCE

EVAL_NETWORK = _names.GRID_NETWORK  # the network of Figure 3 (the grid-searched one)

def _report_dpi():
    return int(config["report"]["figure_dpi"])


# ---- associations (helpers of associations.smk) ----


ASSOC_MODELS = ["final", *[f"fold{k}" for k in FOLDS]]


def _assoc_cfg():
    return config["associations"]


def _assoc_training_params():
    dnn = config["dnn"]
    return {
        "seed": SEED,
        "ae_hidden": [int(h) for h in config["autoencoder"]["hidden"]],
        "hidden4": int(dnn["hidden4"]),
        "nonneg": dnn["nonneg"],
        "momentum": float(dnn["momentum"]),
        "batch_size": int(dnn["batch_size"]),
        "epochs": int(dnn["epochs"]),
        "dropout": float(dnn["dropout"]),
        "loop": _training_loop(),
    }


_ASSOC_DATA = {
    "expression": "results/expression/expression.tsv",
    "features": "results/features/features_scaled.tsv",
    "folds": "results/cohort/folds.tsv",
}


def _assoc_ig_params():
    cfg = _assoc_cfg()
    return {
        "ig_steps": int(cfg["ig_steps"]),
        "ig_rule": cfg["ig_rule"],
        "patients_per_batch": int(cfg["patients_per_batch"]),
    }


def _assoc_probe_params():
    cfg = _assoc_cfg()
    return {
        "masking_sizes": [int(s) for s in cfg["masking_sizes"]],
        "masking_random": int(cfg["masking_random"]),
        "am_steps": int(cfg["am_steps"]),
        "am_learning_rate": float(cfg["am_learning_rate"]),
        "am_l2": float(cfg["am_l2"]),
        "am_top_n": int(cfg["am_top_n"]),
    }


def _assoc_resources():
    # training_resources("dnn") plus the attribution step run in the same job: IG and masking
    # hold a few hundred MB of Jacobians besides the model and data; IG, masking and activation
    # maximisation take minutes at paper size (see /work/notes/associations.md).
    res = dict(training_resources("dnn"))
    res["mem_mb"] = res["mem_mb"] + 1024
    res["runtime"] = res["runtime"] + 30
    return res


def _assoc_ig_outputs(model):
    return {
        "ig_mean": f"results/associations/ig/{model}/mean.tsv",
        "ig_mean_abs": f"results/associations/ig/{model}/mean_abs.tsv",
        "ig_mean_gradient": f"results/associations/ig/{model}/mean_gradient.tsv",
        "ig_completeness": f"results/associations/ig/{model}/completeness.tsv",
    }
