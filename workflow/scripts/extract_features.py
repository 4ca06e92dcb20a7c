"""Rule patient_features: the 20 image features of one segmentation (paper §2.1.2)."""
from radiogenomics import runlog

log = runlog.setup(snakemake.log[0])  # noqa: F821

from radiogenomics import features, io  # noqa: E402
from radiogenomics.errors import RadiogenomicsError  # noqa: E402

segmentation = snakemake.input[0]  # noqa: F821
params = snakemake.params  # noqa: F821
patient = snakemake.wildcards.patient  # noqa: F821

log.info("patient %s: %s (convention %s, labels %s, %s-connectivity)",
         patient, segmentation, params.convention, dict(params.labels), params.connectivity)
values = features.patient_features(segmentation, dict(params.labels), params.convention,
                                   int(params.connectivity))
missing = features.missing_regions(values)
if missing:
    if params.missing_region == "error":
        raise RadiogenomicsError(
            f"{segmentation}: no voxels of region(s) {', '.join(missing)} "
            f"(labels {dict(params.labels)}); features.missing_region is 'error' "
            "(set it to 'exclude' to leave such patients out of the supervised models)"
        )
    log.warning("%s: no voxels of region(s) %s; their features are left empty and the "
                "patient is left out of the supervised models", segmentation, ", ".join(missing))
io.write_tsv(features.patient_table(patient, values), snakemake.output[0])  # noqa: F821
log.info("wrote %s", snakemake.output[0])  # noqa: F821
