"""Compiled versions (numba) of the screening's loops over candidate pairs and genes.

Each function computes what its NumPy reference in ``screening_loops`` computes, the same
operations in the same order (single precision where it is single precision), as one loop
with no temporary arrays; the tests compare them. The one difference: ``settle`` sums each
dot product in row order where the reference calls BLAS, so its z differs by rounding,
within ``screening_loops.F64_DOT_RTOL`` (which bounds any order of summation).

``AVAILABLE``: numba could be imported. The functions are compiled on first use and cached
on disk (``cache=True``, in ``__pycache__``), so a later process only loads them.
"""

from __future__ import annotations

import numpy as np

from .screening_loops import ABS_SLACK, F64_DOT_RTOL, F64_MARGIN
from .status import TIE_RTOL

try:
    from numba import njit
except ImportError:  # pragma: no cover - numba is a dependency (pyproject.toml)
    njit = None

AVAILABLE = njit is not None


def _predict(pk, ph, zl, sl, cn, ez, es, key, c, en, gamma):
    m = len(pk)
    due = np.empty(m, dtype=np.int64)
    q = 0
    for i in range(m):  # (branch-free: whether a pair is due is unpredictable)
        due[q] = i
        q += key[pk[i]] >= ph[i]
    due = due[:q]
    target = np.empty(q, dtype=np.int8)
    dist = np.empty(q)
    for u in range(q):
        i = due[u]
        k = pk[i]
        ck = c[k]
        cs = ck * sl[i]
        zp = zl[i] + cs
        g = gamma[k]
        dist[u] = abs(abs(zp) - g) - (cn[i] * en[k] * (1 + F64_MARGIN) + ABS_SLACK + TIE_RTOL * g
                                      + F64_DOT_RTOL * (abs(zl[i]) + abs(cs)) + ez[i] + abs(ck) * es[i])
        target[u] = (zp > g) - (zp < -g)
    return due, target, dist


def _settle(Xt, genes, R, problems, n, gamma, old, cn, rnorm):
    m = len(genes)
    N = Xt.shape[1]
    z = np.empty(m)
    target = np.empty(m, dtype=np.int8)
    margin = np.empty(m)
    for i in range(m):
        j = genes[i]
        k = problems[i]
        acc = 0.0
        for t in range(N):
            acc += Xt[j, t] * R[k, t]
        zi = acc / n[k]
        g = gamma[k]
        new = (zi > g) - (zi < -g)
        o = old[i]
        if new != o:  # the tie rule of ``status.status``
            if abs(abs(zi) - g) <= TIE_RTOL * g and (o == 0 or o == (zi > 0) - (zi < 0)):
                new = o
        band = ABS_SLACK + TIE_RTOL * g + F64_DOT_RTOL * (cn[i] * rnorm[k])
        mg = g - abs(zi) if new == 0 else new * zi - g
        z[i] = zi
        target[i] = new
        margin[i] = mg - band
    return z, target, margin


def _window_candidates(z32, s32, xn32, cm, hr, mid, a, lim0):
    K, p = z32.shape
    pi = np.empty(K * p, dtype=np.int64)
    gi = np.empty(K * p, dtype=np.int64)
    hit = np.empty(p, dtype=np.bool_)
    q = 0
    for k in range(K):
        ck, hk, mk, ak, lk = cm[k], hr[k], mid[k], a[k], lim0[k]
        for j in range(p):  # (vectorised: no branch)
            s = s32[k, j]
            hit[j] = abs(abs(z32[k, j] + ck * s) - mk) <= abs(s) * hk + xn32[j] * ak + lk
        for j in range(p):  # (candidates are few: the branch is predictable)
            if hit[j]:
                pi[q] = k
                gi[q] = j
                q += 1
    return pi[:q], gi[:q]


def _status_changes(z32, mid, state, ks, pi, gi, tc):
    K, p = z32.shape
    m = K * p
    qi = np.empty(m, dtype=np.int64)
    gj = np.empty(m, dtype=np.int64)
    old = np.empty(m, dtype=np.int8)
    new = np.empty(m, dtype=np.int8)
    target = np.empty(p, dtype=np.int8)
    c = 0  # next candidate (they are row-major)
    q = 0
    for r in range(K):
        g = mid[r]
        for j in range(p):  # (vectorised)
            zz = z32[r, j]
            target[j] = (zz > g) - (zz < -g)
        while c < len(pi) and pi[c] == r:
            target[gi[c]] = tc[c]
            c += 1
        k = ks[r]
        for j in range(p):  # (changes are few: the branch is predictable)
            if target[j] != state[k, j]:
                qi[q] = r
                gj[q] = j
                old[q] = state[k, j]
                new[q] = target[j]
                q += 1
    return qi[:q], gj[:q], old[:q], new[:q]


def _candidate_values(z32, s32, pi, gi, xn32, xscale, rn, vn, gk, cnorm, kq, exact):
    m = len(pi)
    zc = np.empty(m)
    sc = np.empty(m)
    ez = np.empty(m)
    es = np.empty(m)
    gq = np.empty(m)
    cn = np.empty(m)
    amb = np.empty(m, dtype=np.int64)
    q = 0
    for i in range(m):
        k, j = pi[i], gi[i]
        z = np.float64(z32[k, j])
        xn = xn32[j] * xscale  # (single precision, as the reference)
        e = xn * rn[k]
        g = gk[k]
        c = cnorm[kq[i], j]
        band = ABS_SLACK + TIE_RTOL * g + F64_DOT_RTOL * c * rn[k]
        zc[i], sc[i], ez[i], es[i], gq[i], cn[i] = z, np.float64(s32[k, j]), e, xn * vn[k], g, c
        amb[q] = i
        q += abs(abs(z) - g) <= exact * (e + band)
    return zc, sc, ez, es, gq, cn, amb[:q]


def _keep_candidates(zc, sc, ez, es, cn, pi, emn, c_lo, c_hi, cmax, g_lo, g_hi):
    m = len(zc)
    keep = np.empty(m, dtype=np.bool_)
    for i in range(m):
        k = pi[i]
        z, s, ch = zc[i], sc[i], c_hi[k]
        za = z + c_lo * s
        zb = z + ch * s
        slack = (cn[i] * emn[k] * (1 + F64_MARGIN) + ABS_SLACK
                 + TIE_RTOL * g_hi[k] + F64_DOT_RTOL * (abs(z) + ch * abs(s))
                 + ez[i] + cmax[k] * es[i])
        below = max(abs(za), abs(zb)) + slack < g_lo[k]
        sg = (z > 0) - (z < 0)
        above = min(sg * za, sg * zb) - slack > g_hi[k]
        keep[i] = not (below or above)
    return keep


if AVAILABLE:
    candidate_values = njit(cache=True, nogil=True)(_candidate_values)
    keep_candidates = njit(cache=True, nogil=True)(_keep_candidates)
    predict = njit(cache=True, nogil=True)(_predict)
    settle = njit(cache=True, nogil=True)(_settle)
    window_candidates = njit(cache=True, nogil=True)(_window_candidates)
    status_changes = njit(cache=True, nogil=True)(_status_changes)


def load():
    """Compile the loops (first use after installation) or load them from the cache, now, on
    tiny inputs; returns the seconds it took (once per process: about 0.3 s from the cache,
    a few seconds to compile). Without numba: 0."""
    import time

    if not AVAILABLE:
        return 0.0
    t0 = time.perf_counter()
    i1, f1, b1 = np.zeros(1, dtype=np.int64), np.zeros(1), np.zeros(1, dtype=np.int8)
    predict(i1, f1, f1, f1, f1, f1, f1, f1, f1, f1, f1)
    settle(np.zeros((1, 1)), i1, np.zeros((1, 1)), i1, np.ones(1), f1, b1, f1, f1)
    z32, v32 = np.zeros((1, 1), dtype=np.float32), np.zeros(1, dtype=np.float32)
    pi, gi = window_candidates(z32, z32, v32, v32, v32, v32, v32, v32)
    status_changes(z32, v32, np.zeros((1, 1), dtype=np.int8), i1, pi, gi, np.zeros(len(pi), dtype=np.int8))
    for cnorm in (np.zeros((1, 1)), np.broadcast_to(np.zeros(1), (1, 1))):  # (both layouts in use)
        zc, sc, ez, es, gq, cn, _ = candidate_values(z32, z32, i1, i1, v32, np.float32(1), f1, f1, f1, cnorm, i1, 1.0)
    keep_candidates(zc, sc, ez, es, cn, i1, f1, -1.0, f1, f1, f1, f1)
    return time.perf_counter() - t0
