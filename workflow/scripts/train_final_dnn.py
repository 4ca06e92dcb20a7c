"""Retrain the selected network with pre-training and dropout, save it and compute its gene
attributions in the same process (issue 8; one TensorFlow import per model).

``params.fold`` = k: the CV job of the selected configuration for fold k, repeated with the
same seed (``seeds.derive(seed, "dnn", "pretrain_dropout", <config>, k)``, as in
train_dnn.py), data and hyperparameters; on CPU training is deterministic, so the saved model
is the CV model. The final-epoch validation loss is compared with the CV job's history.
``params.fold`` = None: all supervised patients, seed ``derive(seed, "dnn",
"pretrain_dropout", <config>, "final")``, no validation data.

Then, for all supervised patients: integrated gradients (``ig_*`` outputs, see
radiogenomics.associations.ig_tables); for the final model also gene masking and activation
maximisation (``masking``/``am_*`` outputs, see radiogenomics.associations.probe_tables).
"""
from radiogenomics import runlog, gpu

log = runlog.setup(snakemake.log[0])
# The slot directory is not a param: moving it must not rerun training.
slot = gpu.claim(snakemake.config["training"]["gpu_slots_dir"])  # before TensorFlow is imported

from pathlib import Path  # noqa: E402

from radiogenomics import associations, io, models  # noqa: E402

p = snakemake.params
inp, out = snakemake.input, snakemake.output
models.configure_tensorflow(snakemake.threads)
import keras  # noqa: E402

log.info("device %s", slot.device or "cpu")
chosen = io.read_json(inp.selected)
expression = io.read_tsv(inp.expression)
folds = io.read_tsv(inp.folds)["fold"].astype(int)
targets = associations.supervised_data(expression, io.read_tsv(inp.features), folds,
                                       sources=(inp.expression, inp.features, inp.folds))
autoencoder = keras.models.load_model(inp.autoencoder, compile=False)
# selection.epoch: best selects an epoch too; the selected model is the one after that epoch
epochs = int(chosen.get("epoch") or p.epochs)
net = associations.train_selected_network(
    expression, targets, folds, chosen, autoencoder, fold=p.fold, seed=p.seed, ae_hidden=p.ae_hidden,
    hidden4=p.hidden4, nonneg=p.nonneg, momentum=p.momentum, batch_size=p.batch_size, epochs=epochs,
    dropout=p.dropout)
del autoencoder

if p.fold is not None:
    # The CV job of this configuration and fold (an input of dnn_select, so it exists).
    cv_path = Path(f"results/dnn/pretrain_dropout/{net.config}/fold{int(p.fold)}/history.tsv")
    associations.check_against_cv(net.history, io.read_tsv(cv_path, index_col=None) if cv_path.exists() else None,
                                  cv_path)

with io.atomic_path(out.model, suffix=".keras") as tmp:
    net.model.save(tmp)
io.write_tsv(net.history, out.history, index=False)

ig = associations.ig_tables(net.model, net.x, net.genes, list(targets.columns), steps=p.ig_steps, rule=p.ig_rule,
                            patients_per_batch=p.patients_per_batch if p.patients_per_batch > 0 else None)
for name in ("mean", "mean_abs", "mean_gradient"):
    io.write_tsv(ig[name], out[f"ig_{name}"], float_format="%.6g")
io.write_tsv(ig["completeness"], out.ig_completeness)

if "masking" in out.keys():
    # rank by the written table (as the downstream tables do)
    scores = io.read_tsv(out.ig_mean_abs)
    probe = associations.probe_tables(
        net.model, net.x, expression, scores, seed=p.seed, masking_sizes=p.masking_sizes,
        masking_random=p.masking_random, am_steps=p.am_steps, am_learning_rate=p.am_learning_rate, am_l2=p.am_l2,
        am_top_n=p.am_top_n)
    io.write_tsv(probe["masking"], out.masking)
    io.write_tsv(probe["am_summary"], out.am_summary)
    io.write_tsv(probe["am_top"], out.am_top)
    io.write_tsv(probe["am_profiles"], out.am_profiles, float_format="%.6g")
slot.release()
