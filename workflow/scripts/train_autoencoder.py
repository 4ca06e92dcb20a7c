"""Train the deep autoencoder (paper §2.2.2): the CV folds ``params.folds`` of one
configuration (one fold, or a chunk of them with ``training.folds_per_job``; each fold's history
at its own path), or the final retraining on all profiles (``params.folds`` = [None]) with the
selected configuration. The recipe is radiogenomics.networks.train_folds."""
from radiogenomics import gpu, runlog

log = runlog.setup(snakemake.log[0])
p = snakemake.params
# The slot directory is not a param: moving it must not rerun training.
with gpu.claim(snakemake.config["training"]["gpu_slots_dir"]) as slot:  # before TensorFlow is imported
    import json

    from radiogenomics import backend, io, networks
    from radiogenomics.errors import RadiogenomicsError

    backend.configure_job(p.backend, snakemake.threads)
    log.info("device %s, training backend %s", slot.device or "cpu", p.backend)
    # CV job: the grid point of the wildcards; final retraining: the selected configuration
    # (params read from results/autoencoder/selected.json by the rule).
    if p.config is None or p.learning_rate is None or p.decay is None or p.activation is None:
        raise RadiogenomicsError("autoencoder: no configuration given (results/autoencoder/selected.json missing?)")
    out = snakemake.output
    # one path per fold: a named output is a string for one file, a list for several
    histories = [out.history] if isinstance(out.history, str) else list(out.history)
    folds = list(p.folds)
    if len(histories) != len(folds):
        raise RadiogenomicsError(f"autoencoder: {len(folds)} folds but {len(histories)} history outputs")
    data = networks.read_profiles(snakemake.input.expression, snakemake.input.folds)
    spec = networks.AutoencoderSpec(
        config=p.config, hidden=tuple(p.hidden), activation=p.activation, output_activation=p.output_activation,
        seed=p.seed, sgd=networks.SGD(learning_rate=float(p.learning_rate), decay=float(p.decay),
                                      momentum=p.momentum, batch_size=p.batch_size, epochs=p.epochs, **p.loop))
    nets = networks.train_folds(spec, data, folds, backend=p.backend)
    for net, path in zip(nets, histories, strict=True):
        io.write_tsv(net.history, path, index=False)

    if folds == [None]:
        net = nets[0]
        x = data.inputs.loc[net.train_ids].to_numpy("float32")
        recon = net.model.predict(x, batch_size=256, verbose=0)
        metrics = {
            "config": spec.config, "activation": spec.activation, "learning_rate": spec.sgd.learning_rate,
            "decay": spec.sgd.decay, "epochs": int(p.epochs), "n_profiles": int(len(x)), "n_genes": int(x.shape[1]),
            "final_loss": float(net.history["loss"].iloc[-1]),
            "reconstruction_mse": float(((recon - x) ** 2).mean()),
            "n_parameters": int(net.model.count_params()),
        }
        with io.atomic_path(out.model, suffix=".keras") as tmp:
            net.model.save(tmp)
        io.write_json(metrics, out.metrics)
        log.info("retrained autoencoder: %s", json.dumps(metrics))
