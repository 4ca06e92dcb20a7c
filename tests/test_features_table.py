"""Targets from the data: the names module, data.features_table (reading and every bad-input
message), and the stages that follow the features table's columns instead of the 20 constants."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from radiogenomics import cohort, evaluation, features_table as T, names, plots, summary, verdict
from radiogenomics.configuration import validate
from radiogenomics.errors import RadiogenomicsError

REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"

#: Seven PyRadiomics-style columns (as a PyRadiomics batch output names them).
RADIOMICS = ["original_shape_Elongation", "original_shape_Flatness", "original_shape_MeshVolume",
             "original_shape_Sphericity", "original_shape_SurfaceArea", "original_shape_Maximum3DDiameter",
             "original_shape_MajorAxisLength"]


# ------------------------------------------------------------------------ names
def test_models_are_defined_once_and_every_stage_uses_them():
    assert names.NETWORKS == ("scratch", "pretrain", "pretrain_dropout")
    assert names.MODELS == (*names.NETWORKS, names.REFERENCE)
    assert names.MODEL_ORDER == (*names.MODELS, names.NULL_MODEL)
    assert names.GRID_NETWORK in names.NETWORKS
    assert evaluation.MODEL_ORDER == names.MODEL_ORDER
    assert summary.MODELS == names.MODELS
    from radiogenomics import null_model

    assert null_model.NAME == names.NULL_MODEL
    # the three display names of a model, and an unknown model shown by its name
    assert names.head("pretrain_dropout") == "NN, pre-train + dropout"
    assert plots.model_label("elastic_net") == names.label("elastic_net") == "elastic net (linear regression)"
    assert names.phrase("scratch") == "network without pre-training"
    assert names.head("lasso") == names.label("lasso") == names.phrase("lasso") == "lasso"
    assert set(names.MODEL_INFO) == {*names.MODEL_ORDER, "autoencoder"}


def test_known_and_unknown_feature_columns():
    assert names.describe("enhancing_volume") == ("enhancing", "volume", "cm³")
    assert names.describe("edema_sphericity") == ("edema", "sphericity", "")
    # an unknown column: its name and no unit, unless the units mapping gives one
    assert names.describe("original_shape_Elongation") == ("", "original_shape_Elongation", "")
    assert names.describe("original_shape_MeshVolume", {"original_shape_MeshVolume": "mm³"}) == (
        "", "original_shape_MeshVolume", "mm³")
    assert names.unit("enhancing_volume", {"enhancing_volume": "mm³"}) == "mm³"
    assert names.unit("VOLUME_ET") == ""
    assert summary.feature_row_label("edema_max_diameter") == "edema max diameter (mm)"
    assert summary.feature_row_label("original_shape_Flatness") == "original_shape_Flatness"
    assert summary.feature_row_label("original_shape_MeshVolume", "mm³") == "original_shape_MeshVolume (mm³)"
    assert plots.short_label("enhancing_major_axis") == "enh. major axis"
    assert plots.short_label("original_shape_Flatness") == "original_shape_Flatness"
    assert names.is_paper_feature_set(reversed(names.IMAGE_FEATURES))
    assert not names.is_paper_feature_set(names.IMAGE_FEATURES[:7])
    with pytest.raises(ValueError, match="not an image feature name"):
        names.split_feature("original_shape_Elongation")


# --------------------------------------------------------------- features table
def write_table(path: Path, header, rows, sep=",") -> Path:
    path.write_text("\n".join(sep.join(map(str, r)) for r in [header, *rows]) + "\n", encoding="utf-8")
    return path


def radiomics_rows(n=5, seed=0):
    rng = np.random.default_rng(seed)
    return [[f"TCGA-02-{i:04d}", "x.nii.gz", *np.round(rng.uniform(0.2, 2.0, len(RADIOMICS)), 6)]
            for i in range(1, n + 1)]


def spec_of(path, **keys):
    return {"file": str(path), "patient_column": "ID", **keys}


def test_read_a_radiomics_table_by_regex_and_by_list(tmp_path):
    rows = radiomics_rows()
    rows[2][2 + 3] = ""     # a missing value: that patient is left out
    rows[4][0] = "TCGA-02-0005-01A"  # a sample barcode: its patient
    path = write_table(tmp_path / "pyradiomics.csv", ["ID", "Mask", *RADIOMICS, "diagnostics_Versions"],
                       [[*r, "v3.1"] for r in rows])
    spec = spec_of(path, regex="^original_shape_", units={"original_shape_MeshVolume": "mm³"})
    assert T.feature_columns(spec) == RADIOMICS == T.target_columns(spec)
    features, missing = T.read_features_table(spec)
    assert list(features.columns) == RADIOMICS
    assert list(features.index) == ["TCGA-02-0001", "TCGA-02-0002", "TCGA-02-0004", "TCGA-02-0005"]
    assert features.index.name == "patient"
    assert features.loc["TCGA-02-0001", RADIOMICS[0]] == pytest.approx(float(rows[0][2]))
    assert list(missing.index) == ["TCGA-02-0003"]
    assert missing.loc["TCGA-02-0003", "missing_features"] == "original_shape_Sphericity"
    assert f"{path}:4" in missing.loc["TCGA-02-0003", "note"]
    # a list keeps its own order; a TSV is told apart from a CSV by its header
    chosen = RADIOMICS[3::-1]
    tsv = write_table(tmp_path / "f.tsv", ["ID", *RADIOMICS], [[r[0], *r[2:]] for r in radiomics_rows()], sep="\t")
    assert list(T.read_features_table(spec_of(tsv, columns=chosen))[0].columns) == chosen
    assert T.target_columns(None) == list(names.IMAGE_FEATURES)


def test_missing_values_follow_features_missing_region(tmp_path):
    rows = radiomics_rows()
    rows[1][3] = "NA"
    path = write_table(tmp_path / "t.csv", ["ID", "Mask", *RADIOMICS], rows)
    with pytest.raises(RadiogenomicsError, match=rf"{path}:3: patient TCGA-02-0002 has no value in column "
                                                 r"'original_shape_Flatness'; features.missing_region is 'error'"):
        T.read_features_table(spec_of(path, regex="shape"), missing_region="error")
    _, missing = T.read_features_table(spec_of(path, regex="shape"), missing_region="exclude")
    assert list(missing.index) == ["TCGA-02-0002"]


@pytest.mark.parametrize("case, message", [
    ("no file", r"data.features_table.file: cannot read .*absent.csv \(No such file or directory\)"),
    ("no patient column", r"t.csv: no patient column 'Patient' \(data.features_table.patient_column; "
                          r"the file has 'ID', 'Mask'"),
    ("named column missing", r"t.csv: no column 'original_shape_Volume' \(data.features_table.columns; the file has"),
    ("regex matches nothing", r"t.csv: data.features_table.regex '\^wavelet' matches none of the 8 feature columns"),
    ("bad regex", r"data.features_table.regex: not a valid regular expression"),
    ("non-numeric", r"t.csv:3: column 'original_shape_Flatness' of patient TCGA-02-0002: 'abc' is not a "
                    r"finite number"),
    ("infinite", r"t.csv:2: column 'original_shape_Elongation' of patient TCGA-02-0001: 'inf' is not a finite"),
    ("duplicate patient", r"t.csv:5: patient TCGA-02-0002 appears twice \(also on line 3\)"),
    ("same patient, longer barcode", r"t.csv:5: patient TCGA-02-0002 appears twice \(also on line 3\)"),
    ("not a barcode", r"t.csv:4: 'BraTS20_Training_003' in column 'ID' is not a TCGA patient ID"),
    ("short row", r"t.csv:3: 8 cells, the header has 9"),
    ("column twice", r"t.csv:1: column 'original_shape_Flatness' appears twice in the header"),
    ("unit of another column", r"data.features_table.units: 'VOLUME_ET' is not one of the chosen feature columns"),
    ("patient column chosen", r"data.features_table.columns: 'ID' is the patient column, not a feature"),
    ("unsafe column name", r"t.csv: column 'a/b' cannot name the per-feature result folders"),
    ("empty file", r"t.csv: empty file"),
])
def test_every_bad_input_names_the_file_line_or_key(tmp_path, case, message):
    header = ["ID", "Mask", *RADIOMICS]
    rows = radiomics_rows()
    keys = {"regex": "^original_"}
    if case == "no patient column":
        keys["patient_column"] = "Patient"
    elif case == "named column missing":
        keys = {"columns": [RADIOMICS[0], "original_shape_Volume"]}
    elif case == "regex matches nothing":
        keys = {"regex": "^wavelet"}
    elif case == "bad regex":
        keys = {"regex": "(unclosed"}
    elif case == "non-numeric":
        rows[1][3] = "abc"
    elif case == "infinite":
        rows[0][2] = "inf"
    elif case == "duplicate patient":
        rows[3][0] = rows[1][0]
    elif case == "same patient, longer barcode":
        rows[3][0] = rows[1][0] + "-01A"
    elif case == "not a barcode":
        rows[2][0] = "BraTS20_Training_003"
    elif case == "short row":
        rows[1] = rows[1][:-1]
    elif case == "column twice":
        header[-1] = RADIOMICS[1]
    elif case == "unit of another column":
        keys["units"] = {"VOLUME_ET": "mm³"}
    elif case == "patient column chosen":
        keys = {"columns": ["ID", RADIOMICS[0]]}
    elif case == "unsafe column name":
        header[2] = "a/b"
        keys = {"columns": ["a/b"]}
    path = write_table(tmp_path / "t.csv", header, rows)
    if case == "empty file":
        path.write_text("")
    if case == "no file":
        path = tmp_path / "absent.csv"
    with pytest.raises(RadiogenomicsError, match=message) as info:
        T.read_features_table({"file": str(path), "patient_column": "ID", **keys})
    assert "\n" not in str(info.value)  # one line


def test_config_key_is_validated():
    def config(table):
        return {"seed": 1, "data": {"expression": "e", "segmentations": "s", "features_table": table},
                "demo": {}, "expression": {}, "features": {}, "cv": {},
                "autoencoder": {"grid": {"learning_rate": [0.1], "decay": [0.0], "activation": ["tanh"]}},
                "dnn": {"grid": {"learning_rate": [0.1], "decay": [0.0]}}, "baseline": {}}

    assert validate(config(None), SCHEMA)["data"]["features_table"] is None
    filled = validate(config({"file": "f.csv", "patient_column": "ID", "regex": "^original_"}), SCHEMA)
    assert filled["data"]["features_table"]["units"] == {}
    assert validate(config(None) | {"data": {"expression": "e", "segmentations": "s"}}, SCHEMA)[
        "data"]["features_table"] is None
    with pytest.raises(RadiogenomicsError, match="set exactly one of columns"):
        validate(config({"file": "f.csv", "patient_column": "ID", "regex": "a", "columns": ["b"]}), SCHEMA)
    with pytest.raises(RadiogenomicsError, match="set exactly one of columns"):
        validate(config({"file": "f.csv", "patient_column": "ID"}), SCHEMA)
    with pytest.raises(RadiogenomicsError, match="data.features_table"):
        validate(config({"file": "f.csv", "patient_column": "ID", "regex": "a", "unit": {}}), SCHEMA)
    # data.segmentations is needed only to extract the features
    table = {"file": "f.csv", "patient_column": "ID", "regex": "a"}
    no_segmentations = config(table)
    del no_segmentations["data"]["segmentations"]
    assert "segmentations" not in validate(no_segmentations, SCHEMA)["data"]
    no_segmentations = config(None)
    del no_segmentations["data"]["segmentations"]
    with pytest.raises(RadiogenomicsError, match="config key data.segmentations: required"):
        validate(no_segmentations, SCHEMA)


# ------------------------------------------------- stages follow the columns present
def test_cohort_scales_and_describes_the_columns_present():
    feats = pd.DataFrame({"original_shape_Flatness": [0.5, 0.8, np.nan], "VOLUME_ET": [10.0, 20.0, 5.0]},
                         index=pd.Index(["TCGA-02-0001", "TCGA-02-0002", "TCGA-02-0003"], name="patient"))
    manifest = cohort.build_manifest(list(feats.index), feats, features_source="radiomics.csv")
    assert manifest.loc["TCGA-02-0001", "note"] == "supervised: expression and all 2 image features"
    assert manifest.loc["TCGA-02-0003", "note"] == ("missing value of original_shape_Flatness: excluded from "
                                                    "supervised learning")
    missing = pd.DataFrame({"missing_features": ["VOLUME_ET"], "note": ["n"]},
                           index=pd.Index(["TCGA-02-0009"], name="patient"))
    out = cohort.build_manifest(["TCGA-02-0001", "TCGA-02-0004"], feats.iloc[:2], missing=missing,
                                features_source="radiomics.csv")
    assert out.loc["TCGA-02-0009", "note"].startswith("no expression profile; missing value of VOLUME_ET")
    assert out.loc["TCGA-02-0004", "note"].startswith("not in radiomics.csv")
    with pytest.raises(RadiogenomicsError, match="patient TCGA-02-0009 has no value of VOLUME_ET"):
        cohort.build_manifest(["TCGA-02-0001"], feats.iloc[:2], "error", missing=missing)
    scaled, factors = cohort.scale_supervised(feats, manifest, units={"VOLUME_ET": "cm³"})
    assert list(factors.index) == ["original_shape_Flatness", "VOLUME_ET"]
    assert list(factors["unit"]) == ["", "cm³"]
    assert scaled.max().tolist() == [1.0, 1.0]


def test_evaluation_tables_summary_and_verdict_follow_the_columns(tmp_path):
    rng = np.random.default_rng(3)
    patients = [f"TCGA-02-{i:04d}" for i in range(30)]
    measured = pd.DataFrame(rng.uniform(0.2, 1.0, (30, 7)), index=patients, columns=RADIOMICS)
    folds = pd.Series(np.arange(30) % 3 + 1, index=patients)
    preds = {m: measured + rng.normal(0, 0.05 * (i + 1), measured.shape) for i, m in enumerate(names.MODELS)}
    scale = pd.DataFrame({"scale": 2.0, "unit": ["", "", "mm³", "", "", "", ""]},
                         index=pd.Index(RADIOMICS, name="feature"))
    tables = evaluation.evaluate(measured, preds, scale, folds=folds, n_resamples=50, seed=1)
    assert list(tables["table3"].index) == RADIOMICS == list(tables["table4"].index)
    assert set(tables["per_feature"]["feature"]) == set(RADIOMICS)
    assert tables["table3"].loc["original_shape_MeshVolume", "unit"] == "mm³"
    assert tables["table3"].loc["original_shape_Flatness", "label"] == "original_shape_Flatness"
    assert (tables["table3"]["region"] == "").all()
    md = summary.summary_markdown(tables, title="t")
    assert "Average over the 7 features" in md and "Average over the 20" not in md
    assert "not the paper's 20" in md
    assert "| original_shape_MeshVolume (mm³) |" in md
    # no paper numbers beside averages over other features (Table 2 cells read "run" only)
    assert "(0.1342)" not in md and "[paper" not in md
    lines = verdict.verdict_lines(tables["table2"], tables["differences"], n_features=7)
    assert any("of 7 features" in line for line in lines)
    page = summary.landing_page((REPO / "workflow" / "report" / "workflow.rst").read_text(), lines,
                                features=RADIOMICS, features_table="radiomics.csv")
    assert "predicts the 7 image features of\nradiomics.csv (data.features_table)" in page
    assert "20 morphology" not in page and "all 7 image features" in page
    plots.plot_error_scatter(tables["per_feature"], tmp_path / "f3.png", dpi=50)
    assert (tmp_path / "f3.png").stat().st_size > 0
    assert math.isfinite(tables["table2"].loc[names.GRID_NETWORK, "mean_mae"])
