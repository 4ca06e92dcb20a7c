"""The gene symbols of the demo cohort: real-looking HUGO symbols, the same for every seed."""

from __future__ import annotations

import numpy as np

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
