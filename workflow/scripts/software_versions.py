"""Software versions for the report: installed in this job, pinned by workflow/envs."""
from radiogenomics import runlog

log = runlog.setup(snakemake.log[0])

from radiogenomics import io, summary, versions  # noqa: E402

table = versions.software_versions(snakemake.input.envs, extra={"snakemake (ran the workflow)": snakemake.params.snakemake})
io.write_tsv(table, snakemake.output.tsv)
page = summary.html_page(
    "Software versions",
    [("Packages", table), ("Platform of this job", versions.platform_summary())],
    notes="'installed': the version importable by the job that wrote this page; "
          "'env:<name>': the version pinned by workflow/envs/<name>.yaml (used with --use-conda). "
          "Training rules run in the tensorflow environment, imaging rules in the imaging one.",
)
io.write_text(page, snakemake.output.html)
