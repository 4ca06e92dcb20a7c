"""Integrated gradients of one saved network for all supervised patients (issue 8).

Writes genes x features tables of the signed mean and mean absolute attribution over the
patients, and per feature the completeness error (sum over genes of IG vs F(x) - F(0)).
See radiogenomics.associations.integrated_gradients."""
from radiogenomics import runlog, gpu

log = runlog.setup(snakemake.log[0])
slot = gpu.claim(snakemake.params.gpu_slots_dir)  # before TensorFlow is imported

import time  # noqa: E402

import pandas as pd  # noqa: E402

from radiogenomics import associations, io, models  # noqa: E402
from radiogenomics.names import IMAGE_FEATURES  # noqa: E402

p = snakemake.params
models.configure_tensorflow(snakemake.threads)
import keras  # noqa: E402

model = keras.models.load_model(snakemake.input.model, compile=False)
expression = io.read_tsv(snakemake.input.expression)
patients = list(io.read_tsv(snakemake.input.folds).index)
x = expression.loc[patients].to_numpy("float32")
genes = pd.Index(expression.columns.astype(str), name="gene")
per_batch = p.patients_per_batch if p.patients_per_batch > 0 else None
log.info("integrated gradients: %d patients x %d genes, %d outputs, %d steps (%s), device %s",
         len(patients), len(genes), len(IMAGE_FEATURES), p.steps, p.rule, slot.device or "cpu")
start = time.perf_counter()
result = associations.integrated_gradients(model, x, steps=p.steps, rule=p.rule, patients_per_batch=per_batch)
log.info("done in %.1f s", time.perf_counter() - start)
features = list(IMAGE_FEATURES)
io.write_tsv(pd.DataFrame(result.mean, index=genes, columns=features), snakemake.output.mean, float_format="%.6g")
io.write_tsv(pd.DataFrame(result.mean_abs, index=genes, columns=features), snakemake.output.mean_abs,
             float_format="%.6g")
io.write_tsv(pd.DataFrame(result.mean_gradient, index=genes, columns=features), snakemake.output.mean_gradient,
             float_format="%.6g")
table = result.completeness_table(features)
log.info("completeness: mean |error| / mean |F(x) - F(0)| = %.3g (worst feature %.3g)",
         table["mean_abs_error"].sum() / max(table["mean_abs_delta"].sum(), 1e-30), table["relative_error"].max())
io.write_tsv(table, snakemake.output.completeness)
slot.release()
