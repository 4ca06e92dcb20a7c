"""Retrain the selected network with pre-training and dropout, save it and compute its gene
attributions in the same process (one TensorFlow import per model).

``params.fold`` = k: the CV job of the selected configuration for fold k, repeated with the
same recipe (radiogenomics.networks.train: same seed, data, hyperparameters and
training.backend); on CPU training is deterministic, so the saved model is the CV model. The job stops with an error
unless the retrain's last validation loss equals the CV job's (``input.cv_history``) at that
epoch (radiogenomics.networks.check_reproduces). ``params.fold`` = None: all supervised
patients, seed ``derive(seed, "dnn", "pretrain_dropout", <config>, "final")``, no validation.

Then, for all supervised patients: integrated gradients (``ig_*`` outputs, see
radiogenomics.attribution.ig_tables); for the final model also gene masking and activation
maximisation (``masking``/``am_*`` outputs, see radiogenomics.probes.probe_tables).
"""
from radiogenomics import gpu, runlog

log = runlog.setup(snakemake.log[0])
p, inp, out = snakemake.params, snakemake.input, snakemake.output
# The slot directory is not a param: moving it must not rerun training.
with gpu.claim(snakemake.config["training"]["gpu_slots_dir"]) as slot:  # before TensorFlow is imported
    import pandas as pd

    from radiogenomics import attribution, backend, io, names, networks, probes

    backend.configure_job(p.backend, snakemake.threads)
    log.info("device %s, training backend %s", slot.device or "cpu", p.backend)
    chosen = io.read_json(inp.selected)
    data = networks.read_supervised(inp.expression, inp.features, inp.folds)
    spec = networks.NetworkSpec(
        variant=names.GRID_NETWORK, config=str(chosen["config"]), ae_hidden=tuple(p.ae_hidden), hidden4=p.hidden4,
        dropout=p.dropout, nonneg=p.nonneg, pretrained=True, seed=p.seed,
        # selection.epoch: best selects an epoch too; the selected model is the one after that epoch
        sgd=networks.SGD(learning_rate=float(chosen["learning_rate"]), decay=float(chosen["decay"]),
                         momentum=p.momentum, batch_size=p.batch_size, epochs=networks.epoch_count(chosen, p.epochs),
                         **p.loop))
    net = networks.train(spec, data, p.fold, autoencoder=inp.autoencoder, backend=p.backend)
    if p.fold is not None:
        networks.check_reproduces(net.history, io.read_tsv(inp.cv_history, index_col=None), inp.cv_history)

    with io.atomic_path(out.model, suffix=".keras") as tmp:
        net.model.save(tmp)
    io.write_tsv(net.history, out.history, index=False)

    # attributions for all supervised patients
    x = data.inputs.loc[list(data.folds.index)].to_numpy("float32")
    genes = pd.Index(data.inputs.columns.astype(str), name="gene")
    features = list(data.targets.columns)
    ig = attribution.ig_tables(net.model, x, genes, features, steps=p.ig_steps, rule=p.ig_rule,
                               patients_per_batch=p.patients_per_batch if p.patients_per_batch > 0 else None)
    for name in ("mean", "mean_abs", "mean_gradient"):
        io.write_tsv(ig[name], out[f"ig_{name}"], float_format="%.6g")
    io.write_tsv(ig["completeness"], out.ig_completeness)

    if "masking" in out.keys():
        # rank by the written table (as the downstream tables do)
        scores = io.read_tsv(out.ig_mean_abs)
        probe = probes.probe_tables(
            net.model, x, data.inputs, scores, seed=p.seed, masking_sizes=p.masking_sizes,
            masking_random=p.masking_random, am_steps=p.am_steps, am_learning_rate=p.am_learning_rate,
            am_l2=p.am_l2, am_top_n=p.am_top_n)
        io.write_tsv(probe["masking"], out.masking)
        io.write_tsv(probe["am_summary"], out.am_summary)
        io.write_tsv(probe["am_top"], out.am_top)
        io.write_tsv(probe["am_profiles"], out.am_profiles, float_format="%.6g")
