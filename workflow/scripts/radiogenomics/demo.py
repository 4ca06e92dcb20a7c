"""A generated demo cohort in the real input formats, with a planted radiogenomic signal.

:func:`generate` writes, under ``out_dir``:

``expression/``
    TCGA legacy Level-3 gene expression files (Broad HT_HG-U133A layout), one per
    aliquot: line 1 ``Hybridization REF<TAB><aliquot barcode>``, line 2
    ``Composite Element REF<TAB>Signal``, then ``<HUGO symbol><TAB><value>`` per gene,
    values on the log2 microarray scale (about 3-14). A few patients have a second
    primary-tumour aliquot, and a few files are recurrent (sample type 02) or normal
    (11) samples, which ingestion must drop. File names do not have to contain the
    barcode; ingestion reads it from line 1.
``segmentations/``
    BraTS-style segmentations in the layout of the TCIA collection's archive
    (``Pre-operative_TCGA_GBM_NIfTI_and_Segmentations``): one folder per imaged patient,
    holding ``<patient>_<date>_GlistrBoost_ManuallyCorrected.nii.gz`` (the label map the
    models use), for every :data:`UNCORRECTED_EVERY`-th patient also the automatic
    ``<patient>_<date>_GlistrBoost.nii.gz`` (a different map: its necrosis labelled as
    enhancing, so using it by mistake changes the features), and for every
    :data:`ONLY_UNCORRECTED_EVERY`-th patient only the automatic one (as for the archive's
    patients without a corrected map). uint8, labels 0 background, 1 necrosis /
    non-enhancing core, 2 peritumoral edema, 4 enhancing tumour; ``shape`` voxels of
    ``spacing`` mm with a BraTS-like affine. (The archive's MR images are not written.)
``truth/``
    The planted signal, for tests only (the workflow never reads it):
    ``factors.tsv`` (patient x hidden factor), ``signal_genes.tsv`` (gene, factor,
    weight, form), ``drives.tsv`` (factor -> image features it drives, with the expected
    direction), ``aliquots.tsv`` (file, barcode, patient, sample type, role) and
    ``segmentations.tsv`` (per imaged patient: file, target and generated volumes,
    second focus).

The model. Every patient has four hidden standard-normal factors (:data:`FACTORS`):
``size`` (enhancing-tumour volume), ``irregularity`` (lobulation of the tumour
surface), ``edema`` (edema volume) and ``necrosis`` (necrotic fraction of the core, so
the thinness of the enhancing rim). The tumour core is star-shaped around its centre:
its outer radius is ``r_out(u) = R0 exp(a g(u))`` for directions ``u``, where ``g`` is a
random smooth field on the sphere (a sum of von Mises-Fisher bumps, standardised) and
the amplitude ``a`` grows with ``irregularity``. The necrotic core is
``r_in(u) = min(f(u) r_out(u), r_out(u) - 2 voxels)`` with ``f`` from ``necrosis``; the
enhancing rim (label 4) lies between them, edema (label 2) out to
``r_out(u) + T exp(a_e g_e(u))``. ``R0`` and ``T`` are solved so that the rim and edema
volumes hit targets ``exp(log 22 cm3 + 0.75 size + noise)`` and
``exp(log 55 cm3 + 0.6 edema + 0.2 size + noise)`` (paper Table 3 reports enhancing
volumes 1-111 cm3, mean 29, and edema 5-196 cm3, mean 70). About 30% of patients get a
second, smaller enhancing focus with its own edema, separated from the main rim.

Gene ``g`` of patient ``p`` is ``mu_g + sd_g (s_g + b_g m_p + e_g eps)`` (log2 scale),
where ``s_g = w_g h(z_p)`` for the ``n_signal_genes`` signal genes (``z_p`` the gene's
factor, ``h`` linear, ``tanh`` or a centred square, each scaled to unit variance) and 0
for the others, ``m_p`` is one of a few background co-expression modules, ``eps``
standard-normal noise, and ``e_g`` makes the total standardised variance about 1.
Everything is drawn from generators seeded with :func:`radiogenomics.seeds.derive`
(config seed, "demo", ...), so the cohort is a function of the seed and the sizes.
"""

from __future__ import annotations

import datetime as _dt
import logging
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import RadiogenomicsError
from .names import IMAGE_FEATURES
from .seeds import derive

log = logging.getLogger(__name__)

#: Hidden per-patient factors (standard normal) that drive genes and geometry.

#: Every UNCORRECTED_EVERY-th imaged patient also gets the automatic GlistrBoost map.
UNCORRECTED_EVERY = 8
#: Every ONLY_UNCORRECTED_EVERY-th imaged patient has only the automatic map.
ONLY_UNCORRECTED_EVERY = 5

FACTORS = ("size", "irregularity", "edema", "necrosis")

#: (factor, image feature, direction of the effect) — what drives what. Measured, not guessed:
#: the geometry model couples the factors to the 20 features in ways that are hard to read
#: off the formulas (a thinner rim, from ``necrosis``, makes the enhancing region less
#: spherical; a larger core pushes the edema shell into a thinner, less spherical shape;
#: lobulation lengthens the longest chord and shortens the minor axis). A pair is listed when
#: the Pearson correlation between the factor and the feature (paper convention) has
#: |r| >= 0.4 with the same sign in two generated cohorts (seed 2018; 44 and 64 imaged
#: patients at 240 x 240 x 155). tests/test_demo_associations.py re-checks the direction on
#: the built-in demo cohort.
DRIVES = (
    ("size", "enhancing_volume", +1),
    ("size", "enhancing_surface_area", +1),
    ("size", "enhancing_sa_v_ratio", -1),
    ("size", "enhancing_max_diameter", +1),
    ("size", "enhancing_major_axis", +1),
    ("size", "enhancing_minor_axis", +1),
    ("size", "edema_surface_area", +1),
    ("size", "edema_sphericity", -1),
    ("size", "edema_spherical_disproportion", +1),
    ("size", "edema_max_diameter", +1),
    ("size", "edema_major_axis", +1),
    ("size", "edema_minor_axis", +1),
    ("size", "edema_compactness1", -1),
    ("size", "edema_compactness2", -1),
    ("irregularity", "enhancing_sphericity", -1),
    ("irregularity", "enhancing_max_diameter", +1),
    ("irregularity", "enhancing_minor_axis", -1),
    ("irregularity", "enhancing_compactness1", -1),
    ("irregularity", "enhancing_compactness2", -1),
    ("irregularity", "edema_max_diameter", +1),
    ("irregularity", "edema_minor_axis", -1),
    ("edema", "edema_volume", +1),
    ("edema", "edema_sa_v_ratio", -1),
    ("edema", "edema_sphericity", +1),
    ("edema", "edema_spherical_disproportion", -1),
    ("edema", "edema_max_diameter", +1),
    ("edema", "edema_compactness1", +1),
    ("edema", "edema_compactness2", +1),
    ("necrosis", "enhancing_sa_v_ratio", +1),
    ("necrosis", "enhancing_sphericity", -1),
    ("necrosis", "enhancing_spherical_disproportion", +1),
    ("necrosis", "enhancing_compactness1", -1),
    ("necrosis", "enhancing_compactness2", -1),
)

#: Forms of the planted gene response h(z) (each scaled to unit variance for z ~ N(0,1)).
FORMS = ("linear", "tanh", "square")

#: Sample type codes written for non-primary files.
NON_PRIMARY_TYPES = ("02", "11")

# Tissue source sites that contributed GBM samples to TCGA.
_TSS = ("02", "06", "08", "12", "14", "15", "16", "19", "26", "27", "28", "32", "41", "76", "81", "87")

# Real gene symbols always present (first in the pool), GBM-relevant and housekeeping.
_REAL_GENES = """
EGFR PDGFRA PDGFRB IDH1 IDH2 PTEN TP53 NF1 CDKN2A CDKN2B CDK4 CDK6 MDM2 MDM4 MGMT VEGFA
VEGFB KDR FLT1 HIF1A EPAS1 CA9 SLC2A1 LDHA PGK1 ENO1 ADM ANGPT2 CHI3L1 POSTN SERPINE1
TIMP1 MMP2 MMP9 CD44 MET OLIG2 SOX2 NES PROM1 GFAP S100B AQP4 DCX DLL3 ASCL1 NKX2-2 PDPN
VIM STAT3 CEBPB RELB TNFRSF1A TRADD NFKB1 IL6 CXCL8 CCL2 TGFB1 TGFB2 SPP1 COL1A1 COL1A2
COL3A1 COL4A1 COL4A2 FN1 LAMB1 ITGB1 ITGA5 ACTB GAPDH TUBB RPLP0 B2M HLA-A HLA-B HLA-DRA
CD74 PTPRC CD68 CD163 AIF1 TOP2A MKI67 PCNA MCM2 CCNB1 CCND1 CCNE1 E2F1 RB1 ATRX TERT
DAXX BRAF KRAS NRAS PIK3CA PIK3R1 AKT1 MTOR RICTOR FOXO1 FOXO3 MYC MYCN ERBB2 ERBB3 FGFR1
FGFR3 IGFBP2 IGFBP3 IGFBP5 SOX9 SOX10 OLIG1 NKX6-1 PAX6 NOTCH1 HES1 JAG1 DLL1 SHH PTCH1
GLI1 WNT5A CTNNB1 APC NRP1 NRP2 PLAU PLAUR CD9 LGALS1 LGALS3 ANXA1 ANXA2 S100A4 S100A10
TAGLN MYL9 ACTA2 CNN1 THBS1 THBS2 SPARC TNC BCAN NCAN PTPRZ1 GPM6B PLP1 MBP MOG MAG
SNAP25 SYT1 GRIA2 GABRA1 CAMK2A NEFL NEFM STMN2 SYP
""".split()


def _family_genes() -> list[str]:
    """Gene symbols following real HGNC family patterns (ZNF123, SLC25A4, C1orf112, ...)."""
    out: list[str] = []
    out += [f"ZNF{i}" for i in range(2, 900)]
    out += [f"SLC{a}A{b}" for a in range(1, 46) for b in range(1, 14)]
    out += [f"TMEM{i}" for i in range(8, 270)]
    out += [f"FAM{i}{s}" for i in range(3, 230) for s in "AB"]
    out += [f"CCDC{i}" for i in range(3, 190)]
    out += [f"KIAA{i:04d}" for i in range(100, 2000, 7)]
    out += [f"C{c}orf{i}" for c in [*range(1, 23), "X"] for i in range(1, 160)]
    simple = {
        "ANKRD": 65, "LRRC": 75, "RBM": 48, "KLHL": 42, "WDR": 100, "TRIM": 75, "ZBTB": 48,
        "MRPL": 57, "MRPS": 36, "RPL": 41, "RPS": 29, "USP": 54, "GPR": 180, "TBC1D": 30,
        "ARHGAP": 45, "ARHGEF": 40, "RAB": 45, "CD": 300, "IL": 37, "KRT": 86, "TTC": 40,
        "ZC3H": 18, "ZCCHC": 24, "SPATA": 33, "TSPAN": 33, "SNX": 33, "PRR": 36, "DUSP": 28,
        "CLEC": 18, "ADAM": 33, "ADAMTS": 20, "SYT": 17, "PCDHB": 16, "TNFRSF": 25, "TNFSF": 18,
        "CCL": 28, "CXCL": 17, "MYO": 19, "DNAH": 17, "NUP": 214, "PSMD": 14, "PSMC": 6,
        "PSMB": 11, "PSMA": 8, "NDUFA": 13, "NDUFB": 11, "NDUFS": 8, "ATP6V1": 8, "ERCC": 8,
        "POLR2": 12, "GTF2": 9, "SMARCA": 5, "SEPT": 14, "SMAD": 9, "MAPK": 15, "CAPN": 15,
        "CASP": 14, "CDH": 26, "CELSR": 3, "ELOVL": 7, "FBXO": 48, "FBXL": 22, "FUT": 11,
        "GALNT": 18, "HSPA": 14, "KIF": 27, "LMO": 7, "LPAR": 6, "MAGEA": 12, "METTL": 27,
        "NLRP": 14, "NOL": 12, "OSBPL": 11, "PARP": 16, "PDE": 11, "PHF": 23, "PLA2G": 16,
        "PRDM": 16, "PTPN": 23, "RASGRP": 4, "RNF": 220, "SCN": 11, "SEMA": 7, "SERPINB": 13,
        "SPRR": 4, "STK": 40, "SULT": 6, "TAF": 15, "TLR": 10, "TRAPPC": 13, "UBE2": 9,
        "UGT": 8, "VPS": 54, "WNT": 11, "ZFP": 92, "ZDHHC": 24, "DHRS": 13, "DCAF": 17,
    }
    for prefix, n in simple.items():
        out += [f"{prefix}{i}" for i in range(1, n + 1)]
    lettered = {"DNAJA": 4, "DNAJB": 14, "DNAJC": 30, "PPP1R": 37, "PLEKHA": 8, "PLEKHG": 7,
                "PLEKHH": 3, "MAP3K": 21, "MAP4K": 5, "KCNA": 10, "KCNB": 2, "KCNC": 4, "KCND": 3,
                "KCNH": 8, "KCNJ": 16, "KCNK": 18, "KCNQ": 5, "KCNS": 3, "ABCA": 13, "ABCB": 11,
                "ABCC": 12, "ABCG": 8, "HOXA": 13, "HOXB": 13, "HOXC": 13, "HOXD": 13}
    for prefix, n in lettered.items():
        out += [f"{prefix}{i}" for i in range(1, n + 1)]
    out += [f"FOX{c}{i}" for c in "ABCDEFGHIJKLMNOPQRS" for i in range(1, 4)]
    out += [f"CYP{a}{c}{b}" for a in range(1, 52) for c in "ABCDEF" for b in range(1, 3)]
    out += [f"COL{a}A{b}" for a in range(5, 28) for b in range(1, 4)]
    out += [f"OR{a}{c}{b}" for a in range(1, 14) for c in "ABCDEFGHIJKLMN" for b in range(1, 13)]
    return out


def gene_symbols(n: int) -> list[str]:
    """``n`` unique, real-looking HUGO gene symbols (the same list for every seed), sorted.

    The real symbols of :data:`_REAL_GENES` come first, then family-pattern symbols in a
    fixed pseudo-random order, then ``LOC<number>`` symbols if more are needed.
    """
    real = list(dict.fromkeys(_REAL_GENES))
    family = [g for g in dict.fromkeys(_family_genes()) if g not in set(real)]
    order = np.random.default_rng(20180524).permutation(len(family))
    pool = real + [family[i] for i in order]
    if n > len(pool):
        pool += [f"LOC{100128000 + i}" for i in range(n - len(pool))]
    chosen = pool[:n]
    assert len(set(chosen)) == n
    return sorted(chosen)


# --------------------------------------------------------------------------- cohort

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


def _level3_template(genes) -> str:
    """The body of a Level-3 file as one ``%`` format (one C-level call per file)."""
    return "".join(f"{g.replace('%', '%%')}\t%.5f\n" for g in genes)


def _write_level3(path: Path, barcode: str, template: str, values) -> None:
    header = f"Hybridization REF\t{barcode}\nComposite Element REF\tSignal\n"
    path.write_text(header + template % tuple(values.tolist()))


# --------------------------------------------------------------------- segmentations

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


def affine(shape, spacing) -> np.ndarray:
    """BraTS-like voxel -> RAS+ mm affine: x and y axes flipped (LPS storage), centred."""
    shape = np.asarray(shape, dtype=float)
    sx, sy, sz = map(float, spacing)
    return np.array([
        [-sx, 0.0, 0.0, (shape[0] - 1) * sx / 2.0],
        [0.0, -sy, 0.0, (shape[1] - 1) * sy / 2.0],
        [0.0, 0.0, sz, -(shape[2] - 1) * sz / 2.0],
        [0.0, 0.0, 0.0, 1.0],
    ])


def write_nifti(volume: np.ndarray, path, spacing) -> None:
    import nibabel as nib

    aff = affine(volume.shape, spacing)
    img = nib.Nifti1Image(volume, aff)
    img.header.set_data_dtype(np.uint8)
    img.header.set_xyzt_units("mm")
    img.set_qform(aff, code=1)
    img.set_sform(aff, code=1)
    nib.save(img, str(path))


def _scan_date(rng) -> str:
    day = _dt.date(1995, 1, 1) + _dt.timedelta(days=int(rng.integers(0, 365 * 12)))
    return day.strftime("%Y.%m.%d")


# -------------------------------------------------------------------------- generate

def _check(n_patients, n_imaged, n_genes, n_signal_genes, n_duplicate_aliquots, n_non_primary, shape, spacing):
    problems = []
    if n_patients < 1:
        problems.append(f"demo.n_patients must be at least 1, got {n_patients}")
    if not 0 <= n_imaged <= n_patients:
        problems.append(f"demo.n_imaged ({n_imaged}) must be between 0 and demo.n_patients ({n_patients})")
    if not 1 <= n_signal_genes <= n_genes:
        problems.append(f"demo.n_signal_genes ({n_signal_genes}) must be between 1 and demo.n_genes ({n_genes})")
    if not 0 <= n_duplicate_aliquots <= n_patients:
        problems.append(f"demo.n_duplicate_aliquots ({n_duplicate_aliquots}) must be between 0 and "
                        f"demo.n_patients ({n_patients})")
    if n_non_primary < 0:
        problems.append(f"demo.n_non_primary must be at least 0, got {n_non_primary}")
    if len(shape) != 3 or min(shape) < 16:
        problems.append(f"demo.shape must be three sizes of at least 16 voxels, got {list(shape)}")
    if len(spacing) != 3 or min(spacing) <= 0:
        problems.append(f"demo.spacing must be three positive sizes in mm, got {list(spacing)}")
    if problems:
        raise RadiogenomicsError("; ".join(problems))


def generate(out_dir, n_patients: int, n_imaged: int, n_genes: int, n_signal_genes: int,
             n_duplicate_aliquots: int, n_non_primary: int, shape=(240, 240, 155),
             spacing=(1.0, 1.0, 1.0), seed: int = 0) -> dict:
    """Write the demo cohort to ``out_dir``/{expression,segmentations,truth}; return a summary.

    Deterministic in ``seed`` and the sizes. Everything is written to a temporary
    directory inside ``out_dir`` first and then renamed into place (replacing existing
    ``expression``, ``segmentations`` and ``truth`` directories), so an interrupted run
    leaves no half-written cohort.
    """
    shape = tuple(int(s) for s in shape)
    spacing = tuple(float(s) for s in spacing)
    _check(n_patients, n_imaged, n_genes, n_signal_genes, n_duplicate_aliquots, n_non_primary, shape, spacing)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    def rng(part):
        return np.random.default_rng(derive(seed, "demo", part))

    patients = _patient_ids(n_patients, rng("patients"))
    factors = pd.DataFrame(
        rng("factors").normal(size=(n_patients, len(FACTORS))),
        index=pd.Index(patients, name="patient"), columns=list(FACTORS))
    imaged = sorted(rng("imaged").choice(patients, size=n_imaged, replace=False).tolist()) if n_imaged else []
    aliquots = _aliquots(patients, n_duplicate_aliquots, n_non_primary, rng("aliquots"))
    genes = gene_symbols(n_genes)
    values, signal_table = _expression(patients, factors, genes, n_signal_genes, aliquots,
                                       rng("expression"))
    tmp = Path(tempfile.mkdtemp(prefix=".demo-", dir=out_dir))
    try:
        (tmp / "expression").mkdir()
        (tmp / "segmentations").mkdir()
        (tmp / "truth").mkdir()
        template = _level3_template(genes)
        for k, (name, barcode) in enumerate(zip(aliquots["file"], aliquots["barcode"])):
            _write_level3(tmp / "expression" / name, barcode, template, values[k])
        seg_rows = []
        for patient in imaged:
            prng = np.random.default_rng(derive(seed, "demo", "segmentation", patient))
            vol, info = segmentation(factors.loc[patient].to_dict(), shape, spacing, prng)
            stem = f"{patient}/{patient}_{_scan_date(prng)}_GlistrBoost"
            (tmp / "segmentations" / patient).mkdir()
            k = len(seg_rows)
            if k % ONLY_UNCORRECTED_EVERY == ONLY_UNCORRECTED_EVERY - 1:
                name = f"{stem}.nii.gz"                   # no corrected map for this patient
            else:
                name = f"{stem}_ManuallyCorrected.nii.gz"
                if k % UNCORRECTED_EVERY == 0:            # the automatic map too, which must not be used
                    write_nifti(np.where(vol == 1, np.uint8(4), vol), tmp / "segmentations" / f"{stem}.nii.gz",
                                spacing)
            write_nifti(vol, tmp / "segmentations" / name, spacing)
            seg_rows.append({"patient": patient, "file": name, **info})
            log.info("segmentation %s: enhancing %.1f cm3, edema %.1f cm3%s", name, info["enhancing_cm3"],
                     info["edema_cm3"], ", second focus" if info["second_focus"] else "")
        truth = tmp / "truth"
        factors.round(6).to_csv(truth / "factors.tsv", sep="\t")
        signal_table.to_csv(truth / "signal_genes.tsv", sep="\t")
        drives = pd.DataFrame(DRIVES, columns=["factor", "feature", "direction"])
        assert set(drives["feature"]) <= set(IMAGE_FEATURES)
        drives.to_csv(truth / "drives.tsv", sep="\t", index=False)
        aliquots.set_index("file").to_csv(truth / "aliquots.tsv", sep="\t")
        seg_cols = ["patient", "file", "target_enhancing_cm3", "target_edema_cm3", "enhancing_cm3",
                    "necrosis_cm3", "edema_cm3", "second_focus", "scaled"]
        pd.DataFrame(seg_rows, columns=seg_cols).set_index("patient").round(4).to_csv(
            truth / "segmentations.tsv", sep="\t")
        for sub in ("expression", "segmentations", "truth"):
            dest = out_dir / sub
            if dest.is_symlink() or dest.is_file():
                dest.unlink()
            elif dest.exists():
                shutil.rmtree(dest)
            os.replace(tmp / sub, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {
        "patients": n_patients, "imaged": len(imaged), "genes": n_genes, "files": len(aliquots),
        "second_focus": int(sum(r["second_focus"] for r in seg_rows)),
    }

