# Elastic-net baseline (paper §2.3, §2.4): one cross-validated regularised linear model per
# image feature, on the same standardised expression matrix, the same scaled targets and the
# same fold assignment as the supervised networks (so errors pair per patient).
# CPU-only; see radiogenomics.baseline for the method and config/README.md (baseline).


rule baseline_fit:
    input:
        expression="results/expression/expression.tsv",
        features="results/features/features_scaled.tsv",
        folds="results/cohort/folds.tsv",
    output:
        oof="results/baseline/{feature}/oof.tsv",
        coefficients="results/baseline/{feature}/coefficients.tsv",
        selection="results/baseline/{feature}/selection.json",
    log:
        "results/logs/baseline_fit/{feature}.log",
    benchmark:
        "results/benchmarks/baseline_fit/{feature}.tsv"
    conda:
        "../envs/core.yaml"
    threads: 1
    resources:
        # paper size (109 x 12,042, 21 x 4000 grid): a few minutes, < 2 GB
        mem_mb=4000,
        runtime=60,
    params:
        l1_ratios=config["baseline"]["l1_ratios"],
        n_lambdas=config["baseline"]["n_lambdas"],
        lambda_min_ratio=config["baseline"]["lambda_min_ratio"],
        standardize=config["baseline"]["standardize"],
        solver=config["baseline"]["solver"],
    script:
        "../scripts/fit_baseline.py"


rule baseline_collect:
    input:
        oof=expand("results/baseline/{feature}/oof.tsv", feature=FEATURES),
        selection=expand("results/baseline/{feature}/selection.json", feature=FEATURES),
    output:
        oof="results/baseline/oof.tsv",
        selection="results/baseline/selection.tsv",
    log:
        "results/logs/baseline_collect/baseline_collect.log",
    conda:
        "../envs/core.yaml"
    params:
        features=FEATURES,
    script:
        "../scripts/collect_baseline.py"


ALL_TARGETS.extend(["results/baseline/oof.tsv", "results/baseline/selection.tsv"])
