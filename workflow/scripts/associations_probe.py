"""Gene masking and activation maximisation on the final network (issue 8).

Masking: the top-ranked genes of each feature (by mean |IG|, sets of n genes) set to the
cohort mean (0) in every supervised patient, change of the predicted feature vs random
gene sets. Activation maximisation (paper §4): per feature the standardised profile inside
the observed per-gene range maximising F_k(x) - l2 ||x||^2. See radiogenomics.associations."""
from radiogenomics import runlog, gpu

log = runlog.setup(snakemake.log[0])
slot = gpu.claim(snakemake.params.gpu_slots_dir)  # before TensorFlow is imported

import time  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from radiogenomics import associations, io, models  # noqa: E402
from radiogenomics.errors import RadiogenomicsError  # noqa: E402
from radiogenomics.names import IMAGE_FEATURES  # noqa: E402

p = snakemake.params
models.configure_tensorflow(snakemake.threads)
import keras  # noqa: E402

features = list(IMAGE_FEATURES)
model = keras.models.load_model(snakemake.input.model, compile=False)
expression = io.read_tsv(snakemake.input.expression)
expression.columns = expression.columns.astype(str)
patients = list(io.read_tsv(snakemake.input.folds).index)
x = expression.loc[patients].to_numpy("float32")
genes = pd.Index(expression.columns, name="gene")
scores = io.read_tsv(snakemake.input.mean_abs)
scores.index = scores.index.astype(str)
if list(scores.index) != list(genes) or list(scores.columns) != features:
    raise RadiogenomicsError(f"{snakemake.input.mean_abs}: genes or features differ from {snakemake.input.expression}")

position = {g: i for i, g in enumerate(genes)}
rankings = {k: np.array([position[g] for g in associations.rank_genes(scores[f])]) for k, f in enumerate(features)}
start = time.perf_counter()
masking = associations.masking_effects(model, x, rankings, sizes=p.masking_sizes, n_random=p.masking_random,
                                       seed=p.seed, features=features)
log.info("masking: %.1f s; top sets change the feature more than the random-set mean in %d of %d cases",
         time.perf_counter() - start, int((masking["ratio"] > 1).sum()), len(masking))
io.write_tsv(masking, snakemake.output.masking)

# bounds: the observed range of each gene over all expression profiles
lower = expression.min(axis=0).to_numpy("float32")
upper = expression.max(axis=0).to_numpy("float32")
start = time.perf_counter()
am = associations.activation_maximisation(model, lower, upper, l2=p.am_l2, steps=p.am_steps,
                                          learning_rate=p.am_learning_rate)
log.info("activation maximisation: %.1f s", time.perf_counter() - start)
ig_top = {f: associations.top_set(scores[f], p.am_top_n) for f in features}
summary, top = associations.am_tables(am, genes, features, lower, upper, top_n=p.am_top_n, ig_top=ig_top)
io.write_tsv(summary, snakemake.output.am_summary)
io.write_tsv(top, snakemake.output.am_top)
io.write_tsv(pd.DataFrame(am.profiles.T, index=genes, columns=features), snakemake.output.am_profiles,
             float_format="%.6g")
slot.release()
