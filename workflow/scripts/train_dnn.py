"""Train the radiogenomic network (paper §2.2.3) on one cross-validation fold and write
the validation patients' predictions (scaled units), the per-epoch MAE curves and every
epoch's validation predictions (for ``selection.epoch: best``).

Variants: ``pretrain_dropout`` (grid search), ``pretrain`` and ``scratch`` (selected
hyperparameters, no dropout; ``scratch`` without the autoencoder's weights). The recipe
is radiogenomics.networks.train."""
from radiogenomics import gpu, runlog

log = runlog.setup(snakemake.log[0])
p = snakemake.params
# The slot directory is not a param: moving it must not rerun training.
with gpu.claim(snakemake.config["training"]["gpu_slots_dir"]) as slot:  # before TensorFlow is imported
    import numpy as np

    from radiogenomics import backend, io, networks, selection
    from radiogenomics.errors import RadiogenomicsError

    backend.configure_threads(snakemake.threads)
    log.info("device %s", slot.device or "cpu")
    # Grid job: the wildcards' configuration; comparison networks: the selected one (params
    # read from results/dnn/selected.json by the rule).
    if p.config is None or p.learning_rate is None or p.decay is None:
        raise RadiogenomicsError("network: no configuration given (results/dnn/selected.json missing?)")
    inp = snakemake.input
    data = networks.read_supervised(inp.expression, inp.features, inp.folds)
    spec = networks.NetworkSpec(
        variant=p.variant, config=p.config, ae_hidden=tuple(p.ae_hidden), hidden4=p.hidden4, dropout=p.dropout,
        nonneg=p.nonneg, pretrained=bool(p.pretrained), seed=p.seed,
        sgd=networks.SGD(learning_rate=float(p.learning_rate), decay=float(p.decay), momentum=p.momentum,
                         batch_size=p.batch_size, epochs=p.epochs, **p.loop))
    net = networks.train(spec, data, int(p.fold), autoencoder=inp.autoencoder if p.pretrained else None,
                         keep_val_predictions=True)
    features = list(data.targets.columns)
    predictions = net.predict(data.inputs.loc[net.val_ids], features)
    if not np.isfinite(predictions.to_numpy()).all():
        log.warning("non-finite predictions: training diverged (learning rate %g)", float(p.learning_rate))
    io.write_tsv(predictions, snakemake.output.predictions)
    io.write_tsv(net.history, snakemake.output.history, index=False)
    selection.write_epoch_predictions(net.val_predictions, net.val_ids, features, snakemake.output.epoch_predictions)
