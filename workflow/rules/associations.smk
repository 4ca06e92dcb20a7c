# Radiogenomic association maps (the paper's stated aim, §1, and its planned
# activation maximisation, §4): which genes drive each predicted image feature.
#
# 1. Models + attributions, one TensorFlow process per model (its import costs seconds of CPU,
#    so nothing re-imports it just to reload a model). The CV grid jobs keep no model files, so
#    the selected configuration of the network with pre-training and dropout is retrained per
#    fold with the CV job's seed and data (deterministic on CPU: the same weights as the CV
#    model; the job fails unless its last validation loss equals the CV history's, an input
#    found through the selection checkpoint) and once on all supervised patients (the final
#    model). Each job saves its model, then computes the integrated gradients of that model
#    over all supervised patients; the final-model job also runs gene masking and activation
#    maximisation. GPU-tagged like every training rule.
# 2. Rankings, stability of the top genes across folds, overlap with the elastic net;
#    clustered heatmap; report items.
# Tables are documented in workflow/report/associations_*.rst and config/README.md.
# Input functions and helpers: workflow/rules/helpers/associations.smk; those several stages
# share: workflow/rules/common.smk.


include: "helpers/associations.smk"


rule dnn_selected_fold_model:
    """Selected pretrain_dropout configuration retrained on fold {fold}'s training patients
    (same seed, data and hyperparameters as its CV job), model saved; then integrated
    gradients of all 20 outputs w.r.t. every gene over all supervised patients (baseline:
    cohort mean = 0): genes x features signed mean, mean |IG|, mean path gradient,
    completeness error."""
    input:
        **SUPERVISED_DATA,
        selected="results/dnn/selected.json",
        autoencoder="results/autoencoder/final/model.keras",
        cv_history=_assoc_cv_history,
    output:
        **_assoc_ig_outputs("fold{fold}"),
        model="results/dnn/pretrain_dropout/selected/fold{fold}/model.keras",
        history="results/dnn/pretrain_dropout/selected/fold{fold}/history.tsv",
    log:
        "results/logs/dnn_selected_fold_model/fold{fold}.log",
    benchmark:
        "results/benchmarks/dnn_selected_fold_model/fold{fold}.tsv"
    wildcard_constraints:
        fold=r"\d+",
    conda:
        "../envs/tensorflow.yaml"
    threads: config["training"]["threads"]
    resources:
        **_assoc_resources(),
    params:
        **dict(_dnn_training_params(), dropout=float(config["dnn"]["dropout"])),
        **_assoc_ig_params(),
        fold=lambda w: int(w.fold),
    script:
        "../scripts/train_final_dnn.py"


rule dnn_final_model:
    """Selected pretrain_dropout configuration retrained on all supervised patients, model
    saved; then its integrated gradients (as for the fold models), gene masking (top-ranked
    gene sets vs random sets) and activation maximisation."""
    input:
        **SUPERVISED_DATA,
        selected="results/dnn/selected.json",
        autoencoder="results/autoencoder/final/model.keras",
    output:
        **_assoc_ig_outputs("final"),
        model="results/dnn/final/model.keras",
        history="results/dnn/final/history.tsv",
        masking=report(
            "results/associations/masking.tsv",
            caption="../report/associations_masking.rst",
            category="Associations",
            labels={
                "file": "masking.tsv",
                "content": "gene masking vs random gene sets",
            },
        ),
        am_summary=report(
            "results/associations/activation_maximisation.tsv",
            caption="../report/associations_am.rst",
            category="Associations",
            labels={
                "file": "activation_maximisation.tsv",
                "content": "activation maximisation per feature",
            },
        ),
        am_top=report(
            "results/associations/am_top_genes.tsv",
            caption="../report/associations_am_top.rst",
            category="Associations",
            labels={
                "file": "am_top_genes.tsv",
                "content": "top genes of the maximising profiles",
            },
        ),
        am_profiles="results/associations/am_profiles.tsv",
    log:
        "results/logs/dnn_final_model/dnn_final_model.log",
    benchmark:
        "results/benchmarks/dnn_final_model/dnn_final_model.tsv"
    conda:
        "../envs/tensorflow.yaml"
    threads: config["training"]["threads"]
    resources:
        **_assoc_resources(),
    params:
        **dict(_dnn_training_params(), dropout=float(config["dnn"]["dropout"])),
        **_assoc_ig_params(),
        **_assoc_probe_params(),
        fold=None,
    script:
        "../scripts/train_final_dnn.py"


rule associate:
    """Attribution tables, top genes with their stability across folds, overlap with the
    elastic net's non-zero coefficients, completeness errors of all models."""
    input:
        final_mean="results/associations/ig/final/mean.tsv",
        final_abs="results/associations/ig/final/mean_abs.tsv",
        final_gradient="results/associations/ig/final/mean_gradient.tsv",
        fold_abs=[f"results/associations/ig/fold{k}/mean_abs.tsv" for k in FOLDS],
        completeness=[
            f"results/associations/ig/{m}/completeness.tsv" for m in ASSOC_MODELS
        ],
        coefficients=[f"results/baseline/{f}/coefficients.tsv" for f in FEATURES],
    output:
        attributions=report(
            "results/associations/attributions.tsv",
            caption="../report/associations_attributions.rst",
            category="Associations",
            labels={
                "file": "attributions.tsv",
                "content": "mean integrated gradients, genes x features",
            },
        ),
        attributions_abs="results/associations/attributions_abs.tsv",
        gradients="results/associations/mean_gradients.tsv",
        top_genes=report(
            "results/associations/top_genes.tsv",
            caption="../report/associations_top_genes.rst",
            category="Associations",
            labels={
                "file": "top_genes.tsv",
                "content": "top genes per feature with stability",
            },
        ),
        stability=report(
            "results/associations/stability.tsv",
            caption="../report/associations_stability.rst",
            category="Associations",
            labels={
                "file": "stability.tsv",
                "content": "top-gene agreement across CV folds",
            },
        ),
        enet_overlap=report(
            "results/associations/enet_overlap.tsv",
            caption="../report/associations_enet.rst",
            category="Associations",
            labels={
                "file": "enet_overlap.tsv",
                "content": "overlap with elastic-net genes",
            },
        ),
        completeness=report(
            "results/associations/completeness.tsv",
            caption="../report/associations_completeness.rst",
            category="Associations",
            labels={
                "file": "completeness.tsv",
                "content": "integrated-gradients completeness error",
            },
        ),
    log:
        "results/logs/associate/associate.log",
    conda:
        "../envs/core.yaml"
    params:
        models=ASSOC_MODELS,
        folds=FOLDS,
        features=FEATURES,
        top_n=lambda w: int(_assoc_cfg()["top_n"]),
    script:
        "../scripts/associate.py"


rule plot_associations:
    """Clustered heatmap (seaborn clustermap) of the top genes x the image features."""
    input:
        attributions="results/associations/attributions.tsv",
        attributions_abs="results/associations/attributions_abs.tsv",
        gradients="results/associations/mean_gradients.tsv",
    output:
        figure=report(
            "results/figures/associations_heatmap.png",
            caption="../report/associations_heatmap.rst",
            category="Associations",
            labels={
                "figure": "association map",
                "content": "top genes x image features",
            },
        ),
        matrix="results/associations/heatmap_matrix.tsv",
    log:
        "results/logs/plot_associations/plot_associations.log",
    conda:
        "../envs/core.yaml"
    params:
        genes_per_feature=lambda w: int(_assoc_cfg()["heatmap_genes_per_feature"]),
        dpi=int(config["report"]["figure_dpi"]),
        features=FEATURES,
    script:
        "../scripts/plot_associations.py"


ALL_TARGETS.extend(
    [
        "results/associations/attributions.tsv",
        "results/associations/top_genes.tsv",
        "results/associations/stability.tsv",
        "results/associations/enet_overlap.tsv",
        "results/associations/completeness.tsv",
        "results/associations/masking.tsv",
        "results/associations/activation_maximisation.tsv",
        "results/associations/am_top_genes.tsv",
        "results/figures/associations_heatmap.png",
    ]
)
