"""A gene's status in the elastic-net solution: -1, 0 or +1 (w_j < 0, = 0, > 0).

With z_j = x_cjᵀr / n (r the residual) and γ = λα, w_j = S(z_j, γ) / (λ(1-α)) (S the soft
threshold): the status is sign(z_j) where |z_j| > γ, else 0.
"""

from __future__ import annotations

import numpy as np

#: Ties at the threshold: a gene with ||z_j| - γ| ≤ TIE_RTOL · γ is *at* the threshold up to
#: rounding (its coefficient is < TIE_RTOL · γ / (λ(1-α)) either way), so both of its
#: statuses are consistent and it keeps the one it has. Without this, a gene that sits exactly
#: on the threshold (always the case for the top gene at λ = λ_max on all patients, the first
#: step of every refit) flips between active and inactive at the level of one ulp and Newton
#: never terminates.
TIE_RTOL = 1e-10


def status(z, gamma, old):
    """Gene status (-1, 0, +1) implied by z at threshold γ, keeping ties.

    ``z`` and ``old`` have the same shape, ``gamma`` broadcasts. Where ||z| - γ| ≤ TIE_RTOL·γ
    the old status is kept if it is 0 or the sign of z (both are consistent up to rounding).
    """
    new = (z > gamma).view(np.int8) - (z < -gamma).view(np.int8)
    changed = np.nonzero(new != old)  # only a status change can be a spurious flip: check those
    if len(changed[0]):
        zc, oc = z[changed], old[changed]
        gc = np.broadcast_to(gamma, z.shape)[changed]
        keep = (np.abs(np.abs(zc) - gc) <= TIE_RTOL * gc) & ((oc == 0) | (oc == np.sign(zc)))
        if keep.any():
            new[tuple(c[keep] for c in changed)] = oc[keep]
    return new
