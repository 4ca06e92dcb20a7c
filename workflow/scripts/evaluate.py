"""Per-feature MAE/MAPE, paired Wilcoxon tests with Bonferroni correction, the null model,
paired-bootstrap intervals and the paper's Tables 2-4 (paper §2.4, §3) from every model's
out-of-fold predictions."""
from radiogenomics import runlog

log = runlog.setup(snakemake.log[0])

from radiogenomics import evaluation, io  # noqa: E402
from radiogenomics.errors import RadiogenomicsError  # noqa: E402

inp, out, params = snakemake.input, snakemake.output, snakemake.params


def read(path):
    frame = io.read_tsv(path)
    frame.index = frame.index.astype(str)
    return frame


folds = read(inp.folds)
measured = evaluation.supervised_measured(read(inp.measured), folds, inp.folds)
if list(measured.columns) != list(params.features):
    raise RadiogenomicsError(f"{inp.measured}: expected the feature columns {list(params.features)}, "
                             f"got {list(measured.columns)}")
predictions = {name: read(path) for name, path in zip(params.networks, inp.networks, strict=True)}
predictions[params.reference] = read(inp.reference)
scale = read(inp.scale)
result = evaluation.evaluate(measured, predictions, scale, reference=params.reference,
                             folds=folds["fold"], n_resamples=int(params.bootstrap), seed=int(params.seed))
io.write_tsv(result["per_feature"], out.per_feature, index=False)
io.write_tsv(result["differences"], out.differences, index=False)
for name in ("table2", "table3", "table4"):
    io.write_tsv(result[name], out[name])
t2 = result["table2"]
for model, row in t2.iterrows():
    log.info("%s: mean MAE %.4f [%.4f, %.4f], mean MAPE %.2f%% [%.2f, %.2f]", model, row["mean_mae"],
             row["mean_mae_ci_low"], row["mean_mae_ci_high"], row["mean_mape"], row["mean_mape_ci_low"],
             row["mean_mape_ci_high"])
log.info("%d patients, %d features, %d models (with the null), %d bootstrap resamples", len(measured),
         measured.shape[1], len(t2), int(params.bootstrap))
