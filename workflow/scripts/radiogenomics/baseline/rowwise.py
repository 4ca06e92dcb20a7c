"""Products and runs over the rows of the elastic-net path's arrays: one matrix-vector
product per problem where several rows share it, the position along a direction."""

from __future__ import annotations

import numpy as np

#: ``pair_dots`` takes one row-wise product instead of one matrix-vector product per problem
#: below this many pairs per problem (the per-problem calls then cost more than the gather).
PAIR_DOTS_ROWWISE = 8


def runs(keys):
    """Starts and ends (lists) of the runs of equal values of the sorted non-empty ``keys``."""
    starts = np.flatnonzero(keys[1:] != keys[:-1]) + 1
    return [0, *starts.tolist()], [*starts.tolist(), len(keys)]


def linear_fit(d, v):
    """c = dᵀv/vᵀv (0 where v = 0) and e = ||d - c v|| per row."""
    vv = np.einsum("ij,ij->i", v, v)
    c = np.einsum("ij,ij->i", d, v) / np.where(vv > 0, vv, 1.0)
    c[vv == 0] = 0.0
    dc = d - c[:, None] * v
    return c, np.sqrt(np.einsum("ij,ij->i", dc, dc))


def pair_dots(Xt, genes, R, problems):
    """x_gᵀ r_k for the pairs (g, k) = (``genes[i]``, ``problems[i]``): one matrix-vector
    product per problem (with many pairs per problem a row-wise product of the gathered rows
    and r's is several times slower: it gathers an N-vector of R per pair and does not use
    BLAS; with few, below ``PAIR_DOTS_ROWWISE``, it is the faster one)."""
    if len(genes) < PAIR_DOTS_ROWWISE * len(np.unique(problems)):
        return np.einsum("ij,ij->i", Xt[genes], R[problems])
    out = np.empty(len(genes))
    order = np.argsort(problems, kind="stable")
    ks = problems[order]
    for lo, hi in zip(*runs(ks)):
        sel = order[lo:hi]
        out[sel] = Xt[genes[sel]] @ R[ks[lo]]
    return out
