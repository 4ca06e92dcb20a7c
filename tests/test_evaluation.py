"""Metrics, the paired Wilcoxon test (as R's wilcox.test), Bonferroni and Tables 2-4.

Expected values are computed by hand (formulas in the comments), not by the code under test.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from radiogenomics import bootstrap, evaluation, names, null_model
from radiogenomics.errors import RadiogenomicsError

FEATURES = list(names.IMAGE_FEATURES)


def _p_two_sided(z):
    """2 * (1 - Phi(|z|)) without scipy."""
    return math.erfc(abs(z) / math.sqrt(2))


# ------------------------------------------------------------------- metrics
def test_mae_and_mape_by_hand():
    y, yhat = [1.0, 2.0, 4.0], [2.0, 2.0, 1.0]
    assert evaluation.mae(y, yhat) == pytest.approx((1 + 0 + 3) / 3)
    value, n = evaluation.mape(y, yhat)
    assert value == pytest.approx((100 + 0 + 75) / 3)
    assert n == 3


def test_mape_leaves_out_zero_targets():
    value, n = evaluation.mape([0.0, 2.0, 4.0], [1.0, 1.0, 5.0])
    assert value == pytest.approx((50 + 25) / 2)
    assert n == 2
    ape = evaluation.absolute_percent_errors([0.0, 2.0], [1.0, 1.0])
    assert math.isnan(ape[0]) and ape[1] == pytest.approx(50)
    value, n = evaluation.mape([0.0, 0.0], [1.0, 1.0])
    assert math.isnan(value) and n == 0


# ---------------------------------------------------------------- Wilcoxon
def test_wilcoxon_no_ties_no_zeros():
    # d = 1..6, all positive: V = 21, E = n(n+1)/4 = 10.5, var = n(n+1)(2n+1)/24 = 22.75,
    # z = (21 - 10.5 - 0.5) / sqrt(22.75) (R: wilcox.test(1:6, rep(0, 6), paired=TRUE,
    # exact=FALSE, correct=TRUE) gives p = 0.03603).
    x, y = np.arange(1, 7, dtype=float), np.zeros(6)
    expected = _p_two_sided((21 - 10.5 - 0.5) / math.sqrt(22.75))
    assert expected == pytest.approx(0.03603, abs=1e-5)
    assert evaluation.wilcoxon_paired(x, y) == pytest.approx(expected, rel=1e-12)
    # the continuity correction goes towards zero on either side: swapping x and y
    assert evaluation.wilcoxon_paired(y, x) == pytest.approx(expected, rel=1e-12)


def test_wilcoxon_drops_zero_differences_and_corrects_for_ties():
    # d = x - y = [2, -1, 0, 3, -1, 0, 4]: the two zeros are dropped (R, zero_method="wilcox"),
    # n = 5; |d| = [2, 1, 3, 1, 4] -> ranks [3, 1.5, 4, 1.5, 5] (the two 1s tie);
    # V = 3 + 4 + 5 = 12; E = 5*6/4 = 7.5;
    # var = 5*6*11/24 - (2^3 - 2)/48 = 13.75 - 0.125 = 13.625;
    # z = (12 - 7.5 - 0.5) / sqrt(13.625) = 1.08366 -> p = 0.278517.
    y = np.array([1.0, 2.0, 5.0, 1.0, 3.0, 7.0, 0.5])
    d = np.array([2.0, -1.0, 0.0, 3.0, -1.0, 0.0, 4.0])
    x = y + d
    expected = _p_two_sided((12 - 7.5 - 0.5) / math.sqrt(13.625))
    assert expected == pytest.approx(0.278517, abs=1e-6)
    assert evaluation.wilcoxon_paired(x, y) == pytest.approx(expected, rel=1e-9)


def test_wilcoxon_all_zero_differences_is_nan():
    x = np.array([0.1, 0.2, 0.3])
    assert math.isnan(evaluation.wilcoxon_paired(x, x.copy()))


def test_wilcoxon_drops_missing_pairs():
    x = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, np.nan]
    y = [0.0] * 6 + [1.0]
    assert evaluation.wilcoxon_paired(x, y) == pytest.approx(_p_two_sided(10 / math.sqrt(22.75)))


def test_bonferroni():
    p = evaluation.bonferroni([0.01, 0.02, 0.5, np.nan])
    # m = 4 (R's p.adjust counts the NA too); min(1, p * m)
    np.testing.assert_allclose(p, [0.04, 0.08, 1.0, np.nan])
    p20 = evaluation.bonferroni(np.full(20, 0.002))
    np.testing.assert_allclose(p20, np.full(20, 0.04))


# ------------------------------------------------------------------ evaluate
def _case(n=12, seed=1):
    """Measured 0.5 everywhere (one zero); the network is off by 0.125 on the first 10
    features and by 0.375 on the others; the reference is off by 0.25 everywhere, and
    "scratch" predicts exactly what the reference does. (Binary fractions, so that equal
    errors are exactly equal in floating point.)"""
    rng = np.random.default_rng(seed)
    patients = [f"P{i:02d}" for i in range(n)]
    measured = pd.DataFrame(0.5, index=patients, columns=FEATURES)
    measured.loc["P00", FEATURES[0]] = 0.0
    sign = rng.choice([-1.0, 1.0], size=(n, 20))
    off = np.where(np.arange(20) < 10, 0.125, 0.375)
    net = measured + sign * off
    ref = measured + sign * 0.25
    other = ref.copy()
    scale = pd.Series(np.arange(1, 21, dtype=float), index=FEATURES)
    return measured, {"elastic_net": ref, "pretrain_dropout": net, "scratch": other}, scale


def test_evaluate_tables_shapes_and_names():
    measured, preds, scale = _case()
    out = evaluation.evaluate(measured, preds, scale)
    assert set(out) == {"per_feature", "table2", "table3", "table4", "differences"}
    pf = out["per_feature"]
    assert list(pf.columns) == list(evaluation.PER_FEATURE_COLUMNS)
    assert len(pf) == 3 * 20
    # networks in the paper's order, reference last
    assert list(out["table2"].index) == ["scratch", "pretrain_dropout", "elastic_net"]
    assert list(out["table2"].columns) == list(evaluation.TABLE2_COLUMNS)
    assert {"mean_mae", "mean_mape", "n_lower_mae", "pct_lower_mae", "n_lower_mape", "pct_lower_mape",
            "n_significant_mae", "n_significant_mape", "n_best_mae", "n_best_mape", "mean_mae_ci_low",
            "mean_mae_ci_high", "mean_mape_ci_low", "mean_mape_ci_high", "n_better_than_mean_mae",
            "n_better_than_mean_mape"} <= set(out["table2"].columns)
    # without folds there is no null model, without resamples no intervals
    assert pf[["p_mae_vs_mean", "mae_ci_low", "mape_ci_high"]].isna().all().all()
    assert list(out["differences"].columns) == ["model", "versus", "metric", "estimate", "ci_low", "ci_high"]
    assert set(out["differences"]["versus"]) == {"elastic_net"}
    t3, t4 = out["table3"], out["table4"]
    assert list(t3.index) == FEATURES and list(t4.index) == FEATURES
    assert t3.index.name == "feature"
    assert list(t3["region"]) == ["enhancing"] * 10 + ["edema"] * 10
    for m in ("scratch", "pretrain_dropout", "elastic_net"):
        assert f"mae_{m}" in t3.columns and f"mape_{m}" in t4.columns
    for m in ("scratch", "pretrain_dropout"):
        for t in (t3, t4):
            assert f"p_adjusted_{m}" in t.columns and f"significant_{m}" in t.columns
    assert "p_adjusted_elastic_net" not in t3.columns
    assert {"measured_min", "measured_max", "measured_mean", "unit", "best_mae"} <= set(t3.columns)
    assert {"n_patients", "n_zero_excluded", "best_mape"} <= set(t4.columns)


def test_evaluate_numbers():
    measured, preds, scale = _case()
    out = evaluation.evaluate(measured, preds, scale)
    pf = out["per_feature"].set_index(["model", "feature"])
    n = len(measured)
    f0, f1, f15 = FEATURES[0], FEATURES[1], FEATURES[15]
    # MAE: network 0.125 on features 0-9, 0.375 on 10-19; reference 0.25
    assert pf.loc[("pretrain_dropout", f1), "mae"] == pytest.approx(0.125)
    assert pf.loc[("pretrain_dropout", f15), "mae"] == pytest.approx(0.375)
    assert pf.loc[("elastic_net", f15), "mae_original"] == pytest.approx(0.25 * 16)
    # MAPE on feature 0 leaves out the zero target: 11 patients, |0.125/0.5| = 25 %
    assert pf.loc[("pretrain_dropout", f0), "n_mape"] == n - 1
    assert pf.loc[("pretrain_dropout", f0), "mape"] == pytest.approx(25.0)
    assert pf.loc[("pretrain_dropout", f1), "n_mape"] == n
    assert out["table4"].loc[f0, "n_zero_excluded"] == 1 and out["table4"].loc[f0, "n_patients"] == n - 1
    # Table 2: the network is better on exactly the first 10 features
    t2 = out["table2"]
    assert t2.loc["pretrain_dropout", "n_lower_mae"] == 10
    assert t2.loc["pretrain_dropout", "pct_lower_mae"] == 50
    assert t2.loc["pretrain_dropout", "n_lower_mape"] == 10
    assert t2.loc["pretrain_dropout", "mean_mae"] == pytest.approx(0.25)
    assert pd.isna(t2.loc["elastic_net", "n_lower_mae"])
    # lowest error of all: ties count for each tied model (scratch = reference)
    assert t2.loc["pretrain_dropout", "n_best_mae"] == 10 and t2.loc["elastic_net", "n_best_mae"] == 10
    assert t2.loc["scratch", "n_best_mae"] == 10
    # scratch's errors equal the reference's on every patient: no difference, p = NaN, not lower
    assert t2.loc["scratch", "n_lower_mae"] == 0
    assert np.isnan(pf.loc[("scratch", f1), "p_mae"])
    # p-values: every patient's |error| differs by the same 0.125 -> all differences tie
    # (n = 12, V = 0 or 78, E = 39, var = 12*13*25/24 - (12^3 - 12)/48 = 162.5 - 35.75)
    expected = _p_two_sided((39 - 0.5) / math.sqrt(162.5 - (12**3 - 12) / 48))
    assert pf.loc[("pretrain_dropout", f1), "p_mae"] == pytest.approx(expected)
    assert pf.loc[("pretrain_dropout", f1), "p_mae_adjusted"] == pytest.approx(min(1.0, 20 * expected))
    assert out["table3"].loc[f1, "significant_pretrain_dropout"] == (20 * expected < 0.05)
    # the reference has no test
    assert pf.xs("elastic_net")[["p_mae", "p_mape", "p_mae_adjusted", "p_mape_adjusted"]].isna().all().all()
    # measured statistics in original units
    assert out["table3"].loc[f0, "measured_min"] == 0.0
    assert out["table3"].loc[f15, "measured_max"] == pytest.approx(0.5 * 16)
    assert out["table3"].loc[f1, "unit"] == names.unit(f1)


def _noisy(seed, n=30, reference=0.2, network=0.1, low=0.1):
    """Measured uniform on [low, 1]; the reference and the network off by normal noise."""
    rng = np.random.default_rng(seed)
    patients = [f"P{i}" for i in range(n)]
    measured = pd.DataFrame(rng.uniform(low, 1, (n, 20)), index=patients, columns=FEATURES)
    preds = {"elastic_net": measured + rng.normal(0, reference, (n, 20)),
             "pretrain_dropout": measured + rng.normal(0, network, (n, 20))}
    return patients, measured, preds


def test_p_adjusted_is_bonferroni_over_features():
    _, measured, preds = _noisy(3)
    out = evaluation.evaluate(measured, preds, pd.Series(2.0, index=FEATURES))
    net = out["per_feature"][out["per_feature"]["model"] == "pretrain_dropout"]
    np.testing.assert_allclose(net["p_mae_adjusted"], np.minimum(1, net["p_mae"] * 20))
    np.testing.assert_allclose(net["p_mape_adjusted"], np.minimum(1, net["p_mape"] * 20))
    # p_mae is the paired test of the per-patient absolute errors
    f = FEATURES[4]
    e_net = np.abs(measured[f] - preds["pretrain_dropout"][f])
    e_ref = np.abs(measured[f] - preds["elastic_net"][f])
    assert net.set_index("feature").loc[f, "p_mae"] == pytest.approx(evaluation.wilcoxon_paired(e_net, e_ref))
    assert out["table2"].loc["pretrain_dropout", "n_significant_mae"] == int((net["p_mae_adjusted"] < 0.05).sum())


def test_scale_factors_table_and_units():
    measured, preds, _ = _case()
    scale = pd.DataFrame({"scale": 10.0, "unit": "furlong"}, index=pd.Index(FEATURES, name="feature"))
    out = evaluation.evaluate(measured, preds, scale)
    assert (out["table3"]["unit"] == "furlong").all()
    pf = out["per_feature"]
    np.testing.assert_allclose(pf["mae_original"], pf["mae"] * 10)


def test_predictions_must_cover_every_patient_and_feature():
    measured, preds, scale = _case()
    bad = dict(preds, pretrain_dropout=preds["pretrain_dropout"].drop(index="P03"))
    with pytest.raises(RadiogenomicsError, match="pretrain_dropout.*P03"):
        evaluation.evaluate(measured, bad, scale)
    bad = dict(preds, scratch=preds["scratch"].drop(columns=FEATURES[2]))
    with pytest.raises(RadiogenomicsError, match=FEATURES[2]):
        evaluation.evaluate(measured, bad, scale)
    with pytest.raises(RadiogenomicsError, match="reference"):
        evaluation.evaluate(measured, {"scratch": preds["scratch"]}, scale)
    with pytest.raises(RadiogenomicsError, match="scale"):
        evaluation.evaluate(measured, preds, scale.drop(FEATURES[7]))


def test_extra_patients_in_predictions_are_ignored():
    measured, preds, scale = _case()
    more = {m: pd.concat([p, p.iloc[[0]].rename(index={"P00": "EXTRA"})]) for m, p in preds.items()}
    a = evaluation.evaluate(measured, preds, scale)["per_feature"]
    b = evaluation.evaluate(measured, more, scale)["per_feature"]
    pd.testing.assert_frame_equal(a, b)


def test_supervised_measured_selects_fold_patients():
    frame = pd.DataFrame(1.0, index=["A", "B", "C"], columns=FEATURES)
    folds = pd.DataFrame({"fold": [1, 2]}, index=["C", "A"])
    got = evaluation.supervised_measured(frame, folds)
    assert list(got.index) == ["C", "A"]
    with pytest.raises(RadiogenomicsError, match="no features"):
        evaluation.supervised_measured(frame, pd.DataFrame({"fold": [1]}, index=["Z"]))


# ------------------------------------------------------------- the null model
def _folds(patients, k=3):
    return pd.Series([i % k + 1 for i in range(len(patients))], index=patients, name="fold")


def test_null_model_predicts_the_training_fold_means_exactly():
    rng = np.random.default_rng(4)
    patients = [f"P{i:02d}" for i in range(13)]
    measured = pd.DataFrame(rng.uniform(0, 1, (13, 3)), index=patients, columns=["a", "b", "c"])
    folds = _folds(patients)
    pred = null_model.training_fold_means(measured, folds)
    for p in patients:
        others = [q for q in patients if folds[q] != folds[p]]
        # the mean of the other folds' patients, by hand
        expected = [sum(measured.loc[q, c] for q in others) / len(others) for c in measured.columns]
        np.testing.assert_allclose(pred.loc[p].to_numpy(), expected, rtol=1e-15)
    per_fold = null_model.losses_per_fold(measured, folds).set_index("fold")
    k1 = [p for p in patients if folds[p] == 1]
    rest = [p for p in patients if folds[p] != 1]
    assert per_fold.loc[1, "val_loss"] == pytest.approx(
        float(np.mean(np.abs(measured.loc[k1] - pred.loc[k1]).to_numpy())))
    assert per_fold.loc[1, "loss"] == pytest.approx(
        float(np.mean(np.abs(measured.loc[rest] - measured.loc[rest].mean()).to_numpy())))
    with pytest.raises(RadiogenomicsError, match="no fold"):
        null_model.training_fold_means(measured, folds.drop("P03"))


def test_null_model_in_every_table():
    measured, preds, scale = _case()
    folds = _folds(list(measured.index))
    out = evaluation.evaluate(measured, preds, scale, folds=folds)
    assert list(out["table2"].index) == ["scratch", "pretrain_dropout", "elastic_net", "mean"]
    pf = out["per_feature"].set_index(["model", "feature"])
    # every cell of the case's measured table is 0.5 except one 0: the null predicts the
    # training mean of feature 0 (0.5 or 0.5 * 7/8) and exactly 0.5 everywhere else
    assert pf.loc[("mean", FEATURES[3]), "mae"] == 0.0
    assert "mae_mean" in out["table3"].columns and "mape_mean" in out["table4"].columns
    assert "p_adjusted_mean" not in out["table3"].columns  # the null is not tested against the reference
    # the null is never tested against itself; everyone else is, with Bonferroni
    assert pf.xs("mean")[["p_mae_vs_mean", "p_mape_vs_mean", "p_mae", "p_mape"]].isna().all().all()
    net = pf.xs("pretrain_dropout")
    np.testing.assert_allclose(net["p_mae_vs_mean_adjusted"], np.minimum(1, net["p_mae_vs_mean"] * 20))
    # the null is perfect on features 1-19 (constant 0.5), so every model is significantly worse
    t2 = out["table2"]
    assert t2.loc["pretrain_dropout", "n_better_than_mean_mae"] == 0
    assert t2.loc["pretrain_dropout", "n_worse_than_mean_mae"] == 19
    assert t2.loc["elastic_net", "n_worse_than_mean_mae"] == 19
    assert pd.isna(t2.loc["mean", "n_better_than_mean_mae"]) and pd.isna(t2.loc["mean", "n_lower_mae"])
    # better / worse than the reference: the network is better on 0-9, worse on 10-19
    assert t2.loc["pretrain_dropout", "n_better_than_reference_mae"] + \
        t2.loc["pretrain_dropout", "n_worse_than_reference_mae"] == t2.loc["pretrain_dropout", "n_significant_mae"]
    d = out["differences"].set_index(["model", "versus", "metric"])
    assert set(d.index.get_level_values("versus")) == {"elastic_net", "mean"}
    assert ("elastic_net", "mean", "mae") in d.index and ("mean", "mean", "mae") not in d.index
    assert d.loc[("pretrain_dropout", "elastic_net", "mae"), "estimate"] == pytest.approx(0.0)
    with pytest.raises(RadiogenomicsError, match="null model"):
        evaluation.evaluate(measured, dict(preds, mean=preds["scratch"]), scale)


def test_significance_direction_follows_the_mean_errors():
    # (seeds 8-19 all give 20 / 20 with these sizes: not a marginal case)
    patients, measured, preds = _noisy(8, n=40, reference=1.0, network=0.02, low=0.2)
    out = evaluation.evaluate(measured, preds, pd.Series(1.0, index=FEATURES), folds=_folds(patients))
    t2 = out["table2"]
    # a near-perfect network is significantly better than both on every feature
    assert t2.loc["pretrain_dropout", "n_better_than_reference_mae"] == 20
    assert t2.loc["pretrain_dropout", "n_worse_than_reference_mae"] == 0
    assert t2.loc["pretrain_dropout", "n_better_than_mean_mae"] == 20
    # the noisy reference (MAE ~0.8) is significantly worse than the null (MAE ~0.2)
    assert t2.loc["elastic_net", "n_worse_than_mean_mae"] == 20
    assert t2.loc["elastic_net", "n_better_than_mean_mae"] == 0


# ---------------------------------------------------------------- bootstrap
def test_bootstrap_constant_difference_has_zero_width():
    n = 25
    rng = np.random.default_rng(0)
    counts = bootstrap.resample_counts(n, 500, seed=3)
    assert counts.shape == (500, n) and (counts.sum(axis=1) == n).all()
    a = rng.uniform(0, 1, (n, 4))
    diff = bootstrap.average_over_features(counts, (a + 0.25) - a)  # every patient: 0.25 (to rounding)
    low, high = bootstrap.percentile_interval(diff)
    assert high[0] - low[0] < 1e-14 and low[0] == pytest.approx(0.25)
    exact = bootstrap.average_over_features(counts, np.full((n, 4), 0.25))
    low, high = bootstrap.percentile_interval(exact)
    assert low[0] == high[0] == 0.25


def test_bootstrap_interval_covers_a_normal_mean_as_often_as_stated():
    # the percentile interval of the mean of n = 60 normal draws covers the true mean in
    # about 95 % of data sets (a little less: the percentile bootstrap is narrow by a factor
    # ~ sqrt((n-1)/n) and uses z, not t); 300 data sets give a standard error of 1.3 %
    rng = np.random.default_rng(12)
    covered = 0
    for rep in range(300):
        x = rng.normal(1.0, 2.0, 60)
        counts = bootstrap.resample_counts(60, 1000, seed=rep)
        low, high = bootstrap.percentile_interval(bootstrap.resampled_means(counts, x))
        covered += low[0] <= 1.0 <= high[0]
        if rep == 0:  # width as the normal theory says: 2 * 1.96 * 2 / sqrt(60) = 1.012
            assert high[0] - low[0] == pytest.approx(2 * 1.96 * 2 / math.sqrt(60), rel=0.15)
    assert 0.90 <= covered / 300 <= 0.99


def test_bootstrap_nan_entries_are_left_out_of_their_mean():
    counts = np.array([[1.0, 1.0, 1.0], [3.0, 0.0, 0.0], [0.0, 0.0, 3.0]])
    values = np.array([1.0, 2.0, np.nan])
    got = bootstrap.resampled_means(counts, values)[:, 0]
    np.testing.assert_allclose(got[:2], [1.5, 1.0])
    assert np.isnan(got[2])  # only the NaN patient drawn


def test_evaluate_intervals_are_seeded_and_bracket_the_estimates():
    patients, measured, preds = _noisy(5)
    scale = pd.Series(2.0, index=FEATURES)
    kw = dict(folds=_folds(patients), n_resamples=400)
    a = evaluation.evaluate(measured, preds, scale, seed=1, **kw)
    b = evaluation.evaluate(measured, preds, scale, seed=1, **kw)
    c = evaluation.evaluate(measured, preds, scale, seed=2, **kw)
    for name in ("per_feature", "table2", "differences"):
        pd.testing.assert_frame_equal(a[name], b[name])
    assert not a["table2"].equals(c["table2"])
    t2 = a["table2"]
    assert (t2["mean_mae_ci_low"] < t2["mean_mae"]).all() and (t2["mean_mae"] < t2["mean_mae_ci_high"]).all()
    pf = a["per_feature"]
    assert ((pf["mae_ci_low"] <= pf["mae"]) & (pf["mae"] <= pf["mae_ci_high"])).all()
    # Table 3's intervals are the per-feature ones in original units
    f = FEATURES[2]
    row = pf[(pf["model"] == "elastic_net") & (pf["feature"] == f)].iloc[0]
    assert a["table3"].loc[f, "mae_elastic_net_ci_high"] == pytest.approx(row["mae_ci_high"] * 2.0)
    # the network (errors half the reference's) is better: the difference's interval is below 0
    d = a["differences"].set_index(["model", "versus", "metric"]).loc[("pretrain_dropout", "elastic_net", "mae")]
    assert d["ci_high"] < 0 and d["ci_low"] < d["estimate"] < d["ci_high"]
    assert d["estimate"] == pytest.approx(t2.loc["pretrain_dropout", "mean_mae"] - t2.loc["elastic_net", "mean_mae"])
