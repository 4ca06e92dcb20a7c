"""Train the radiogenomic network (paper §2.2.3) on one cross-validation fold and write
the validation patients' predictions (scaled units), the per-epoch MAE curves and every
epoch's validation predictions (for ``selection.epoch: best``).

Variants: ``pretrain_dropout`` (grid search), ``pretrain`` and ``scratch`` (selected
hyperparameters, no dropout; ``scratch`` without the autoencoder's weights)."""
from radiogenomics import runlog, gpu

log = runlog.setup(snakemake.log[0])
# The slot directory is not a param: moving it must not rerun training.
slot = gpu.claim(snakemake.config["training"]["gpu_slots_dir"])  # before TensorFlow is imported

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from radiogenomics import io, models, seeds, selection, training  # noqa: E402
from radiogenomics.errors import RadiogenomicsError  # noqa: E402
from radiogenomics.folds import split  # noqa: E402
from radiogenomics.cohort import supervised_data  # noqa: E402

p = snakemake.params
models.configure_tensorflow(snakemake.threads)

# Grid job: the wildcards' configuration; comparison networks: the selected one (params
# read from results/dnn/selected.json by the rule).
if p.config is None or p.learning_rate is None or p.decay is None:
    raise RadiogenomicsError("network: no configuration given (results/dnn/selected.json missing?)")
config_name, learning_rate, decay = p.config, float(p.learning_rate), float(p.decay)

expression = io.read_tsv(snakemake.input.expression)
features = io.read_tsv(snakemake.input.features)
folds = io.read_tsv(snakemake.input.folds)["fold"].astype(int)
targets = supervised_data(expression, features, folds, sources=(
    snakemake.input.expression, snakemake.input.features, snakemake.input.folds))

train_ids, val_ids = split(folds, int(p.fold))
x = expression.loc[train_ids].to_numpy("float32")
y = targets.loc[train_ids].to_numpy("float32")
x_val = expression.loc[val_ids].to_numpy("float32")
y_val = targets.loc[val_ids].to_numpy("float32")
seed = seeds.derive(p.seed, "dnn", p.variant, config_name, int(p.fold))
log.info("network %s %s fold %s: %d training / %d validation patients, %d genes, seed %d, device %s",
         p.variant, config_name, p.fold, len(x), len(x_val), x.shape[1], seed, slot.device or "cpu")

model, nonneg = models.build_dnn(x.shape[1], models.encoder_sizes(p.ae_hidden), p.hidden4,
                                 targets.shape[1], p.dropout, p.nonneg, seed)
if p.pretrained:
    import keras  # noqa: E402

    autoencoder = keras.models.load_model(snakemake.input.autoencoder, compile=False)
    log.info("transferred %s", models.transfer_encoder(autoencoder, model))
    del autoencoder

epoch_predictions = []  # every epoch's validation predictions, for selection.epoch: best
history = training.fit(
    model, x, y, x_val=x_val, y_val=y_val, loss="mae", learning_rate=learning_rate, decay=decay,
    momentum=p.momentum, batch_size=p.batch_size, epochs=p.epochs, seed=seed, nonneg=nonneg,
    val_predictions=epoch_predictions)
log.info("final epoch: loss %.6g, val_loss %.6g", history["loss"].iloc[-1], history["val_loss"].iloc[-1])
pred = model.predict(x_val, batch_size=256, verbose=0)
if not np.isfinite(pred).all():
    log.warning("non-finite predictions: training diverged (learning rate %g)", learning_rate)
predictions = pd.DataFrame(pred, index=pd.Index(val_ids, name="patient"), columns=list(targets.columns))
io.write_tsv(predictions, snakemake.output.predictions)
io.write_tsv(history, snakemake.output.history, index=False)
selection.write_epoch_predictions(epoch_predictions, val_ids, targets.columns, snakemake.output.epoch_predictions)
slot.release()
