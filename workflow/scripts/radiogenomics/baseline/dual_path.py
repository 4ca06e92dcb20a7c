"""Elastic-net paths (0 < α < 1) by a semismooth Newton method on the n-dimensional dual.

Objective of problem k (scikit-learn's ``ElasticNet``; X and y centred with the means of its
training rows): 1/(2n) ||y_c - X_c w||² + γ ||w||₁ + β/2 ||w||², γ = λα, β = λ(1-α).

Given the residual r the primal solution is explicit,

    w_j = S(x_cjᵀr / n, γ) / β    (S the soft threshold),

and r solves the piecewise-linear equation r = y_c - X_c w(r). For a fixed active set A
(|x_cjᵀr|/n > γ) with signs s this is the n × n linear system

    (β I + X_cA X_cAᵀ / n) r = β y_c + γ X_cA s_A

(``factorisation.Factorisation``). Newton steps repeat until the active set implied by the
new r is the one it was computed with: the solution is then exact, not iterated to a
tolerance. The path is warm-started λ to λ; all problems (folds × α) advance in lockstep;
which genes can change status is tracked by safe screening (``screening.Screening``). A step
taken only as a warm start for the next (``step(exact=False)``) gets one Newton iteration.
Plain Newton can cycle when several genes cross at once; such a problem is solved again from
its last exact solution in smaller λ steps (``_continuation``, every gene checked exactly),
else globalised by a damped Newton (Armijo line search on the strongly convex dual
objective), and a problem on which that fails too is frozen for the caller's fallback
(``failed``).
"""

from __future__ import annotations

import numpy as np

from ..errors import RadiogenomicsError
from .factorisation import Factorisation
from .screening import Screening
from .status import status

#: Plain Newton iterations per λ step before the damped Newton takes over (at the refined
#: path's step sizes almost every step needs 1-3).
NEWTON_MAX_ITER = 8
#: A problem on which plain Newton cycles at a step is solved again from its last exact
#: solution in this many geometric λ sub-steps per step since (continuation; fewer genes
#: cross in each), before the damped Newton. Measured on the benchmark (100 λ, 10 folds): 5
#: problems cycled, all at the last λ; each took 6-185 ms by damped Newton and 7-20 ms by
#: continuation (1, 2 and 4 sub-steps alike; 2 leaves a margin).
CONTINUATION_PIECES = 2
#: Damped Newton: iterations, Armijo sufficient-decrease factor, smallest step length.
DAMPED_MAX_ITER = 200
ARMIJO_C = 1e-4
ARMIJO_MIN_STEP = 1e-12
#: Backtracking factor of that line search: halve the step until the Armijo condition holds.
ARMIJO_BACKTRACK = 0.5
#: What a failed Newton solve of one problem raises.
NEWTON_ERRORS = (RadiogenomicsError, np.linalg.LinAlgError, FloatingPointError)


def dual_to_primal(Xt, r, n, gamma, beta, mu, ybar):
    """Coefficients w = S(Xᵀr / n, γ) / β and intercept ȳ - μᵀw from the dual variable r
    (r sums to zero over the training rows, so the uncentred Xᵀr equals X_cᵀr)."""
    z = (Xt @ r) / n
    w = np.sign(z) * np.clip(np.abs(z) - gamma, 0, None) / beta
    return w, float(ybar - mu @ w)


class DualPath:
    """Elastic-net paths (0 < α < 1) of several problems advanced in lockstep.

    Problem k has training mask ``train[k]`` (its other patients are its validation
    patients) and L1 share ``alpha[k]``; all share the step index t into their own λ
    sequence ``lambdas[k]``. Where all problems share one training mask (one fold, α varying:
    the per-fold standardised search) the solve runs on the training rows alone (N = n; ``rows``
    are those of X as given) and the validation rows are only predicted (``Factorisation``).
    """

    def __init__(self, X, y, train, alpha, lambdas):
        train = np.asarray(train, dtype=bool)
        self.N_all = train.shape[1]
        # the distinct training masks (problems share folds) and each problem's
        masks, inv = np.unique(train, axis=0, return_inverse=True)
        vmax = max(int((~train).sum(axis=1).max()), 1)
        self.vidx = np.array([np.resize(np.flatnonzero(~row), vmax) if (~row).any() else np.zeros(vmax, int)
                              for row in train])  # validation rows (of X as given)
        if len(masks) == 1:
            # one training set: the solve runs on its rows alone (N = n), the validation
            # rows are only predicted
            self.rows = np.flatnonzero(masks[0])
            vrows = np.flatnonzero(~masks[0])
            Xvt = np.ascontiguousarray(X[vrows].T) if len(vrows) else np.zeros((X.shape[1], 1))  # p x V
            fact_vidx = np.searchsorted(vrows, self.vidx)
            X, y, train = X[self.rows], np.asarray(y)[self.rows], train[:, self.rows]
            masks = masks[:, self.rows]
        else:
            self.rows = None  # the solve runs on all rows, with zero weights off the training rows
            Xvt, fact_vidx = None, self.vidx
        self.masks, self.mask_of = masks.astype(float), inv.ravel()
        self.Xt = np.ascontiguousarray(X.T)  # p x N
        self.p, self.N = self.Xt.shape
        self.y = np.asarray(y, dtype=float)
        self.w = train.astype(float)  # P x N
        self.P = len(train)
        self.n = self.w.sum(axis=1)  # P
        self.alpha = np.asarray(alpha, dtype=float)
        self.lambdas = np.asarray(lambdas, dtype=float)  # P x L
        self.ybar = (self.w @ self.y) / self.n
        self.yc = (self.y[None, :] - self.ybar[:, None]) * self.w
        self.mu = (self.masks @ X)[self.mask_of] / self.n[:, None]  # training means (P x p)
        self.state = np.zeros((self.P, self.p), dtype=np.int8)  # -1, 0, +1
        # the last exact solution (step, statuses, xt) of every problem: continuation restarts
        # there; ``changed``: statuses changed since
        self.anchor_t = np.zeros(self.P, dtype=int)
        self.anchor_state = self.state.copy()
        self.changed = np.zeros(self.P, dtype=bool)
        self.stats = {"solves": 0, "refreshes": 0, "iterations": 0, "candidate_rows": 0, "steps": 0}
        Xvt = self.Xt if Xvt is None else Xvt
        self.fact = Factorisation(self.Xt, self.w, self.n, self.mu, self.yc, Xvt, fact_vidx, self.stats)
        # The solution is kept in the eigenbasis of the factorisation (xt = Qᵀr); r itself
        # is only formed (an N x N product per problem) when genes must be checked exactly.
        self.r = self.yc.copy()
        self.xt = self.yc.copy()
        self.rvalid = np.ones(self.P, dtype=bool)
        self.xt_prev = self.xt.copy()  # solution of the previous step (eigenbasis)
        self.xt_prev2 = self.xt.copy()  # ... and of the one before
        self.anchor_xt = self.xt.copy()
        self.screen = Screening(self, X)
        # Problems still solved by Newton; a problem on which it fails (``give_up``) is
        # frozen and recorded in ``failed`` (k -> (step, reason)) for the caller's fallback.
        self.live = np.arange(self.P)
        self.failed = {}

    # -- the solution ------------------------------------------------------------------
    def materialize(self, ks):
        """Form r = Q xt for the problems ``ks`` whose r is out of date."""
        ks = np.asarray(ks)[~self.rvalid[ks]]
        if len(ks):
            # one matrix-vector product per problem, in place (a batched product would first
            # copy the selected Q, N x N each: the cost is reading Q, not the arithmetic)
            Q, xt, r = self.fact.Q, self.xt, self.r
            for k in ks.tolist():
                np.dot(Q[k], xt[k], out=r[k])
            self.rvalid[ks] = True

    def _rebase(self, ks):
        """New eigendecompositions for ``ks``, every eigenbasis vector rotated into them."""
        self.materialize(ks)
        Q = self.fact.Q
        r_prev = np.matmul(Q[ks], self.xt_prev[ks][:, :, None])[:, :, 0]
        r_prev2 = np.matmul(Q[ks], self.xt_prev2[ks][:, :, None])[:, :, 0]
        r_anchor = np.matmul(Q[ks], self.anchor_xt[ks][:, :, None])[:, :, 0]
        QT = self.fact.rebase(ks)
        self.anchor_xt[ks] = np.matmul(QT, r_anchor[:, :, None])[:, :, 0]
        self.xt[ks] = np.matmul(QT, self.r[ks][:, :, None])[:, :, 0]
        self.screen.rotate(ks, QT)
        self.xt_prev[ks] = np.matmul(QT, r_prev[:, :, None])[:, :, 0]
        self.xt_prev2[ks] = np.matmul(QT, r_prev2[:, :, None])[:, :, 0]

    def _solve(self, idx, beta, gamma):
        """Newton step: r for the current active sets of the problems ``idx``."""
        st = idx[self.fact.stale[idx]]
        if len(st):
            self._rebase(st)
        idx, xt = self.fact.solve(idx, beta, gamma)
        self.screen.advance(np.arange(self.P)[idx], self.xt[idx], xt)
        self.xt[idx] = xt
        self.rvalid[idx] = False

    # -- path --------------------------------------------------------------------------
    def step(self, t, max_iter=NEWTON_MAX_ITER, exact=True):
        """Solve every problem at step t (warm start from step t-1). ``exact=False``: one
        Newton iteration only (its status changes applied, not re-solved): a warm start for
        step t+1, for a λ whose solution is not needed."""
        lam = self.lambdas[:, t]
        gamma, beta = lam * self.alpha, lam * (1 - self.alpha)
        self.stats["steps"] += 1
        allp = self.live
        if len(allp) == 0:
            return
        screen = self.screen
        if len(allp) == self.P:
            self.xt_prev2, self.xt_prev = self.xt_prev, self.xt.copy()
        else:
            self.xt_prev2[allp] = self.xt_prev[allp]
            self.xt_prev[allp] = self.xt[allp]
        # problems whose window ended (or none is open): full check and a new window (a full
        # check reads all of X whatever the number of problems: windows that would end soon
        # are renewed in the same pass)
        ends = allp[screen.t_end[allp] < t]
        todo = allp
        if len(ends):
            ends = np.union1d(ends, screen.ending(allp, t))
            todo = np.union1d(allp, screen.open_windows(ends, t, gamma))
        for it in range(max_iter):
            self._solve(todo, beta, gamma)
            self.stats["iterations"] += 1
            bad = todo[~screen.window_ok(todo)]
            if len(bad):  # the window's bound no longer holds: full check, new window
                renew = np.union1d(bad, screen.ending(allp, t))
                rest = todo[~np.isin(todo, renew)]
                todo = np.union1d(screen.open_windows(renew, t, gamma), screen.sync(gamma, rest))
            else:
                todo = screen.sync(gamma, todo)
            if len(todo) == 0:
                break
            if not exact:
                todo = todo[:0]
                break
        if len(todo):
            # plain Newton cycles (rare: several genes at the threshold at once): the step
            # again in sub-steps, else the damped Newton
            for k in todo:
                try:
                    self._continuation(k, t)
                    continue
                except NEWTON_ERRORS:
                    pass
                try:
                    self._damped(k, gamma[k], beta[k], t)
                except NEWTON_ERRORS as exc:
                    self._give_up(k, t, exc)
            # r and the statuses moved outside the windows' bookkeeping (the pairs' stored
            # statuses are out of date): these windows must be renewed before any sync, at the
            # next step whatever its kind (postponing it gives wrong solutions)
            screen.t_end[todo] = -1
        if exact:
            done = self.live
            moved = done[self.changed[done]]
            self.anchor_state[moved] = self.state[moved]
            self.changed[done] = False
            self.anchor_t[done] = t
            self.anchor_xt[done] = self.xt[done]
        screen.after_step(self.xt - self.xt_prev, self.n)

    def _give_up(self, k, t, reason):
        """Freeze problem k (Newton failed at step t): it is no longer solved, and the caller
        replaces its whole path by the reference solver's."""
        self.failed[int(k)] = (int(t), str(reason))
        self.live = self.live[self.live != k]
        self.stats["failed"] = self.stats.get("failed", 0) + 1

    def _full_state(self, k, r, gamma):
        z = (self.Xt @ r) / self.n[k]
        return z, status(z, gamma, self.state[k])

    def _dual_objective(self, k, r, z, gamma, beta):
        """f(r) (``_damped``) given z = X_cᵀr / n."""
        st = np.clip(np.abs(z) - gamma, 0, None)
        return 0.5 * r @ r - r @ self.yc[k] + self.n[k] / (2 * beta) * (st @ st)

    def _continuation(self, k, t, pieces=CONTINUATION_PIECES, max_iter=NEWTON_MAX_ITER):
        """Problem k from its last exact solution (``anchor_*``, at a step t0 < t) to λ_t in
        ``pieces`` × (t - t0) geometric λ sub-steps, each by plain Newton with every gene
        checked exactly (one product with X per iteration). Raises if one does not converge."""
        self.stats["continuations"] = self.stats.get("continuations", 0) + 1
        fact = self.fact
        t0 = int(self.anchor_t[k])
        start = self.anchor_state[k]
        diff = np.flatnonzero(self.state[k] != start)
        if len(diff):
            fact.update(k, diff, self.state[k, diff], start[diff])
            self.state[k, diff] = start[diff]
        self.changed[k] = True
        self.xt[k] = self.anchor_xt[k]  # (both kept in the current eigenbasis)
        self.rvalid[k] = False
        idx = np.array([k])
        bvec = np.zeros(self.P)
        gvec = np.zeros(self.P)
        lams = np.geomspace(self.lambdas[k, t0], self.lambdas[k, t], pieces * max(t - t0, 1) + 1)[1:]
        lams[-1] = self.lambdas[k, t]
        for lam in lams:
            gvec[k], bvec[k] = lam * self.alpha[k], lam * (1 - self.alpha[k])
            for _ in range(max_iter):
                self._solve(idx, bvec, gvec)
                self.materialize(idx)
                _, target = self._full_state(k, self.r[k], gvec[k])
                diff = np.flatnonzero(self.state[k] != target)
                if len(diff) == 0:
                    break
                fact.update(k, diff, self.state[k, diff], target[diff])
                self.state[k, diff] = target[diff]
            else:
                raise RadiogenomicsError(f"elastic net: Newton did not converge at step {t} by continuation")

    def _damped(self, k, gamma, beta, t, max_iter=DAMPED_MAX_ITER):
        """Semismooth Newton with Armijo backtracking on the (strongly convex) dual objective

        f(r) = ½||r||² - rᵀy_c + n/(2β) Σ_j S(x_cjᵀ r/n, γ)², ∇f(r) = r - y_c + X_c w(r).

        z is linear in r, so along the Newton direction d the line search evaluates f at
        r + τd from z(r) + τ (z(r + d) - z(r)): two products with X per iteration, not one
        per trial step.
        """
        self.stats["damped"] = self.stats.get("damped", 0) + 1
        self.changed[k] = True
        idx = np.array([k])
        bvec = np.zeros(self.P)
        gvec = np.zeros(self.P)
        bvec[k], gvec[k] = beta, gamma
        fact = self.fact
        for _ in range(max_iter):
            self.materialize(idx)
            r = self.r[k].copy()
            z, target = self._full_state(k, r, gamma)
            diff = np.flatnonzero(self.state[k] != target)
            if len(diff):
                fact.update(k, diff, self.state[k, diff], target[diff])
                self.state[k, diff] = target[diff]
            # gradient at r (state consistent with r): r - y_c + (G r /n - γ m̂)/β
            fact.flush(k)
            grad = r - self.yc[k] + (fact.Kt[k] @ r / self.n[k] - gamma * fact.mt[k]) / beta
            self._solve(idx, bvec, gvec)
            self.materialize(idx)
            d = self.r[k] - r
            z_new, newstate = self._full_state(k, self.r[k], gamma)
            if np.array_equal(newstate, self.state[k]):
                # Newton point lies in the region it was computed for: exact solution.
                return
            zd = z_new - z
            f0 = self._dual_objective(k, r, z, gamma, beta)
            slope = grad @ d
            tau = 1.0
            while tau > ARMIJO_MIN_STEP:
                if self._dual_objective(k, r + tau * d, z + tau * zd, gamma, beta) <= f0 + ARMIJO_C * tau * slope:
                    break
                tau *= ARMIJO_BACKTRACK
            self.r[k] = r + tau * d
            self.xt[k] = fact.Q[k].T @ self.r[k]
        raise RadiogenomicsError(f"elastic net: damped Newton did not converge at step {t}")

    # -- results -----------------------------------------------------------------------
    def check_finite(self, t, pred):
        """Freeze the problems whose step-t predictions ``pred`` (P, V) are not finite."""
        bad = self.live[~np.all(np.isfinite(pred[self.live]), axis=1)]
        for k in bad:
            self._give_up(k, t, "non-finite solution")

    def predictions(self, t):
        """Validation predictions at step t: (P, V) values for the patients ``self.vidx``."""
        lam = self.lambdas[:, t]
        gamma, beta = lam * self.alpha, lam * (1 - self.alpha)
        q, mv = self.fact.validation_terms(self.xt)  # Kt[val] r = (Kt[val] Q) Qᵀ r
        return self.ybar[:, None] + (q / self.n[:, None] - gamma[:, None] * mv) / beta[:, None]

    def residuals(self):
        """r of every problem (P, N) over the rows of X as given (zero off the training rows),
        the dual solution at the last step, without touching the path's own copy of r."""
        r = np.empty((self.P, self.N))
        Q, xt = self.fact.Q, self.xt
        for k in range(self.P):
            if self.rvalid[k]:
                r[k] = self.r[k]
            else:
                np.dot(Q[k], xt[k], out=r[k])
        if self.rows is None:
            return r
        full = np.zeros((self.P, self.N_all))
        full[:, self.rows] = r
        return full

    def coef(self, k, t):
        """Coefficients and intercept of problem k at step t (after ``step(t)``)."""
        lam = self.lambdas[k, t]
        gamma, beta = lam * self.alpha[k], lam * (1 - self.alpha[k])
        self.materialize(np.array([k]))
        return dual_to_primal(self.Xt, self.r[k], self.n[k], gamma, beta, self.mu[k], self.ybar[k])
