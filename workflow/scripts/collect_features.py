"""Rule collect_features: the cohort feature table, scaled by the cohort maxima (§2.1.2)."""
from radiogenomics import runlog

log = runlog.setup(snakemake.log[0])  # noqa: F821

from radiogenomics import features, io  # noqa: E402

out = snakemake.output  # noqa: F821
table = features.read_patient_tables(list(snakemake.input))  # noqa: F821
complete, scaled, factors, missing = features.collect(
    table, snakemake.params.missing_region  # noqa: F821
)
io.write_tsv(complete, out.features)
io.write_tsv(scaled, out.scaled)
io.write_tsv(factors, out.scale_factors)
io.write_tsv(missing, out.missing)
log.info("%d patients with all 20 features, %d left out for a missing region%s",
         len(complete), len(missing), (": " + ", ".join(missing.index)) if len(missing) else "")
