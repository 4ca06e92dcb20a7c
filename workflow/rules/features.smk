# Features stage (paper §2.1.2, Table 1): 10 shape features of the enhancing tumour and
# 10 of the peritumoral edema from each BraTS-style segmentation, one job per patient,
# then the cohort table scaled by each feature's maximum. Logic:
# workflow/scripts/radiogenomics/features.py; options: config/README.md#features.


rule patient_features:
    input:
        segmentation_of,
    output:
        "results/features/{patient}.tsv",
    log:
        "results/logs/patient_features/{patient}.log",
    benchmark:
        "results/benchmarks/patient_features/{patient}.tsv"
    wildcard_constraints:
        # the cohort tables live in the same directory
        patient=r"(?!(?:features|features_scaled|scale_factors|missing)$)[^/]+",
    params:
        labels=config["features"]["labels"],
        convention=config["features"]["convention"],
        connectivity=config["features"]["connectivity"],
        missing_region=config["features"]["missing_region"],
    threads: 1
    resources:
        mem_mb=1500,
        runtime=10,
    conda:
        "../envs/imaging.yaml"
    script:
        "../scripts/extract_features.py"


rule collect_features:
    input:
        patient_feature_files,
    output:
        features="results/features/features.tsv",
        scaled="results/features/features_scaled.tsv",
        scale_factors="results/features/scale_factors.tsv",
        missing="results/features/missing.tsv",
    log:
        "results/logs/collect_features/collect_features.log",
    params:
        missing_region=config["features"]["missing_region"],
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../envs/imaging.yaml"
    script:
        "../scripts/collect_features.py"


ALL_TARGETS.extend(
    [
        "results/features/features.tsv",
        "results/features/features_scaled.tsv",
        "results/features/scale_factors.tsv",
        "results/features/missing.tsv",
    ]
)
