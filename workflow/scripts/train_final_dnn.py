"""Retrain the selected network with pre-training and dropout and save it (issue 8).

``params.fold`` = k: the CV job of the selected configuration for fold k, repeated with the
same seed (``seeds.derive(seed, "dnn", "pretrain_dropout", <config>, k)``, as in
train_dnn.py), data and hyperparameters; on CPU training is deterministic, so the saved model
is the CV model. The final-epoch validation loss is compared with the CV job's history.
``params.fold`` = None: all supervised patients, seed ``derive(seed, "dnn",
"pretrain_dropout", <config>, "final")``, no validation data.
"""
from radiogenomics import runlog, gpu

log = runlog.setup(snakemake.log[0])
slot = gpu.claim(snakemake.params.gpu_slots_dir)  # before TensorFlow is imported

import math  # noqa: E402
from pathlib import Path  # noqa: E402

from radiogenomics import io, models, seeds, training  # noqa: E402
from radiogenomics.errors import RadiogenomicsError  # noqa: E402
from radiogenomics.folds import split  # noqa: E402
from radiogenomics.names import IMAGE_FEATURES  # noqa: E402

p = snakemake.params
models.configure_tensorflow(snakemake.threads)
import keras  # noqa: E402

chosen = io.read_json(snakemake.input.selected)
config_name = chosen["config"]
learning_rate, decay = float(chosen["learning_rate"]), float(chosen["decay"])

expression = io.read_tsv(snakemake.input.expression)
features = io.read_tsv(snakemake.input.features)
folds = io.read_tsv(snakemake.input.folds)["fold"].astype(int)
if list(features.columns) != list(IMAGE_FEATURES):
    raise RadiogenomicsError(f"{snakemake.input.features}: expected the 20 columns {list(IMAGE_FEATURES)}")
for table, path in ((expression, snakemake.input.expression), (features, snakemake.input.features)):
    missing = sorted(set(folds.index) - set(table.index))
    if missing:
        raise RadiogenomicsError(f"{snakemake.input.folds}: supervised patients missing from {path}: {missing[:5]}")
targets = features.loc[folds.index]
if targets.isna().any().any():
    bad = list(targets.index[targets.isna().any(axis=1)][:5])
    raise RadiogenomicsError(f"{snakemake.input.features}: supervised patients with missing features: {bad}")

if p.fold is None:
    train_ids, val_ids = list(folds.index), []
    seed = seeds.derive(p.seed, "dnn", "pretrain_dropout", config_name, "final")
else:
    train_ids, val_ids = split(folds, int(p.fold))
    seed = seeds.derive(p.seed, "dnn", "pretrain_dropout", config_name, int(p.fold))
x = expression.loc[train_ids].to_numpy("float32")
y = targets.loc[train_ids].to_numpy("float32")
val = {}
if len(val_ids):
    val = {"x_val": expression.loc[val_ids].to_numpy("float32"), "y_val": targets.loc[val_ids].to_numpy("float32")}
log.info("network pretrain_dropout %s (%s): %d training / %d validation patients, %d genes, seed %d, device %s",
         config_name, "final" if p.fold is None else f"fold {p.fold}", len(x), len(val_ids), x.shape[1], seed,
         slot.device or "cpu")

model, nonneg = models.build_dnn(x.shape[1], models.encoder_sizes(p.ae_hidden), p.hidden4,
                                 len(IMAGE_FEATURES), p.dropout, p.nonneg, seed)
autoencoder = keras.models.load_model(snakemake.input.autoencoder, compile=False)
log.info("transferred %s", models.transfer_encoder(autoencoder, model))
del autoencoder

history = training.fit(
    model, x, y, loss="mae", learning_rate=learning_rate, decay=decay, momentum=p.momentum,
    batch_size=p.batch_size, epochs=p.epochs, seed=seed, nonneg=nonneg, **val)
log.info("final epoch: loss %.6g, val_loss %.6g", history["loss"].iloc[-1], history["val_loss"].iloc[-1])

if p.fold is not None:
    # The CV job of this configuration and fold (an input of dnn_select, so it exists).
    cv_path = Path(f"results/dnn/pretrain_dropout/{config_name}/fold{int(p.fold)}/history.tsv")
    if cv_path.exists():
        cv = io.read_tsv(cv_path, index_col=None)
        a, b = float(cv["val_loss"].iloc[-1]), float(history["val_loss"].iloc[-1])
        if len(cv) == len(history) and math.isclose(a, b, rel_tol=1e-4, abs_tol=1e-7):
            log.info("final-epoch val_loss %.6g equals the CV job's (%s): same model", b, cv_path)
        else:
            log.warning("final-epoch val_loss %.6g differs from the CV job's %.6g (%s): the retrained "
                        "model is not the CV model (non-deterministic device or changed training code)",
                        b, a, cv_path)
    else:
        log.warning("%s not found: cannot check that the retrained model equals the CV model", cv_path)

with io.atomic_path(snakemake.output.model, suffix=".keras") as tmp:
    model.save(tmp)
io.write_tsv(history, snakemake.output.history, index=False)
slot.release()
