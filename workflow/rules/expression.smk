# expression stage: read the expression data (a directory of TCGA Level-3 files or a
# merged genes x samples matrix), keep primary tumours, merge duplicate aliquots and
# standardise every gene (paper §2.1.1); then the cohort manifest and the fold
# assignments (paper §2.4) once the image features exist.
# Input functions and helpers: workflow/rules/helpers/expression.smk; those several stages
# share: workflow/rules/common.smk.


include: "helpers/expression.smk"


rule expression:
    input:
        expression_inputs,
    output:
        expression="results/expression/expression.tsv",
        qc="results/expression/qc.tsv",
    log:
        "results/logs/expression.log",
    conda:
        "../envs/core.yaml"
    params:
        path=config["data"]["expression"],
        sample_sheet=config["data"]["sample_sheet"],
        sample_types=config["expression"]["sample_types"],
        duplicates=config["expression"]["duplicates"],
        gene_mismatch=config["expression"]["gene_mismatch"],
        standardize=config["expression"]["standardize"],
        blank_genes=config["expression"]["blank_genes"],
        duplicate_genes=config["expression"]["duplicate_genes"],
        missing_values=config["expression"]["missing_values"],
        rnaseq=config["expression"]["rnaseq"],
    script:
        "../scripts/ingest_expression.py"


rule cohort:
    input:
        expression="results/expression/expression.tsv",
        features="results/features/features.tsv",
        # segmented patients the features stage left out for a missing region
        missing="results/features/missing.tsv",
        # data.patients, when set: the patients the supervised cohort is restricted to
        patients=[config["data"]["patients"]] if config["data"]["patients"] else [],
    output:
        patients="results/cohort/patients.tsv",
        folds="results/cohort/folds.tsv",
        autoencoder_folds="results/autoencoder/folds.tsv",
        # scaled over the supervised patients, the cohort the models see (paper §2.1.2)
        scaled="results/features/features_scaled.tsv",
        scale_factors="results/features/scale_factors.tsv",
    log:
        "results/logs/cohort.log",
    conda:
        "../envs/core.yaml"
    params:
        patients=config["data"]["patients"],
        folds=config["cv"]["folds"],
        seed=SEED,
        exclude_imaged=config["autoencoder"]["exclude_imaged"],
        missing_region=config["features"]["missing_region"],
        # the feature columns (the models' targets), their units, and data.features_table
        features=FEATURES,
        units=FEATURE_UNITS,
        features_table=FEATURES_TABLE["file"] if FEATURES_TABLE else None,
    script:
        "../scripts/build_cohort.py"


ALL_TARGETS.extend(
    [
        "results/expression/expression.tsv",
        "results/expression/qc.tsv",
        "results/cohort/patients.tsv",
        "results/cohort/folds.tsv",
        "results/autoencoder/folds.tsv",
    ]
)
