"""The active-set linear algebra of the elastic-net dual path, for several problems at once.

Problem k has training weights w_k (1 on its training rows, 0 on the others), n_k training
patients, training means μ_k, centred target y_c and active set A with signs s. With
x̂_j = w_k ⊙ (x_j - μ_kj) (centred by the training means, zero off the training rows), the
Newton equation for the dual variable r (the residual) is

    (β I + G / n) r = β y_c + γ m̂,    G = Σ_{j∈A} x̂_j x̂_jᵀ,  m̂ = Σ_{j∈A} s_j x̂_j

(β = λ(1-α), γ = λα). The validation rows are given apart (``Xvt``, ``vidx``: they may be
rows of the same matrix, zero-weighted, or rows left out of it), with x̌_j = x_j - μ_kj on
them. Kept per problem:

* ``Kt`` = G (N × N), ``mt`` = m̂, ``Kv`` = Σ_A x̌_j x̂_jᵀ (V × N) and ``mv`` = Σ_A s_j x̌_j
  (updated in place as genes change status); the validation predictions are
  ȳ + (Kv r / n - γ mv) / β. (Kt and Kv used to be one N × N matrix Σ_A x̌_j x̂_jᵀ over
  all rows; kept apart, the solve can run on the training rows alone: ``DualPath``);
* an eigendecomposition G_B = Q diag(e) Qᵀ of G at the last *rebase* plus the genes that
  entered (σ = +1) or left (σ = -1) since, as columns u = Qᵀx̂ (``U``, ``sig``, ``m`` of
  them), x̂ (``XP``) and x̌ (``XV``). The solve is then diagonal plus an m × m Woodbury
  correction, O(N²) per problem instead of a factorisation. After ``MMAX`` changes the
  problem is *stale* and rebased (a new eigendecomposition of G) before its next solve. Kt
  and Kv take those changes in one product when they are needed (``flush``: at a rebase, or
  when the problem turns stale), not one rank-one update per gene;
* the right-hand side in the eigenbasis (``ytil`` = Qᵀy_c, ``mtil`` = Qᵀm̂) and ``KvQ`` =
  Kv Q (+= σ_j x̌_j u_jᵀ for each change), so that validation predictions never need r
  itself. U's columns, mtil and KvQ take a problem's changes at its next solve, in one
  batched product (``_rotate``), not at each change.
"""

from __future__ import annotations

import numpy as np

from .rowwise import runs

#: Rank-one changes kept (Woodbury) before a new eigendecomposition: each costs O(N m) in
#: every later solve, a rebase O(N³) once. Measured on the benchmark (100 λ, 10 folds, CPU
#: seconds of the fold paths, best of 3): 16: 9.67 s, 24: 9.50 s, 32: about as 16.
MMAX = 24
#: The m × m Woodbury systems are solved in batches of problems with similar m (a batch is
#: padded to its largest m).
BUCKETS = ((1, 8), (9, MMAX))


class Factorisation:
    """Kt, mt and the Woodbury-updated eigendecomposition of every problem's active set.

    ``Xt`` (p × N) holds the genes as rows, ``w`` (P × N) the training weights, ``mu`` (P × p)
    the training means, ``yc`` (P × N) the centred targets (zero off the training rows),
    ``Xvt`` (p × N') the genes at the rows that are predicted and ``vidx`` (P × V) each
    problem's validation rows among them (repeated to a common length V).
    """

    def __init__(self, Xt, w, n, mu, yc, Xvt, vidx, stats):
        self.Xt, self.w, self.n, self.mu, self.yc, self.Xvt, self.vidx = Xt, w, n, mu, yc, Xvt, vidx
        self.stats = stats
        P, N = w.shape
        V = vidx.shape[1]
        self.P = P
        self.Kt = np.zeros((P, N, N))  # G = Σ_A x̂_j x̂_jᵀ
        self.mt = np.zeros((P, N))  # m̂ = Σ_A s_j x̂_j
        self.Kv = np.zeros((P, V, N))  # Σ_A x̌_j x̂_jᵀ
        self.mv = np.zeros((P, V))  # Σ_A s_j x̌_j
        self.Q = np.tile(np.eye(N), (P, 1, 1))
        self.e = np.zeros((P, N))
        self.U = np.zeros((P, N, MMAX))
        self.XP = np.zeros((P, N, MMAX))  # x̂ of the changes kept in U ...
        self.XV = np.zeros((P, V, MMAX))  # ... and their x̌
        self.kt_m = np.zeros(P, dtype=int)  # ... of which the first kt_m are already in Kt, Kv
        self.sig = np.zeros((P, MMAX))
        self.m = np.zeros(P, dtype=int)
        self.ytil = yc.copy()  # Qᵀ y_c
        self.mtil = np.zeros((P, N))  # Qᵀ m̂
        self.stale = np.zeros(P, dtype=bool)
        self.KvQ = np.zeros((P, V, N))  # Kv Q
        # taken into the eigenbasis at the next solve (``_rotate``): the columns of U from
        # u_m on (and their terms of KvQ), and the change of m̂ not yet in mtil
        self.u_m = np.zeros(P, dtype=int)
        self.dmt = np.zeros((P, N))
        self.pending = np.zeros(P, dtype=bool)

    # -- status changes ---------------------------------------------------------------
    def apply(self, kc, gc, oc, nc):
        """Genes gc[i] of problems kc[i] (sorted by problem) change status oc[i] -> nc[i].

        For each problem: mt += Σ Δs_j x̂_j and mv += Σ Δs_j x̌_j, where Δs_j = new - old;
        unless the problem is stale, the entering (σ = +1) and leaving (σ = -1) genes are kept
        (σ_j, x̂_j, x̌_j) for Woodbury and for Kt += Σ σ_j x̂_j x̂_jᵀ, Kv += Σ σ_j x̌_j x̂_jᵀ
        (``flush``); beyond MMAX the problem turns stale and Kt, Kv take them at once. A sign
        change (σ = 0) changes m̂ and mv only. What depends on the eigenbasis (Qᵀx̂_j in U,
        mtil, KvQ) waits for the problem's next solve (``_rotate``): one batched product per
        solve, not several small ones per problem and change.
        """
        if len(kc) == 0:
            return
        mu = self.mu[kc, gc][:, None]
        xh = (self.Xt[gc] - mu) * self.w[kc]  # x̂ of every change (rows)
        xv = self.Xvt[gc[:, None], self.vidx[kc]] - mu  # x̌
        sigma = (nc != 0).astype(float) - (oc != 0).astype(float)
        ds = nc.astype(float) - oc.astype(float)
        first = np.asarray(runs(kc)[0])
        ks = kc[first]
        dm = np.add.reduceat(ds[:, None] * xh, first, axis=0)
        self.mt[ks] += dm
        self.dmt[ks] += dm
        self.mv[ks] += np.add.reduceat(ds[:, None] * xv, first, axis=0)
        self.pending[ks] = True
        nz = np.flatnonzero(sigma != 0)
        if len(nz) == 0:
            return
        kn = kc[nz]
        g = np.bincount(kn, minlength=self.P)
        turn = ~self.stale & (self.m + g > MMAX)  # (g = 0 never turns: m ≤ MMAX)
        direct = (self.stale | turn)[kn]
        if direct.any():  # stale, or turning stale: Kt and Kv take the changes at once
            dn = nz[direct]
            for st, en in zip(*runs(kc[dn])):
                sel = dn[st:en]
                k = int(kc[sel[0]])
                if turn[k]:
                    self.flush(k)
                    self.stale[k] = True
                self._add(k, xh[sel], xv[sel], sigma[sel])
        keep = nz[~direct]
        if len(keep):
            kk = kc[keep]
            starts, ends = runs(kk)
            f3 = np.asarray(starts)
            count = np.asarray(ends) - f3
            pos = self.m[kk] + np.arange(len(kk)) - np.repeat(f3, count)
            self.XP[kk, :, pos] = xh[keep]
            self.XV[kk, :, pos] = xv[keep]
            self.sig[kk, pos] = sigma[keep]
            self.m[kk[f3]] += count

    def update(self, k, genes, old, new):
        """Problem k: ``genes`` change status ``old`` -> ``new`` (``apply``)."""
        self.apply(np.full(len(genes), k), genes, old, new)

    def _rotate(self, ks):
        """For the problems ``ks`` (none stale): their changes since the last solve into the
        eigenbasis: U's new columns Qᵀx̂_j, KvQ += Σ σ_j x̌_j (Qᵀx̂_j)ᵀ, mtil += QᵀΔm̂ (each
        batch padded to its largest number of new columns, the padding weighted 0)."""
        ks = ks[self.pending[ks]]
        if len(ks) == 0:
            return
        Q = self.Q if len(ks) == self.P else self.Q[ks]  # (a view where it can be)
        lo, hi = self.u_m[ks], self.m[ks]
        g = int((hi - lo).max())
        # rows to rotate: the new columns' x̂ (zero as padding), then Δm̂
        cols = np.minimum(lo[:, None] + np.arange(g), MMAX - 1)
        valid = lo[:, None] + np.arange(g) < hi[:, None]
        rows = ks[:, None]
        W = np.empty((len(ks), g + 1, self.Q.shape[1]))
        np.multiply(self.XP[rows, :, cols], valid[:, :, None], out=W[:, :g])
        W[:, g] = self.dmt[ks]
        W = np.matmul(W, Q)  # rows of Qᵀ(...)
        self.mtil[ks] += W[:, g]
        self.dmt[ks] = 0.0
        if g > 0:
            un = W[:, :g]  # K x g x N: (Qᵀx̂)ᵀ
            xv = self.XV[rows, :, cols] * (valid * self.sig[rows, cols])[:, :, None]  # K x g x V
            self.KvQ[ks] += np.matmul(xv.transpose(0, 2, 1), un)
            kr, cr = np.nonzero(valid)
            self.U[ks[kr], :, cols[kr, cr]] = un[kr, cr]
            self.u_m[ks] = hi
        self.pending[ks] = False

    def _add(self, k, xh, xv, sigma):
        """Kt += Σ σ_j x̂_j x̂_jᵀ and Kv += Σ σ_j x̌_j x̂_jᵀ over the rows (genes) given."""
        xs = xh * sigma[:, None]
        self.Kt[k] += xs.T @ xh
        self.Kv[k] += (xv * sigma[:, None]).T @ xh

    def flush(self, k):
        """Kt and Kv of problem k up to date with the kept changes not yet in them."""
        lo, hi = self.kt_m[k], self.m[k]
        if hi > lo:
            xp = self.XP[k, :, lo:hi]  # N x g
            sg = self.sig[k, lo:hi]
            self.Kt[k] += (xp * sg) @ xp.T
            self.Kv[k] += (self.XV[k, :, lo:hi] * sg) @ xp.T
            self.kt_m[k] = hi

    # -- factorisation and solve ---------------------------------------------------------
    def rebase(self, ks):
        """New eigendecompositions G = Q diag(e) Qᵀ for the problems ``ks`` (no changes kept).
        Vectors the caller keeps in the old eigenbasis must be rotated with the new ``Q``."""
        self.stats["rebases"] = self.stats.get("rebases", 0) + len(ks)
        for k in ks.tolist():
            self.flush(k)
        G = self.Kt[ks]
        G = 0.5 * (G + G.transpose(0, 2, 1))  # (symmetric up to the rounding of the updates)
        e, Q = np.linalg.eigh(G)
        self.e[ks] = np.clip(e, 0, None)
        self.Q[ks] = Q
        QT = Q.transpose(0, 2, 1)
        self.KvQ[ks] = np.matmul(self.Kv[ks], Q)
        self.ytil[ks] = np.matmul(QT, self.yc[ks][:, :, None])[:, :, 0]
        self.mtil[ks] = np.matmul(QT, self.mt[ks][:, :, None])[:, :, 0]
        self.U[ks] = 0.0
        self.XP[ks] = 0.0
        self.XV[ks] = 0.0
        self.sig[ks] = 0.0
        self.m[ks] = 0
        self.kt_m[ks] = 0
        self.u_m[ks] = 0
        self.dmt[ks] = 0.0
        self.pending[ks] = False
        self.stale[ks] = False
        return QT

    def solve(self, idx, beta, gamma):
        """Qᵀr with r = (β I + G / n)⁻¹ (β y_c + γ m̂) for the problems ``idx`` (none stale):
        diagonal in the eigenbasis of G_B, then the Woodbury correction for the m changes."""
        self.stats["solves"] += len(idx)
        if len(idx) == self.P:
            idx = slice(None)  # views instead of copies of the P x N x N arrays
        n = self.n[idx, None]
        d = 1.0 / (beta[idx, None] + self.e[idx] / n)
        pos = np.arange(self.P)[idx]
        self._rotate(pos)
        bt = beta[idx, None] * self.ytil[idx] + gamma[idx, None] * self.mtil[idx]
        xt = d * bt
        m = self.m[pos]
        for lo, hi in BUCKETS:
            sel = np.flatnonzero((m >= lo) & (m <= hi))
            if len(sel) == 0:
                continue
            # one batch per bucket, padded to its largest m (the columns beyond a problem's
            # m are zero: its padded block of C is the identity and adds nothing)
            mm = int(m[sel].max())
            ks = pos[sel]
            Ut = self.U[ks, :, :mm]
            sg = self.sig[ks, :mm]
            DU = d[sel][:, :, None] * Ut
            UT = Ut.transpose(0, 2, 1)
            ns = self.n[ks, None]
            C = np.eye(mm)[None] + sg[:, :, None] * np.matmul(UT, DU) / ns[:, :, None]
            rhs = sg * np.matmul(UT, xt[sel][:, :, None])[:, :, 0] / ns
            v = np.linalg.solve(C, rhs[:, :, None])
            xt[sel] -= np.matmul(DU, v)[:, :, 0]
        return idx, xt

    def validation_terms(self, xt):
        """Kv r = KvQ Qᵀr and mv, every problem (none stale)."""
        self._rotate(np.arange(self.P))
        q = np.matmul(self.KvQ, xt[:, :, None])[:, :, 0]
        return q, self.mv
