"""Elastic-net baseline (radiogenomics.baseline): equivalence with scikit-learn, grid ends,
selection rules, out-of-fold bookkeeping, planted-signal recovery, bad input, rule outputs."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import ElasticNet, ElasticNetCV, Lasso, Ridge, enet_path
from sklearn.model_selection import PredefinedSplit

from radiogenomics import baseline
from radiogenomics.baseline import certificate, dual_path, enet
from radiogenomics.errors import RadiogenomicsError
from radiogenomics.names import IMAGE_FEATURES


def planted(n=40, p=150, k=5, noise=1.0, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    w = np.zeros(p)
    w[:k] = np.array([2.0, -1.5, 1.2, 1.0, -1.0, 0.8, -0.8, 0.6][:k])
    y = X @ w + noise * rng.normal(size=n)
    return X, y, w


def sk_fold_predictions(X, y, fold_ids, make_model):
    """Out-of-fold predictions of scikit-learn models fitted per fold."""
    oof = np.empty(len(y))
    for f in np.unique(fold_ids):
        tr, va = fold_ids != f, fold_ids == f
        oof[va] = make_model().fit(X[tr], y[tr]).predict(X[va])
    return oof


def test_selection_equals_elasticnetcv():
    X, y, _ = planted()
    folds = np.arange(len(y)) % 4 + 1  # equal fold sizes
    ratios = [0.2, 0.5, 0.8, 1.0]
    res = baseline.elastic_net_cv(X, y, folds, ratios, 25, 0.01, criterion="mean_fold_mse")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        cv = ElasticNetCV(l1_ratio=ratios, alphas=25, eps=0.01, cv=PredefinedSplit(folds),
                          tol=1e-10, max_iter=200000).fit(X, y)
    # the same grid, the same error surface, the same selection and refit
    np.testing.assert_allclose(res["lambdas"], cv.alphas_, rtol=1e-12)
    np.testing.assert_allclose(res["cv_mse"], cv.mse_path_, rtol=1e-5, atol=1e-8)
    assert res["l1_ratio"] == cv.l1_ratio_
    assert res["lambda"] == pytest.approx(cv.alpha_, rel=1e-12)
    np.testing.assert_allclose(res["coef"], cv.coef_, atol=1e-6)
    assert res["intercept"] == pytest.approx(cv.intercept_, abs=1e-6)
    # out-of-fold predictions = the selected model refitted per fold
    oof = sk_fold_predictions(X, y, folds, lambda: ElasticNet(
        alpha=cv.alpha_, l1_ratio=cv.l1_ratio_, tol=1e-12, max_iter=200000))
    np.testing.assert_allclose(res["oof"], oof, atol=1e-6)
    # with equal folds the pooled R² ranks models exactly as the mean per-fold MSE
    pooled = baseline.elastic_net_cv(X, y, folds, ratios, 25, 0.01)
    assert (pooled["l1_ratio"], pooled["lambda"]) == (res["l1_ratio"], res["lambda"])


def test_unequal_folds_pooled_criterion_on_sklearn_surface():
    X, y, _ = planted(n=43, seed=3)
    folds = np.arange(43) % 4 + 1  # sizes 11, 11, 11, 10
    ratios = [0.3, 0.7]
    res = baseline.elastic_net_cv(X, y, folds, ratios, 20, 0.01)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        cv = ElasticNetCV(l1_ratio=ratios, alphas=20, eps=0.01, cv=PredefinedSplit(folds),
                          tol=1e-10, max_iter=200000).fit(X, y)
    sizes = np.bincount(folds)[1:]
    pooled_mse = (cv.mse_path_ * sizes).sum(axis=2) / sizes.sum()  # glmnet's cvm
    pooled_mse[:, 0] = np.inf  # λ_max: intercept-only
    a, t = np.unravel_index(np.argmin(pooled_mse), pooled_mse.shape)
    assert (res["l1_ratio"], res["lambda"]) == (ratios[a], pytest.approx(cv.alphas_[a, t]))
    r2 = 1 - pooled_mse[a, t] * len(y) / np.sum((y - y.mean()) ** 2)
    assert res["r2"] == pytest.approx(r2, abs=1e-7)


def test_pure_ridge_end():
    X, y, _ = planted(seed=1)
    folds = np.arange(len(y)) % 5 + 1
    res = baseline.elastic_net_cv(X, y, folds, [0.0], 15, 0.01)
    n = len(y)
    # glmnet's convention for the ridge λ_max: the lasso λ_max / 0.001
    assert res["lambdas"][0, 0] == pytest.approx(baseline.lambda_max(X, y, 1.0) / 1e-3)
    lam = res["lambda"]
    # scikit-learn Ridge minimises ||y - Xw||² + a||w||²: a = n λ for the ElasticNet scale
    oof = sk_fold_predictions(X, y, folds, lambda: Ridge(alpha=n * 4 / 5 * lam))
    np.testing.assert_allclose(res["oof"], oof, rtol=1e-8, atol=1e-10)
    ridge = Ridge(alpha=n * lam).fit(X, y)
    np.testing.assert_allclose(res["coef"], ridge.coef_, rtol=1e-8, atol=1e-12)
    assert res["n_nonzero"] == X.shape[1]
    assert not res["intercept_only"].any()  # ridge never zeroes every coefficient


def test_pure_lasso_end_matches_coordinate_descent_path():
    X, y, _ = planted(seed=2)
    folds = np.arange(len(y)) % 4 + 1
    res = baseline.elastic_net_cv(X, y, folds, [1.0], 30, 0.01)
    lams = res["lambdas"][0]
    for j, f in enumerate(np.unique(folds)):
        tr, va = folds != f, folds == f
        mu, ym = X[tr].mean(axis=0), y[tr].mean()
        _, coefs, _ = enet_path(X[tr] - mu, y[tr] - ym, l1_ratio=1.0, alphas=lams, tol=1e-12,
                                max_iter=200000)
        pred = ym + (X[va] - mu) @ coefs
        np.testing.assert_allclose(res["cv_mse"][0, :, j], ((pred - y[va, None]) ** 2).mean(axis=0),
                                   rtol=1e-6, atol=1e-9)
    lasso = Lasso(alpha=res["lambda"], tol=1e-12, max_iter=200000).fit(X, y)
    np.testing.assert_allclose(res["coef"], lasso.coef_, atol=1e-7)


def test_intercept_only_never_selected():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(30, 80))
    y = rng.normal(size=30)  # no signal: the intercept-only model has the best CV error
    folds = np.arange(30) % 3 + 1
    res = baseline.elastic_net_cv(X, y, folds, [0.5, 1.0], 10, 0.5)
    assert res["intercept_only"][:, 0].all()
    a, t = res["index"]
    assert t > 0 and not res["intercept_only"][a, t]
    assert res["n_nonzero"] > 0
    # the excluded intercept-only models were scored like the rest
    assert np.all(np.isfinite(res["r2_path"][:, 0]))


def test_every_patient_one_oof_prediction_and_fold_equivalence():
    X, y, _ = planted(n=37, seed=4)
    rng = np.random.default_rng(0)
    folds = rng.permutation(np.arange(37) % 5 + 1)
    res = baseline.elastic_net_cv(X, y, folds, baseline.l1_ratio_grid(3), 12, 0.05)
    assert res["oof"].shape == (37,)
    assert np.all(np.isfinite(res["oof"]))
    # each patient's prediction comes from the model that did not see it
    oof = sk_fold_predictions(X, y, folds, lambda: ElasticNet(
        alpha=res["lambda"], l1_ratio=res["l1_ratio"], tol=1e-12, max_iter=200000)
        if res["l1_ratio"] > 0 else Ridge(alpha=res["lambda"]))
    if res["l1_ratio"] > 0:
        np.testing.assert_allclose(res["oof"], oof, atol=1e-6)
    r2 = 1 - np.sum((y - res["oof"]) ** 2) / np.sum((y - y.mean()) ** 2)
    assert res["r2"] == pytest.approx(r2)


def test_planted_sparse_signal_recovered():
    X, y, w = planted(n=60, p=400, k=5, noise=0.3, seed=7)
    folds = np.arange(60) % 5 + 1
    res = baseline.elastic_net_cv(X, y, folds, baseline.l1_ratio_grid(5), 30, 0.01)
    top = np.argsort(-np.abs(res["coef"]))[:5]
    assert set(top) == set(range(5))
    assert np.all(np.sign(res["coef"][:5]) == np.sign(w[:5]))
    assert res["r2"] > 0.8


def test_dual_path_matches_enet_path_many_steps():
    X, y, _ = planted(n=30, p=200, seed=9)
    train = np.ones((1, 30), dtype=bool)
    for a in (0.05, 0.5, 0.95):
        lams = baseline.lambda_grid(X, y, a, 60, 0.01)
        path = dual_path.DualPath(X, y, train, np.array([a]), lams[None, :])
        _, coefs, _ = enet_path(X - X.mean(0), y - y.mean(), l1_ratio=a, alphas=lams, tol=1e-13,
                                max_iter=500000)
        for t in range(60):
            path.step(t)
            np.testing.assert_allclose(path.coef(0, t)[0], coefs[:, t], atol=1e-7)


def test_one_training_set_is_solved_on_its_rows_alone():
    """Problems that share one training mask (one fold, several α: the per-fold standardised
    search) run on the training rows alone (N = n) and only predict the validation rows: at
    every step their validation predictions, dual solutions (zero off the training rows) and
    coefficients equal those of the same problems solved on all rows with zero weights, and
    the coefficients equal coordinate descent's."""
    X, y, _ = planted(n=40, p=300, seed=5)
    folds = np.arange(40) % 4
    train = np.stack([folds != f for f in range(4)])
    alphas = np.array([0.1, 0.6])
    L = 40
    lams = np.stack([baseline.lambda_grid(X, y, a, L, 0.01) for a in alphas])
    f = 2
    one = dual_path.DualPath(X, y, train[[f, f]], alphas, lams)
    both = dual_path.DualPath(X, y, train[[f, f, (f + 1) % 4]], alphas[[0, 1, 0]], lams[[0, 1, 0]])
    assert one.rows is not None and one.N == 30 and both.rows is None and both.N == 40
    m = train[f]
    ref = [enet_path(X[m] - X[m].mean(0), y[m] - y[m].mean(), l1_ratio=a, alphas=lams[i], tol=1e-13,
                     max_iter=500000)[1] for i, a in enumerate(alphas)]
    for t in range(L):
        one.step(t)
        both.step(t)
        np.testing.assert_allclose(one.predictions(t), both.predictions(t)[:2], atol=1e-9)
        r1 = one.residuals()
        np.testing.assert_allclose(r1, both.residuals()[:2], atol=1e-9)
        assert np.all(r1[:, ~m] == 0) and r1.shape == (2, 40)
        for k in range(2):
            np.testing.assert_allclose(one.coef(k, t)[0], both.coef(k, t)[0], atol=1e-9)
            np.testing.assert_allclose(one.coef(k, t)[0], ref[k][:, t], atol=1e-7)
    assert one.failed == {} and both.failed == {}


def test_single_precision_screening_keeps_path_exact():
    """The full checks run in single precision with their rounding bound in the slack: on
    uncentred data (a large per-gene offset, as raw expression has) and several folds x α
    in lockstep, every problem's coefficients still equal coordinate descent's at every step,
    and a window's candidate pairs carry z and slope within their stored rounding bounds
    (exact double-precision z where the bound is 0)."""
    X, y, _ = planted(n=40, p=300, seed=21)
    X = X + 50.0 + 10.0 * np.arange(300) / 300  # offset: x_j^T r is tiny next to ||x_j|| ||r||
    folds = np.arange(40) % 4
    train = np.stack([folds != f for f in range(4)])
    alphas = np.array([0.1, 0.6])
    L = 80
    lams = np.stack([baseline.lambda_grid(X, y, a, L, 0.01) for a in alphas])
    P = len(alphas) * len(train)
    path = dual_path.DualPath(X, y, np.tile(train, (2, 1)), np.repeat(alphas, 4), np.repeat(lams, 4, axis=0))
    ref = []
    for k in range(P):
        m = path.w[k] > 0
        _, coefs, _ = enet_path(X[m] - X[m].mean(0), y[m] - y[m].mean(), l1_ratio=path.alpha[k],
                                alphas=path.lambdas[k], tol=1e-13, max_iter=500000)
        ref.append(coefs)
    for t in range(L):
        path.step(t)
        for k in range(P):
            np.testing.assert_allclose(path.coef(k, t)[0], ref[k][:, t], atol=1e-7)
        screen = path.screen
        if len(screen.pk):  # the stored values of the candidate pairs: z at r_l, slope along v_l
            path.materialize(np.arange(P))
            z = np.einsum("ij,ij->i", path.Xt[screen.pg], screen.rl[screen.pk]) / path.n[screen.pk]
            s = np.einsum("ij,ij->i", path.Xt[screen.pg], screen.vlr[screen.pk]) / path.n[screen.pk]
            assert np.all(np.abs(screen.zl - z) <= screen.ez + 1e-9 * np.abs(z) + 1e-12)
            assert np.all(np.abs(screen.sl - s) <= screen.es + 1e-9 * np.abs(s) + 1e-12)
            exact = screen.ez == 0
            np.testing.assert_allclose(screen.zl[exact], z[exact], rtol=1e-9, atol=1e-12)
            assert screen.ez.max() <= 1e-4 * np.abs(z).max()  # single-precision bounds, not vacuous
    assert path.failed == {} and path.stats["refreshes"] > P


def _lockstep_path(seed=21):
    X, y, _ = planted(n=40, p=300, seed=seed)
    folds = np.arange(40) % 4
    train = np.stack([folds != f for f in range(4)])
    alphas = np.array([0.1, 0.6])
    lams = np.stack([baseline.lambda_grid(X, y, a, 80, 0.01) for a in alphas])
    return dual_path.DualPath(X, y, np.tile(train, (2, 1)), np.repeat(alphas, 4), np.repeat(lams, 4, axis=0))


def test_pair_triggers_bound_the_distance_to_the_threshold():
    """A candidate pair that is not due (travel - γ below its trigger) is provably clear of
    the tie band: its exact z is at least (trigger - (travel - γ)) from it, on the side of its
    stored status, after every step."""
    path = _lockstep_path()
    screen = path.screen
    checked = 0
    for t in range(80):
        path.step(t)
        if not len(screen.pk):
            continue
        path.materialize(np.arange(path.P))
        gamma = path.lambdas[:, t] * path.alpha
        pk = screen.pk
        z = np.einsum("ij,ij->i", path.Xt[screen.pg], path.r[pk]) / path.n[pk]
        left = screen.ph - (screen.travel - gamma)[pk]  # margin still guaranteed
        clear = np.where(screen.pst == 0, gamma[pk] - np.abs(z), screen.pst * z - gamma[pk])
        band = gamma[pk] * 1e-10 + 1e-15
        ok = (left <= 0) | (screen.t_end[pk] < 0)  # (windows reset after a damped Newton: renewed next step)
        checked += int(np.sum(~ok))
        assert np.all(clear[~ok] - band[~ok] >= left[~ok] * (1 - 1e-9) - 1e-14)
    assert checked > 0 and path.failed == {}


def test_due_pairs_give_the_statuses_of_checking_every_pair(monkeypatch):
    """Examining only the due pairs changes the work, not the path: the same statuses and
    coefficients at every step as examining every candidate pair at every Newton iteration."""
    from radiogenomics.baseline import screening

    lazy = _lockstep_path()
    states, coefs = [], []
    for t in range(80):
        lazy.step(t)
        states.append(lazy.state.copy())
        coefs.append([lazy.coef(k, t)[0] for k in range(lazy.P)])
    sync = screening.Screening.sync

    def every_pair(self, gamma, problems):
        self.ph[:] = -np.inf  # every pair due
        return sync(self, gamma, problems)

    monkeypatch.setattr(screening.Screening, "sync", every_pair)
    eager = _lockstep_path()
    for t in range(80):
        eager.step(t)
        np.testing.assert_array_equal(eager.state, states[t])
        for k in range(eager.P):
            np.testing.assert_allclose(eager.coef(k, t)[0], coefs[t][k], rtol=0, atol=1e-12)
    assert eager.stats["pair_predictions"] > 2 * lazy.stats["pair_predictions"]


# Regression (demo cohort, feature enhancing_volume: "damped Newton did not converge at step 0").
# The refit on all patients starts at λ = λ_max, where the top gene sits exactly on the
# threshold |x_cjᵀy_c|/n = λα; rounding made it flip between active and inactive at the
# level of one ulp for ever. These small random problems (found by search) failed that way.
TIE_CASES = [(5, 0.4), (10, 0.8), (24, 0.8), (79, 0.4), (81, 0.4)]


@pytest.mark.parametrize("seed, alpha", TIE_CASES)
def test_refit_first_step_exact_tie_at_lambda_max(seed, alpha):
    rng = np.random.default_rng(seed)
    X, y = rng.normal(size=(12, 20)), rng.normal(size=12)
    lams = baseline.lambda_grid(X, y, alpha, 5)
    path = dual_path.DualPath(X, y, np.ones((1, 12), dtype=bool), np.array([alpha]), lams[None, :])
    _, coefs, _ = enet_path(X - X.mean(0), y - y.mean(), l1_ratio=alpha, alphas=lams, tol=1e-13,
                            max_iter=500000)
    for t in range(5):
        path.step(t)  # used to raise at t = 0
        np.testing.assert_allclose(path.coef(0, t)[0], coefs[:, t], atol=1e-8)
        if t == 0:  # the tie at λ_max is settled by plain Newton (no fallback)
            assert path.stats.get("damped", 0) == 0 and path.stats.get("continuations", 0) == 0
    # (on these 5-point paths later steps are so large that plain Newton may cycle and the
    # damped Newton globalise it: allowed, the coefficients above are still exact)
    assert path.failed == {}
    coef, _, failure = enet.enet_fit(X, y, alpha, lams, 0)
    assert failure is None and np.max(np.abs(coef)) < 1e-12  # λ_max: all zero up to rounding


def test_elastic_net_cv_exact_tie_case_no_fallback():
    rng = np.random.default_rng(5)
    X, y = rng.normal(size=(12, 20)), rng.normal(size=12)
    folds = np.arange(12) % 3 + 1
    res = baseline.elastic_net_cv(X, y, folds, [0.4], 5)
    assert res["fallbacks"] == []
    ref = ElasticNet(alpha=res["lambda"], l1_ratio=0.4, tol=1e-13, max_iter=500000).fit(X, y)
    np.testing.assert_allclose(res["coef"], ref.coef_, atol=1e-8)


def force_newton_failure(monkeypatch, problem, at_step):
    """Make Newton's fallbacks (continuation, then the damped Newton) fail for ``problem`` at
    ``at_step`` (and for every refit path)."""
    step, damped = dual_path.DualPath.step, dual_path.DualPath._damped
    continuation = dual_path.DualPath._continuation

    def forced_continuation(self, k, t, *args, **kwargs):
        if (self.P == 1 or k == problem) and t == at_step:
            raise RadiogenomicsError(f"elastic net: Newton did not converge at step {t} by continuation")
        return continuation(self, k, t, *args, **kwargs)

    def forced_step(self, t, max_iter=8, exact=True):
        # max_iter=0 sends every problem to the damped (globalised) Newton at this step
        return step(self, t, max_iter=0 if (t == at_step or self.P == 1) else max_iter, exact=exact)

    def forced_damped(self, k, gamma, beta, t, max_iter=200):
        if (self.P == 1 or k == problem) and t == at_step:
            raise RadiogenomicsError(f"elastic net: damped Newton did not converge at step {t}")
        return damped(self, k, gamma, beta, t, max_iter)

    monkeypatch.setattr(dual_path.DualPath, "step", forced_step)
    monkeypatch.setattr(dual_path.DualPath, "_damped", forced_damped)
    monkeypatch.setattr(dual_path.DualPath, "_continuation", forced_continuation)


def test_continuation_restarts_a_cycling_step_from_the_last_exact_solution(monkeypatch):
    """Plain Newton stopped at once (max_iter=0) at two requested λ: every problem is solved
    there by continuation from its last exact solution, with the same results."""
    X, y, _ = planted(n=40, p=120, seed=4)
    folds = np.arange(40) % 4 + 1
    ratios = [0.3, 0.7]
    ref = baseline.elastic_net_cv(X, y, folds, ratios, 20, standardize=True)
    _, m = enet.refined_path(ref["lambdas"])
    assert m > 1  # the forced steps follow inexact ones
    step = dual_path.DualPath.step
    forced = (3 * m, 4 * m)

    def forced_step(self, t, max_iter=8, exact=True):
        return step(self, t, max_iter=0 if t in forced else max_iter, exact=exact)

    monkeypatch.setattr(dual_path.DualPath, "step", forced_step)
    res = baseline.elastic_net_cv(X, y, folds, ratios, 20, standardize=True)
    stats = res["solver_stats"]
    # 4 folds x 2 α at both forced steps (and the refit at both when it reaches them)
    assert stats.get("continuations", 0) >= 16 and stats.get("damped", 0) == 0
    assert res["fallbacks"] == []
    np.testing.assert_allclose(res["r2_path"], ref["r2_path"], atol=1e-9)
    np.testing.assert_allclose(res["cv_mse"], ref["cv_mse"], rtol=1e-8, atol=1e-12)
    assert res["index"] == ref["index"]
    np.testing.assert_allclose(res["oof"], ref["oof"], atol=1e-9)
    np.testing.assert_allclose(res["coef"], ref["coef"], atol=1e-9)


def test_newton_failure_falls_back_to_coordinate_descent(monkeypatch, caplog):
    X, y, _ = planted(n=40, p=120, seed=4)
    folds = np.arange(40) % 4 + 1
    ratios = [0.3, 0.7]
    ref = baseline.elastic_net_cv(X, y, folds, ratios, 20, label="demo_feature")
    assert ref["fallbacks"] == []
    a, t = ref["index"]
    # problem k = (index of α among 0 < α < 1) × folds + fold index: fold 2 (label 3), α = 0.7
    force_newton_failure(monkeypatch, problem=1 * 4 + 2, at_step=min(t, 3))
    with caplog.at_level("WARNING", logger="radiogenomics.baseline"):
        res = baseline.elastic_net_cv(X, y, folds, ratios, 20, label="demo_feature")
    what = sorted((f["what"], f["fold"], f["l1_ratio"]) for f in res["fallbacks"])
    assert what == [("enet", 3, 0.7), ("refit", None, ratios[a])]
    text = caplog.text
    assert "demo_feature" in text and "fold 3" in text and "l1_ratio=0.7" in text and "enet_path" in text
    # same surface, selection, refit and out-of-fold predictions up to solver tolerance
    np.testing.assert_allclose(res["cv_mse"], ref["cv_mse"], rtol=1e-6, atol=1e-10)
    assert res["index"] == ref["index"]
    np.testing.assert_allclose(res["coef"], ref["coef"], atol=1e-6)
    np.testing.assert_allclose(res["oof"], ref["oof"], atol=1e-6)


def test_batch_failure_falls_back_for_every_path(monkeypatch):
    X, y, _ = planted(n=30, p=60, seed=2)
    folds = np.arange(30) % 3 + 1
    ref = baseline.elastic_net_cv(X, y, folds, [0.5, 1.0], 15)

    def broken(self, t, max_iter=8, exact=True):
        raise np.linalg.LinAlgError("Eigenvalues did not converge")

    monkeypatch.setattr(dual_path.DualPath, "step", broken)
    res = baseline.elastic_net_cv(X, y, folds, [0.5, 1.0], 15)
    assert len([f for f in res["fallbacks"] if f["what"] == "enet"]) == 3
    np.testing.assert_allclose(res["cv_mse"], ref["cv_mse"], rtol=1e-6, atol=1e-10)
    assert res["index"] == ref["index"]
    np.testing.assert_allclose(res["oof"], ref["oof"], atol=1e-6)


@pytest.mark.parametrize("case", ["constant", "nan", "one_fold", "tiny_fold", "bad_ratio"])
def test_bad_input_clear_errors(case):
    X, y, _ = planted(n=20, p=30)
    folds = np.arange(20) % 4 + 1
    ratios = [0.5, 1.0]
    if case == "constant":
        y = np.full(20, 0.3)
    elif case == "nan":
        y[3] = np.nan
    elif case == "one_fold":
        folds = np.ones(20, dtype=int)
    elif case == "tiny_fold":
        X, y, folds = X[:3], y[:3], np.array([1, 2, 2])
    elif case == "bad_ratio":
        ratios = [0.5, 1.5]
    with pytest.raises(RadiogenomicsError, match="elastic net"):
        baseline.elastic_net_cv(X, y, folds, ratios, 5)


def write_inputs(tmp_path, n=24, p=40, n_folds=4, seed=0):
    rng = np.random.default_rng(seed)
    patients = [f"TCGA-02-{i:04d}" for i in range(n)]
    genes = [f"G{j}" for j in range(p)]
    X = rng.normal(size=(n, p))
    expr = pd.DataFrame(X, index=pd.Index(patients, name="patient"), columns=genes)
    feats = pd.DataFrame(rng.uniform(0.1, 1, size=(n, len(IMAGE_FEATURES))),
                         index=expr.index, columns=list(IMAGE_FEATURES))
    feats["enhancing_volume"] = 0.5 + 0.3 * X[:, 0] - 0.2 * X[:, 1] + 0.01 * rng.normal(size=n)
    folds = pd.DataFrame({"fold": np.arange(n) % n_folds + 1}, index=expr.index)
    paths = {k: tmp_path / f"{k}.tsv" for k in ("expression", "features", "folds")}
    expr.to_csv(paths["expression"], sep="\t")
    feats.to_csv(paths["features"], sep="\t")
    folds.to_csv(paths["folds"], sep="\t")
    return paths, feats


def run(tmp_path, paths, feature):
    out = tmp_path / feature
    sel = baseline.run_feature(
        expression_path=paths["expression"], features_path=paths["features"],
        folds_path=paths["folds"], feature=feature, l1_ratios=3, n_lambdas=10,
        lambda_min_ratio=0.01, oof_path=out / "oof.tsv", coefficients_path=out / "coefficients.tsv",
        selection_path=out / "selection.json")
    return out, sel


def test_run_feature_outputs_and_missing_values(tmp_path):
    paths, feats = write_inputs(tmp_path)
    feats.loc[feats.index[[2, 5]], "edema_volume"] = np.nan
    feats.to_csv(paths["features"], sep="\t")
    out, sel = run(tmp_path, paths, "enhancing_volume")
    oof = pd.read_csv(out / "oof.tsv", sep="\t", index_col=0)
    assert list(oof.columns) == ["enhancing_volume"] and oof.index.name == "patient"
    assert len(oof) == 24 and oof["enhancing_volume"].notna().all()
    coef = pd.read_csv(out / "coefficients.tsv", sep="\t", index_col=0)
    assert coef.index.name == "gene" and list(coef.columns) == ["weight"]
    assert set(coef["weight"].abs().nlargest(2).index) == {"G0", "G1"}
    saved = json.loads((out / "selection.json").read_text())
    assert saved["n_nonzero"] == int((coef["weight"] != 0).sum()) and saved["r2"] > 0.5
    # missing target values: left out of that feature, and said so
    out2, sel2 = run(tmp_path, paths, "edema_volume")
    oof2 = pd.read_csv(out2 / "oof.tsv", sep="\t", index_col=0)["edema_volume"]
    assert sel2["left_out"] == sorted(feats.index[[2, 5]]) and sel2["n_patients"] == 22
    assert oof2.isna().sum() == 2 and oof2.loc[feats.index[[2, 5]]].isna().all()


def test_run_feature_constant_target_fallback_and_too_few_patients(tmp_path):
    paths, feats = write_inputs(tmp_path)
    feats["edema_sphericity"] = 0.4
    feats.loc[feats.index[3:], "edema_volume"] = np.nan  # 3 patients left for 4 folds
    feats.to_csv(paths["features"], sep="\t")
    out, sel = run(tmp_path, paths, "edema_sphericity")
    assert sel["r2"] is None and sel["n_nonzero"] == 0 and "constant" in sel["note"]
    oof = pd.read_csv(out / "oof.tsv", sep="\t", index_col=0)
    np.testing.assert_allclose(oof["edema_sphericity"], 0.4)
    with pytest.raises(RadiogenomicsError, match="fewer than the 4 folds"):
        run(tmp_path, paths, "edema_volume")


def test_collect(tmp_path):
    paths, _ = write_inputs(tmp_path, p=20)
    feats = list(IMAGE_FEATURES)
    for f in feats:
        run(tmp_path, paths, f)
    baseline.collect(oof_paths=[tmp_path / f / "oof.tsv" for f in feats],
                     selection_paths=[tmp_path / f / "selection.json" for f in feats],
                     features=feats, oof_path=tmp_path / "oof.tsv", selection_path=tmp_path / "sel.tsv")
    oof = pd.read_csv(tmp_path / "oof.tsv", sep="\t", index_col=0)
    sel = pd.read_csv(tmp_path / "sel.tsv", sep="\t", index_col=0)
    assert oof.shape == (24, 20) and list(oof.columns) == feats
    assert list(sel.index) == feats and {"l1_ratio", "lambda", "r2", "n_nonzero"} <= set(sel.columns)


@pytest.mark.workflow
def test_workflow_baseline_outputs(demo_run):
    oof = pd.read_csv(demo_run / "results/baseline/oof.tsv", sep="\t", index_col=0)
    folds = pd.read_csv(demo_run / "results/cohort/folds.tsv", sep="\t", index_col=0)
    sel = pd.read_csv(demo_run / "results/baseline/selection.tsv", sep="\t", index_col=0)
    assert list(oof.columns) == list(IMAGE_FEATURES)
    assert sorted(oof.index) == sorted(folds.index)
    assert list(sel.index) == list(IMAGE_FEATURES)
    assert (demo_run / "results/logs/baseline_fit/enhancing_volume.log").exists()


def _glmnet_standardized_reference(X, y, folds, ratios, lambdas):
    """glmnet's standardize = TRUE built from scikit-learn: every fold's fit on its training
    rows divided by their own standard deviation (divisor n), out-of-fold predictions on the
    same scale; the pooled out-of-fold R² of every (α, λ)."""
    oof = np.empty((len(ratios), lambdas.shape[1], len(y)))
    for f in np.unique(folds):
        tr, va = folds != f, folds == f
        sd = X[tr].std(axis=0)
        Xs = X / np.where(sd > 0, sd, 1.0)
        mu, ym = Xs[tr].mean(axis=0), y[tr].mean()
        for a, ratio in enumerate(ratios):
            if ratio == 0:
                coefs = np.stack([Ridge(alpha=tr.sum() * lam).fit(Xs[tr], y[tr]).coef_
                                  for lam in lambdas[a]], axis=1)
            else:
                _, coefs, _ = enet_path(Xs[tr] - mu, y[tr] - ym, l1_ratio=ratio, alphas=lambdas[a],
                                        tol=1e-13, max_iter=500000)
            oof[a][:, va] = (ym + (Xs[va] - mu) @ coefs).T
    r2 = 1 - ((oof - y) ** 2).sum(axis=2) / ((y - y.mean()) ** 2).sum()
    return oof, r2


def test_standardize_is_glmnets_per_fold_standardisation():
    X, y, _ = planted(n=42, p=120, seed=5)
    rng = np.random.default_rng(1)
    X = X * rng.uniform(0.05, 20.0, size=X.shape[1])  # genes on very different scales
    X[:, 7] = 3.0  # a constant gene: never enters
    folds = np.arange(42) % 3 + 1
    ratios = [0.0, 0.5, 1.0]
    res = baseline.elastic_net_cv(X, y, folds, ratios, 15, 0.05, standardize=True)
    assert res["standardize"] is True
    sd_all = X.std(axis=0)
    Xa = X / np.where(sd_all > 0, sd_all, 1.0)
    # λ_max on the standardised genes of all patients (cv.glmnet's shared λ sequence)
    lmax = np.abs((Xa - Xa.mean(0)).T @ (y - y.mean())).max() / len(y)
    np.testing.assert_allclose(res["lambdas"][1:, 0], [lmax / 0.5, lmax], rtol=1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        oof, r2 = _glmnet_standardized_reference(X, y, folds, ratios, res["lambdas"])
    np.testing.assert_allclose(res["r2_path"], r2, atol=1e-7)
    r2[1:, 0] = -np.inf  # intercept-only models are never selected
    a, t = np.unravel_index(np.argmax(r2), r2.shape)
    assert res["index"] == (a, t)
    np.testing.assert_allclose(res["oof"], oof[a, t], atol=1e-6)
    # the refit on all patients, standardised the same way, reported on the genes' scale
    ratio, lam = ratios[a], res["lambdas"][a, t]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = (Ridge(alpha=len(y) * lam) if ratio == 0 else
                 ElasticNet(alpha=lam, l1_ratio=ratio, tol=1e-13, max_iter=500000)).fit(Xa, y)
    np.testing.assert_allclose(res["coef"], model.coef_ / np.where(sd_all > 0, sd_all, 1.0), atol=1e-6)
    assert res["intercept"] == pytest.approx(model.intercept_, abs=1e-6)
    assert res["coef"][7] == 0
    # and it is not the unstandardised fit
    plain = baseline.elastic_net_cv(X, y, folds, ratios, 15, 0.05)
    assert not np.allclose(plain["oof"], res["oof"])


def test_refined_path_keeps_the_requested_lambdas_and_the_solutions(monkeypatch):
    lambdas = np.stack([np.geomspace(2.0, 0.02, 12), np.geomspace(5.0, 0.05, 12)])
    fine, m = enet.refined_path(lambdas)
    # 11 steps of ln(100)/11 each -> m = ceil((ln(100)/11) / (ln(100)/267)) = ceil(267/11) = 25
    assert m == 25 and fine.shape == (2, 11 * 25 + 1)
    np.testing.assert_array_equal(fine[:, ::m], lambdas)  # exactly the requested values
    steps = np.log(fine[:, :-1] / fine[:, 1:])
    assert steps.max() <= enet.MAX_STEP_LOG_RATIO * (1 + 1e-12) and (steps > 0).all()
    fine_paper, m_paper = enet.refined_path(np.geomspace(1.0, 0.01, 4000)[None, :])
    assert m_paper == 1  # the paper's 4000-λ path is fine enough as it is
    # the path solver is exact: the solutions at the requested λ do not depend on the steps
    X, y, _ = planted(n=36, p=90, seed=9)
    folds = np.arange(36) % 3 + 1
    refined = baseline.elastic_net_cv(X, y, folds, [0.3, 0.7], 15, 0.01, standardize=True)
    monkeypatch.setattr(enet, "MAX_STEP_LOG_RATIO", np.inf)
    direct = baseline.elastic_net_cv(X, y, folds, [0.3, 0.7], 15, 0.01, standardize=True)
    np.testing.assert_allclose(refined["r2_path"], direct["r2_path"], atol=1e-9)
    assert refined["index"] == direct["index"]
    np.testing.assert_allclose(refined["coef"], direct["coef"], atol=1e-9)


# --------------------------------------------------------------------------- reference solver


@pytest.mark.parametrize("standardize", [False, True])
def test_reference_solver_gives_the_fast_solvers_results(standardize):
    """solver="reference" (scikit-learn's Ridge and enet_path on the same folds, grid,
    standardisation and selection) and the fast solvers: same surface, selection, refit and
    out-of-fold predictions up to coordinate descent's tolerance; both certified."""
    X, y, _ = planted(n=36, p=80, seed=11)
    X = X * np.random.default_rng(2).uniform(0.2, 5.0, size=X.shape[1])
    folds = np.arange(36) % 4 + 1
    ratios = [0.0, 0.25, 0.75, 1.0]
    fast = baseline.elastic_net_cv(X, y, folds, ratios, 20, 0.01, standardize=standardize)
    ref = baseline.elastic_net_cv(X, y, folds, ratios, 20, 0.01, standardize=standardize, solver="reference")
    assert (fast["solver"], ref["solver"]) == ("fast", "reference")
    np.testing.assert_array_equal(fast["lambdas"], ref["lambdas"])
    # (coordinate descent stops at a duality gap of 1e-10 ||y_c||²: ~1e-8 in R² at small λ)
    np.testing.assert_allclose(fast["r2_path"], ref["r2_path"], atol=1e-6)
    np.testing.assert_allclose(fast["cv_mse"], ref["cv_mse"], rtol=1e-5, atol=1e-10)
    assert fast["index"] == ref["index"]
    assert (fast["l1_ratio"], fast["lambda"]) == (ref["l1_ratio"], ref["lambda"])
    np.testing.assert_allclose(fast["oof"], ref["oof"], atol=1e-6)
    np.testing.assert_allclose(fast["coef"], ref["coef"], atol=1e-6)
    assert fast["intercept"] == pytest.approx(ref["intercept"], abs=1e-6)
    for res in (fast, ref):
        cert = res["certificate"]
        assert cert["passed"] and len(cert["folds"]) == 4
        assert -1e-12 < cert["fold_max"] <= certificate.CERTIFICATE_TOL
        assert -1e-12 < cert["refit"] <= certificate.CERTIFICATE_TOL
    # the exact solvers are certified at rounding level, far below the tolerance
    assert fast["certificate"]["fold_max"] < 1e-12 and fast["certificate"]["refit"] < 1e-12


@pytest.mark.parametrize("alpha", [0.0, 0.4, 1.0])
def test_duality_gap_zero_at_the_optimum_and_positive_elsewhere(alpha):
    X, y, _ = planted(n=30, p=50, seed=12)
    lam = 0.3 * baseline.lambda_max(X, y, max(alpha, 1e-3))
    mask = np.arange(30) % 3 != 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = (Ridge(alpha=mask.sum() * lam) if alpha == 0 else
                 ElasticNet(alpha=lam, l1_ratio=alpha, tol=1e-14, max_iter=1_000_000)).fit(X[mask], y[mask])
    gap = certificate.duality_gap(X, y, model.coef_, alpha, lam, mask)
    assert abs(gap) < 1e-10
    worse = model.coef_ + 0.01 * np.random.default_rng(0).normal(size=50)
    assert certificate.duality_gap(X, y, worse, alpha, lam, mask) > 1e-6
    # the gap bounds the suboptimality: P(worse) - P(opt) <= gap · ||y_c||²
    def primal(w):
        Xc, yc = X[mask] - X[mask].mean(0), y[mask] - y[mask].mean()
        n = mask.sum()
        return 0.5 * np.sum((yc - Xc @ w) ** 2) + n * lam * (alpha * np.abs(w).sum() + (1 - alpha) / 2 * w @ w)
    yc = y[mask] - y[mask].mean()
    assert primal(worse) - primal(model.coef_) <= certificate.duality_gap(X, y, worse, alpha, lam, mask) * (yc @ yc) * (1 + 1e-9)


def test_failed_certificate_refits_the_feature_with_the_reference_solver(monkeypatch, caplog):
    X, y, _ = planted(n=32, p=60, seed=13)
    folds = np.arange(32) % 4 + 1
    ratios = [0.0, 0.5, 1.0]
    ref = baseline.elastic_net_cv(X, y, folds, ratios, 12, 0.01, solver="reference")
    monkeypatch.setattr(certificate, "CERTIFICATE_TOL", -1.0)  # nothing passes
    with caplog.at_level("WARNING", logger="radiogenomics.baseline"):
        res = baseline.elastic_net_cv(X, y, folds, ratios, 12, 0.01, label="demo_feature")
    lines = [r.getMessage() for r in caplog.records if "certificate" in r.getMessage()]
    assert len(lines) == 1 and "demo_feature" in lines[0] and "reference solver" in lines[0]
    assert res["solver"] == "reference" and res["certificate"]["fast"]["passed"] is False
    np.testing.assert_array_equal(res["oof"], ref["oof"])
    np.testing.assert_array_equal(res["coef"], ref["coef"])


@pytest.mark.parametrize("corrupt", ["fold_solution", "refit"])
def test_corrupted_fast_solution_is_caught_by_the_certificate(monkeypatch, caplog, corrupt):
    X, y, _ = planted(n=32, p=60, seed=14)
    folds = np.arange(32) % 4 + 1
    ratios = [0.5]
    good = baseline.elastic_net_cv(X, y, folds, ratios, 12, 0.01)
    assert good["certificate"]["passed"] and good["solver"] == "fast"
    if corrupt == "fold_solution":  # the dual solutions stored at the requested λ
        current = dual_path.DualPath.residuals
        monkeypatch.setattr(dual_path.DualPath, "residuals", lambda path: current(path) * 1.01)
    else:  # the refit's coefficients
        coef = dual_path.DualPath.coef

        def bad_coef(self, k, t):
            w, b = coef(self, k, t)
            return w * 1.01, b
        monkeypatch.setattr(dual_path.DualPath, "coef", bad_coef)
    with caplog.at_level("WARNING", logger="radiogenomics.baseline"):
        res = baseline.elastic_net_cv(X, y, folds, ratios, 12, 0.01, label="demo_feature")
    assert "optimality certificate failed" in caplog.text and "demo_feature" in caplog.text
    fast = res["certificate"]["fast"]
    assert (fast["fold_max"] if corrupt == "fold_solution" else fast["refit"]) > certificate.CERTIFICATE_TOL
    assert res["solver"] == "reference" and res["certificate"]["passed"]
    # the reference's results are the right ones (the uncorrupted fast solution's)
    assert res["index"] == good["index"]
    np.testing.assert_allclose(res["coef"], good["coef"], atol=1e-6)
    np.testing.assert_allclose(res["oof"], good["oof"], atol=1e-6)


def test_run_feature_records_solver_and_certificate(tmp_path):
    paths, _ = write_inputs(tmp_path)
    _, sel = run(tmp_path, paths, "enhancing_volume")
    saved = json.loads((tmp_path / "enhancing_volume" / "selection.json").read_text())
    assert saved["solver"] == "fast" and saved == json.loads(json.dumps(sel))
    cert = saved["certificate"]
    assert set(cert) >= {"kind", "fold_max", "refit", "tolerance", "passed", "folds"}
    assert cert["passed"] and len(cert["folds"]) == 4 and cert["tolerance"] == certificate.CERTIFICATE_TOL
    out = tmp_path / "reference"
    ref = baseline.run_feature(
        expression_path=paths["expression"], features_path=paths["features"], folds_path=paths["folds"],
        feature="enhancing_volume", l1_ratios=3, n_lambdas=10, lambda_min_ratio=0.01,
        oof_path=out / "oof.tsv", coefficients_path=out / "coefficients.tsv",
        selection_path=out / "selection.json", solver="reference")
    assert ref["solver"] == "reference" and ref["certificate"]["passed"]
    assert (ref["l1_ratio"], ref["lambda_index"]) == (sel["l1_ratio"], sel["lambda_index"])
    with pytest.raises(RadiogenomicsError, match="baseline.solver"):
        baseline.run_feature(
            expression_path=paths["expression"], features_path=paths["features"], folds_path=paths["folds"],
            feature="enhancing_volume", l1_ratios=3, n_lambdas=10, lambda_min_ratio=0.01,
            oof_path=out / "oof.tsv", coefficients_path=out / "coefficients.tsv",
            selection_path=out / "selection.json", solver="glmnet")


# -- the compiled screening loops (kernels) against their NumPy references (screening_loops) --


def _pair_inputs(seed=3, M=4000, P=7):
    rng = np.random.default_rng(seed)
    pk = rng.integers(0, P, M)
    ph = rng.normal(size=M)
    zl, sl = rng.normal(size=M), rng.normal(size=M)
    cn, ez, es = rng.random(M), 1e-7 * rng.random(M), 1e-7 * rng.random(M)
    key = rng.normal(size=P) - 1.0
    key[2] = -np.inf  # a problem not synced
    c, en, gamma = rng.normal(size=P), 0.01 * rng.random(P), rng.random(P)
    return pk, ph, zl, sl, cn, ez, es, key, c, en, gamma


def test_compiled_loops_are_available():
    from radiogenomics.baseline import kernels

    assert kernels.AVAILABLE, "numba is a dependency (pyproject.toml): the compiled loops must be importable"
    assert kernels.load() >= 0


def test_compiled_predict_equals_reference():
    """Due pairs, predicted statuses and distances: identical to the last bit, for a problem
    not synced (key -inf), for none due and for no pairs at all."""
    from radiogenomics.baseline import kernels, screening_loops

    args = _pair_inputs()
    got, want = kernels.predict(*args), screening_loops.predict(*args)
    assert 0 < len(want[0]) < len(args[0]) and not np.any(args[0][want[0]] == 2)
    for g, w in zip(got, want):
        assert g.dtype == w.dtype
        np.testing.assert_array_equal(g, w)
    pk, ph, *rest = args
    for case in ((pk, ph + np.inf), (pk[:0], ph[:0])):
        small = (*case, *rest)
        assert len(kernels.predict(*small)[0]) == len(screening_loops.predict(*small)[0]) == 0


def test_compiled_settle_equals_reference_and_keeps_ties():
    """Exact z (rounding apart), statuses with the tie rule and margins; a z on the threshold
    keeps its old status, one clearly past it changes."""
    from radiogenomics.baseline import kernels, screening_loops

    rng = np.random.default_rng(5)
    p, N, P, m = 300, 30, 5, 600
    Xt, R = rng.normal(size=(p, N)), rng.normal(size=(P, N))
    genes, probs = rng.integers(0, p, m), np.sort(rng.integers(0, P, m))
    n = np.full(P, float(N))
    z = np.einsum("ij,ij->i", Xt[genes], R[probs]) / n[probs]
    gamma = np.full(P, float(np.median(np.abs(z))))
    # ties: make some pairs' |z| equal to γ up to rounding (scale the gene's row)
    tie = np.arange(0, m, 37)
    Xt[genes[tie]] *= (gamma[probs[tie]] / np.abs(z[tie]))[:, None]
    old = rng.integers(-1, 2, m).astype(np.int8)
    old[tie] = 0
    cn, rnorm = rng.random(m), rng.random(P)
    got = kernels.settle(Xt, genes, R, probs, n, gamma, old, cn, rnorm)
    want = screening_loops.settle(Xt, genes, R, probs, n, gamma, old, cn, rnorm)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-13, atol=1e-15)
    # statuses agree except where z is on the threshold to rounding and the old status is the
    # other sign (both statuses are then consistent: which one depends on the last bit)
    clear = np.abs(np.abs(want[0]) - gamma[probs]) > 1e-12 * gamma[probs]
    np.testing.assert_array_equal(got[1][clear], want[1][clear])
    np.testing.assert_array_equal(got[1][old == 0], want[1][old == 0])
    np.testing.assert_allclose(got[2], want[2], rtol=1e-12, atol=1e-14)
    assert np.all(got[1][tie] == 0)  # on the threshold: kept inactive
    assert np.any(got[1] != old)  # and others did change


def test_compiled_window_loops_equal_reference():
    """A window's candidates (single precision, row-major) and the full status check."""
    from radiogenomics.baseline import kernels, screening_loops

    rng = np.random.default_rng(7)
    K, p, P = 4, 2000, 6
    f = np.float32
    z32, s32 = rng.normal(size=(K, p)).astype(f), (0.1 * rng.normal(size=(K, p))).astype(f)
    xn32 = rng.random(p).astype(f)
    cm, hr = rng.random(K).astype(f), rng.random(K).astype(f)
    mid, a, lim0 = (1 + rng.random(K)).astype(f), (0.01 * rng.random(K)).astype(f), (0.05 * rng.random(K)).astype(f)
    got = kernels.window_candidates(z32, s32, xn32, cm, hr, mid, a, lim0)
    want = screening_loops.window_candidates(z32, s32, xn32, cm, hr, mid, a, lim0)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)
    pi, gi = want
    assert 0 < len(pi) < K * p
    state = np.zeros((P, p), dtype=np.int8)
    state[:, :40] = 1
    ks = np.array([0, 2, 3, 5])
    tc = rng.integers(-1, 2, len(pi)).astype(np.int8)
    got = kernels.status_changes(z32, mid, state, ks, pi, gi, tc)
    want = screening_loops.status_changes(z32, mid, state, ks, pi, gi, tc)
    assert len(want[0]) > 0
    for g, w in zip(got, want):
        assert g.dtype == w.dtype
        np.testing.assert_array_equal(g, w)


def test_compiled_candidate_loops_equal_reference():
    """A window's candidates' values, bounds and exact-evaluation list, and which stay: to
    the last bit (single precision where the reference is), with a broadcast gene-norm table
    (one training set on all rows) as well as a full one."""
    from radiogenomics.baseline import kernels, screening_loops

    rng = np.random.default_rng(11)
    K, p, P, m = 3, 500, 5, 900
    f = np.float32
    z32, s32 = rng.normal(size=(K, p)).astype(f), (0.1 * rng.normal(size=(K, p))).astype(f)
    pi, gi = np.sort(rng.integers(0, K, m)), rng.integers(0, p, m)
    xn32 = (1 + rng.random(p)).astype(f)
    rn, vn = rng.random(K), 0.1 * rng.random(K)
    gk = np.full(K, 0.8)
    ks = np.array([1, 3, 4])
    for cnorm in (rng.random((P, p)), np.broadcast_to(rng.random(p), (P, p))):
        args = (z32, s32, pi, gi, xn32, f(1e-6), rn, vn, gk, cnorm, ks[pi], 1e5)
        got, want = kernels.candidate_values(*args), screening_loops.candidate_values(*args)
        for g, w in zip(got, want):
            assert g.dtype == w.dtype
            np.testing.assert_array_equal(g, w)
        assert 0 < len(want[-1]) < m  # some, not all, to evaluate exactly
        zc, sc, ez, es, gq, cn, _ = want
        c_hi = np.array([3.0, 5.5, 9.0])
        g_hi = np.array([0.9, 0.8, 0.7])
        kargs = (zc, sc, ez, es, cn, pi, 0.01 * rng.random(K), -1.0, c_hi, np.maximum(1.0, c_hi), 0.6 * g_hi, g_hi)
        got, want = kernels.keep_candidates(*kargs), screening_loops.keep_candidates(*kargs)
        np.testing.assert_array_equal(got, want)
        assert 0 < want.sum() < m


def test_compiled_loops_give_the_reference_path(monkeypatch):
    """The whole lockstep path with the compiled loops (forced on at this size) has the same
    statuses and coefficients at every step, and does the same work, as with the references;
    below COMPILED_MIN_GENES the references are what runs."""
    from radiogenomics.baseline import kernels, screening, screening_loops

    ref = _lockstep_path()
    assert ref.screen.loops is screening_loops  # p = 300 < COMPILED_MIN_GENES
    states, coefs = [], []
    for t in range(80):
        ref.step(t)
        states.append(ref.state.copy())
        coefs.append([ref.coef(k, t)[0] for k in range(ref.P)])
    monkeypatch.setattr(screening, "COMPILED_MIN_GENES", 0)
    fast = _lockstep_path()
    assert fast.screen.loops is kernels
    for t in range(80):
        fast.step(t)
        np.testing.assert_array_equal(fast.state, states[t])
        for k in range(fast.P):
            np.testing.assert_allclose(fast.coef(k, t)[0], coefs[t][k], rtol=0, atol=1e-13)
    assert fast.stats == ref.stats


def test_compiled_loops_give_the_reference_search(monkeypatch):
    """The whole cross-validated search (standardised per fold, several α) with the compiled
    loops forced on selects the same model, with the same error surface and coefficients."""
    from radiogenomics.baseline import screening

    X, y, _ = planted(n=40, p=150, seed=4)
    folds = np.arange(40) % 5
    ratios = baseline.l1_ratio_grid(6)
    ref = baseline.elastic_net_cv(X, y, folds, ratios, 30, 0.01, standardize=True)
    monkeypatch.setattr(screening, "COMPILED_MIN_GENES", 0)
    fast = baseline.elastic_net_cv(X, y, folds, ratios, 30, 0.01, standardize=True)
    assert fast["index"] == ref["index"] and fast["fallbacks"] == ref["fallbacks"] == []
    for key in ("r2_path", "cv_mse", "coef", "oof"):
        np.testing.assert_allclose(fast[key], ref[key], rtol=0, atol=1e-12)
    assert fast["solver_stats"] == ref["solver_stats"]
