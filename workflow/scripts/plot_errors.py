"""Figure 3: per image feature, the network's error against the elastic net's (MAE and
MAPE), significant features (Bonferroni-adjusted Wilcoxon p < 0.05) marked."""
from radiogenomics import runlog

log = runlog.setup(snakemake.log[0])

from radiogenomics import io, plots  # noqa: E402

per_feature = io.read_tsv(snakemake.input.per_feature, index_col=None)
plots.plot_error_scatter(per_feature, snakemake.output.figure, network=snakemake.params.network,
                         reference=snakemake.params.reference, dpi=int(snakemake.params.dpi))
log.info("wrote %s", snakemake.output.figure)
