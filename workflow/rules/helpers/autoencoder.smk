# Input functions and helpers of the autoencoder stage (workflow/rules/autoencoder.smk).


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
        "backend": TRAINING_BACKEND,
    }


def _ae_cv_params():
    """Params of a CV job beside _ae_training_params: its grid point (from the wildcards)
    and the job layout (training.folds_per_job)."""
    return {
        "config": lambda w: f"{w.activation}_lr{w.lr}_decay{w.decay}",
        "activation": lambda w: w.activation,
        "learning_rate": lambda w: float(w.lr),
        "decay": lambda w: float(w.decay),
        "folds_per_job": FOLDS_PER_JOB,
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
