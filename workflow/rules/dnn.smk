# Radiogenomic network (paper §2.2.3, §2.4): the grid of the network with pre-training
# and dropout (one job per configuration x fold), selection by the lowest mean
# final-epoch validation MAE (selection.epoch: best, at any epoch), the two comparison
# networks with the selected
# hyperparameters, and per variant the out-of-fold predictions and learning curves.
# No model file is kept per CV fold.
# Input functions and helpers: workflow/rules/helpers/dnn.smk; those several stages
# share: workflow/rules/common.smk.


include: "helpers/dnn.smk"


if FOLDS_PER_JOB == 1:

    rule dnn_cv:
        """Network with pre-training and dropout, one grid configuration, fold {fold} held out."""
        input:
            **SUPERVISED_DATA,
            autoencoder="results/autoencoder/final/model.keras",
        output:
            predictions="results/dnn/pretrain_dropout/lr{lr}_decay{decay}/fold{fold}/predictions.tsv",
            history="results/dnn/pretrain_dropout/lr{lr}_decay{decay}/fold{fold}/history.tsv",
            epoch_predictions="results/dnn/pretrain_dropout/lr{lr}_decay{decay}/fold{fold}/val_predictions.tsv.gz",
        log:
            "results/logs/dnn_cv/pretrain_dropout/lr{lr}_decay{decay}/fold{fold}.log",
        benchmark:
            "results/benchmarks/dnn_cv/pretrain_dropout/lr{lr}_decay{decay}/fold{fold}.tsv"
        conda:
            "../envs/tensorflow.yaml"
        threads: config["training"]["threads"]
        resources:
            **training_resources("dnn"),
        params:
            **_dnn_cv_params(),
            folds=lambda w: [int(w.fold)],
        script:
            "../scripts/train_dnn.py"

else:
    # training.folds_per_job > 1: one rule per run of folds (FOLD_CHUNKS), each job trains
    # the run's folds of one configuration and writes every fold's files at their usual paths.
    for chunk in FOLD_CHUNKS:

        rule:
            """Network with pre-training and dropout, one grid configuration, once per fold of
            a run of folds (that fold held out), in one job."""
            name:
                f"dnn_cv_folds{chunk[0]}to{chunk[-1]}"
            input:
                **SUPERVISED_DATA,
                autoencoder="results/autoencoder/final/model.keras",
            output:
                **_dnn_fold_outputs(
                    "results/dnn/pretrain_dropout/lr{lr}_decay{decay}/fold{k}", chunk
                ),
            log:
                f"results/logs/dnn_cv/pretrain_dropout/lr{{lr}}_decay{{decay}}/folds{chunk[0]}to{chunk[-1]}.log",
            benchmark:
                f"results/benchmarks/dnn_cv/pretrain_dropout/lr{{lr}}_decay{{decay}}/folds{chunk[0]}to{chunk[-1]}.tsv"
            conda:
                "../envs/tensorflow.yaml"
            threads: config["training"]["threads"]
            resources:
                **training_resources("dnn", len(chunk)),
            params:
                **_dnn_cv_params(),
                folds=list(chunk),
            script:
                "../scripts/train_dnn.py"


checkpoint dnn_select:
    """Lowest mean final-epoch validation MAE over the folds (paper §2.4; with
    selection.epoch: best, the lowest mean at any epoch). A checkpoint: the comparison
    networks read the chosen hyperparameters from its output."""
    input:
        histories=[
            f"results/dnn/pretrain_dropout/{name}/fold{k}/history.tsv"
            for name, _ in _dnn_grid()
            for k in FOLDS
        ],
    output:
        table="results/dnn/selection.tsv",
        selected="results/dnn/selected.json",
    log:
        "results/logs/dnn_select/dnn_select.log",
    conda:
        "../envs/core.yaml"
    params:
        stage="dnn",
        jobs=[(name, k) for name, _ in _dnn_grid() for k in FOLDS],
        hyperparameters=dict(_dnn_grid()),
        n_folds=len(FOLDS),
        epoch=config["selection"]["epoch"],
    script:
        "../scripts/select_hyperparameters.py"


if FOLDS_PER_JOB == 1:

    rule dnn_compare:
        """Comparison networks with the selected hyperparameters and no dropout (paper §2.4):
        scratch (random initialisation) and pretrain (autoencoder weights)."""
        input:
            unpack(_comparison_inputs),
        output:
            predictions="results/dnn/{variant}/selected/fold{fold}/predictions.tsv",
            history="results/dnn/{variant}/selected/fold{fold}/history.tsv",
            epoch_predictions="results/dnn/{variant}/selected/fold{fold}/val_predictions.tsv.gz",
        log:
            "results/logs/dnn_compare/{variant}/fold{fold}.log",
        benchmark:
            "results/benchmarks/dnn_compare/{variant}/fold{fold}.tsv"
        wildcard_constraints:
            variant="scratch|pretrain",
        conda:
            "../envs/tensorflow.yaml"
        threads: config["training"]["threads"]
        resources:
            **training_resources("dnn"),
        params:
            **_dnn_compare_params(),
            folds=lambda w: [int(w.fold)],
        script:
            "../scripts/train_dnn.py"

else:
    # training.folds_per_job > 1: as dnn_cv, one rule per run of folds.
    for chunk in FOLD_CHUNKS:

        rule:
            """Comparison networks (scratch, pretrain) with the selected hyperparameters and no
            dropout (paper §2.4), once per fold of a run of folds, in one job."""
            name:
                f"dnn_compare_folds{chunk[0]}to{chunk[-1]}"
            input:
                unpack(_comparison_inputs),
            output:
                **_dnn_fold_outputs("results/dnn/{variant}/selected/fold{k}", chunk),
            log:
                f"results/logs/dnn_compare/{{variant}}/folds{chunk[0]}to{chunk[-1]}.log",
            benchmark:
                f"results/benchmarks/dnn_compare/{{variant}}/folds{chunk[0]}to{chunk[-1]}.tsv"
            wildcard_constraints:
                variant="scratch|pretrain",
            conda:
                "../envs/tensorflow.yaml"
            threads: config["training"]["threads"]
            resources:
                **training_resources("dnn", len(chunk)),
            params:
                **_dnn_compare_params(),
                folds=list(chunk),
            script:
                "../scripts/train_dnn.py"


rule dnn_collect:
    """Out-of-fold predictions (at the selected epoch) and learning curves of one
    variant's selected configuration."""
    input:
        selected="results/dnn/selected.json",
        folds="results/cohort/folds.tsv",
        predictions=lambda w: [
            f"{d}/predictions.tsv" for _, _, d in _collect_jobs(w.variant)
        ],
        histories=lambda w: [f"{d}/history.tsv" for _, _, d in _collect_jobs(w.variant)],
        epoch_predictions=lambda w: [
            f"{d}/val_predictions.tsv.gz" for _, _, d in _collect_jobs(w.variant)
        ],
    output:
        oof="results/dnn/{variant}/oof.tsv",
        curves="results/dnn/{variant}/curves.tsv",
    log:
        "results/logs/dnn_collect/{variant}.log",
    wildcard_constraints:
        variant="|".join(DNN_VARIANTS),
    conda:
        "../envs/core.yaml"
    params:
        variant=lambda w: w.variant,
        jobs=lambda w: [(name, k) for name, k, _ in _collect_jobs(w.variant)],
        features=FEATURES,
    script:
        "../scripts/collect_dnn.py"


ALL_TARGETS.extend(
    [
        "results/dnn/selection.tsv",
        "results/dnn/selected.json",
        *[f"results/dnn/{v}/oof.tsv" for v in DNN_VARIANTS],
        *[f"results/dnn/{v}/curves.tsv" for v in DNN_VARIANTS],
    ]
)
