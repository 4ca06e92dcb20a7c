"""Safe screening of the genes' status along the elastic-net dual path.

A gene j of problem k is active when |z_j| > γ, z_j = x_cjᵀr / n. Checking all p genes at
every Newton iteration would dominate the cost, so each problem has a *screening window*:

* At its opening (``open_windows``), z0 = X_cᵀr0/n and its slope s0 = X_cᵀv/n along the
  path's last step v are computed for all genes, in single precision (one product over X)
  with the rounding bound added to the slack. Every gene's status is brought in line (full
  check); a gene gets its exact (double-precision) z only where the rounding bound leaves
  its status open.
* Within the window, for d = r - r0 and any scalar c,
  z_j(r) = z0_j + c s0_j + x_cjᵀ(d - c v)/n, so with c = dᵀv/vᵀv and e = ||d - c v||,
  |z_j - z0_j - c s0_j| ≤ ||x_cj|| e / n (Cauchy-Schwarz on the part of the drift that the
  path's direction does not explain). The window stays valid while e ≤ emax and
  c ∈ [c_lo, c_hi] (``window_ok``). Genes whose predicted |z| stays clear of the threshold
  range [γ(t_end), γ(t)] by that slack for every such c cannot change status; only the
  others become the window's *candidate pairs* (problem, gene).
* Between openings (``sync``) only candidate pairs are examined, from their last values
  (single precision from the opening, with their rounding bounds ``ez``/``es``, until a
  new reference makes them exact) with the same first-order bound; those it cannot settle
  get exact z.
* A pair is examined only when it is *due*. Every evaluation (predicted or exact) leaves a
  margin g: how far z's interval is from the threshold band. Between evaluations z moves
  by at most |s_j| Σ|Δc| + ||x_cj||/n Σ||Δd_⊥|| (Δd_⊥ = Δr - Δc v, each Newton update
  split along the direction), which is below T, the problem's *travel*
  (``advance``: the same sums with the largest |s_j| and ||x_cj||/n of its pairs). So a
  pair evaluated at travel T0 and threshold γ0 cannot reach the band while
  T - γ < T0 - γ0 + g (for an active pair the decrease of γ only adds margin); its trigger
  T0 - γ0 + g is stored and pairs are re-examined only once T - γ reaches it. The statuses
  are the same as examining every pair every time: only the work changes.

Window lengths adapt to the cost balance (``WKAPPA``), window ends are aligned
(``WALIGN``) so that openings share passes over X, and a pass renews every window that
would end soon or has used much of its drift allowance (``ending``).

The loops over candidate pairs and over all genes (a sync's predictions and exact checks, an
opening's candidates and full check) are ``screening_loops`` (NumPy, the reference) or, from
``COMPILED_MIN_GENES`` genes on, ``kernels`` (the same operations compiled).
"""

from __future__ import annotations

import numpy as np

from . import screening_loops
from .screening_loops import ABS_SLACK, F64_MARGIN, exact_margin
from .rowwise import linear_fit, pair_dots, runs
from .status import TIE_RTOL, status

#: Longest window, in λ steps: beyond it the first-order prediction is rarely worth keeping.
WMAX = 64
#: Windows end on multiples of this many steps, so that their renewals share a pass over X.
WALIGN = 8
#: A renewal costs about WKAPPA × p pair checks (one pass over X, both products, the
#: bookkeeping); candidates grow about linearly with the window length W, so the cost per
#: step is lowest at W* = √(WKAPPA · p / ρ), ρ = candidates per step of the last window.
WKAPPA = 3.0
#: Length of a problem's first window (no candidate count to size it by yet).
W_START = 4
#: When some windows must be renewed, those that have used this share of their drift
#: allowance are renewed in the same pass over X (a pass costs far more than one problem).
ENDING_DRIFT = 0.5
#: ... and so are long windows (≥ ENDING_MIN_SPAN × WALIGN steps) that are ENDING_DONE done
#: and end within ENDING_WITHIN × WALIGN steps.
ENDING_MIN_SPAN = 4
ENDING_DONE = 0.75
ENDING_WITHIN = 2
#: A problem whose unsettled candidate pairs are ≥ 1/SYNC_FULL of its pairs gets exact
#: values for all of its pairs (and a new reference); otherwise only those pairs.
SYNC_FULL = 4
#: A new prediction direction (the secant since the pairs' last exact values) is taken only
#: when that step is at least this fraction of the old direction's length (else too short
#: to define a direction well).
SECANT_MIN_RATIO = 0.5

#: Drift allowance emax = efac · (window steps) · ||v|| (the unexplained drift grows with the
#: steps taken). efac starts at EFAC_START and is rescaled after every window by the share of
#: the allowance the last one used × EFAC_TARGET (aiming at 1/EFAC_TARGET of it), the factor
#: clipped to EFAC_CHANGE and efac to EFAC_RANGE.
EFAC_START = 0.05
EFAC_TARGET = 1.5
EFAC_CHANGE = (0.5, 4.0)
EFAC_RANGE = (0.01, 4.0)
#: Without a direction (v = 0): emax = NO_DIRECTION_FACTOR · steps · (per-step drift) · n,
#: with the per-step drift ||Δr||/n of the last steps, or DRIFT_START · ||y_c||/n before any.
NO_DIRECTION_FACTOR = 2.0
DRIFT_START = 1e-3
#: Smallest allowance, relative to ||y_c||: a window must accept r's rounding-level drift.
EMAX_FLOOR = 1e-12
#: The range of c, the position along the direction: from C_LO (r may step back) to
#: C_HI_PER_STEP · (window steps) + C_HI_EXTRA (steps may grow along the window).
C_LO = -1.0
C_HI_PER_STEP = 1.5
C_HI_EXTRA = 1.0
#: Per-step drift memory: the window's per-step drift is max(latest, DRIFT_DECAY × previous).
DRIFT_DECAY = 0.5

#: Rounding of the single-precision pass: relative error bound of an N-term dot product with
#: rounded inputs, (N + 2) u / (1 - (N + 2) u), u = 2^-24 (any summation order), plus
#: F32_EXTRA_OPS elementwise single-precision operations of the test, times F32_SAFETY,
#: plus F32_ERR_FLOOR.
F32_UNIT = 2.0**-24
F32_EXTRA_OPS = 10
F32_SAFETY = 1.5
F32_ERR_FLOOR = 1e-12
#: Relative margin on quantities rounded to single precision for the test (centre, radius
#: and allowance): ≈ 17 units of single-precision rounding.
F32_MARGIN = 1e-6
#: A window's candidate gets its exact (double-precision) z at the opening only where its
#: single-precision z is within this many times its rounding bound (plus the tie band) of ±γ:
#: elsewhere its status is settled, and its pair keeps the single-precision values with their
#: bounds until its first exact evaluation (one gathered row of X per exact z is what the
#: opening would otherwise spend most of its time on).
CANDIDATE_EXACT = 1.0
#: Rounding of the travel T per Newton update, relative to ||x_cj||/n · ||r||: r is moved
#: between eigenbases at each rebase (error ≈ N u ||r||, about 1e-14 for N ~ 100).
TRAVEL_RTOL = 1e-12
#: ||Δd - Δc v||² from ||Δd||² - Δc Δdᵀv cancels when Δd is nearly along v: its rounding
#: (a few u ||Δd||²) is covered by adding this share of ||Δd||².
PYTHAGORAS_RTOL = 1e-12


#: The compiled loops (``kernels``) are used from this many genes on; below, a path takes a
#: second or less and loading numba (0.3-0.6 s per process) would cost more than they
#: save, so their NumPy references (``screening_loops``) run.
COMPILED_MIN_GENES = 2000


def pair_loops(p):
    """The module whose loops a screening of p genes uses."""
    if p >= COMPILED_MIN_GENES:
        from . import kernels

        if kernels.AVAILABLE:
            return kernels
    return screening_loops


class Screening:
    """Screening windows and candidate pairs of every problem of ``path`` (a DualPath).

    Reads the path's r (``path.materialize``), its eigenbasis solutions (xt, xt_prev,
    xt_prev2), λ, α and statuses; status changes go to ``path.fact.apply`` and
    ``path.state``. Window vectors are kept in r-space (r0, v0r, rl, vlr) and in the current
    eigenbasis (x0t, v0t, xl, vlt; ``rotate`` after a rebase).
    """

    def __init__(self, path, X):
        self.path = path
        self.loops = pair_loops(path.p)
        P, N = path.P, path.N
        # single-precision copy (N x p, centred on all patients) for the passes over X
        Xg = X - X.mean(axis=0)
        self.X32 = np.ascontiguousarray(Xg, dtype=np.float32)
        xn = np.sqrt(np.einsum("ij,ij->j", Xg, Xg))
        del Xg
        self.xn32 = xn.astype(np.float32)
        self.f32_err = F32_SAFETY * (X.shape[0] + F32_EXTRA_OPS) * F32_UNIT + F32_ERR_FLOOR
        # training-centred gene norms per problem (P x p), for the bounds (with one training
        # set, on whose rows alone the path runs, those of X centred on all rows)
        if len(path.masks) == 1 and path.masks[0].all():
            self.cnorm = np.broadcast_to(xn, (P, len(xn)))
        else:
            sq = (path.masks @ (X * X))[path.mask_of] - path.n[:, None] * path.mu**2
            self.cnorm = np.sqrt(np.clip(sq, 0, None))
        # candidate pairs (problem pk, gene pg; in no particular order): last exact z (zl),
        # its slope (sl) along the direction vl, centred gene norm (cn), stored status (pst)
        self.pk = np.zeros(0, dtype=int)
        self.pg = np.zeros(0, dtype=int)
        self.zl = np.zeros(0)
        self.sl = np.zeros(0)
        self.ez = np.zeros(0)  # rounding bound of zl (0 once exact) ...
        self.es = np.zeros(0)  # ... and of sl (single-precision values from a window opening)
        self.cn = np.zeros(0)
        self.pst = np.zeros(0, dtype=np.int8)
        # ... and its trigger: the pair is due once the problem's travel - γ reaches it
        self.ph = np.zeros(0)
        self.travel = np.zeros(P)  # T: bound on how far any pair's z moved (module docstring)
        self.smax = np.zeros(P)  # largest |s_j| of the problem's pairs
        self.bmax = np.zeros(P)  # largest ||x_cj|| / n of the problem's pairs
        self.pcount = np.zeros(P, dtype=int)  # pairs per problem
        # window reference point and direction (opening: 0; pairs' last exact values: l)
        self.r0 = path.r.copy()
        self.x0t = path.xt.copy()
        self.v0r = np.zeros((P, N))
        self.v0t = np.zeros((P, N))
        self.rl = path.r.copy()
        self.xl = path.xt.copy()
        self.vlr = np.zeros((P, N))
        self.vlt = np.zeros((P, N))
        self.t_end = np.full(P, -1)  # last step of each problem's window (-1: none open)
        self.t_open = np.zeros(P, dtype=int)
        self.window_w = np.full(P, W_START)
        self.efac = np.full(P, EFAC_START)
        self.eratio = np.zeros(P)  # share of the drift allowance used so far
        self.drift = None  # per problem, per-step ||Δr||/n (set after the first step)
        self.emax = np.ones(P)
        self.c_hi = np.ones(P)

    def rotate(self, ks, QT):
        """After a rebase of ``ks``: the eigenbasis copies of the window vectors."""
        self.x0t[ks] = np.matmul(QT, self.r0[ks][:, :, None])[:, :, 0]
        self.v0t[ks] = np.matmul(QT, self.v0r[ks][:, :, None])[:, :, 0]
        self.xl[ks] = np.matmul(QT, self.rl[ks][:, :, None])[:, :, 0]
        self.vlt[ks] = np.matmul(QT, self.vlr[ks][:, :, None])[:, :, 0]

    def _set_status(self, kc, gc, old, new):
        self.path.fact.apply(kc, gc, old, new)
        self.path.state[kc, gc] = new
        self.path.changed[kc] = True

    def _next_window(self, ks, t):
        """Length of the windows ``ks`` open at step t from how the last one went, and its end."""
        path = self.path
        opened = self.t_end[ks] >= 0
        ko = ks[opened]
        if len(ko):
            change = np.clip(EFAC_TARGET * self.eratio[ko], *EFAC_CHANGE)
            self.efac[ko] = np.clip(self.efac[ko] * change, *EFAC_RANGE)
            lasted = np.maximum(t - self.t_open[ko], 1)
            cnt = self.pcount[ko]
            rho = np.maximum(cnt, 1) / np.maximum(self.window_w[ko], 1)
            w_new = np.clip(np.sqrt(WKAPPA * path.p / rho), 1,
                            np.minimum(2 * self.window_w[ko], WMAX)).astype(int)
            short = (lasted < self.window_w[ko] // 2) & (self.eratio[ko] > 1)
            w_new[short] = np.maximum(self.window_w[ko][short] // 2, 1)  # cut short by drift
            self.window_w[ko] = w_new
        self.t_open[ks] = t
        W = self.window_w[ks]
        L = path.lambdas.shape[1]
        return np.minimum(np.maximum((t + W + 1) // WALIGN * WALIGN - 1, t), L - 1)

    def open_windows(self, ks, t, gamma):
        """Full check and a new window for the problems ``ks`` at step t (module docstring).

        z = X_cᵀr/n of every gene (and its slope s = X_cᵀv/n along v = r(t-1) - r(t-2)) in
        single precision with its rounding bound in the slack, exactly for the candidates;
        every gene's status brought in line. Returns the problems whose active set changed.
        """
        path = self.path
        path.stats["refreshes"] += len(ks)
        path.materialize(ks)
        v0t = path.xt_prev[ks] - path.xt_prev2[ks]
        v0r = np.matmul(path.fact.Q[ks], v0t[:, :, None])[:, :, 0]
        r = path.r[ks]
        n = path.n[ks]
        K = len(ks)
        t_end = self._next_window(ks, t)
        nsteps = t_end - t + 1
        g_hi = path.lambdas[ks, t] * path.alpha[ks]
        g_lo = path.lambdas[ks, t_end] * path.alpha[ks]
        nv = np.sqrt(np.einsum("ij,ij->i", v0r, v0r))
        ynorm = np.sqrt(np.sum(path.yc[ks] ** 2, axis=1))
        step = self.drift  # per-step ||Δr||/n, for v = 0 (no direction yet)
        step = np.full(len(ks), DRIFT_START) * ynorm / n if step is None else step[ks]
        emax = np.where(nv > 0, self.efac[ks] * nsteps * nv, NO_DIRECTION_FACTOR * nsteps * step * n)
        emax = np.maximum(emax, EMAX_FLOOR * ynorm)
        c_hi = C_HI_PER_STEP * nsteps + C_HI_EXTRA

        # Pass over all genes in single precision (one (2K x N) @ (N x p) product with X
        # centred on all patients: x_jᵀr is unchanged as r sums to 0). Its error is at most
        # f32_err ||x_j|| (||r|| + |c| ||v||)/n, added to the window's slack: a gene that is
        # not a candidate even so keeps its status for the whole window, and that status is
        # the one the single-precision z gives (it is clear of the threshold by more).
        R = np.concatenate([r / n[:, None], v0r / n[:, None]]).astype(np.float32)
        Z = R @ self.X32  # 2K x p
        z32, s32 = Z[:K], Z[K:]
        cmax = np.maximum(-C_LO, c_hi)
        rn = np.sqrt(np.einsum("ij,ij->i", r, r)) / n
        b = self.f32_err * (rn + cmax * nv / n)
        cm = (0.5 * (C_LO + c_hi)).astype(np.float32)
        hr = (0.5 * (c_hi - C_LO) * (1 + F32_MARGIN)).astype(np.float32)
        mid = 0.5 * (g_lo + g_hi)
        lim0 = 0.5 * (g_hi - g_lo) + ABS_SLACK + (TIE_RTOL + F32_MARGIN) * g_hi
        a = emax / n * (1 + F32_MARGIN) + b
        mid32 = mid.astype(np.float32)
        # candidates at single precision, sorted by problem
        pi, gi = self.loops.window_candidates(z32, s32, self.xn32, cm, hr, mid32, a.astype(np.float32),
                                              lim0.astype(np.float32))
        # candidates: z and slope from the single-precision pass, with their rounding bounds
        # ez = f32_err ||x_j|| ||r||/n and es = f32_err ||x_j|| ||v||/n; exact z (double
        # precision) only where ez leaves the status open (``CANDIDATE_EXACT``)
        zc, sc, ez, es, gq, cn, amb = self.loops.candidate_values(
            z32, s32, pi, gi, self.xn32, np.float32(self.f32_err * (1 + F32_MARGIN)), rn, nv / n, gamma[ks],
            self.cnorm, ks[pi], CANDIDATE_EXACT)
        if len(amb):
            zc[amb] = pair_dots(path.Xt, gi[amb], r, pi[amb]) / n[pi[amb]]
            ez[amb] = 0.0
        path.stats["window_exact"] = path.stats.get("window_exact", 0) + len(amb)
        tc = status(zc, gq, path.state[ks[pi], gi])
        # full check: every gene's status in line with z
        qi, gj, oc, nc = self.loops.status_changes(z32, mid32, path.state, ks, pi, gi, tc)
        if len(qi):
            self._set_status(ks[qi], gj, oc, nc)
        changed = np.unique(ks[qi])
        # the window's candidate pairs, from those values and their rounding bounds
        keep_c = self.loops.keep_candidates(zc, sc, ez, es, cn, pi, emax / n, C_LO, c_hi, cmax, g_lo, g_hi)
        pi, gi, z0c, s0c = pi[keep_c], gi[keep_c], zc[keep_c], sc[keep_c]
        ez, es, cn, tc = ez[keep_c], es[keep_c], cn[keep_c], tc[keep_c]
        kk = ks[pi]
        # replace the pairs of ks
        inK = np.zeros(path.P, dtype=bool)
        inK[ks] = True
        keep = ~inK[self.pk]
        self.pk = np.concatenate([self.pk[keep], kk])
        self.pg = np.concatenate([self.pg[keep], gi])
        self.zl = np.concatenate([self.zl[keep], z0c])
        self.sl = np.concatenate([self.sl[keep], s0c])
        self.ez = np.concatenate([self.ez[keep], ez])
        self.es = np.concatenate([self.es[keep], es])
        self.cn = np.concatenate([self.cn[keep], cn])
        self.pst = np.concatenate([self.pst[keep], tc])
        g_new = gamma[kk]
        margin = exact_margin(z0c, tc, g_new, cn * rn[pi]) - ez
        self.ph = np.concatenate([self.ph[keep], self.travel[kk] - g_new + margin])
        self.pcount = np.bincount(self.pk, minlength=path.P)
        self._rates(ks, kk, np.abs(s0c) + es, cn)
        self.r0[ks] = r
        self.x0t[ks] = path.xt[ks]
        self.v0r[ks] = v0r
        self.v0t[ks] = v0t
        self.rl[ks] = r
        self.xl[ks] = path.xt[ks]
        self.vlr[ks] = v0r
        self.vlt[ks] = v0t
        self.emax[ks] = emax
        self.c_hi[ks] = c_hi
        self.t_end[ks] = t_end
        self.eratio[ks] = 0.0
        path.stats["candidate_rows"] += len(kk)
        return changed

    def window_ok(self, idx):
        """For the problems ``idx``: is the window's first-order bound still valid at r?"""
        c, e = linear_fit(self.path.xt[idx] - self.x0t[idx], self.v0t[idx])
        self.eratio[idx] = np.maximum(self.eratio[idx], e / self.emax[idx])
        return (e <= self.emax[idx]) & (c >= C_LO) & (c <= self.c_hi[idx])

    def advance(self, idx, old, new):
        """Travel of the problems ``idx`` over one Newton update xt: old -> new (eigenbasis):
        T += (max|s_j| |Δc| + max ||x_cj||/n ||Δd - Δc v||)(1 + F64_MARGIN) plus rounding,
        Δc = Δdᵀv / vᵀv and ||Δd - Δc v||² = ||Δd||² - Δc Δdᵀv (Pythagoras)."""
        dx = new - old
        dv = np.einsum("ij,ij->i", dx, self.vlt[idx])
        dd = np.einsum("ij,ij->i", dx, dx)
        vv = np.einsum("ij,ij->i", self.vlt[idx], self.vlt[idx])
        dc = np.where(vv > 0, dv / np.where(vv > 0, vv, 1.0), 0.0)
        od = np.sqrt(np.maximum(dd - dc * dv, 0.0) + PYTHAGORAS_RTOL * dd)
        xn = np.sqrt(np.einsum("ij,ij->i", new, new))
        b = self.bmax[idx]
        self.travel[idx] += ((self.smax[idx] * np.abs(dc) + b * od) * (1 + F64_MARGIN)
                             + b * TRAVEL_RTOL * xn)

    def _rates(self, ks, kk, sl, cn):
        """Largest |s_j| and ||x_cj|| / n of the pairs of each problem of ``ks``, given all of
        their pairs (problems ``kk``, each in one run; bounds ``sl`` on |s_j|; gene norms
        ``cn``)."""
        self.smax[ks] = 0.0
        self.bmax[ks] = 0.0
        if len(kk):
            first = np.asarray(runs(kk)[0])
            k = kk[first]
            self.smax[k] = np.maximum.reduceat(np.abs(sl), first)
            self.bmax[k] = np.maximum.reduceat(cn, first) / self.path.n[k]

    def sync(self, gamma, problems):
        """Bring the stored status of the candidate pairs of ``problems`` in line with r.

        Only the pairs that are due are examined (module docstring). The first-order
        prediction z_l + c s_l from the pairs' last exact values settles most; the unsettled
        pairs get exact z (all of a problem's pairs, and a new reference point, when they are
        ≥ 1/SYNC_FULL of its pairs). Returns the problems whose active set or signs changed.
        """
        path = self.path
        P = path.P
        inS = np.zeros(P, dtype=bool)
        inS[problems] = True
        key = np.where(inS, self.travel - gamma, -np.inf)
        dp = np.flatnonzero(inS)
        d = np.zeros_like(path.xt)
        d[dp] = path.xt[dp] - self.xl[dp]
        c = np.zeros(P)
        e = np.zeros(P)
        c[dp], e[dp] = linear_fit(d[dp], self.vlt[dp])
        # (a settled pair is farther than the tie band from the threshold, so its plain
        # predicted status is its status; pairs that may be in the band are recomputed)
        due, target, dist = self.loops.predict(self.pk, self.ph, self.zl, self.sl, self.cn, self.ez, self.es,
                                               key, c, e / path.n, gamma)
        if len(due) == 0:
            return np.zeros(0, dtype=int)
        pk = self.pk[due]
        unsettled = dist <= 0
        margin = dist
        ev = due
        if unsettled.any():
            ucnt = np.bincount(pk[unsettled], minlength=P)
            full = (ucnt > 0) & (SYNC_FULL * ucnt >= self.pcount)
            exact = unsettled
            if full.any():
                # every pair of those problems is evaluated (exactly), due or not
                ev = np.flatnonzero((key[self.pk] >= self.ph) | full[self.pk])
                pos = np.searchsorted(ev, due)
                pk = self.pk[ev]
                t2 = np.zeros(len(ev), dtype=np.int8)
                t2[pos] = target
                target = t2
                m2 = np.zeros(len(ev))
                m2[pos] = margin
                margin = m2
                u2 = np.zeros(len(ev), dtype=bool)
                u2[pos] = unsettled
                exact = u2 | full[pk]
            path.materialize(np.flatnonzero(ucnt))
            jn = np.flatnonzero(exact)
            pj = ev[jn]
            kj = pk[jn]
            rnorm = np.zeros(P)
            uk = np.flatnonzero(ucnt | full)
            rnorm[uk] = np.sqrt(np.einsum("ij,ij->i", path.r[uk], path.r[uk])) / path.n[uk]
            z, target[jn], margin[jn] = self.loops.settle(path.Xt, self.pg[pj], path.r, kj, path.n, gamma,
                                                          self.pst[pj], self.cn[pj], rnorm)
            fullp = np.flatnonzero(full)
            if len(fullp):
                self._new_reference(fullp, full[kj], pj, kj, z, d)
                f = full[kj]  # all pairs of the full problems, one run each
                self._rates(fullp, kj[f], np.abs(self.sl[pj[f]]) + self.es[pj[f]], self.cn[pj[f]])
            path.stats["full_rechecks"] = path.stats.get("full_rechecks", 0) + len(fullp)
            path.stats["pair_checks"] = path.stats.get("pair_checks", 0) + len(jn)
        path.stats["pair_predictions"] = path.stats.get("pair_predictions", 0) + len(due)
        old = self.pst[ev]
        self.ph[ev] = (self.travel - gamma)[pk] + np.maximum(margin, 0.0)
        ch = np.flatnonzero(target != old)
        if len(ch) == 0:
            return np.zeros(0, dtype=int)
        ch = ch[np.argsort(pk[ch], kind="stable")]  # by problem (the pairs are in no order)
        pc = ev[ch]
        kc, gc, nc = self.pk[pc], self.pg[pc], target[ch]
        self._set_status(kc, gc, old[ch], nc)
        self.pst[pc] = nc
        return np.unique(kc)

    def _new_reference(self, fullp, fj, pj, kj, z, d):
        """Problems ``fullp`` got exact z for all their pairs: those become the pairs' last
        exact values, with the secant since the old ones as the new direction (kept when
        that step is too short to define one well, SECANT_MIN_RATIO)."""
        path = self.path
        pf, kf, zf = pj[fj], kj[fj], z[fj]
        dn = np.sqrt(np.einsum("ij,ij->i", d[fullp], d[fullp]))
        vn = np.sqrt(np.einsum("ij,ij->i", self.vlt[fullp], self.vlt[fullp]))
        upd = fullp[(dn > 0) & (dn >= SECANT_MIN_RATIO * vn)]
        if len(upd):
            inU = np.zeros(path.P, dtype=bool)
            inU[upd] = True
            u = inU[kf]
            self.sl[pf[u]] = zf[u] - self.zl[pf[u]]
            self.es[pf[u]] = self.ez[pf[u]]  # the secant's rounding: that of the old zl
            self.vlt[upd] = d[upd]
            self.vlr[upd] = path.r[upd] - self.rl[upd]
        self.zl[pf] = zf
        self.ez[pf] = 0.0
        self.xl[fullp] = path.xt[fullp]
        self.rl[fullp] = path.r[fullp]

    def ending(self, ks, t):
        """Problems of ``ks`` renewed early in a pass over X that takes place anyway: long
        windows nearly done and ending soon, and windows that used ENDING_DRIFT of their
        drift allowance."""
        span = self.t_end[ks] - self.t_open[ks]
        soon = self.t_end[ks] < t + ENDING_WITHIN * WALIGN
        done = (t - self.t_open[ks]) >= ENDING_DONE * span
        long = span >= ENDING_MIN_SPAN * WALIGN
        return ks[(soon & done & long) | (self.eratio[ks] >= ENDING_DRIFT)]

    def after_step(self, dxt, n):
        """Per-step drift ||Δr||/n of every problem, remembered with DRIFT_DECAY."""
        d = np.sqrt(np.sum(dxt**2, axis=1)) / n
        prev = self.drift
        self.drift = d if prev is None else np.maximum(d, DRIFT_DECAY * prev)
