# Deep autoencoder (paper §2.2.2, §2.4): one job per (configuration, fold) of the grid,
# selection by the lowest mean final-epoch validation loss, one retraining on all
# profiles. Output paths name the hyperparameters, so adding a grid value adds only that
# configuration's jobs; the params below list every config value a job uses, so changing
# e.g. autoencoder.epochs reruns training (and what depends on it) only.
# Input functions and helpers: workflow/rules/helpers/autoencoder.smk; those several stages
# share: workflow/rules/common.smk.


include: "helpers/autoencoder.smk"


if FOLDS_PER_JOB == 1:

    rule autoencoder_cv:
        """Train one autoencoder configuration on the other folds; validate on fold {fold}."""
        input:
            expression="results/expression/expression.tsv",
            folds="results/autoencoder/folds.tsv",
        output:
            history="results/autoencoder/cv/{activation}_lr{lr}_decay{decay}/fold{fold}/history.tsv",
        log:
            "results/logs/autoencoder_cv/{activation}_lr{lr}_decay{decay}/fold{fold}.log",
        benchmark:
            "results/benchmarks/autoencoder_cv/{activation}_lr{lr}_decay{decay}/fold{fold}.tsv"
        conda:
            "../envs/tensorflow.yaml"
        threads: config["training"]["threads"]
        resources:
            **training_resources("autoencoder"),
        params:
            **_ae_training_params(),
            **_ae_cv_params(),
            folds=lambda w: [int(w.fold)],
        script:
            "../scripts/train_autoencoder.py"

else:
    # training.folds_per_job > 1: one rule per run of folds (FOLD_CHUNKS), each job trains
    # the run's folds of one configuration and writes every fold's history at its usual path.
    for chunk in FOLD_CHUNKS:

        rule:
            """Train one autoencoder configuration once per fold of a run of folds (each on
            the other folds, validated on that fold), in one job."""
            name:
                f"autoencoder_cv_folds{chunk[0]}to{chunk[-1]}"
            input:
                expression="results/expression/expression.tsv",
                folds="results/autoencoder/folds.tsv",
            output:
                history=expand(
                    "results/autoencoder/cv/{activation}_lr{lr}_decay{decay}/fold{k}/history.tsv",
                    k=chunk,
                    allow_missing=True,
                ),
            log:
                f"results/logs/autoencoder_cv/{{activation}}_lr{{lr}}_decay{{decay}}/folds{chunk[0]}to{chunk[-1]}.log",
            benchmark:
                f"results/benchmarks/autoencoder_cv/{{activation}}_lr{{lr}}_decay{{decay}}/folds{chunk[0]}to{chunk[-1]}.tsv"
            conda:
                "../envs/tensorflow.yaml"
            threads: config["training"]["threads"]
            resources:
                **training_resources("autoencoder", len(chunk)),
            params:
                **_ae_training_params(),
                **_ae_cv_params(),
                folds=list(chunk),
            script:
                "../scripts/train_autoencoder.py"


checkpoint autoencoder_select:
    """Lowest mean final-epoch validation loss over the folds (paper §2.4). A checkpoint:
    the retraining reads the chosen hyperparameters from its output (see _ae_selected).
    """
    input:
        histories=[
            f"results/autoencoder/cv/{name}/fold{k}/history.tsv"
            for name, _ in _ae_grid()
            for k in FOLDS
        ],
    output:
        table="results/autoencoder/selection.tsv",
        selected="results/autoencoder/selected.json",
    log:
        "results/logs/autoencoder_select/autoencoder_select.log",
    conda:
        "../envs/core.yaml"
    params:
        stage="autoencoder",
        jobs=[(name, k) for name, _ in _ae_grid() for k in FOLDS],
        hyperparameters=dict(_ae_grid()),
        n_folds=len(FOLDS),
        epoch="final",  # selection.epoch applies to the networks; the retrained autoencoder runs all epochs
    script:
        "../scripts/select_hyperparameters.py"


rule autoencoder_final:
    """Retrain the selected configuration on all profiles (paper §2.4, §3.1)."""
    input:
        expression="results/expression/expression.tsv",
        folds="results/autoencoder/folds.tsv",
        histories=_ae_selected_histories,
    output:
        model="results/autoencoder/final/model.keras",
        history="results/autoencoder/final/history.tsv",
        metrics="results/autoencoder/final/metrics.json",
    log:
        "results/logs/autoencoder_final/autoencoder_final.log",
    benchmark:
        "results/benchmarks/autoencoder_final/autoencoder_final.tsv"
    conda:
        "../envs/tensorflow.yaml"
    threads: config["training"]["threads"]
    resources:
        **training_resources("autoencoder"),
    params:
        **_ae_training_params(),
        config=_ae_selected("config"),
        activation=_ae_selected("activation"),
        learning_rate=_ae_selected("learning_rate"),
        decay=_ae_selected("decay"),
        folds=[None],
    script:
        "../scripts/train_autoencoder.py"


ALL_TARGETS.extend(
    [
        "results/autoencoder/selection.tsv",
        "results/autoencoder/selected.json",
        "results/autoencoder/final/model.keras",
        "results/autoencoder/final/history.tsv",
        "results/autoencoder/final/metrics.json",
    ]
)
