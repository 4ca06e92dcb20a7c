"""The paper's published numbers, shown beside this run's (:mod:`radiogenomics.summary`).

Copied from Smedley & Hsu, "Using deep neural networks for radiogenomic analysis", Proc
IEEE Int Symp Biomed Imaging 2018:1529-1533, doi:10.1109/ISBI.2018.8363864 (author
manuscript PMC6081189): Table 2 (overall performance), Table 3 (MAE in original units,
with the measured min/max/mean) and Table 4 (MAPE), §3.1 (selected hyperparameters and
final losses) and §2.1 (cohort). The significance markers of Tables 3 and 4 did not
survive in the manuscript text; the features the paper calls significant (adjusted
p < 0.05, network with pre-training and dropout vs linear regression) are taken from
§3.2 and §3.3.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .names import MODELS

PAPER_REFERENCE = (
    "Smedley NF, Hsu W. Using deep neural networks for radiogenomic analysis. "
    "Proc IEEE Int Symp Biomed Imaging. 2018:1529-1533. doi:10.1109/ISBI.2018.8363864 "
    "(PMC6081189)"
)

#: Paper Table 2 (models: no / yes / yes+drop pre-training, linear regression).
PAPER_TABLE2 = pd.DataFrame(
    {
        "mean_mae": [0.1427, 0.1455, 0.1342, 0.1456],
        "mean_mape": [68.32, 69.47, 52.53, 69.51],
        "n_lower_mae": [11, 10, 16, np.nan],
        "pct_lower_mae": [55.0, 50.0, 80.0, np.nan],
        "n_lower_mape": [8, 7, 20, np.nan],
        "pct_lower_mape": [40.0, 35.0, 100.0, np.nan],
    },
    index=pd.Index(MODELS, name="model"),
)

_T3 = """
enhancing_volume                16.8    17.2    16.3    16.2    1.0     111.2   29.3
enhancing_surface_area          66.7    70.4    61.9    70.2    7.5     509.4   120.7
enhancing_sa_v_ratio            0.136   0.141   0.130   0.140   0.218   1.214   0.456
enhancing_sphericity            0.134   0.132   0.124   0.133   0.128   0.851   0.434
enhancing_spherical_disproportion 0.81  0.83    0.72    0.78    1.17    7.82    2.63
enhancing_max_diameter          14.2    14.7    13.2    14.4    20.3    97.7    57.6
enhancing_major_axis            15.4    15.9    13.8    17.4    17.1    101.3   54.9
enhancing_minor_axis            11.5    11.9    10.6    10.4    11.9    61.5    34.8
enhancing_compactness1          0.0072  0.0071  0.0066  0.0075  0.0024  0.0417  0.0159
enhancing_compactness2          0.090   0.092   0.082   0.098   0.002   0.617   0.114
edema_volume                    37.6    38.3    37.1    44.6    4.9     196.1   69.8
edema_surface_area              87.9    93.7    86.7    95.5    29.0    744.0   224.4
edema_sa_v_ratio                0.142   0.145   0.128   0.127   0.145   0.828   0.387
edema_sphericity                0.089   0.085   0.087   0.090   0.179   0.700   0.370
edema_spherical_disproportion   0.76    0.78    0.69    0.82    1.43    5.58    2.93
edema_max_diameter              16.5    16.9    15.3    16.3    36.6    123.1   88.3
edema_major_axis                16.5    17.6    16.0    16.3    33.0    129.8   86.6
edema_minor_axis                11.9    12.3    11.4    11.9    14.2    86.5    42.2
edema_compactness1              0.00421 0.00416 0.00419 0.00417 0.00402 0.03105 0.0123
edema_compactness2              0.0407  0.0392  0.0388  0.0400  0.0058  0.3426  0.063
"""

_T4 = """
enhancing_volume                  154.9 156.6 104.2 141.9
enhancing_surface_area            122.0 131.1 88.1  114.4
enhancing_sa_v_ratio              31.0  32.6  28.6  32.3
enhancing_sphericity              37.3  37.0  31.5  36.0
enhancing_spherical_disproportion 33.2  35.2  27.1  32.3
enhancing_max_diameter            30.7  32.2  26.2  29.4
enhancing_major_axis              36.5  37.7  30.6  39.1
enhancing_minor_axis              45.2  44.6  36.8  38.6
enhancing_compactness1            66.3  64.6  51.9  64.3
enhancing_compactness2            273.3 269.8 163.5 305.1
edema_volume                      114.7 120.7 96.5  129.9
edema_surface_area                66.4  70.6  59.0  67.6
edema_sa_v_ratio                  42.0  43.8  33.8  37.4
edema_sphericity                  27.4  26.3  25.9  27.3
edema_spherical_disproportion     27.8  28.7  23.2  29.5
edema_max_diameter                22.7  23.4  19.9  21.6
edema_major_axis                  24.7  26.5  22.9  23.4
edema_minor_axis                  36.0  37.9  32.1  34.8
edema_compactness1                43.3  42.7  40.8  43.4
edema_compactness2                131.1 127.3 108.0 141.9
"""


def _parse(text: str, columns, as_text: bool = False) -> pd.DataFrame:
    rows = [line.split() for line in text.strip().splitlines()]
    frame = pd.DataFrame([[v if as_text else float(v) for v in r[1:]] for r in rows],
                         index=[r[0] for r in rows], columns=list(columns))
    frame.index.name = "feature"
    return frame


#: Paper Table 3: MAE in original units per feature and model, measured min/max/mean.
PAPER_TABLE3 = _parse(_T3, [*(f"mae_{m}" for m in MODELS), "measured_min", "measured_max", "measured_mean"])
#: Paper Table 4: MAPE (%) per feature and model.
PAPER_TABLE4 = _parse(_T4, [f"mape_{m}" for m in MODELS])
#: The same, as printed in the paper (shown verbatim beside this run's numbers).
PAPER_TABLE3_TEXT = _parse(_T3, PAPER_TABLE3.columns, as_text=True)
PAPER_TABLE4_TEXT = _parse(_T4, PAPER_TABLE4.columns, as_text=True)
#: Features with adjusted p < 0.05 (pre-training + dropout vs linear regression), §3.2/§3.3.
PAPER_SIGNIFICANT_MAE = frozenset({"enhancing_major_axis"})
PAPER_SIGNIFICANT_MAPE = frozenset({"enhancing_major_axis", "enhancing_compactness2", "edema_volume"})
#: §3.1: mean final training and validation losses over the folds (MAE; the
#: autoencoder's is its MSE after retraining on all profiles).
PAPER_LOSSES = {
    "scratch": {"loss": 0.021, "val_loss": 0.143},
    "pretrain": {"loss": 0.022, "val_loss": 0.146},
    "pretrain_dropout": {"loss": 0.107, "val_loss": 0.134},
    "autoencoder": {"retrained_loss": 0.014},
}
#: §3.1: selected hyperparameters.
PAPER_SELECTED = {
    "autoencoder": {"activation": "tanh", "learning_rate": 0.2, "decay": 1e-5},
    "dnn": {"learning_rate": 0.3, "decay": 5e-5},
}
#: §2.1: cohort.
PAPER_COHORT = {"expression_patients": 528, "genes": 12042, "supervised_patients": 109}

