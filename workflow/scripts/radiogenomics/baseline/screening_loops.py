"""The screening's loops over candidate pairs and genes (``screening``), in NumPy: the
executable reference of their compiled versions (``kernels``).

A candidate pair (problem k, gene j) stores its last value z_l, its slope s_l along the
problem's direction v, the rounding bounds e_z, e_s of those, the gene's centred norm
||x_cj|| and its trigger h (``screening`` module docstring). At a sync, with c the position
along v and e the drift v does not explain (per problem):

* ``predict``: the pairs with key_k ≥ h (key_k = T_k - γ_k, -∞ for problems not synced) are
  *due*; for each, z_p = z_l + c s_l, its status sign(z_p) where |z_p| > γ (else 0), and
  its distance from the threshold beyond the bound,

      dist = ||z_p| - γ| - (||x_cj|| e/n (1 + F64_MARGIN) + ABS_SLACK + TIE_RTOL γ
                            + F64_DOT_RTOL (|z_l| + |c s_l|) + e_z + |c| e_s);

  dist ≤ 0: the prediction does not settle the status;
* ``settle``: for the pairs that need it, the exact z = x_cjᵀr_k / n_k, the status it implies
  (``status.status``: ties at the threshold keep the old status) and ``exact_margin``.

At a window's opening, from every gene's single-precision z and slope s (K problems × p):

* ``window_candidates``: the genes whose z + c s can come within the window's slack of its
  threshold range, |(|z + c_m s|) - γ_m| ≤ |s| h_c + ||x_j|| a + l_0 (c_m, h_c the centre and
  half-width of the range of c; γ_m the centre of the threshold range, l_0 its half-width
  plus the tie band; a the drift and rounding allowance per unit gene norm), in single
  precision, in row-major order;
* ``candidate_values``: the candidates' z and s in double precision with their rounding
  bounds e_z = ε ||x_j|| ||r||/n and e_s = ε ||x_j|| ||v||/n, γ, ||x_cj||, and which of them
  are within ``exact`` × (e_z + tie band) of ±γ (those get the exact z);
* ``status_changes``: every gene's status against the one it has: the candidates' given
  (exact where needed), the others' sign(z) where |z| > γ_m;
* ``keep_candidates``: the candidates whose z + c s, c in [c_lo, c_hi], can reach the
  threshold range [γ(t_end), γ(t)] within the window's slack (the others cannot change
  status in the window and are dropped).

Each is some ten to twenty array operations on gathered copies, run thousands of times per
path; ``kernels`` does the same operations in the same order as one loop each.
"""

from __future__ import annotations

import numpy as np

from .rowwise import pair_dots
from .status import TIE_RTOL, status

#: Relative margin on the double-precision bound products (cnorm · e / n).
F64_MARGIN = 1e-9
#: Absolute slack: z and γ of order 1e-15 and below are rounding noise, never a margin.
ABS_SLACK = 1e-15
#: Rounding of an exact (double-precision) z and of z + c s, relative to their terms (an
#: N-term dot product in any order is within N u Σ|x_ij r_i| / n, u = 2^-53: about 1e-14 for
#: N ~ 100, so the compiled loops' order of summation is covered too).
F64_DOT_RTOL = 1e-12


def exact_margin(z, st, gamma, zerr):
    """How far an exact z (status st, its rounding ≤ F64_DOT_RTOL · zerr, zerr ≥ Σ|x_ij r_i|/n)
    is from the tie band around ±γ on its own side (negative: inside it)."""
    band = ABS_SLACK + TIE_RTOL * gamma + F64_DOT_RTOL * zerr
    return np.where(st == 0, gamma - np.abs(z), st * z - gamma) - band


def predict(pk, ph, zl, sl, cn, ez, es, key, c, en, gamma):
    """Due pairs (indices, increasing), their predicted status and dist (module docstring).
    ``pk`` problem of each pair, ``ph`` trigger, ``zl``, ``sl``, ``cn``, ``ez``, ``es`` as
    stored; per problem ``key``, ``c``, ``en`` = e/n and ``gamma``."""
    due = np.flatnonzero(key[pk] >= ph)
    k = pk[due]
    zd = zl[due]
    cs = c[k] * sl[due]
    zp = zd + cs
    g = gamma[k]
    dist = np.abs(np.abs(zp) - g) - (cn[due] * en[k] * (1 + F64_MARGIN) + ABS_SLACK + TIE_RTOL * g
                                     + F64_DOT_RTOL * (np.abs(zd) + np.abs(cs)) + ez[due] + np.abs(c[k]) * es[due])
    target = (zp > g).view(np.int8) - (zp < -g).view(np.int8)
    return due, target, dist


def settle(Xt, genes, R, problems, n, gamma, old, cn, rnorm):
    """Exact z = x_gᵀ r_k / n_k of the pairs (``genes[i]``, ``problems[i]``), their status
    (old status ``old``: ties keep it) and ``exact_margin`` (zerr = ||x_cg|| ||r_k|| / n_k;
    ``cn`` the pairs' gene norms, ``rnorm`` ||r_k|| / n_k per problem)."""
    z = pair_dots(Xt, genes, R, problems) / n[problems]
    g = gamma[problems]
    target = status(z, g, old)
    return z, target, exact_margin(z, target, g, cn * rnorm[problems])


def window_candidates(z32, s32, xn32, cm, hr, mid, a, lim0):
    """(problem position, gene) of the window's candidates (module docstring), row-major:
    ``z32``, ``s32`` (K, p) and ``xn32`` (p,) single precision, the rest (K,) single
    precision."""
    dev = z32 + cm[:, None] * s32
    np.abs(dev, out=dev)
    dev -= mid[:, None]
    np.abs(dev, out=dev)
    lim = np.abs(s32)
    lim *= hr[:, None]
    lim += xn32[None, :] * a[:, None]
    lim += lim0[:, None]
    return np.nonzero(dev <= lim)


def status_changes(z32, mid, state, ks, pi, gi, tc):
    """Genes whose status differs from ``state[ks]`` (module docstring): row-major positions
    (qi, gj) into (ks, genes), their old and new statuses. ``tc``: the candidates' (pi, gi)
    statuses."""
    m = mid[:, None]
    target = (z32 > m).view(np.int8) - (z32 < -m).view(np.int8)
    target[pi, gi] = tc
    old = state[ks]
    qi, gj = np.nonzero(old != target)
    return qi, gj, old[qi, gj], target[qi, gj]


def candidate_values(z32, s32, pi, gi, xn32, xscale, rn, vn, gk, cnorm, kq, exact):
    """For the candidates (``pi``, ``gi``): z and s (float64), e_z, e_s (``xscale`` = ε, single
    precision, times ||x_j||), γ (``gk`` per problem position), ||x_cj|| (``cnorm`` rows
    ``kq``: the problems) and the positions of those to evaluate exactly (module docstring)."""
    zc = z32[pi, gi].astype(float)
    sc = s32[pi, gi].astype(float)
    xn = xn32[gi] * xscale
    ez = xn * rn[pi]
    es = xn * vn[pi]
    gq = gk[pi]
    cn = cnorm[kq, gi]
    band = ABS_SLACK + TIE_RTOL * gq + F64_DOT_RTOL * cn * rn[pi]
    amb = np.flatnonzero(np.abs(np.abs(zc) - gq) <= exact * (ez + band))
    return zc, sc, ez, es, gq, cn, amb


def keep_candidates(zc, sc, ez, es, cn, pi, emn, c_lo, c_hi, cmax, g_lo, g_hi):
    """Which candidates stay (module docstring): ``emn`` the drift allowance / n, ``c_hi``,
    ``cmax`` = max(-c_lo, c_hi), ``g_lo``, ``g_hi`` per problem position."""
    za = zc + c_lo * sc
    zb = zc + c_hi[pi] * sc
    slack = (cn * emn[pi] * (1 + F64_MARGIN) + ABS_SLACK
             + TIE_RTOL * g_hi[pi] + F64_DOT_RTOL * (np.abs(zc) + c_hi[pi] * np.abs(sc))
             + ez + cmax[pi] * es)
    below = np.maximum(np.abs(za), np.abs(zb)) + slack < g_lo[pi]
    sg = np.sign(zc)
    above = np.minimum(sg * za, sg * zb) - slack > g_hi[pi]
    return ~(below | above)
