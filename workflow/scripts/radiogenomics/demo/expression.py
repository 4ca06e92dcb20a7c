"""The demo cohort's patients, their expression files (aliquots) and the planted signal.

Gene ``g`` of patient ``p`` is ``mu_g + sd_g (s_g + b_g m_p + e_g eps)`` (log2 scale),
where ``s_g = w_g h(z_p)`` for the ``n_signal_genes`` signal genes (``z_p`` the gene's
factor, ``h`` linear, ``tanh`` or a centred square, each scaled to unit variance) and 0
for the others, ``m_p`` is one of a few background co-expression modules, ``eps``
standard-normal noise, and ``e_g`` makes the total standardised variance about 1.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .factors import FACTORS

#: Forms of the planted gene response h(z) (each scaled to unit variance for z ~ N(0,1)).
FORMS = ("linear", "tanh", "square")

#: Sample type codes written for non-primary files.
NON_PRIMARY_TYPES = ("02", "11")

# Tissue source sites that contributed GBM samples to TCGA.
_TSS = ("02", "06", "08", "12", "14", "15", "16", "19", "26", "27", "28", "32", "41", "76", "81", "87")


def _patient_ids(n: int, rng: np.random.Generator) -> list[str]:
    ids: list[str] = []
    seen: set[str] = set()
    while len(ids) < n:
        tss = _TSS[rng.integers(len(_TSS))]
        number = int(rng.integers(1, 10000 if n > 3000 else 3000))
        pid = f"TCGA-{tss}-{number:04d}"
        if pid not in seen:
            seen.add(pid)
            ids.append(pid)
    return ids


def _barcode(patient: str, sample_type: str, vial: str, portion: int, plate: int) -> str:
    """``TCGA-06-0125-01A-01R-1849-01``: analyte R (RNA), centre 01 (Broad)."""
    return f"{patient}-{sample_type}{vial}-{portion:02d}R-{plate:04d}-01"


def _aliquots(patients, n_duplicate, n_non_primary, rng) -> pd.DataFrame:
    """One row per expression file: barcode, patient, sample type, role."""
    plates = rng.choice(np.arange(177, 2100), size=12, replace=False)
    rows = []
    for p in patients:
        rows.append((p, "01", "A", 1, int(rng.choice(plates)), "primary"))
    dup = rng.choice(len(patients), size=n_duplicate, replace=False) if n_duplicate else []
    for i in sorted(dup):
        vial, portion = ("B", 1) if rng.random() < 0.5 else ("A", 2)
        rows.append((patients[i], "01", vial, portion, int(rng.choice(plates)), "duplicate"))
    others = rng.choice(len(patients), size=n_non_primary, replace=n_non_primary > len(patients))
    for j, i in enumerate(others):
        sample_type = NON_PRIMARY_TYPES[j % 2]
        vial = "A" if sample_type == "11" else "B"
        rows.append((patients[i], sample_type, vial, 1 + j // len(patients), int(rng.choice(plates)),
                     "recurrent" if sample_type == "02" else "normal"))
    table = pd.DataFrame(rows, columns=["patient", "sample_type", "vial", "portion", "plate", "role"])
    table["barcode"] = [_barcode(*r) for r in table[["patient", "sample_type", "vial", "portion", "plate"]]
                        .itertuples(index=False)]
    if table["barcode"].duplicated().any():  # same plate drawn twice for a duplicate: move it
        for i in np.flatnonzero(table["barcode"].duplicated().to_numpy()):
            row = table.iloc[i]
            table.loc[table.index[i], "barcode"] = _barcode(
                row.patient, row.sample_type, row.vial, int(row.portion), int(row.plate) + 1)
    table["file"] = [f"{b}.HT_HG-U133A.level3.txt" for b in table["barcode"]]
    return table[["file", "barcode", "patient", "sample_type", "role"]]


def _h(form: str, z: np.ndarray) -> np.ndarray:
    """Planted response, unit variance for z ~ N(0, 1)."""
    if form == "linear":
        return z
    if form == "tanh":
        return np.tanh(1.5 * z) / 0.7414  # sd of tanh(1.5 Z)
    if form == "square":
        return (z**2 - 1.0) / np.sqrt(2.0)
    raise ValueError(form)


def _expression(patients, factors: pd.DataFrame, genes, n_signal: int, aliquots: pd.DataFrame,
                rng: np.random.Generator):
    """Aliquot x gene log2 values and the signal-gene table."""
    n_p, n_g = len(patients), len(genes)
    mean = np.where(rng.random(n_g) < 0.6, rng.normal(6.0, 1.4, n_g), rng.normal(9.0, 1.7, n_g))
    mean = np.clip(mean, 3.5, 13.0)
    sd = np.clip(np.exp(rng.normal(np.log(0.45), 0.5, n_g)), 0.08, 2.0)
    # background co-expression modules (each gene loads on at most one)
    n_mod = max(4, n_g // 250)
    module_scores = rng.normal(size=(n_p, n_mod))
    module = rng.integers(n_mod, size=n_g)
    loading = np.where(rng.random(n_g) < 0.35, rng.uniform(0.3, 0.8, n_g), 0.0)
    # signal genes
    signal_idx = np.sort(rng.choice(n_g, size=n_signal, replace=False))
    sig_factor = np.array([FACTORS[i % len(FACTORS)] for i in range(n_signal)])
    rng.shuffle(sig_factor)
    sig_form = rng.choice(FORMS, size=n_signal, p=[0.5, 0.25, 0.25])
    sig_weight = rng.uniform(0.55, 0.85, n_signal) * rng.choice([-1.0, 1.0], n_signal)
    loading[signal_idx] = np.minimum(loading[signal_idx], 0.3)
    signal = np.zeros((n_p, n_g))
    for j, g in enumerate(signal_idx):
        z = factors[sig_factor[j]].to_numpy()
        signal[:, g] = sig_weight[j] * _h(sig_form[j], z)
    w2 = np.zeros(n_g)
    w2[signal_idx] = sig_weight**2
    noise_sd = np.sqrt(np.maximum(0.1, 1.0 - w2 - loading**2))
    std = signal + loading * module_scores[:, module] + noise_sd * rng.normal(size=(n_p, n_g))
    base = mean + sd * std  # patients x genes
    # aliquots: primary = base (+ tiny technical noise), duplicate = base + technical noise,
    # recurrent = base + biological drift, normal = normal-brain profile
    row_of = {p: i for i, p in enumerate(patients)}
    normal_shift = np.where(rng.random(n_g) < 0.2, rng.normal(0, 1.5, n_g), 0.0)
    values = np.empty((len(aliquots), n_g))
    for k, (patient, role) in enumerate(zip(aliquots["patient"], aliquots["role"])):
        i = row_of[patient]
        if role == "primary":
            values[k] = base[i] + sd * 0.05 * rng.normal(size=n_g)
        elif role == "duplicate":
            values[k] = base[i] + sd * 0.2 * rng.normal(size=n_g)
        elif role == "recurrent":
            values[k] = base[i] + sd * 0.6 * rng.normal(size=n_g)
        else:
            values[k] = mean + sd * (normal_shift + 0.5 * rng.normal(size=n_g))
    values = np.clip(values, 2.0, 15.0)
    table = pd.DataFrame({
        "gene": [genes[i] for i in signal_idx],
        "factor": sig_factor,
        "weight": np.round(sig_weight, 6),
        "form": sig_form,
    }).set_index("gene")
    return values, table
