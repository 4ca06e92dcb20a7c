# Features stage (paper §2.1.2, Table 1): 10 shape features of the enhancing tumour and
# 10 of the peritumoral edema from each BraTS-style segmentation, one job per patient,
# then the cohort table scaled by each feature's maximum. Logic:
# workflow/scripts/radiogenomics/features/; options: config/README.md#features.
# With data.features_table (beyond the paper) the table's chosen columns replace the
# extraction: rule features_table reads them (radiogenomics/features_table.py) and no
# segmentation is read.
# Input functions and helpers: workflow/rules/helpers/features.smk; those several stages
# share: workflow/rules/common.smk.


include: "helpers/features.smk"


# The cohort-level tables of results/features/ (not patients).
COHORT_TABLES = [
    "features",
    "features_scaled",
    "scale_factors",
    "missing",
    "segmentation_files",
    "range_warnings",
]


if FEATURES_TABLE:

    rule features_table:
        """The chosen columns of data.features_table (original units) for the patients with
        every value, and the patients left out for a missing value."""
        input:
            FEATURES_TABLE["file"],
        output:
            features="results/features/features.tsv",
            missing="results/features/missing.tsv",
        log:
            "results/logs/features_table/features_table.log",
        conda:
            "../envs/core.yaml"
        threads: 1
        resources:
            mem_mb=1000,
            runtime=10,
        params:
            # functions: Snakemake would expand the braces of a regex as wildcards
            spec=lambda wildcards: FEATURES_TABLE,
            missing_region=config["features"]["missing_region"],
        script:
            "../scripts/read_features_table.py"

    ALL_TARGETS.extend(
        [
            "results/features/features.tsv",
            "results/features/features_scaled.tsv",
            "results/features/scale_factors.tsv",
            "results/features/missing.tsv",
        ]
    )

else:

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
            # The cohort tables live in the same directory. The lookahead sees the rest of the
            # path, so it must name the whole file ("features.tsv", not "features").
            patient=r"(?!(?:" + "|".join(COHORT_TABLES) + r")\.tsv$)[^/]+",
        conda:
            "../envs/imaging.yaml"
        threads: 1
        resources:
            mem_mb=1500,
            runtime=10,
        params:
            labels=config["features"]["labels"],
            convention=config["features"]["convention"],
            connectivity=config["features"]["connectivity"],
            missing_region=config["features"]["missing_region"],
            min_voxels=config["features"]["min_voxels"],
        script:
            "../scripts/extract_features.py"

    rule collect_features:
        input:
            tables=patient_feature_files,
            folder=segmentation_folder_files,
        output:
            features="results/features/features.tsv",
            missing="results/features/missing.tsv",
            segmentation_files="results/features/segmentation_files.tsv",
            range_warnings="results/features/range_warnings.tsv",
        log:
            "results/logs/collect_features/collect_features.log",
        conda:
            "../envs/imaging.yaml"
        threads: 1
        resources:
            mem_mb=1000,
            runtime=10,
        params:
            missing_region=config["features"]["missing_region"],
            min_voxels=config["features"]["min_voxels"],
            segmentations=config["data"]["segmentations"],
            # functions: Snakemake would expand the braces of a regex as wildcards
            segmentation_glob=lambda wildcards: config["data"]["segmentation_glob"],
            patient_regex=lambda wildcards: config["data"]["patient_regex"],
            prefer_segmentation=config["data"]["prefer_segmentation"],
            patient_map=config["data"]["patient_map"],
        script:
            "../scripts/collect_features.py"

    ALL_TARGETS.extend(
        [
            "results/features/features.tsv",
            "results/features/features_scaled.tsv",
            "results/features/scale_factors.tsv",
            "results/features/missing.tsv",
            "results/features/segmentation_files.tsv",
            "results/features/range_warnings.tsv",
        ]
    )
