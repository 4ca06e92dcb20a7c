"""Tests of the associations stage: radiogenomics.attribution (integrated gradients, masking),
radiogenomics.probes (activation maximisation), radiogenomics.rankings (rankings, stability,
elastic-net overlap), the association map (radiogenomics.plots.clustermap), the fold
retrain's check against its CV job (radiogenomics.networks), and the stage's outputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from planted import planted_recovery
from radiogenomics import attribution, cohort, networks, plots, probes, rankings, split_network
from radiogenomics.errors import RadiogenomicsError

keras = pytest.importorskip("keras")


def dense_stack(n_in, sizes, n_out, activation="tanh", dropout=0.0, seed=0, output_activation=None):
    keras.utils.set_random_seed(seed)
    layers = [keras.Input((n_in,))]
    if dropout:
        layers.append(keras.layers.Dropout(dropout))
    for size in sizes:
        layers.append(keras.layers.Dense(size, activation=activation))
        if dropout:
            layers.append(keras.layers.Dropout(dropout))
    layers.append(keras.layers.Dense(n_out, activation=output_activation))
    return keras.Sequential(layers)


def linear_model(weights, bias=0.0):
    """F(x) = x W + b with W (genes, outputs)."""
    weights = np.asarray(weights, np.float32)
    model = keras.Sequential([keras.Input((weights.shape[0],)), keras.layers.Dense(weights.shape[1])])
    model.layers[0].set_weights([weights, np.full(weights.shape[1], bias, np.float32)])
    return model


@pytest.fixture(scope="module")
def rng():
    return np.random.default_rng(42)


def test_no_module_imports_tensorflow_until_it_is_needed():
    """TensorFlow comes only through radiogenomics.backend, on first use: importing the
    training and attribution modules (as the rule scripts do before claiming a GPU) loads it not."""
    import subprocess
    import sys
    from pathlib import Path

    from radiogenomics import backend

    modules = ["attribution", "backend", "models", "networks", "plots", "probes", "rankings", "split_network",
               "training"]
    code = (f"import sys; import {', '.join('radiogenomics.' + m for m in modules)}; "
            "sys.exit(1 if any(m.split('.')[0] in ('tensorflow', 'keras') for m in sys.modules) else 0)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True,
                          env={"PYTHONPATH": str(Path(backend.__file__).parents[1])})
    assert proc.returncode == 0, proc.stderr.decode()
    assert backend.tensorflow().__name__ == "tensorflow" and backend.keras().__name__ == "keras"


# ------------------------------------------------------------------ quadrature
@pytest.mark.parametrize("rule", attribution.QUADRATURE_RULES)
def test_quadrature_weights_sum_to_one_and_integrate_linear_exactly(rule):
    alphas, weights = attribution.quadrature(10, rule)
    assert weights.sum() == pytest.approx(1.0, abs=1e-6)
    assert ((alphas >= 0) & (alphas <= 1)).all()
    if rule in ("trapezoid", "riemann_middle"):
        assert float((weights * alphas).sum()) == pytest.approx(0.5, abs=1e-6)  # ∫ α dα


def test_quadrature_rejects_bad_input():
    with pytest.raises(RadiogenomicsError, match="ig_steps"):
        attribution.quadrature(0)
    with pytest.raises(RadiogenomicsError, match="ig_rule"):
        attribution.quadrature(5, "simpson")


# ------------------------------------------------------------------ integrated gradients
def test_ig_of_linear_model_is_weight_times_input(rng):
    w = rng.normal(size=(12, 3))
    x = rng.normal(size=(5, 12)).astype(np.float32)
    res = attribution.integrated_gradients(linear_model(w, bias=0.7), x, steps=3, keep_per_patient=True)
    expected = x[:, None, :] * w.T[None, :, :]
    np.testing.assert_allclose(res.per_patient, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(res.mean, expected.mean(axis=0).T, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(res.mean_abs, np.abs(expected).mean(axis=0).T, rtol=1e-5, atol=1e-6)
    assert np.abs(res.completeness).max() < 1e-4


def test_ig_completeness_error_shrinks_with_steps(rng):
    model = dense_stack(20, [16, 8], 4, activation="tanh", seed=1)
    x = rng.uniform(-1, 1, size=(6, 20)).astype(np.float32)
    errors = []
    for steps in (2, 8, 64):
        res = attribution.integrated_gradients(model, x, steps=steps)
        errors.append(np.abs(res.completeness).mean())
    assert errors[0] > errors[1] > errors[2]
    res = attribution.integrated_gradients(model, x, steps=64)
    table = res.completeness_table(["a", "b", "c", "d"])
    assert list(table.columns) == ["mean_abs_delta", "mean_abs_error", "max_abs_error", "relative_error"]
    assert (table["relative_error"] < 1e-3).all()
    assert (table["mean_abs_delta"] > 0).all()


def test_ig_relu_network_with_dropout_completeness_reported(rng):
    model = dense_stack(30, [16, 12, 8], 5, activation="relu", dropout=0.25, seed=2)
    x = rng.uniform(-1, 1, size=(8, 30)).astype(np.float32)
    res = attribution.integrated_gradients(model, x, steps=50)
    # dropout must be off: the completeness identity holds against the inference-mode model
    table = res.completeness_table(list("abcde"))
    assert (table["relative_error"].fillna(0) < 0.05).all()
    pred = model(x, training=False).numpy() - model(np.zeros((1, 30), np.float32), training=False).numpy()
    np.testing.assert_allclose(res.delta, pred, rtol=1e-5, atol=1e-6)


def test_ig_batching_and_methods_agree(rng):
    model = dense_stack(25, [10, 6], 3, activation="relu", dropout=0.25, seed=3)
    x = rng.uniform(-1, 1, size=(7, 25)).astype(np.float32)
    base = rng.uniform(-0.2, 0.2, size=25).astype(np.float32)
    runs = [
        attribution.integrated_gradients(model, x, baseline=base, steps=20, keep_per_patient=True, patients_per_batch=7),
        attribution.integrated_gradients(model, x, baseline=base, steps=20, keep_per_patient=True, patients_per_batch=1),
        attribution.integrated_gradients(model, x, baseline=base, steps=20, keep_per_patient=True, patients_per_batch=3,
                               method="input"),
    ]
    for other in runs[1:]:
        np.testing.assert_allclose(other.per_patient, runs[0].per_patient, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(other.mean, runs[0].mean, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(other.completeness, runs[0].completeness, atol=1e-5)


def test_ig_matches_explicit_gradient_loop(rng):
    """Reference: one gradient call per quadrature point and output (the slow way)."""
    import tensorflow as tf

    model = dense_stack(9, [7], 2, activation="tanh", seed=4)
    x = rng.uniform(-1, 1, size=(2, 9)).astype(np.float32)
    alphas, weights = attribution.quadrature(10, "trapezoid")
    expected = np.zeros((2, 2, 9))
    for p in range(2):
        for a, w in zip(alphas, weights):
            xi = tf.constant(a * x[p:p + 1])
            for k in range(2):
                with tf.GradientTape() as tape:
                    tape.watch(xi)
                    y = model(xi, training=False)[0, k]
                expected[p, k] += w * tape.gradient(y, xi).numpy()[0] * x[p]
    res = attribution.integrated_gradients(model, x, steps=10, keep_per_patient=True)
    np.testing.assert_allclose(res.per_patient, expected, rtol=1e-4, atol=1e-6)


def test_ig_needs_a_dense_first_layer_for_the_shortcut(rng):
    model = keras.Sequential([keras.Input((6,)), keras.layers.Activation("tanh"), keras.layers.Dense(2)])
    x = rng.normal(size=(3, 6)).astype(np.float32)
    with pytest.raises(RadiogenomicsError, match="first_layer"):
        attribution.integrated_gradients(model, x, method="first_layer")
    res = attribution.integrated_gradients(model, x, steps=100)  # auto: through the inputs
    assert np.abs(res.completeness).max() < 1e-2


# ------------------------------------------------------------------ masking
def test_masking_top_genes_vs_random(rng):
    w = np.zeros((40, 2), np.float32)
    w[[3, 7], 0] = [2.0, -1.5]
    w[[11], 1] = [1.0]
    x = rng.uniform(-1, 1, size=(30, 40)).astype(np.float32)
    model = linear_model(w)
    res = attribution.integrated_gradients(model, x, steps=4)
    order = {k: np.array(rankings.rank_genes(pd.Series(res.mean_abs[:, k], index=[str(g) for g in range(40)]))).astype(int)
             for k in range(2)}
    assert set(order[0][:2]) == {3, 7}
    table = attribution.masking_effects(model, x, order, sizes=(1, 2, 5), n_random=20, seed=0, features=["f0", "f1"])
    assert list(table.index.unique()) == ["f0", "f1"]
    row = table[(table.index == "f0") & (table["n_genes"] == 2)].iloc[0]
    # masking genes 3 and 7 removes exactly their contribution x_g w_g
    assert row["top_change"] == pytest.approx(-(x[:, [3, 7]] @ w[[3, 7], 0]).mean(), abs=1e-5)
    assert row["top_abs_change"] == pytest.approx(np.abs(x[:, [3, 7]] @ w[[3, 7], 0]).mean(), abs=1e-5)
    assert (table["ratio"] > 1).all()
    assert (table["p_empirical"] <= 0.5).all()


def test_masking_shortcut_equals_masking_the_inputs(rng):
    model = dense_stack(15, [8, 4], 3, activation="relu", dropout=0.25, seed=5)
    x = rng.uniform(-1, 1, size=(9, 15)).astype(np.float32)
    order = {k: rng.permutation(15) for k in range(3)}
    fast = attribution.masking_effects(model, x, order, sizes=(1, 4), n_random=5, seed=1)
    slow = attribution.masking_effects(split_network.Network(model, split=False), x, order, sizes=(1, 4), n_random=5,
                                       seed=1)
    pd.testing.assert_frame_equal(fast, slow, rtol=1e-4, atol=1e-6)


class _RoundedRandomDraws(split_network.Network):
    """Masked inputs, with every random set's change shrunk by one part in 10⁶: what another
    float32 summation path does to the same gene set (masking_effects predicts the unmasked
    inputs first, then the n_random random sets, then the top sets)."""

    def __init__(self, model, n_random):
        super().__init__(model, split=False)
        self.calls, self.n_random, self.base = 0, n_random, None

    def predict(self, x, batch_rows=4096):
        out = super().predict(x, batch_rows)
        self.calls += 1
        if self.calls == 1:
            self.base = out
        elif self.calls <= 1 + self.n_random:
            out = self.base + (out - self.base) * (1 - 1e-6)
        return out


def test_masking_counts_a_random_draw_of_the_top_set_as_at_least_as_large(rng):
    """A random set equal to the top set changes the prediction by the same amount in real
    arithmetic; float32 rounding must not decide whether it counts in p_empirical."""
    model = dense_stack(6, [5], 2, activation="relu", seed=3)
    x = rng.uniform(-1, 1, size=(7, 6)).astype(np.float32)
    order = {k: np.arange(6)[::-1] for k in range(2)}
    n_random = 30
    draws = np.random.default_rng(4)  # the draws masking_effects makes with seed=4
    same = sum(int(draws.choice(6, size=1, replace=False)[0] == 5) for _ in range(n_random))
    assert same > 0
    for net in (model, _RoundedRandomDraws(model, n_random)):
        table = attribution.masking_effects(net, x, order, sizes=(1,), n_random=n_random, seed=4)
        assert (table["p_empirical"] >= (1 + same) / (1 + n_random)).all(), table


# ------------------------------------------------------------------ activation maximisation
def test_activation_maximisation_respects_bounds_and_improves(rng):
    model = dense_stack(20, [12, 6], 3, activation="tanh", seed=6)
    lower = rng.uniform(-1.0, -0.1, 20).astype(np.float32)
    upper = rng.uniform(0.1, 1.0, 20).astype(np.float32)
    res = probes.activation_maximisation(model, lower, upper, l2=0.01, steps=150, learning_rate=0.05)
    assert res.profiles.shape == (3, 20)
    assert (res.profiles >= lower - 1e-6).all() and (res.profiles <= upper + 1e-6).all()
    assert (res.final > res.start).all()
    assert (res.history[-1] >= res.history[0]).all()
    summary, top = probes.am_tables(res, [f"g{i}" for i in range(20)], ["a", "b", "c"], lower, upper, top_n=5)
    assert list(summary.index) == ["a", "b", "c"]
    assert len(top) == 15 and set(top["direction"]) <= {"up", "down"}
    assert (top["value"].abs() <= np.maximum(np.abs(top["lower"]), np.abs(top["upper"])) + 1e-6).all()


def test_activation_maximisation_linear_model_has_the_closed_form_optimum():
    """max w·x - l2‖x‖² in a box: x_g = clip(w_g / (2 l2), lower, upper)."""
    w = np.array([[0.02], [-0.01], [0.5], [0.0], [-0.3]], np.float32)
    lower, upper = np.full(5, -1.0, np.float32), np.full(5, 1.0, np.float32)
    res = probes.activation_maximisation(linear_model(w), lower, upper, l2=1.0, steps=800, learning_rate=0.01,
                                    relative=False)
    np.testing.assert_allclose(res.profiles[0], np.clip(w[:, 0] / 2.0, -1, 1), atol=2e-3)
    assert res.objective[0] == pytest.approx(float((w[:, 0] ** 2).sum() / 4), rel=1e-3)
    # relative penalty: λ = l2 · max|w| / 2, so the strongest gene moves by 1 / l2
    rel = probes.activation_maximisation(linear_model(w), lower, upper, l2=2.0, steps=800, learning_rate=0.01)
    assert rel.l2[0] == pytest.approx(0.5)
    np.testing.assert_allclose(rel.profiles[0], w[:, 0] / 1.0, atol=2e-3)
    assert rel.profiles[0, 2] == pytest.approx(0.5, abs=2e-3)


# ------------------------------------------------------------------ rankings, stability, overlap
def test_jaccard_and_mean_pairwise():
    assert rankings.jaccard({1, 2, 3}, {2, 3, 4}) == pytest.approx(0.5)
    assert rankings.jaccard(set(), set()) == 1.0
    assert rankings.jaccard({1}, {2}) == 0.0
    assert rankings.mean_pairwise_jaccard([{1, 2}, {1, 2}, {3, 4}]) == pytest.approx(1 / 3)
    assert np.isnan(rankings.mean_pairwise_jaccard([{1}]))


def test_rank_genes_breaks_ties_by_name():
    s = pd.Series([1.0, 3.0, 3.0, 2.0], index=["d", "c", "a", "b"])
    assert list(rankings.rank_genes(s)) == ["a", "c", "b", "d"]


def test_stability_and_top_genes_table():
    genes = [f"g{i}" for i in range(10)]
    a = pd.DataFrame({"f": np.arange(10.0)[::-1], "h": np.arange(10.0)}, index=genes)   # top: g0, g1, g2 / g9, g8, g7
    b = a.copy()
    c = a.copy()
    c.loc["g2", "f"] = -1.0                                                              # g3 enters the top-3 of f
    feat, gene = rankings.stability({1: a, 2: b, 3: c}, top_n=3)
    assert feat.at["h", "jaccard_mean"] == pytest.approx(1.0)
    assert feat.at["f", "jaccard_mean"] == pytest.approx((1.0 + 0.5 + 0.5) / 3)
    assert gene.at["g2", "f"] == pytest.approx(2 / 3) and gene.at["g3", "f"] == pytest.approx(1 / 3)
    top = rankings.top_genes_table(a, -a, 3, gene, feat, {"f": {"g0", "g5"}}, gradient=a - 4.5)
    assert list(top.columns) == ["rank", "gene", "score", "stability", "signed", "mean_gradient", "direction",
                                 "feature_jaccard", "in_elastic_net"]
    assert list(top.loc["f", "direction"]) == [1, 1, 1] and list(top.loc["h", "direction"]) == [1, 1, 1]
    f = top.loc["f"]
    assert list(f["gene"]) == ["g0", "g1", "g2"] and list(f["rank"]) == [1, 2, 3]
    assert list(f["in_elastic_net"]) == [True, False, False]
    assert list(top.loc["h", "in_elastic_net"]) == [False] * 3


def test_enet_overlap_and_reader(tmp_path):
    genes = [f"g{i}" for i in range(100)]
    score = pd.DataFrame({"f": np.linspace(1, 0, 100), "h": np.linspace(0, 1, 100)}, index=genes)
    paths = {}
    for feature, nonzero in (("f", ["g0", "g1", "g50"]), ("h", [])):
        table = pd.DataFrame({"weight": [0.0] * 100}, index=pd.Index(genes, name="gene"))
        table.loc[nonzero, "weight"] = 0.3
        paths[feature] = tmp_path / f"{feature}.tsv"
        table.to_csv(paths[feature], sep="\t")
    enet = rankings.read_enet_nonzero(paths)
    assert enet == {"f": {"g0", "g1", "g50"}, "h": set()}
    table = rankings.enet_overlap(score, enet, top_n=10)
    assert table.at["f", "n_overlap"] == 2 and table.at["f", "n_enet_nonzero"] == 3
    assert table.at["f", "expected_overlap"] == pytest.approx(0.3)
    assert 0 < table.at["f", "p_value"] < 0.05
    assert table.at["h", "n_overlap"] == 0 and np.isnan(table.at["h", "p_value"])


def test_heatmap_matrix_and_clustermap(tmp_path, rng):
    genes = [f"g{i}" for i in range(30)]
    signed = pd.DataFrame(rng.normal(size=(30, 4)), index=genes, columns=list("abcd"))
    m = rankings.heatmap_matrix(signed.abs(), signed, genes_per_feature=3)
    assert (np.sign(m) == np.sign(signed.loc[m.index])).all().all()
    assert 3 <= len(m) <= 12 and list(m.columns) == list("abcd")
    assert m.abs().max().max() <= 1 + 1e-12
    out = tmp_path / "map.png"
    plots.clustermap(m, out, dpi=40)
    assert out.read_bytes()[:4] == b"\x89PNG"


# ------------------------------------------------------------------ a planted problem
def test_planted_genes_come_out_on_top():
    """A network trained on a planted signal: the genes that drive each output rank first."""
    rng = np.random.default_rng(7)
    n, genes = 300, 40
    x = rng.uniform(-0.5, 0.5, size=(n, genes)).astype(np.float32)
    planted = {0: [3, 17, 32], 1: [8, 25], 2: [3, 30, 31, 33]}
    y = np.stack([
        0.5 + 0.4 * np.tanh(x[:, 3] + x[:, 17] - x[:, 32]),
        0.5 + 0.3 * (x[:, 8] * 2) ** 2 - 0.3 * x[:, 25],
        0.4 + 0.2 * (x[:, 3] - x[:, 30] + x[:, 31] + x[:, 33]),
    ], axis=1).astype(np.float32)
    model = dense_stack(genes, [32, 16], 3, activation="relu", dropout=0.1, seed=0)
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    model.fit(x, y, epochs=60, batch_size=32, verbose=0, shuffle=True)
    res = attribution.integrated_gradients(model, x[:100], steps=20)
    for k, genes_k in planted.items():
        order = list(np.argsort(-res.mean_abs[:, k], kind="stable"))
        assert set(order[: len(genes_k)]) == set(genes_k), (k, order[:8])
    # the same check as on the demo cohort's truth tables
    genes_idx = [str(g) for g in range(genes)]
    score = pd.DataFrame(res.mean_abs, index=genes_idx, columns=["f0", "f1", "f2"])
    signal = pd.DataFrame({"factor": ["a", "a", "a", "b", "b", "c", "c", "c"]},
                          index=["3", "17", "32", "8", "25", "30", "31", "33"])
    drives = pd.DataFrame({"factor": ["a", "b", "c", "a"], "feature": ["f0", "f1", "f2", "f2"]})
    rec = planted_recovery(score, signal, drives, top_n=5)
    assert list(rec.index) == ["f0", "f1", "f2"]
    assert rec.at["f0", "auc"] == 1.0 and rec.at["f1", "in_top"] == 2
    assert rec.at["f2", "n_planted"] == 6 and rec.at["f2", "auc"] > 0.9
    # the mean path gradient has the planted direction (the signed mean IG of a centred gene
    # with a linear effect is ~0, so it cannot tell)
    assert res.mean_gradient[32, 0] < 0 < res.mean_gradient[17, 0]
    assert res.mean_gradient[30, 2] < 0 < res.mean_gradient[33, 2]
    assert res.mean_gradient[25, 1] < 0


# ------------------------------------------------------------------ the per-model job's steps
def test_tables_of_the_in_memory_model_equal_those_of_the_saved_model(tmp_path, rng):
    """The training job attributes its model in memory; the tables are those of the saved
    .keras file (what a separate job reloading it would compute)."""
    genes = pd.Index([f"G{i}" for i in range(25)], name="gene")
    features = ["f0", "f1", "f2"]
    model = dense_stack(25, [10, 6], 3, activation="tanh", dropout=0.2, seed=11)
    path = tmp_path / "model.keras"
    model.save(path)
    again = keras.models.load_model(path, compile=False)
    x = rng.uniform(-0.5, 0.5, size=(12, 25)).astype(np.float32)
    expression = pd.DataFrame(rng.uniform(-0.5, 0.5, size=(30, 25)), columns=genes)
    mine = attribution.ig_tables(model, x, genes, features, steps=8, patients_per_batch=5)
    ref = attribution.ig_tables(again, x, genes, features, steps=8, patients_per_batch=5)
    assert list(mine) == ["mean", "mean_abs", "mean_gradient", "completeness"]
    for name, table in mine.items():
        pd.testing.assert_frame_equal(table, ref[name])
    assert list(mine["mean"].index) == list(genes) and list(mine["mean"].columns) == features
    np.testing.assert_allclose(mine["mean"].to_numpy(), attribution.integrated_gradients(model, x, steps=8).mean, rtol=1e-5,
                               atol=1e-7)
    kwargs = dict(seed=3, masking_sizes=[1, 5], masking_random=4, am_steps=20, am_learning_rate=0.05, am_l2=4.0,
                  am_top_n=5)
    probe = probes.probe_tables(model, x, expression, mine["mean_abs"], **kwargs)
    ref_probe = probes.probe_tables(again, x, expression, ref["mean_abs"], **kwargs)
    assert list(probe) == ["masking", "am_summary", "am_top", "am_profiles"]
    for name, table in probe.items():
        pd.testing.assert_frame_equal(table, ref_probe[name])
    assert set(probe["masking"].index) == set(features) and set(probe["masking"]["n_genes"]) == {1, 5}
    assert probe["am_profiles"].shape == (25, 3)
    assert ((probe["am_profiles"].to_numpy() >= expression.min().to_numpy()[:, None] - 1e-6)
            & (probe["am_profiles"].to_numpy() <= expression.max().to_numpy()[:, None] + 1e-6)).all()
    with pytest.raises(RadiogenomicsError, match="genes differ"):
        probes.probe_tables(model, x, expression, mine["mean_abs"].iloc[::-1], **kwargs)


def test_supervised_data_checks_patients_and_features():
    from radiogenomics.names import IMAGE_FEATURES

    patients = ["p1", "p2", "p3"]
    expression = pd.DataFrame(np.zeros((3, 4)), index=patients, columns=list("abcd"))
    features = pd.DataFrame(np.full((3, 20), 0.5), index=patients, columns=list(IMAGE_FEATURES))
    folds = pd.Series([1, 2, 1], index=patients, name="fold")
    targets = cohort.supervised_data(expression, features, folds, sources=("e.tsv", "f.tsv", "folds.tsv"))
    assert list(targets.index) == patients and targets.shape == (3, 20)
    with pytest.raises(RadiogenomicsError, match="f.tsv: expected the 20 columns"):
        cohort.supervised_data(expression, features.iloc[:, :19], folds, sources=("e.tsv", "f.tsv", "folds.tsv"),
                               columns=IMAGE_FEATURES)
    # without columns, the table's own columns are the targets
    assert cohort.supervised_data(expression, features.iloc[:, :7], folds).shape == (3, 7)
    with pytest.raises(RadiogenomicsError, match=r"folds.tsv: supervised patients missing from e.tsv: \['p3'\]"):
        cohort.supervised_data(expression.iloc[:2], features, folds, sources=("e.tsv", "f.tsv", "folds.tsv"))
    holes = features.copy()
    holes.iloc[1, 4] = np.nan
    with pytest.raises(RadiogenomicsError, match=r"f.tsv: supervised patients with missing features: \['p2'\]"):
        cohort.supervised_data(expression, holes, folds, sources=("e.tsv", "f.tsv", "folds.tsv"))


def test_check_reproduces_fails_clearly_on_a_mismatch(caplog):
    history = pd.DataFrame({"epoch": [1, 2], "loss": [0.3, 0.2], "val_loss": [0.4, 0.25]})
    caplog.set_level("INFO")
    networks.check_reproduces(history, history.copy(), "cv.tsv")
    assert "equals the CV job's (cv.tsv): same model" in caplog.text
    # the retrain stops at an earlier selected epoch (selection.epoch: best): compared there
    networks.check_reproduces(history.iloc[:1], history.assign(val_loss=[0.4, 0.3]), "cv.tsv")
    with pytest.raises(RadiogenomicsError, match=r"^cv.tsv: the retrained model's validation loss after epoch 2 is "
                                                 r"0.25, the CV job's 0.26: it is not the CV model"):
        networks.check_reproduces(history, history.assign(val_loss=[0.4, 0.26]), "cv.tsv")
    with pytest.raises(RadiogenomicsError, match="the CV job's nan"):
        networks.check_reproduces(history, history.iloc[:1], "cv.tsv")  # CV job shorter than the retrain
    # float32 rounding of the same model passes
    networks.check_reproduces(history, history.assign(val_loss=[0.4, 0.25 * (1 + 1e-6)]), "cv.tsv")


# ------------------------------------------------------------------ the workflow's outputs
@pytest.mark.workflow
def test_demo_run_association_outputs(demo_run):
    from radiogenomics.names import IMAGE_FEATURES

    root = demo_run
    res = root / "results" / "associations"
    expression = pd.read_csv(root / "results/expression/expression.tsv", sep="\t", index_col=0)
    genes = list(expression.columns.astype(str))
    attr = pd.read_csv(res / "attributions.tsv", sep="\t", index_col=0)
    assert list(attr.columns) == list(IMAGE_FEATURES) and list(attr.index.astype(str)) == genes
    assert np.isfinite(attr.to_numpy()).all()
    top = pd.read_csv(res / "top_genes.tsv", sep="\t")
    assert list(top.columns[:5]) == ["feature", "rank", "gene", "score", "stability"]
    assert set(top["feature"]) == set(IMAGE_FEATURES)
    assert top.groupby("feature")["rank"].max().eq(min(100, len(genes))).all()
    assert top["stability"].between(0, 1).all()
    stability = pd.read_csv(res / "stability.tsv", sep="\t", index_col=0)
    assert stability["jaccard_mean"].between(0, 1).all()
    completeness = pd.read_csv(res / "completeness.tsv", sep="\t", index_col=0)
    assert set(completeness["model"]) == {"final", "fold1", "fold2", "fold3"}
    assert (completeness["mean_abs_error"] <= 0.05 * completeness["mean_abs_delta"] + 1e-6).all()
    for name in ("masking.tsv", "activation_maximisation.tsv", "am_top_genes.tsv", "enet_overlap.tsv"):
        assert len(pd.read_csv(res / name, sep="\t")) > 0, name
    am = pd.read_csv(res / "am_top_genes.tsv", sep="\t")
    assert ((am["value"] >= am["lower"] - 1e-5) & (am["value"] <= am["upper"] + 1e-5)).all()
    assert (root / "results/figures/associations_heatmap.png").read_bytes()[:4] == b"\x89PNG"
    # attributions come from the training jobs themselves (one TensorFlow process per model)
    assert "integrated gradients done" in (root / "results/logs/dnn_selected_fold_model/fold1.log").read_text()
    final_log = (root / "results/logs/dnn_final_model/dnn_final_model.log").read_text()
    assert "integrated gradients done" in final_log and "activation maximisation" in final_log


@pytest.mark.workflow
def test_demo_run_fold_retrain_equals_cv_model(demo_run):
    """The saved fold model is the CV job of the selected configuration (same seed and data)."""
    import json

    root = demo_run
    selected = json.loads((root / "results/dnn/selected.json").read_text())
    folds = sorted(int(p.name[4:]) for p in (root / "results/dnn/pretrain_dropout/selected").glob("fold*"))
    assert folds == [1, 2, 3]
    for k in folds:
        cv = pd.read_csv(root / f"results/dnn/pretrain_dropout/{selected['config']}/fold{k}/history.tsv", sep="\t")
        again = pd.read_csv(root / f"results/dnn/pretrain_dropout/selected/fold{k}/history.tsv", sep="\t")
        np.testing.assert_allclose(again[["loss", "val_loss"]], cv[["loss", "val_loss"]], rtol=1e-5)
        assert (root / f"results/dnn/pretrain_dropout/selected/fold{k}/model.keras").stat().st_size > 0


@pytest.mark.workflow
def test_fold_retrain_that_does_not_reproduce_its_cv_job_fails_clearly(demo_run, tmp_path):
    """The fold model job declares the CV history it must reproduce as an input, and stops with
    one error line (no traceback, no model written) when the retrained model differs from it."""
    import json
    import os
    import shutil

    from conftest import snakemake

    root = tmp_path / "run"
    shutil.copytree(demo_run, root, symlinks=True, ignore=shutil.ignore_patterns("locks", "incomplete"))
    selected = json.loads((root / "results/dnn/selected.json").read_text())
    cv_rel = f"results/dnn/pretrain_dropout/{selected['config']}/fold1/history.tsv"
    cv = root / cv_rel
    stat = cv.stat()
    table = pd.read_csv(cv, sep="\t")
    table.loc[table.index[-1], "val_loss"] *= 0.99      # as if the CV job had trained another model
    table.to_csv(cv, sep="\t", index=False)
    os.utime(cv, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # and nothing upstream reruns
    target = "results/dnn/pretrain_dropout/selected/fold1/model.keras"
    proc = snakemake(root, target, "--forcerun", "dnn_selected_fold_model", check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output
    assert cv_rel in output  # listed among the job's inputs
    log = (root / "results/logs/dnn_selected_fold_model/fold1.log").read_text()
    errors = [line for line in log.splitlines() if " ERROR " in line]
    assert len(errors) == 1, log
    assert f"{cv_rel}: the retrained model's validation loss after epoch" in errors[0], log
    assert "it is not the CV model" in errors[0] and "Traceback" not in log, log
    assert not (root / target).exists()
