"""Clustered heatmap of each feature's top genes x the image features."""
from radiogenomics import runlog

log = runlog.setup(snakemake.log[0])

from radiogenomics import io, plots, rankings  # noqa: E402

score = io.read_tsv(snakemake.input.attributions_abs)
gradient = io.read_tsv(snakemake.input.gradients)
score.index = score.index.astype(str)
gradient.index = gradient.index.astype(str)
features = list(snakemake.params.features)
matrix = rankings.heatmap_matrix(score[features], gradient[features],
                                 int(snakemake.params.genes_per_feature))
log.info("heatmap: %d genes x %d features", *matrix.shape)
io.write_tsv(matrix, snakemake.output.matrix, float_format="%.6g")
plots.clustermap(matrix, snakemake.output.figure, dpi=int(snakemake.params.dpi),
                 title="Integrated gradients of the final network (direction x mean |IG|, per-feature scaled)")
