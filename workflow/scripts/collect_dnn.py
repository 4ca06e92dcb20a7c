"""Collect one network variant's out-of-fold predictions (all supervised patients x 20
features, scaled units) and learning curves over the folds, for the selected config."""
from radiogenomics import runlog

log = runlog.setup(snakemake.log[0])

from radiogenomics import io, selection  # noqa: E402
from radiogenomics.names import IMAGE_FEATURES  # noqa: E402

p = snakemake.params
chosen = io.read_json(snakemake.input.selected)["config"]
folds = io.read_tsv(snakemake.input.folds)["fold"].astype(int)
predictions, histories = {}, {}
for (config, fold), pred, hist in zip(p.jobs, snakemake.input.predictions, snakemake.input.histories,
                                      strict=True):
    if config in (chosen, "selected"):
        predictions[int(fold)] = io.read_tsv(pred)
        histories[int(fold)] = io.read_tsv(hist, index_col=None)
oof = selection.collect_oof(predictions, folds, columns=IMAGE_FEATURES)
curves = selection.curves(histories)
io.write_tsv(oof, snakemake.output.oof)
io.write_tsv(curves, snakemake.output.curves, index=False)
summary = selection.curve_summary(curves).iloc[-1]
log.info("%s (%s): %d patients; final epoch mean loss %.4g, mean val_loss %.4g",
         p.variant, chosen, len(oof), summary["loss_mean"], summary["val_loss_mean"])
