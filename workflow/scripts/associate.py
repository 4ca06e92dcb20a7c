"""Association tables from the integrated-gradients tables of the final and fold models:
attributions, top genes with stability across folds, elastic-net overlap,
completeness errors. See radiogenomics.rankings."""
from radiogenomics import runlog

log = runlog.setup(snakemake.log[0])

import pandas as pd  # noqa: E402

from radiogenomics import io, rankings  # noqa: E402
from radiogenomics.errors import RadiogenomicsError  # noqa: E402

p = snakemake.params
inp = snakemake.input


def read(path):
    table = io.read_tsv(path)
    table.index = table.index.astype(str)
    if list(table.columns) != list(p.features):
        raise RadiogenomicsError(f"{path}: expected the columns {list(p.features)}")
    return table


signed = read(inp.final_mean)
score = read(inp.final_abs)
gradient = read(inp.final_gradient)
folds = {k: read(path) for k, path in zip(p.folds, inp.fold_abs)}
for k, table in folds.items():
    if list(table.index) != list(score.index):
        raise RadiogenomicsError(f"{inp.fold_abs[p.folds.index(k)]}: genes differ from {inp.final_abs}")
top_n = min(int(p.top_n), len(score.index))

feature_stab, gene_stab = rankings.stability(folds, top_n)
enet = rankings.read_enet_nonzero(dict(zip(p.features, inp.coefficients)))
overlap = rankings.enet_overlap(score, enet, top_n)
top = rankings.top_genes_table(score, signed, top_n, gene_stab, feature_stab, enet, gradient)

completeness = []
for model, path in zip(p.models, inp.completeness):
    table = io.read_tsv(path)
    table.insert(0, "model", model)
    completeness.append(table)
completeness = pd.concat(completeness)

for feature in p.features:
    log.info("%s: top gene %s, top-%d Jaccard across folds %.2f, %d/%d elastic-net genes in the top %d",
             feature, top.loc[feature].iloc[0]["gene"] if feature in top.index else "-", top_n,
             feature_stab.at[feature, "jaccard_mean"], overlap.at[feature, "n_overlap"],
             overlap.at[feature, "n_enet_nonzero"], top_n)

io.write_tsv(signed, snakemake.output.attributions, float_format="%.6g")
io.write_tsv(score, snakemake.output.attributions_abs, float_format="%.6g")
io.write_tsv(gradient, snakemake.output.gradients, float_format="%.6g")
io.write_tsv(top, snakemake.output.top_genes, float_format="%.6g")
io.write_tsv(feature_stab, snakemake.output.stability)
io.write_tsv(overlap, snakemake.output.enet_overlap)
io.write_tsv(completeness, snakemake.output.completeness)
