"""The active-set linear algebra of the elastic-net dual path, for several problems at once.

Problem k has training weights w_k (1 on its training rows, 0 on its validation rows), n_k
training patients, training means μ_k, centred target y_c and active set A with signs s.
With x̃_j = x_j - μ_kj (centred by the training means, all rows) and x̂_j = w_k ⊙ x̃_j (zero
on the validation rows), the Newton equation for the dual variable r (the residual) is

    (β I + G / n) r = β y_c + γ m̂,    G = Σ_{j∈A} x̂_j x̂_jᵀ,  m̂ = w_k ⊙ Σ_{j∈A} s_j x̃_j

(β = λ(1-α), γ = λα). Kept per problem:

* ``Kt`` = Σ_A x̃_j x̂_jᵀ (N × N; its training rows are G, its validation rows give the
  validation predictions) and ``mt`` = Σ_A s_j x̃_j (updated in place as genes change status);
* an eigendecomposition G_B = Q diag(e) Qᵀ of G at the last *rebase* plus the genes that
  entered (σ = +1) or left (σ = -1) since, as columns u = Qᵀx̂ (``U``, ``sig``, ``m`` of
  them) and x̃ (``XP``). The solve is then diagonal plus an m × m Woodbury correction,
  O(N²) per problem instead of a factorisation. After ``MMAX`` changes the problem is
  *stale* and rebased (a new eigendecomposition of G) before its next solve. Kt takes
  those changes in one product when it is needed (``flush``: at a rebase, or when the
  problem turns stale), not one rank-one update per gene;
* the right-hand side in the eigenbasis (``ytil`` = Qᵀy_c, ``mtil`` = Qᵀm̂) and ``KvQ`` =
  Kt[validation rows] Q (updated with each change: += σ_j x̃_j[val] u_jᵀ), so that
  validation predictions never need r itself.
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
    the training means, ``yc`` (P × N) the centred targets (zero on validation rows), ``vidx``
    (P × V) each problem's validation rows (repeated to a common length V).
    """

    def __init__(self, Xt, w, n, mu, yc, vidx, stats):
        self.Xt, self.w, self.n, self.mu, self.yc, self.vidx = Xt, w, n, mu, yc, vidx
        self.stats = stats
        P, N = w.shape
        self.P = P
        self.Kt = np.zeros((P, N, N))  # Σ_A x̃_j x̂_jᵀ
        self.mt = np.zeros((P, N))  # Σ_A s_j x̃_j
        self.Q = np.tile(np.eye(N), (P, 1, 1))
        self.e = np.zeros((P, N))
        self.U = np.zeros((P, N, MMAX))
        self.XP = np.zeros((P, N, MMAX))  # x̃ of the changes kept in U
        self.kt_m = np.zeros(P, dtype=int)  # ... of which the first kt_m are already in Kt
        self.sig = np.zeros((P, MMAX))
        self.m = np.zeros(P, dtype=int)
        self.ytil = yc.copy()  # Qᵀ y_c
        self.mtil = np.zeros((P, N))  # Qᵀ (w ⊙ mt)
        self.stale = np.zeros(P, dtype=bool)
        self.KvQ = np.zeros((P, vidx.shape[1], N))  # Kt[validation rows] Q

    # -- status changes ---------------------------------------------------------------
    def apply(self, kc, gc, oc, nc):
        """Genes gc[i] of problems kc[i] (sorted by problem) change status oc[i] -> nc[i].

        For each problem: mt += Σ Δs_j x̃_j, where Δs_j = new - old; unless the problem is
        stale, mtil += Σ Δs_j Qᵀx̂_j and the entering (σ = +1) and leaving (σ = -1) genes are
        kept (Qᵀx̂_j, σ_j, x̃_j) for Woodbury and for Kt += Σ σ_j x̃_j x̂_jᵀ (``flush``); beyond
        MMAX the problem turns stale and Kt takes them at once. A sign change (σ = 0) changes
        m̂ only.
        """
        if len(kc) == 0:
            return
        xt = self.Xt[gc] - self.mu[kc, gc][:, None]  # x̃ of every change (rows)
        xh = xt * self.w[kc]  # x̂ (zero on validation rows)
        sigma = (nc != 0).astype(float) - (oc != 0).astype(float)
        ds = nc.astype(float) - oc.astype(float)
        for st, en in zip(*runs(kc)):
            self._update(int(kc[st]), xt[st:en], xh[st:en], sigma[st:en], ds[st:en])

    def update(self, k, genes, old, new):
        """Problem k: ``genes`` change status ``old`` -> ``new`` (``apply``)."""
        self.apply(np.full(len(genes), k), genes, old, new)

    def _update(self, k, xt, xh, sigma, ds):
        self.mt[k] += ds @ xt
        nz = sigma != 0
        if self.stale[k]:
            if nz.any():
                self.Kt[k] += (xt[nz] * sigma[nz, None]).T @ xh[nz]
            return  # the rest is rebuilt from Kt and mt at the next solve
        u = self.Q[k].T @ xh.T  # N x g: Qᵀ x̂
        self.mtil[k] += u @ ds
        g = int(nz.sum())
        if g == 0:
            return
        un = u[:, nz]
        self.KvQ[k] += (xt[nz][:, self.vidx[k]].T * sigma[nz]) @ un.T
        m = self.m[k]
        if m + g > MMAX:
            self.flush(k)
            self.Kt[k] += (xt[nz] * sigma[nz, None]).T @ xh[nz]
            self.stale[k] = True
            return
        self.U[k, :, m:m + g] = un
        self.XP[k, :, m:m + g] = xt[nz].T
        self.sig[k, m:m + g] = sigma[nz]
        self.m[k] = m + g

    def flush(self, k):
        """Kt of problem k up to date: Kt += Σ σ_j x̃_j x̂_jᵀ over the kept changes not yet in it."""
        lo, hi = self.kt_m[k], self.m[k]
        if hi > lo:
            xp = self.XP[k, :, lo:hi]  # N x g
            self.Kt[k] += (xp * self.sig[k, lo:hi]) @ (xp * self.w[k][:, None]).T
            self.kt_m[k] = hi

    # -- factorisation and solve ---------------------------------------------------------
    def rebase(self, ks):
        """New eigendecompositions G = Q diag(e) Qᵀ for the problems ``ks`` (no changes kept).
        Vectors the caller keeps in the old eigenbasis must be rotated with the new ``Q``."""
        self.stats["rebases"] = self.stats.get("rebases", 0) + len(ks)
        for k in ks.tolist():
            self.flush(k)
        G = self.Kt[ks] * self.w[ks][:, :, None]  # diag(w) Kt = Σ x̂ x̂ᵀ (symmetric)
        G = 0.5 * (G + G.transpose(0, 2, 1))
        e, Q = np.linalg.eigh(G)
        self.e[ks] = np.clip(e, 0, None)
        self.Q[ks] = Q
        QT = Q.transpose(0, 2, 1)
        rows = ks[:, None]
        self.KvQ[ks] = np.matmul(self.Kt[rows, self.vidx[ks]], Q)
        self.ytil[ks] = np.matmul(QT, self.yc[ks][:, :, None])[:, :, 0]
        self.mtil[ks] = np.matmul(QT, (self.mt[ks] * self.w[ks])[:, :, None])[:, :, 0]
        self.U[ks] = 0.0
        self.XP[ks] = 0.0
        self.sig[ks] = 0.0
        self.m[ks] = 0
        self.kt_m[ks] = 0
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
        bt = beta[idx, None] * self.ytil[idx] + gamma[idx, None] * self.mtil[idx]
        xt = d * bt
        pos = np.arange(self.P)[idx]
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
        """(Kt r)[validation rows] = KvQ Qᵀr and mt[validation rows], every problem (none
        stale)."""
        rows = np.arange(self.P)[:, None]
        q = np.matmul(self.KvQ, xt[:, :, None])[:, :, 0]
        return q, self.mt[rows, self.vidx]
