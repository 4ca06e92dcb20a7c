"""Rule collect_features: the cohort feature table (scaled by the cohort rule, over the
supervised patients), which files of the segmentation folder were read, and values outside
their ranges."""
from radiogenomics import runlog

log = runlog.setup(snakemake.log[0])  # noqa: F821

from radiogenomics import cohort, features, io  # noqa: E402

out = snakemake.output  # noqa: F821
params = snakemake.params  # noqa: F821
table = features.read_patient_tables(list(snakemake.input.tables))  # noqa: F821
# (collect also checks that the table can be scaled; the cohort rule scales it)
complete, _, _, missing = features.collect(table, params.missing_region, min_voxels=params.min_voxels)
spec = params.patient_map
inventory = cohort.segmentation_inventory(params.segmentations, params.segmentation_glob,
                                          params.patient_regex, params.prefer_segmentation,
                                          patient_map=cohort.patient_map_from(spec),
                                          map_source=spec["file"] if spec else "")
ranges = features.range_table(table)
io.write_tsv(complete, out.features)   # scaled by the cohort rule, over the supervised patients
io.write_tsv(missing, out.missing)
io.write_tsv(inventory, out.segmentation_files, index=False)
io.write_tsv(ranges, out.range_warnings, index=False)
unread = inventory[~inventory["used"]]
for row in unread.itertuples():
    log.warning("%s/%s not read: %s", params.segmentations, row.file, row.reason)
for row in ranges.itertuples():
    log.warning("patient %s: %s = %.6g is outside its documented range %s", row.patient, row.feature,
                row.value, row.expected)
log.info("%d patients with all 20 features, %d left out for a missing or too small region%s; "
         "%d of %d files in %s not read (%s)", len(complete), len(missing),
         (": " + ", ".join(missing.index)) if len(missing) else "", len(unread), len(inventory),
         params.segmentations, out.segmentation_files)
