# Input functions and helpers of the dnn stage (workflow/rules/dnn.smk).


def _dnn_fold_outputs(directory, folds):
    """predictions / history / epoch_predictions of each fold of ``folds`` a job trains
    (``directory``: the fold folder with the wildcards left in and {k} for the fold)."""
    files = {
        "predictions": "predictions.tsv",
        "history": "history.tsv",
        "epoch_predictions": "val_predictions.tsv.gz",
    }
    return {
        name: expand(f"{directory}/{file}", k=folds, allow_missing=True)
        for name, file in files.items()
    }


def _dnn_cv_params():
    """Params of a grid job beside its folds: training, grid point, job layout."""
    return {
        **_dnn_training_params(),
        "variant": "pretrain_dropout",
        "config": lambda w: f"lr{w.lr}_decay{w.decay}",
        "learning_rate": lambda w: float(w.lr),
        "decay": lambda w: float(w.decay),
        "pretrained": True,
        "dropout": float(config["dnn"]["dropout"]),
        "folds_per_job": FOLDS_PER_JOB,
    }


def _dnn_compare_params():
    """Params of a comparison job beside its folds: training, the selected hyperparameters
    (results/dnn/selected.json), job layout."""
    return {
        **_dnn_training_params(),
        "variant": lambda w: w.variant,
        "config": lambda w: read_selected("results/dnn/selected.json").get("config"),
        "learning_rate": lambda w: read_selected("results/dnn/selected.json").get(
            "learning_rate"
        ),
        "decay": lambda w: read_selected("results/dnn/selected.json").get("decay"),
        "pretrained": lambda w: w.variant == "pretrain",
        "dropout": 0.0,
        "folds_per_job": FOLDS_PER_JOB,
    }


def _comparison_inputs(wildcards):
    """Data, the selected grid configuration's fold histories (after the selection
    checkpoint; not selected.json itself, so an unchanged choice reruns nothing), and the
    autoencoder for the pre-trained variant."""
    selected = checkpoints.dnn_select.get().output.selected
    name = read_selected(selected)["config"]
    inputs = dict(
        SUPERVISED_DATA,
        histories=[
            f"results/dnn/pretrain_dropout/{name}/fold{k}/history.tsv" for k in FOLDS
        ],
    )
    if wildcards.variant == "pretrain":
        inputs["autoencoder"] = "results/autoencoder/final/model.keras"
    return inputs


def _collect_jobs(variant):
    if variant == "pretrain_dropout":
        return [
            (name, k, f"results/dnn/pretrain_dropout/{name}/fold{k}")
            for name, _ in _dnn_grid()
            for k in FOLDS
        ]
    return [("selected", k, f"results/dnn/{variant}/selected/fold{k}") for k in FOLDS]
