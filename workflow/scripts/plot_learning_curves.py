"""Figure 2: learning curves (mean ± 1 s.d. over folds) of the selected configuration of
each network and of the autoencoder, and their final-epoch losses (paper §3.1), with the
null model's (each feature's training-fold mean) for comparison."""
from radiogenomics import runlog

log = runlog.setup(snakemake.log[0])

from radiogenomics import evaluation, io, null_model, plots  # noqa: E402

inp, out, params = snakemake.input, snakemake.output, snakemake.params

curves = {name: io.read_tsv(path, index_col=None) for name, path in zip(params.networks, inp.curves, strict=True)}
selected = io.read_json(inp.ae_selected)
chosen = str(selected["config"])
histories = {
    int(fold): io.read_tsv(path, index_col=None)
    for (config, fold), path in zip(params.ae_jobs, inp.ae_histories, strict=True)
    if config == chosen
}
if not histories:
    from radiogenomics.errors import RadiogenomicsError

    raise RadiogenomicsError(f"{inp.ae_selected}: selected config {chosen!r} is not in the autoencoder grid")
curves["autoencoder"] = plots.stack_histories(histories)
final = {"autoencoder": io.read_tsv(inp.ae_final, index_col=None)}
folds = io.read_tsv(inp.folds)["fold"].astype(int)
folds.index = folds.index.astype(str)
measured = io.read_tsv(inp.measured)
measured.index = measured.index.astype(str)
null = null_model.losses_per_fold(evaluation.supervised_measured(measured, folds, inp.folds), folds)
dnn_selected = io.read_json(inp.dnn_selected)
best_epoch = int(dnn_selected["epoch"]) if dnn_selected.get("epoch_rule") == "best" else None
plots.plot_learning_curves(curves, out.figure, final_histories=final, null_val_loss=float(null["val_loss"].mean()),
                           selected_epoch=best_epoch, dpi=int(params.dpi))
losses = plots.final_losses(curves, final, null_losses=null)
io.write_tsv(losses, out.losses)
log.info("final losses:\n%s", losses.to_string())
