# Input functions and helpers of the associations stage (workflow/rules/associations.smk).


ASSOC_MODELS = ["final", *[f"fold{k}" for k in FOLDS]]


def _assoc_cfg():
    return config["associations"]


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
    """A network's training job plus its attributions (radiogenomics/job_resources.py)."""
    from radiogenomics.job_resources import attribution_job

    return attribution_job(training_resources("dnn"))


def _assoc_ig_outputs(model):
    return {
        "ig_mean": f"results/associations/ig/{model}/mean.tsv",
        "ig_mean_abs": f"results/associations/ig/{model}/mean_abs.tsv",
        "ig_mean_gradient": f"results/associations/ig/{model}/mean_gradient.tsv",
        "ig_completeness": f"results/associations/ig/{model}/completeness.tsv",
    }


def _assoc_cv_history(wildcards):
    """The CV history a fold retrain must reproduce: the selected configuration's job of that
    fold (after the selection checkpoint, as the comparison networks' inputs)."""
    selected = checkpoints.dnn_select.get().output.selected
    name = read_selected(selected)["config"]
    return f"results/dnn/pretrain_dropout/{name}/fold{wildcards.fold}/history.tsv"
