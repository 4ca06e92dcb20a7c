"""Synthetic tumour segmentations driven by the hidden factors.

The tumour core is star-shaped around its centre: its outer radius is
``r_out(u) = R0 exp(a g(u))`` for directions ``u``, where ``g`` is a random smooth field on
the sphere (a sum of von Mises-Fisher bumps, standardised) and the amplitude ``a`` grows
with ``irregularity``. The necrotic core is
``r_in(u) = min(f(u) r_out(u), r_out(u) - 2 voxels)`` with ``f`` from ``necrosis``; the
enhancing rim (label 4) lies between them, edema (label 2) out to
``r_out(u) + T exp(a_e g_e(u))``. ``R0`` and ``T`` are solved so that the rim and edema
volumes hit targets ``exp(log 22 cm3 + 0.75 size + noise)`` and
``exp(log 55 cm3 + 0.6 edema + 0.2 size + noise)`` (paper Table 3 reports enhancing
volumes 1-111 cm3, mean 29, and edema 5-196 cm3, mean 70). About 30% of patients get a
second, smaller enhancing focus with its own edema, separated from the main rim.
"""

from __future__ import annotations

import numpy as np

_NT, _NP = 91, 180  # sphere lookup table: 2 degree steps in theta (0..pi) and phi

#: Tumours are designed for a volume whose half-extent is at least this (mm); smaller
#: volumes (test configurations) scale every tumour by the same factor.
REFERENCE_REACH_MM = 75.0


def _sphere_table():
    theta = np.linspace(0.0, np.pi, _NT)
    phi = np.linspace(-np.pi, np.pi, _NP, endpoint=False)
    t, p = np.meshgrid(theta, phi, indexing="ij")
    u = np.stack([np.sin(t) * np.cos(p), np.sin(t) * np.sin(p), np.cos(t)], axis=-1)
    weight = np.sin(t)
    return u, weight / weight.sum()


_U, _W = _sphere_table()


def _field(rng, n_bumps: int, kappa: tuple[float, float], fine: int = 0) -> np.ndarray:
    """A random smooth field on the sphere (sum of vMF bumps), mean 0 and sd 1 (area weighted)."""
    g = np.zeros(_U.shape[:2])
    for n, (klo, khi), scale in ((n_bumps, kappa, 1.0), (fine, (25.0, 60.0), 0.35)):
        if n == 0:
            continue
        dirs = rng.normal(size=(n, 3))
        dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
        kap = rng.uniform(klo, khi, n)
        w = rng.normal(size=n) * scale
        for d, k, wk in zip(dirs, kap, w):
            g += wk * np.exp(k * (_U @ d - 1.0))
    m = (g * _W).sum()
    s = np.sqrt((((g - m) ** 2) * _W).sum())
    return (g - m) / max(s, 1e-12)


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _tumour_tables(f: dict, rng: np.random.Generator, min_thick: float):
    """Radius tables (mm) of the core, necrosis and edema surfaces, and the targets."""
    v_enh = float(np.clip(np.exp(np.log(22.0) + 0.75 * f["size"] + 0.2 * rng.normal()), 2.0, 110.0))
    v_ed = float(np.clip(np.exp(np.log(55.0) + 0.6 * f["edema"] + 0.2 * f["size"] + 0.2 * rng.normal()),
                         6.0, 200.0))
    s_irr = _sigmoid(1.2 * f["irregularity"])
    amp = 0.10 + 0.30 * s_irr
    g_out = _field(rng, 6 + int(round(6 * s_irr)), (2.5 + 3 * s_irr, 5.0 + 6 * s_irr), fine=20)
    e_out = np.exp(amp * g_out)
    frac = (0.35 + 0.5 * _sigmoid(1.3 * f["necrosis"])) * np.exp(0.1 * _field(rng, 5, (2.0, 5.0)))
    frac = np.clip(frac, 0.1, 0.92)
    # rim volume (mm3) of R0: (4 pi / 3) E[r_out^3 - r_in^3]; solve for R0 (min-thickness ignored)
    shell = (e_out**3 * (1.0 - frac**3) * _W).sum() * 4.0 * np.pi / 3.0
    r0 = (v_enh * 1000.0 / shell) ** (1.0 / 3.0)
    r_out = r0 * e_out
    r_in = np.maximum(np.minimum(frac * r_out, r_out - min_thick), 0.0)
    g_ed = _field(rng, 8, (2.0, 6.0), fine=8)
    e_ed = np.exp((0.25 + 0.25 * s_irr) * g_ed)
    # edema volume (4 pi / 3) E[(r_out + T e_ed)^3 - r_out^3] is a cubic in T, increasing
    # for T > 0: solve it for the target volume
    coef = [((e_ed**3) * _W).sum(), (3 * r_out * e_ed**2 * _W).sum(), (3 * r_out**2 * e_ed * _W).sum(),
            -v_ed * 1000.0 * 3.0 / (4.0 * np.pi)]
    roots = np.roots(coef)
    t = float(max(r.real for r in roots if abs(r.imag) < 1e-9 * max(1.0, abs(r)) and r.real > 0))
    r_ed = r_out + t * e_ed
    return r_out, r_in, r_ed, {"target_enhancing_cm3": v_enh, "target_edema_cm3": v_ed}


def _angles(dx, dy, dz, rho):
    it = np.rint(np.arccos(np.clip(dz / np.maximum(rho, 1e-6), -1.0, 1.0)) * ((_NT - 1) / np.pi)).astype(np.intp)
    ip = np.rint((np.arctan2(dy, dx) + np.pi) * (_NP / (2.0 * np.pi))).astype(np.intp) % _NP
    return it, ip


def _grid(lo, hi, center, spacing):
    """mm offsets from ``center`` of the voxels lo..hi (exclusive), as broadcastable arrays."""
    axes = [((np.arange(lo[a], hi[a]) - center[a]) * spacing[a]).astype(np.float32) for a in range(3)]
    return axes[0][:, None, None], axes[1][None, :, None], axes[2][None, None, :]


def segmentation(factors: dict, shape, spacing, rng: np.random.Generator):
    """A labelled tumour volume (uint8, labels 0/1/2/4) driven by the hidden ``factors``.

    Returns the volume and a dict of what was generated (targets, voxel volumes,
    whether a separate second enhancing focus exists). Only a bounding box around the
    tumour is computed.
    """
    shape = np.asarray(shape, dtype=int)
    spacing = np.asarray(spacing, dtype=float)
    min_thick = 2.0 * float(spacing.max())
    r_out, r_in, r_ed, info = _tumour_tables(factors, rng, min_thick)
    # optional second focus: a small nodule just outside the main core, inside the edema
    second = rng.random() < 0.3
    if second:
        k = int(rng.integers(_NT * _NP))
        it2, ip2 = divmod(k, _NP)
        it2 = int(np.clip(it2, 40, _NT - 41))
        direction = _U[it2, ip2]
        r2 = float(rng.uniform(3.0, 6.0))
        gap = float(rng.uniform(3.0, 8.0)) + 2.0 * float(spacing.max())
        offset = direction * (r_out[it2, ip2] + gap + r2)
        reach2 = float(np.linalg.norm(offset)) + r2 + 5.0
    else:
        offset, r2, reach2 = np.zeros(3), 0.0, 0.0
    reach = max(float(r_ed.max()) * 1.03 + spacing.max(), reach2)
    extent = (shape - 1) * spacing
    limit = 0.5 * float(extent.min()) - 2.0 * float(spacing.max())
    # one factor for every tumour when the volume is small (keeps their order), and a
    # per-tumour one for the rare tumour that still does not fit
    scale = min(1.0, limit / REFERENCE_REACH_MM)
    scale = min(scale, limit / reach)
    if scale < 1.0:  # the volume is too small for this tumour: shrink everything
        r_out, r_in, r_ed = r_out * scale, r_in * scale, r_ed * scale
        offset, r2, reach = offset * scale, r2 * scale, reach * scale
    # centre (mm) such that the tumour stays inside the volume
    margin = reach + spacing.max()
    center_mm = np.array([rng.uniform(margin, max(margin, e - margin)) for e in extent])
    center = center_mm / spacing
    lo = np.maximum(np.floor(center - reach / spacing).astype(int), 0)
    hi = np.minimum(np.ceil(center + reach / spacing).astype(int) + 1, shape)
    dx, dy, dz = _grid(lo, hi, center, spacing)
    rho = np.sqrt(dx * dx + dy * dy + dz * dz)
    it, ip = _angles(dx, dy, dz, rho)
    box = np.zeros(tuple(hi - lo), dtype=np.uint8)
    box[rho <= r_ed[it, ip]] = 2
    core = rho <= r_out[it, ip]
    box[core] = 4
    box[core & (rho < r_in[it, ip])] = 1
    if second:
        g2 = _field(rng, 4, (2.0, 4.0))
        ex, ey, ez = dx - np.float32(offset[0]), dy - np.float32(offset[1]), dz - np.float32(offset[2])
        rho2 = np.sqrt(ex * ex + ey * ey + ez * ez)
        jt, jp = _angles(ex, ey, ez, rho2)
        rad2 = r2 * np.exp(0.15 * g2)
        halo = (rho2 <= rad2[jt, jp] + 4.0 * scale) & (box == 0)
        box[halo] = 2
        box[(rho2 <= rad2[jt, jp]) & (box != 4) & (box != 1)] = 4
    volume = np.zeros(tuple(shape), dtype=np.uint8)
    volume[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]] = box
    voxel_cm3 = float(np.prod(spacing)) / 1000.0
    counts = np.bincount(box.ravel(), minlength=5)
    n_foci = 1
    if second:
        from scipy import ndimage

        _, n_foci = ndimage.label(box == 4, structure=np.ones((3, 3, 3), dtype=bool))
    info.update({
        "enhancing_cm3": counts[4] * voxel_cm3,
        "necrosis_cm3": counts[1] * voxel_cm3,
        "edema_cm3": counts[2] * voxel_cm3,
        "second_focus": bool(second and n_foci > 1),
        "scaled": round(scale, 4),
    })
    return volume, info
