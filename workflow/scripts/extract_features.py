"""Rule patient_features: the 20 image features of one segmentation (paper §2.1.2)."""
from radiogenomics import runlog

log = runlog.setup(snakemake.log[0])  # noqa: F821

from radiogenomics import features, io  # noqa: E402
from radiogenomics.errors import RadiogenomicsError  # noqa: E402

segmentation = snakemake.input[0]  # noqa: F821
params = snakemake.params  # noqa: F821
patient = snakemake.wildcards.patient  # noqa: F821

log.info("patient %s: %s (convention %s, labels %s, %s-connectivity, at least %d voxels)",
         patient, segmentation, params.convention, dict(params.labels), params.connectivity,
         params.min_voxels)
values, sizes = features.patient_features_and_sizes(
    segmentation, dict(params.labels), params.convention, int(params.connectivity), int(params.min_voxels))
missing = features.missing_regions(values)
if missing:
    why = ", ".join(f"{r} ({sizes[r]} voxels in its largest component)" for r in missing)
    if params.missing_region == "error":
        raise RadiogenomicsError(
            f"{segmentation}: region(s) {why} have no voxels or fewer than features.min_voxels = "
            f"{params.min_voxels} (labels {dict(params.labels)}); features.missing_region is 'error' "
            "(set it to 'exclude' to leave such patients out of the supervised models)"
        )
    log.warning("%s: region(s) %s have no voxels or fewer than features.min_voxels = %d; their "
                "features are left empty and the patient is left out of the supervised models",
                segmentation, why, params.min_voxels)
for feature, value, expected in features.range_violations(values):
    log.warning("patient %s: %s = %.6g is outside its documented range %s (%s)",
                patient, feature, value, expected, segmentation)
io.write_tsv(features.patient_table(patient, values, sizes), snakemake.output[0])  # noqa: F821
log.info("wrote %s", snakemake.output[0])  # noqa: F821
