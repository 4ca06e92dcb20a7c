"""Rule expression: Level-3 directory or merged matrix -> standardised patients x genes."""
from radiogenomics import runlog

log = runlog.setup(snakemake.log[0])

from radiogenomics import expression  # noqa: E402

expression.ingest(
    snakemake.params.path,  # a directory or a matrix; the input files are what it holds
    snakemake.output.expression,
    snakemake.output.qc,
    sample_types=snakemake.params.sample_types,
    duplicates=snakemake.params.duplicates,
    gene_mismatch=snakemake.params.gene_mismatch,
    method=snakemake.params.standardize,
    sample_sheet=snakemake.params.sample_sheet,
    blank_genes=snakemake.params.blank_genes,
    duplicate_genes=snakemake.params.duplicate_genes,
    missing_values=snakemake.params.missing_values,
    rnaseq=dict(snakemake.params.rnaseq),
)
