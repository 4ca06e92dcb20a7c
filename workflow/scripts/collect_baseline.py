"""Rule baseline_collect: the 20 per-feature elastic nets in one table each."""
from radiogenomics import runlog

log = runlog.setup(snakemake.log[0])  # noqa: F821

from radiogenomics import baseline  # noqa: E402

baseline.collect(
    oof_paths=list(snakemake.input.oof),  # noqa: F821
    selection_paths=list(snakemake.input.selection),  # noqa: F821
    features=list(snakemake.params.features),  # noqa: F821
    oof_path=snakemake.output.oof,  # noqa: F821
    selection_path=snakemake.output.selection,  # noqa: F821
)
