# Evaluation and report (paper §2.4, §3): MAE/MAPE per feature and model (with the null
# model: each feature's training-fold mean), paired Wilcoxon tests with Bonferroni
# correction, paired-bootstrap intervals, Tables 2-4, Figures 2-3, results/summary.md
# (this run beside the paper's numbers) and the pages of `snakemake --report`.
# Every output shown in the report is flagged with report(...) and a caption in
# workflow/report/; all of them are in ALL_TARGETS so that the report (built from the
# default target's jobs) contains them.
# Input functions and helpers: workflow/rules/helpers/evaluation.smk; those several stages
# share: workflow/rules/common.smk.


include: "helpers/evaluation.smk"


# The report's landing page with this run's verdict (the Snakefile's report: directive).
LANDING_PAGE = "results/report/workflow.rst"


rule evaluate:
    """MAE, MAPE, MAE in original units, Wilcoxon + Bonferroni against the elastic net and
    the null model, bootstrap intervals; Tables 2-4 and the differences as TSV."""
    input:
        measured="results/features/features_scaled.tsv",
        scale="results/features/scale_factors.tsv",
        folds="results/cohort/folds.tsv",
        networks=[f"results/dnn/{v}/oof.tsv" for v in DNN_VARIANTS],
        reference="results/baseline/oof.tsv",
    output:
        per_feature=report(
            "results/evaluation/per_feature.tsv",
            caption="../report/per_feature.rst",
            category="Data files",
            labels={
                "file": "per_feature.tsv",
                "content": "errors and p-values per feature and model",
            },
        ),
        table2=report(
            "results/evaluation/table2.tsv",
            caption="../report/table2_tsv.rst",
            category="Data files",
            labels={"file": "table2.tsv", "content": "Table 2 (overall performance)"},
        ),
        table3=report(
            "results/evaluation/table3.tsv",
            caption="../report/table3_tsv.rst",
            category="Data files",
            labels={
                "file": "table3.tsv",
                "content": "Table 3 (MAE in original units)",
            },
        ),
        table4=report(
            "results/evaluation/table4.tsv",
            caption="../report/table4_tsv.rst",
            category="Data files",
            labels={"file": "table4.tsv", "content": "Table 4 (MAPE)"},
        ),
        differences=report(
            "results/evaluation/differences.tsv",
            caption="../report/differences_tsv.rst",
            category="Data files",
            labels={
                "file": "differences.tsv",
                "content": "differences of the average errors, with intervals",
            },
        ),
    log:
        "results/logs/evaluate/evaluate.log",
    conda:
        "../envs/core.yaml"
    params:
        networks=DNN_VARIANTS,
        reference=EVAL_REFERENCE,
        features=FEATURES,
        bootstrap=config["evaluation"]["bootstrap"],
        seed=SEED,
    script:
        "../scripts/evaluate.py"


rule plot_learning_curves:
    """Figure 2: learning curves of the selected configurations, and their final losses,
    with the null model's validation MAE as the line to beat."""
    input:
        curves=[f"results/dnn/{v}/curves.tsv" for v in DNN_VARIANTS],
        ae_selected="results/autoencoder/selected.json",
        # every configuration's fold histories (the selected one is picked from
        # selected.json), so that the job graph does not depend on the selection
        ae_histories=[
            f"results/autoencoder/cv/{c}/fold{k}/history.tsv"
            for c, _ in _ae_grid()
            for k in FOLDS
        ],
        ae_final="results/autoencoder/final/history.tsv",
        measured="results/features/features_scaled.tsv",
        folds="results/cohort/folds.tsv",
        dnn_selected="results/dnn/selected.json",
    output:
        figure=report(
            "results/figures/figure2_learning_curves.png",
            caption="../report/figure2.rst",
            category="Results",
            subcategory="Figures",
            labels={"figure": "Figure 2", "content": "learning curves"},
        ),
        losses=report(
            "results/evaluation/learning_curves.tsv",
            caption="../report/learning_curves_tsv.rst",
            category="Data files",
            labels={
                "file": "learning_curves.tsv",
                "content": "final-epoch losses (§3.1)",
            },
        ),
    log:
        "results/logs/plot_learning_curves/plot_learning_curves.log",
    conda:
        "../envs/core.yaml"
    params:
        networks=DNN_VARIANTS,
        ae_jobs=[(c, k) for c, _ in _ae_grid() for k in FOLDS],
        dpi=_report_dpi(),
    script:
        "../scripts/plot_learning_curves.py"


rule plot_errors:
    """Figure 3: network vs elastic-net error per feature (MAE and MAPE)."""
    input:
        per_feature="results/evaluation/per_feature.tsv",
    output:
        figure=report(
            "results/figures/figure3_errors.png",
            caption="../report/figure3.rst",
            category="Results",
            subcategory="Figures",
            labels={
                "figure": "Figure 3",
                "content": "network vs elastic-net error per feature",
            },
        ),
    log:
        "results/logs/plot_errors/plot_errors.log",
    conda:
        "../envs/core.yaml"
    params:
        network=EVAL_NETWORK,
        reference=EVAL_REFERENCE,
        dpi=_report_dpi(),
    script:
        "../scripts/plot_errors.py"


rule write_summary:
    """results/summary.md and the report's pages: Tables 2-4 beside the paper's
    numbers, the selected hyperparameters of every model, the cohort."""
    input:
        table2="results/evaluation/table2.tsv",
        table3="results/evaluation/table3.tsv",
        table4="results/evaluation/table4.tsv",
        differences="results/evaluation/differences.tsv",
        landing_template=os.path.relpath(
            Path(workflow.basedir) / "report" / "workflow.rst"
        ),
        losses="results/evaluation/learning_curves.tsv",
        ae_selected="results/autoencoder/selected.json",
        ae_selection="results/autoencoder/selection.tsv",
        dnn_selected="results/dnn/selected.json",
        dnn_selection="results/dnn/selection.tsv",
        baseline_selection="results/baseline/selection.tsv",
        patients="results/cohort/patients.tsv",
        qc="results/expression/qc.tsv",
    output:
        markdown=report(
            "results/summary.md",
            caption="../report/summary.rst",
            category="Data files",
            labels={
                "file": "summary.md",
                "content": "Tables 2-4 beside the paper's numbers (Markdown)",
            },
        ),
        table2=report(
            "results/report/table2.html",
            caption="../report/table2.rst",
            category="Results",
            subcategory="Tables",
            labels={"table": "Table 2", "content": "overall performance"},
        ),
        table3=report(
            "results/report/table3.html",
            caption="../report/table3.rst",
            category="Results",
            subcategory="Tables",
            labels={"table": "Table 3", "content": "MAE in original units"},
        ),
        table4=report(
            "results/report/table4.html",
            caption="../report/table4.rst",
            category="Results",
            subcategory="Tables",
            labels={"table": "Table 4", "content": "MAPE"},
        ),
        models=report(
            "results/report/hyperparameters.html",
            caption="../report/hyperparameters.rst",
            category="Models",
            labels={"page": "selected hyperparameters", "content": "all models"},
        ),
        cohort=report(
            "results/report/cohort.html",
            caption="../report/cohort.rst",
            category="Cohort",
            labels={"page": "cohort summary", "content": "patients and expression QC"},
        ),
        landing=LANDING_PAGE,
    log:
        "results/logs/write_summary/write_summary.log",
    conda:
        "../envs/core.yaml"
    params:
        title=config["report"]["title"],
        demo=is_demo(),
        features=FEATURES,
        features_table=FEATURES_TABLE["file"] if FEATURES_TABLE else None,
        epoch=config["selection"]["epoch"],
        settings={
            "autoencoder": {
                "hidden layers": config["autoencoder"]["hidden"],
                "output activation": config["autoencoder"]["output_activation"],
                "loss": "mean squared error",
                "momentum": config["autoencoder"]["momentum"],
                "batch size": config["autoencoder"]["batch_size"],
                "epochs": config["autoencoder"]["epochs"],
            },
            "networks": {
                "fourth hidden layer": config["dnn"]["hidden4"],
                "activation": "ReLU",
                "loss": "mean absolute error",
                "dropout (pre-training + dropout network)": config["dnn"]["dropout"],
                "momentum": config["dnn"]["momentum"],
                "batch size": config["dnn"]["batch_size"],
                "epochs": config["dnn"]["epochs"],
                "non-negative weights": config["dnn"]["nonneg"],
            },
            "elastic net": {
                "alpha values (L1 ratio)": config["baseline"]["l1_ratios"],
                "lambda path length": config["baseline"]["n_lambdas"],
                "lambda min ratio": config["baseline"]["lambda_min_ratio"],
                "genes standardised in every fit (glmnet's standardize)": config[
                    "baseline"
                ]["standardize"],
            },
            "cross-validation": {
                "folds": len(FOLDS),
                "seed": SEED,
                "networks judged at epoch": config["selection"]["epoch"],
                "bootstrap resamples of the patients": config["evaluation"][
                    "bootstrap"
                ],
            },
        },
    script:
        "../scripts/write_summary.py"


rule software_versions:
    """Software versions: installed in the job, pinned by each workflow/envs file."""
    input:
        envs=sorted(
            os.path.relpath(p)
            for p in (Path(workflow.basedir) / "envs").glob("*.yaml")
        ),
    output:
        html=report(
            "results/report/versions.html",
            caption="../report/versions.rst",
            category="Software",
            labels={"page": "software versions", "content": "packages and platform"},
        ),
        tsv="results/evaluation/versions.tsv",
    log:
        "results/logs/software_versions/software_versions.log",
    conda:
        "../envs/core.yaml"
    params:
        snakemake=_SNAKEMAKE_VERSION,
    script:
        "../scripts/software_versions.py"


ALL_TARGETS.extend(
    [
        "results/evaluation/per_feature.tsv",
        "results/evaluation/table2.tsv",
        "results/evaluation/table3.tsv",
        "results/evaluation/table4.tsv",
        "results/evaluation/differences.tsv",
        "results/evaluation/learning_curves.tsv",
        "results/evaluation/versions.tsv",
        "results/figures/figure2_learning_curves.png",
        "results/figures/figure3_errors.png",
        "results/summary.md",
        LANDING_PAGE,
        "results/report/table2.html",
        "results/report/table3.html",
        "results/report/table4.html",
        "results/report/hyperparameters.html",
        "results/report/cohort.html",
        "results/report/versions.html",
    ]
)
