"""Train the deep autoencoder (paper §2.2.2): one CV fold of one configuration, or the
final retraining on all profiles with the selected configuration."""
from radiogenomics import runlog, gpu

log = runlog.setup(snakemake.log[0])
# The slot directory is not a param: moving it must not rerun training.
slot = gpu.claim(snakemake.config["training"]["gpu_slots_dir"])  # before TensorFlow is imported

import json  # noqa: E402

from radiogenomics import io, models, seeds, training  # noqa: E402
from radiogenomics.errors import RadiogenomicsError  # noqa: E402
from radiogenomics.folds import split  # noqa: E402

p = snakemake.params
models.configure_tensorflow(snakemake.threads)

# CV job: the grid point of the wildcards; final retraining: the selected configuration
# (params read from results/autoencoder/selected.json by the rule).
if p.config is None or p.learning_rate is None or p.decay is None or p.activation is None:
    raise RadiogenomicsError("autoencoder: no configuration given (results/autoencoder/selected.json missing?)")
config_name, activation = p.config, p.activation
learning_rate, decay = float(p.learning_rate), float(p.decay)

expression = io.read_tsv(snakemake.input.expression)
folds = io.read_tsv(snakemake.input.folds)["fold"].astype(int)
missing = sorted(set(folds.index) - set(expression.index))
if missing:
    raise RadiogenomicsError(
        f"{snakemake.input.folds}: patients without a profile in {snakemake.input.expression}: {missing[:5]}")

seed = seeds.derive(p.seed, "autoencoder", config_name, "final" if p.fold is None else p.fold)
if p.fold is None:
    x, x_val = expression.loc[folds.index].to_numpy("float32"), None
else:
    train_ids, val_ids = split(folds, int(p.fold))
    x = expression.loc[train_ids].to_numpy("float32")
    x_val = expression.loc[val_ids].to_numpy("float32")
log.info("autoencoder %s fold %s: %d training profiles, %s validation, %d genes, seed %d, device %s",
         config_name, p.fold or "all", len(x), 0 if x_val is None else len(x_val), x.shape[1], seed,
         slot.device or "cpu")

model = models.build_autoencoder(x.shape[1], p.hidden, activation, p.output_activation, seed)
history = training.fit(
    model, x, x, x_val=x_val, y_val=x_val, loss="mse", learning_rate=learning_rate, decay=decay,
    momentum=p.momentum, batch_size=p.batch_size, epochs=p.epochs, seed=seed)
log.info("final epoch: loss %.6g, val_loss %.6g", history["loss"].iloc[-1], history["val_loss"].iloc[-1])
io.write_tsv(history, snakemake.output.history, index=False)

if p.fold is None:
    recon = model.predict(x, batch_size=256, verbose=0)
    metrics = {
        "config": config_name, "activation": activation, "learning_rate": learning_rate,
        "decay": decay, "epochs": int(p.epochs), "n_profiles": int(len(x)), "n_genes": int(x.shape[1]),
        "final_loss": float(history["loss"].iloc[-1]),
        "reconstruction_mse": float(((recon - x) ** 2).mean()),
        "n_parameters": int(model.count_params()),
    }
    with io.atomic_path(snakemake.output.model, suffix=".keras") as tmp:
        model.save(tmp)
    io.write_json(metrics, snakemake.output.metrics)
    log.info("retrained autoencoder: %s", json.dumps(metrics))
slot.release()
