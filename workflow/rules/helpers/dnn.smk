# Input functions and helpers of the dnn stage (workflow/rules/dnn.smk).


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
