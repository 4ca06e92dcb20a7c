"""The active-set linear algebra of the elastic-net dual path, for several problems at once.

Problem k has training weights w_k (1 on its training rows, 0 on its validation rows), n_k
training patients, training means μ_k, centred target y_c and active set A with signs s.
With x̃_j = x_j - μ_kj (centred by the training means, all rows) and x̂_j = w_k ⊙ x̃_j (zero
on the validation rows), the Newton equation for the dual variable r (the residual) is

    (β I + G / n) r = β y_c + γ m̂,    G = Σ_{j∈A} x̂_j x̂_jᵀ,  m̂ = w_k ⊙ Σ_{j∈A} s_j x̃_j

(β = λ(1-α), γ = λα). Kept per problem:

* ``Kt`` = Σ_A x̃_j x̂_jᵀ (N × N; its training rows are G, its validation rows give the
  validation predictions) and ``mt`` = Σ_A s_j x̃_j, updated in place as genes change status;
* an eigendecomposition G_B = Q diag(e) Qᵀ of G at the last *rebase* plus the genes that
  entered (σ = +1) or left (σ = -1) since, as columns u = Qᵀx̂ (``U``, ``sig``, ``m`` of
  them). The solve is then diagonal plus an m × m Woodbury correction,
  O(N²) per problem instead of a factorisation. After ``MMAX`` changes the problem is
  *stale* and rebased (a new eigendecomposition of G) before its next solve;
* the right-hand side in the eigenbasis (``ytil`` = Qᵀy_c, ``mtil`` = Qᵀm̂) and ``KvQ`` =
  Kt[validation rows] Q, so that validation predictions never need r itself.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg.blas import dger

#: Rank-one changes kept (Woodbury) before a new eigendecomposition: each costs O(N m) in
#: every later solve, a rebase O(N³) once.
MMAX = 16
#: The m × m Woodbury systems are solved in batches of problems with similar m, so that the
#: batched systems are not all padded to the largest m.
BUCKETS = ((1, 4), (5, 12), (13, 16))
#: A problem with at most this many status changes at once gets them as successive BLAS
#: rank-one updates (ger: in place, no N × N temporary); more as one rank-g matrix product
#: (gemm). The two round differently, so this split is part of what makes results reproducible.
RANK_ONE_MAX = 4


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
        self.sig = np.zeros((P, MMAX))
        self.m = np.zeros(P, dtype=int)
        self.ytil = yc.copy()  # Qᵀ y_c
        self.mtil = np.zeros((P, N))  # Qᵀ (w ⊙ mt)
        self.stale = np.zeros(P, dtype=bool)
        self.KvQ = np.zeros((P, vidx.shape[1], N))  # Kt[validation rows] Q

    # -- status changes ---------------------------------------------------------------
    def apply(self, kc, gc, oc, nc):
        """Genes gc[i] of problems kc[i] (sorted by problem) change status oc[i] -> nc[i]."""
        if len(kc) == 0:
            return
        starts = np.flatnonzero(np.r_[True, kc[1:] != kc[:-1]])
        ends = np.r_[starts[1:], len(kc)]
        for st, en in zip(starts.tolist(), ends.tolist()):
            self.update(int(kc[st]), gc[st:en], oc[st:en], nc[st:en], rank_one=en - st <= RANK_ONE_MAX)

    def update(self, k, genes, old, new, *, rank_one):
        """Problem k: ``genes`` change status ``old`` -> ``new`` (-1, 0, +1).

        Kt += Σ σ_j x̃_j x̂_jᵀ and mt += Σ Δs_j x̃_j, where σ_j = +1 (enters), -1 (leaves) or 0
        (changes sign) and Δs_j = new - old; unless the problem is stale, mtil += Σ Δs_j Qᵀx̂_j,
        KvQ += Σ σ_j x̃_j[validation] (Qᵀx̂_j)ᵀ and the columns Qᵀx̂_j of the entering and
        leaving genes are appended for Woodbury (the problem turns stale beyond MMAX).
        ``rank_one``: the changes one after the other as rank-one updates (ger), else at once.
        """
        xt = self.Xt[genes] - self.mu[k, genes][:, None]  # g x N, x̃
        xh = xt * self.w[k][None, :]  # x̂ (zero on validation rows)
        sigma = (new != 0).astype(float) - (old != 0).astype(float)
        ds = new.astype(float) - old.astype(float)
        if rank_one:
            for i in range(len(genes)):
                self._rank_one(k, xt[i], xh[i], sigma[i], ds[i])
            return
        nz = sigma != 0
        if nz.any():
            self.Kt[k] += (xt[nz] * sigma[nz, None]).T @ xh[nz]
        self.mt[k] += ds @ xt
        if self.stale[k]:
            return  # rebuilt from Kt and mt at the next solve
        u = self.Q[k].T @ xh.T  # N x g: Qᵀ x̂
        self.mtil[k] += u @ ds
        g = int(nz.sum())
        if g:
            xv = xt[nz][:, self.vidx[k]]  # g x V
            self.KvQ[k] += (xv * sigma[nz, None]).T @ u[:, nz].T
            self._append(k, u[:, nz], sigma[nz])

    def _rank_one(self, k, xt, xh, sigma, ds):
        """One gene of problem k (``update`` with g = 1), in place with BLAS ger."""
        if sigma != 0:
            # on the transposed (Fortran-ordered) view: no copy of the N x N matrix
            dger(sigma, xh, xt, a=self.Kt[k].T, overwrite_a=1)
        self.mt[k] += ds * xt
        if self.stale[k]:
            return
        u = np.dot(xh, self.Q[k])  # Qᵀ x̂
        self.mtil[k] += ds * u
        if sigma != 0:
            dger(sigma, u, xt[self.vidx[k]], a=self.KvQ[k].T, overwrite_a=1)
            self._append(k, u[:, None], np.array([sigma]))

    def _append(self, k, u, sigma):
        """Keep the columns u (N × g) with signs σ for Woodbury, or mark problem k stale."""
        g = len(sigma)
        if self.m[k] + g > MMAX:
            self.stale[k] = True
        else:
            self.U[k, :, self.m[k]:self.m[k] + g] = u
            self.sig[k, self.m[k]:self.m[k] + g] = sigma
            self.m[k] += g

    # -- factorisation and solve ---------------------------------------------------------
    def rebase(self, ks):
        """New eigendecompositions G = Q diag(e) Qᵀ for the problems ``ks`` (no changes kept).
        Vectors the caller keeps in the old eigenbasis must be rotated with the new ``Q``."""
        self.stats["rebases"] = self.stats.get("rebases", 0) + len(ks)
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
        self.sig[ks] = 0.0
        self.m[ks] = 0
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
            mm = int(m[sel].max())
            ks = pos[sel]
            Ut = self.U[ks, :, :mm]
            sg = self.sig[ks, :mm]
            ds = d[sel]
            DU = ds[:, :, None] * Ut
            UT = Ut.transpose(0, 2, 1)
            ns = self.n[ks, None]
            C = np.eye(mm)[None] + sg[:, :, None] * np.matmul(UT, DU) / ns[:, :, None]
            rhs = sg * np.matmul(UT, xt[sel][:, :, None])[:, :, 0] / ns
            v = np.linalg.solve(C, rhs[:, :, None])
            xt[sel] -= np.matmul(DU, v)[:, :, 0]
        return idx, xt

    def validation_terms(self, xt):
        """(Kt r)[validation rows] = KvQ Qᵀr and mt[validation rows], every problem."""
        rows = np.arange(self.P)[:, None]
        q = np.matmul(self.KvQ, xt[:, :, None])[:, :, 0]
        return q, self.mt[rows, self.vidx]
