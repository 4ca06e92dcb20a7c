"""Rule features_table: the chosen columns of data.features_table (beyond the paper), in place
of the features extracted from the segmentations (radiogenomics.features_table)."""
from radiogenomics import runlog

log = runlog.setup(snakemake.log[0])  # noqa: F821

from radiogenomics import features_table, io  # noqa: E402

out, params = snakemake.output, snakemake.params  # noqa: F821
spec = dict(params.spec)
complete, missing = features_table.read_features_table(spec, params.missing_region)
io.write_tsv(complete, out.features)   # scaled by the cohort rule, over the supervised patients
io.write_tsv(missing, out.missing)
for patient, row in missing.iterrows():
    log.warning("patient %s: %s", patient, row["note"])
log.info("%s: %d feature columns (%s), %d patients with every value, %d left out for a missing value",
         spec["file"], complete.shape[1], ", ".join(complete.columns), len(complete), len(missing))
