"""Train the radiogenomic network (paper §2.2.3) on the cross-validation folds ``params.folds``
(one fold, or a chunk of them with ``training.folds_per_job``) and write, per fold at its own
paths, the validation patients' predictions (scaled units), the per-epoch MAE curves and every
epoch's validation predictions (for ``selection.epoch: best``).

Variants: ``pretrain_dropout`` (grid search), ``pretrain`` and ``scratch`` (selected
hyperparameters, no dropout; ``scratch`` without the autoencoder's weights). The recipe
is radiogenomics.networks.train_folds."""
from radiogenomics import gpu, runlog

log = runlog.setup(snakemake.log[0])
p = snakemake.params
# The slot directory is not a param: moving it must not rerun training.
with gpu.claim(snakemake.config["training"]["gpu_slots_dir"]) as slot:  # before TensorFlow is imported
    import numpy as np

    from radiogenomics import backend, io, networks, selection
    from radiogenomics.errors import RadiogenomicsError

    backend.configure_job(p.backend, snakemake.threads)
    log.info("device %s, training backend %s", slot.device or "cpu", p.backend)
    # Grid job: the wildcards' configuration; comparison networks: the selected one (params
    # read from results/dnn/selected.json by the rule).
    if p.config is None or p.learning_rate is None or p.decay is None:
        raise RadiogenomicsError("network: no configuration given (results/dnn/selected.json missing?)")
    inp, out = snakemake.input, snakemake.output
    folds = [int(k) for k in p.folds]
    # one path per fold: a named output is a string for one file, a list for several
    paths = {name: [out[name]] if isinstance(out[name], str) else list(out[name])
             for name in ("predictions", "history", "epoch_predictions")}
    if any(len(v) != len(folds) for v in paths.values()):
        raise RadiogenomicsError(f"network: {len(folds)} folds but outputs {({k: len(v) for k, v in paths.items()})}")
    data = networks.read_supervised(inp.expression, inp.features, inp.folds)
    spec = networks.NetworkSpec(
        variant=p.variant, config=p.config, ae_hidden=tuple(p.ae_hidden), hidden4=p.hidden4, dropout=p.dropout,
        nonneg=p.nonneg, pretrained=bool(p.pretrained), seed=p.seed,
        sgd=networks.SGD(learning_rate=float(p.learning_rate), decay=float(p.decay), momentum=p.momentum,
                         batch_size=p.batch_size, epochs=p.epochs, **p.loop))
    nets = networks.train_folds(spec, data, folds, autoencoder=inp.autoencoder if p.pretrained else None,
                                keep_val_predictions=True, backend=p.backend)
    features = list(data.targets.columns)
    for i, net in enumerate(nets):
        predictions = net.predict(data.inputs.loc[net.val_ids], features)
        if not np.isfinite(predictions.to_numpy()).all():
            log.warning("fold %d: non-finite predictions: training diverged (learning rate %g)", folds[i],
                        float(p.learning_rate))
        io.write_tsv(predictions, paths["predictions"][i])
        io.write_tsv(net.history, paths["history"][i], index=False)
        selection.write_epoch_predictions(net.val_predictions, net.val_ids, features, paths["epoch_predictions"][i])
