"""Train the deep autoencoder (paper §2.2.2): one CV fold of one configuration, or the
final retraining on all profiles with the selected configuration. The recipe is
radiogenomics.networks.train."""
from radiogenomics import gpu, runlog

log = runlog.setup(snakemake.log[0])
p = snakemake.params
# The slot directory is not a param: moving it must not rerun training.
with gpu.claim(snakemake.config["training"]["gpu_slots_dir"]) as slot:  # before TensorFlow is imported
    import json

    from radiogenomics import backend, io, networks
    from radiogenomics.errors import RadiogenomicsError

    backend.configure_threads(snakemake.threads)
    log.info("device %s", slot.device or "cpu")
    # CV job: the grid point of the wildcards; final retraining: the selected configuration
    # (params read from results/autoencoder/selected.json by the rule).
    if p.config is None or p.learning_rate is None or p.decay is None or p.activation is None:
        raise RadiogenomicsError("autoencoder: no configuration given (results/autoencoder/selected.json missing?)")
    data = networks.read_profiles(snakemake.input.expression, snakemake.input.folds)
    spec = networks.AutoencoderSpec(
        config=p.config, hidden=tuple(p.hidden), activation=p.activation, output_activation=p.output_activation,
        seed=p.seed, sgd=networks.SGD(learning_rate=float(p.learning_rate), decay=float(p.decay),
                                      momentum=p.momentum, batch_size=p.batch_size, epochs=p.epochs, **p.loop))
    net = networks.train(spec, data, p.fold)
    io.write_tsv(net.history, snakemake.output.history, index=False)

    if p.fold is None:
        x = data.inputs.loc[net.train_ids].to_numpy("float32")
        recon = net.model.predict(x, batch_size=256, verbose=0)
        metrics = {
            "config": spec.config, "activation": spec.activation, "learning_rate": spec.sgd.learning_rate,
            "decay": spec.sgd.decay, "epochs": int(p.epochs), "n_profiles": int(len(x)), "n_genes": int(x.shape[1]),
            "final_loss": float(net.history["loss"].iloc[-1]),
            "reconstruction_mse": float(((recon - x) ** 2).mean()),
            "n_parameters": int(net.model.count_params()),
        }
        with io.atomic_path(snakemake.output.model, suffix=".keras") as tmp:
            net.model.save(tmp)
        io.write_json(metrics, snakemake.output.metrics)
        log.info("retrained autoencoder: %s", json.dumps(metrics))
