"""Collect one network variant's out-of-fold predictions (all supervised patients x the
image features, scaled units) and learning curves over the folds, for the selected config."""
from radiogenomics import runlog

log = runlog.setup(snakemake.log[0])

from radiogenomics import io, selection  # noqa: E402

p = snakemake.params
inp = snakemake.input
selected = io.read_json(inp.selected)
chosen = selected["config"]
folds = io.read_tsv(inp.folds)["fold"].astype(int)
epoch = int(selected["epoch"])  # the last one, or with selection.epoch: best the best one
predictions, histories = {}, {}
for (config, fold), pred, hist, per_epoch in zip(p.jobs, inp.predictions, inp.histories, inp.epoch_predictions,
                                                 strict=True):
    if config in (chosen, "selected"):
        histories[int(fold)] = io.read_tsv(hist, index_col=None)
        # the final epoch's are the job's own predictions; an earlier one's come from the
        # per-epoch file
        predictions[int(fold)] = (io.read_tsv(pred) if epoch == len(histories[int(fold)])
                                  else selection.read_epoch_predictions(per_epoch, epoch))
oof = selection.collect_oof(predictions, folds, columns=p.features)
curves = selection.curves(histories)
io.write_tsv(oof, snakemake.output.oof)
io.write_tsv(curves, snakemake.output.curves, index=False)
summary = selection.curve_summary(curves).iloc[-1]
log.info("%s (%s, judged at epoch %d): %d patients; final epoch mean loss %.4g, mean val_loss %.4g",
         p.variant, chosen, epoch, len(oof), summary["loss_mean"], summary["val_loss_mean"])
