"""Rule cohort: the cohort manifest and the fold assignments (radiogenomics.cohort)."""
from radiogenomics import runlog

log = runlog.setup(snakemake.log[0])

from radiogenomics import cohort  # noqa: E402

manifest = cohort.build_cohort(
    snakemake.input.expression,
    snakemake.input.features,
    snakemake.output.patients,
    snakemake.output.folds,
    snakemake.output.autoencoder_folds,
    n_folds=snakemake.params.folds,
    seed=snakemake.params.seed,
    exclude_imaged=snakemake.params.exclude_imaged,
    missing_region=snakemake.params.missing_region,
    missing_path=snakemake.input.missing,
    patients_path=snakemake.params.patients,
    out_scaled=snakemake.output.scaled,
    out_scale_factors=snakemake.output.scale_factors,
    columns=snakemake.params.features,
    units=dict(snakemake.params.units),
    features_source=snakemake.params.features_table,
)
log.info("cohort: %d patients, %d with expression, %d with segmentation, %d supervised",
         len(manifest), manifest["has_expression"].sum(), manifest["has_segmentation"].sum(),
         manifest["supervised"].sum())
