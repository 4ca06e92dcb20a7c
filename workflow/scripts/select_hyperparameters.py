"""Select the configuration with the lowest mean final-epoch validation loss over the
cross-validation folds (paper §2.4), for the autoencoder or the network grid."""
from radiogenomics import runlog

log = runlog.setup(snakemake.log[0])

from radiogenomics import io, selection  # noqa: E402

p = snakemake.params
histories = {}
for (config, fold), path in zip(p.jobs, snakemake.input.histories, strict=True):
    histories[(config, int(fold))] = io.read_tsv(path, index_col=None)
table, chosen = selection.select(histories, p.hyperparameters, n_folds=int(p.n_folds), epoch=p.epoch)
chosen["criterion"] = ("lowest mean over folds of the final-epoch validation loss" if p.epoch == "final" else
                       "lowest mean over folds of the validation loss at any epoch (configuration and epoch)")
chosen["epoch_rule"] = p.epoch
chosen["stage"] = p.stage
io.write_tsv(table, snakemake.output.table)
io.write_json(chosen, snakemake.output.selected)
log.info("%s: selected %s at epoch %d (mean validation loss %.6g over %d folds, %d configurations)",
         p.stage, chosen["config"], chosen["epoch"], chosen["mean_val_loss"], int(p.n_folds), len(table))
