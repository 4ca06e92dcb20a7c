"""Expression ingestion: barcodes, Level-3 files, merged matrices, filters, standardisation."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from radiogenomics import expression
from radiogenomics.errors import RadiogenomicsError
from radiogenomics.expression import load_expression, parse_barcode, standardize

GENES = ["EGFR", "PTEN", "TP53", "VEGFA"]


def level3(path: Path, barcode: str, values, genes=GENES, gz: bool = False) -> Path:
    text = f"Hybridization REF\t{barcode}\nComposite Element REF\tSignal\n"
    text += "".join(f"{g}\t{v}\n" for g, v in zip(genes, values))
    path.parent.mkdir(parents=True, exist_ok=True)
    if gz:
        with gzip.open(path, "wt") as fh:
            fh.write(text)
    else:
        path.write_text(text)
    return path


def write_raw(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def cohort_dir(tmp_path):
    """Three patients, one with two primary aliquots, one normal and one recurrent file."""
    d = tmp_path / "level3"
    level3(d / "a.txt", "TCGA-02-0001-01A-01R-0177-01", [1.0, 2.0, 3.0, 4.0])
    level3(d / "b.txt", "TCGA-02-0003-01A-01R-0177-01", [2.0, 2.0, 5.0, 8.0])
    level3(d / "c.txt", "TCGA-02-0003-01B-02R-0911-01", [4.0, 2.0, 7.0, 6.0])  # duplicate aliquot
    level3(d / "d.txt", "TCGA-06-0125-01A-01R-1849-01", [6.0, 2.0, 1.0, 2.0])
    level3(d / "e.txt", "TCGA-06-0125-11A-01R-1849-01", [9.0, 9.0, 9.0, 9.0])  # normal
    level3(d / "f.txt", "TCGA-02-0001-02A-01R-1849-01", [0.0, 0.0, 0.0, 0.0])  # recurrent
    return d


# ----------------------------------------------------------------------- barcodes

@pytest.mark.parametrize("text, parts", [
    ("TCGA-06-0125-01A-01R-1849-01", dict(tss="06", participant="0125", sample_type="01", vial="A",
                                          portion="01", analyte="R", plate="1849", center="01")),
    ("TCGA-02-0003-01A-01", dict(tss="02", participant="0003", sample_type="01", vial="A", portion="01",
                                 analyte=None, plate=None, center=None)),
    ("TCGA-02-0003-01", dict(tss="02", participant="0003", sample_type="01", vial=None, portion=None)),
    ("TCGA-02-0003-11A", dict(sample_type="11", vial="A", portion=None)),
    ("TCGA-02-0003-01A-01R", dict(portion="01", analyte="R", plate=None)),
    ("TCGA-76-6664-01A-11R-1850-01", dict(tss="76", participant="6664", portion="11", plate="1850")),
    ("TCGA-02-0003", dict(sample_type=None)),
    (" TCGA-02-0003-01 ", dict(sample_type="01")),
])
def test_parse_barcode(text, parts):
    bc = parse_barcode(text)
    assert bc.project == "TCGA"
    assert bc.patient == text.strip()[:12]
    for key, value in parts.items():
        assert getattr(bc, key) == value, key


@pytest.mark.parametrize("text", [
    "", "TCGA-02-003", "TCGA-02-0003-1", "TCGA-02-0003-01A-1R", "tcga-02-0003-01", "TCGA_02_0003_01",
    "TCGA-02-0003-01A-01R-1849-1", "TCGA-02-0003-01A-01R-1849-01-99", "Signal", "TCGA-02-0003-01AB",
])
def test_parse_barcode_rejects(text):
    with pytest.raises(RadiogenomicsError, match="not a TCGA barcode"):
        parse_barcode(text)


def test_parse_barcode_error_names_source():
    with pytest.raises(RadiogenomicsError, match=r"some/file\.txt:1: 'XYZ'"):
        parse_barcode("XYZ", "some/file.txt", 1)


# ------------------------------------------------------------------------- level 3

def test_level3_directory(cohort_dir):
    frame = load_expression(cohort_dir)
    assert list(frame.index) == ["TCGA-02-0001", "TCGA-02-0003", "TCGA-06-0125"]
    assert frame.index.name == "patient"
    assert list(frame.columns) == GENES
    # duplicate aliquots of TCGA-02-0003 averaged gene by gene; 02 and 11 dropped
    np.testing.assert_allclose(frame.loc["TCGA-02-0003"], [3.0, 2.0, 6.0, 7.0])
    np.testing.assert_allclose(frame.loc["TCGA-02-0001"], [1.0, 2.0, 3.0, 4.0])
    np.testing.assert_allclose(frame.loc["TCGA-06-0125"], [6.0, 2.0, 1.0, 2.0])
    qc = frame.attrs["qc"].frame()
    assert qc.loc["input", "count"] == 6
    assert qc.loc["dropped_sample_type", "count"] == 2
    assert "TCGA-06-0125-11A-01R-1849-01 (11" in qc.loc["dropped_sample_type", "detail"]
    assert "TCGA-02-0001-02A-01R-1849-01 (02" in qc.loc["dropped_sample_type", "detail"]
    assert qc.loc["dropped_duplicate_aliquots", "count"] == 1
    assert "TCGA-02-0003" in qc.loc["dropped_duplicate_aliquots", "detail"]
    assert qc.loc["patients", "count"] == 3


def test_duplicates_first_and_error(cohort_dir):
    first = load_expression(cohort_dir, duplicates="first")
    # first in barcode order: ...-01A-01R-0177-01 (b.txt) before ...-01B-02R-0911-01
    np.testing.assert_allclose(first.loc["TCGA-02-0003"], [2.0, 2.0, 5.0, 8.0])
    with pytest.raises(RadiogenomicsError) as err:
        load_expression(cohort_dir, duplicates="error")
    msg = str(err.value)
    assert f"{cohort_dir / 'c.txt'}:1" in msg and "b.txt:1" in msg and "TCGA-02-0003" in msg


def test_sample_types_configurable(cohort_dir):
    frame = load_expression(cohort_dir, sample_types=("11",))
    assert list(frame.index) == ["TCGA-06-0125"]
    np.testing.assert_allclose(frame.iloc[0], [9.0] * 4)
    both = load_expression(cohort_dir, sample_types=["01", "02"])
    # TCGA-02-0001 now has a primary and a recurrent aliquot: averaged
    np.testing.assert_allclose(both.loc["TCGA-02-0001"], [0.5, 1.0, 1.5, 2.0])


def test_barcode_comes_from_header_not_name(tmp_path):
    d = tmp_path / "x"
    level3(d / "TCGA-99-9999-01A-01R-0000-01.txt", "TCGA-02-0001-01A-01R-0177-01", [1, 2, 3, 4])
    level3(d / "other.txt", "TCGA-02-0002-01A-01R-0177-01", [1, 2, 3, 5])
    assert list(load_expression(d).index) == ["TCGA-02-0001", "TCGA-02-0002"]


def test_short_barcodes_gz_and_gdc_layout(tmp_path):
    d = tmp_path / "gdc"
    level3(d / "0f1e-uuid" / "x.txt.gz", "TCGA-02-0003-01A-01", [1, 2, 3, 4], gz=True)
    level3(d / "9a2b-uuid" / "y.txt", "TCGA-02-0004-01", [2, 2, 3, 4])
    write_raw(d / "MANIFEST.txt", "id\tfilename\tmd5\n")
    write_raw(d / "9a2b-uuid" / "logs" / "y.txt.parcel", "binary")
    frame = load_expression(d)
    assert list(frame.index) == ["TCGA-02-0003", "TCGA-02-0004"]
    qc = frame.attrs["qc"].frame()
    assert qc.loc["skipped_files", "count"] == 2
    assert "MANIFEST.txt" in qc.loc["skipped_files", "detail"]


def test_genes_in_other_order_are_aligned(tmp_path):
    d = tmp_path / "x"
    level3(d / "a.txt", "TCGA-02-0001-01A", [1, 2, 3, 4])
    level3(d / "b.txt", "TCGA-02-0002-01A", [4, 3, 2, 1], genes=GENES[::-1])
    frame = load_expression(d)
    np.testing.assert_allclose(frame.loc["TCGA-02-0002"], [1, 2, 3, 4])


def test_gene_mismatch_error_and_intersect(tmp_path):
    d = tmp_path / "x"
    level3(d / "a.txt", "TCGA-02-0001-01A", [1, 2, 3, 4])
    level3(d / "b.txt", "TCGA-02-0002-01A", [1, 2, 3], genes=GENES[:3])
    level3(d / "c.txt", "TCGA-02-0003-01A", [5, 6, 7, 8, 9], genes=[*GENES, "MGMT"])
    with pytest.raises(RadiogenomicsError) as err:
        load_expression(d)
    msg = str(err.value)
    assert str(d / "b.txt") in msg and "VEGFA" in msg and "gene_mismatch" in msg
    frame = load_expression(d, gene_mismatch="intersect")
    assert list(frame.columns) == GENES[:3]
    np.testing.assert_allclose(frame.loc["TCGA-02-0003"], [5, 6, 7])
    qc = frame.attrs["qc"].frame()
    assert qc.loc["dropped_genes_mismatch", "count"] == 2  # VEGFA and MGMT
    assert "b.txt" in qc.loc["dropped_genes_mismatch", "detail"]


GOOD = "Hybridization REF\tTCGA-02-0009-01A-01R-0177-01\nComposite Element REF\tSignal\n"
BODY = "EGFR\t1.5\nPTEN\t2.5\nTP53\t3.5\nVEGFA\t4.5\n"


@pytest.mark.parametrize("text, line, what", [
    ("", 1, "empty file"),
    ("Hybridization\tTCGA-02-0009-01A\nComposite Element REF\tSignal\n" + BODY, 1, "Hybridization REF"),
    ("Hybridization REF\nComposite Element REF\tSignal\n" + BODY, 1, "Hybridization REF"),
    ("EGFR\t1.5\nPTEN\t2.5\n", 1, "Hybridization REF"),
    ("Hybridization REF\tTCGA-02-0009-01A\n", 2, "Composite Element REF"),
    ("Hybridization REF\tTCGA-02-0009-01A\nComposite Element REF\tValue\n" + BODY, 2, "Composite Element REF"),
    ("Hybridization REF\tTCGA-02-0009-01A\n" + BODY, 2, "Composite Element REF"),
    (GOOD, 3, "no gene rows"),
    (GOOD + "EGFR\t1.5\nPTEN\tabc\nTP53\t3.5\nVEGFA\t4.5\n", 4, "non-numeric value 'abc'"),
    (GOOD + "EGFR\t1.5\nPTEN\t2.5\nTP53\t3,5\nVEGFA\t4.5\n", 5, "non-numeric value '3,5'"),
    (GOOD + "EGFR\t1.5\nPTEN\tNA\nTP53\t3.5\nVEGFA\t4.5\n", 4, "missing value"),
    (GOOD + "EGFR\t1.5\nPTEN\tNaN\nTP53\t3.5\nVEGFA\t4.5\n", 4, "missing value"),
    (GOOD + "EGFR\t1.5\nPTEN\t2.5\nTP53\t\nVEGFA\t4.5\n", 5, "missing value"),
    (GOOD + "EGFR\t1.5\nPTEN\t2.5\nTP53\nVEGFA\t4.5\n", 5, "missing value"),
    (GOOD + "EGFR\tinf\nPTEN\t2.5\nTP53\t3.5\nVEGFA\t4.5\n", 3, "non-finite"),
    (GOOD + "EGFR\t1.5\nPTEN\t2.5\nTP53\t-Infinity\nVEGFA\t4.5\n", 5, "non-finite"),
    (GOOD + "EGFR\t1.5\nPTEN\t2.5\nEGFR\t3.5\nVEGFA\t4.5\n", 5, "duplicated gene row 'EGFR' (also on line 3)"),
    (GOOD + "EGFR\t1.5\nPTEN\t2.5\t7\nTP53\t3.5\nVEGFA\t4.5\n", 4, "expected 2 tab-separated fields"),
    (GOOD + "EGFR\t1.5\n\nTP53\t3.5\nVEGFA\t4.5\n", 4, "empty line"),
    (GOOD + "EGFR\t1.5\n\t2.5\nTP53\t3.5\nVEGFA\t4.5\n", 4, "empty gene symbol"),
    (GOOD + "EGFR\t1.5\nPTEN\t1_000\nTP53\t3.5\nVEGFA\t4.5\n", 4, "non-numeric value '1_000'"),
    (GOOD + "EGFR\t1.5\nPTEN\t2.5\t\nTP53\t3.5\nVEGFA\t4.5\n", 4, "expected 2 tab-separated fields"),
    ("Hybridization REF\tTCGA-2-9-01A\nComposite Element REF\tSignal\n" + BODY, 1, "not a TCGA barcode"),
    ("Hybridization REF\tsample_17\nComposite Element REF\tSignal\n" + BODY, 1, "not a TCGA barcode"),
    ("Hybridization REF\tTCGA-02-0009\nComposite Element REF\tSignal\n" + BODY, 1, "no sample type"),
])
def test_level3_bad_input(tmp_path, text, line, what):
    d = tmp_path / "x"
    level3(d / "good.txt", "TCGA-02-0001-01A-01R-0177-01", [1, 2, 3, 4])
    bad = write_raw(d / "bad.txt", text)
    with pytest.raises(RadiogenomicsError) as err:
        load_expression(d, blank_genes="error")   # (the default drops rows without a symbol)
    msg = str(err.value)
    assert f"{bad}:{line}:" in msg, msg
    assert what in msg, msg


def test_level3_trailing_blank_lines_are_fine(tmp_path):
    d = tmp_path / "x"
    write_raw(d / "a.txt", GOOD + BODY + "\n\n")
    np.testing.assert_allclose(load_expression(d).iloc[0], [1.5, 2.5, 3.5, 4.5])


def test_level3_crlf_line_endings(tmp_path):
    d = tmp_path / "x"
    write_raw(d / "a.txt", (GOOD + BODY).replace("\n", "\r\n"))
    frame = load_expression(d)
    np.testing.assert_allclose(frame.iloc[0], [1.5, 2.5, 3.5, 4.5])


def test_same_aliquot_twice_is_an_error(tmp_path):
    d = tmp_path / "x"
    level3(d / "a.txt", "TCGA-02-0001-01A-01R-0177-01", [1, 2, 3, 4])
    level3(d / "b.txt", "TCGA-02-0001-01A-01R-0177-01", [1, 2, 3, 5])
    with pytest.raises(RadiogenomicsError) as err:
        load_expression(d)  # whatever `duplicates` says
    msg = str(err.value)
    assert f"{d / 'b.txt'}:1" in msg and f"{d / 'a.txt'}:1" in msg


def test_no_patients_left(tmp_path):
    d = tmp_path / "x"
    level3(d / "a.txt", "TCGA-02-0001-11A-01R-0177-01", [1, 2, 3, 4])
    level3(d / "b.txt", "TCGA-02-0002-02A-01R-0177-01", [1, 2, 3, 4])
    with pytest.raises(RadiogenomicsError, match=r"no patients left after filtering.*'02', '11'"):
        load_expression(d)


def test_missing_or_empty_input(tmp_path):
    with pytest.raises(RadiogenomicsError, match="does not exist"):
        load_expression(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(RadiogenomicsError, match="no Level-3 expression files"):
        load_expression(tmp_path / "empty")


def test_bad_options(cohort_dir):
    with pytest.raises(RadiogenomicsError, match="expression.duplicates"):
        load_expression(cohort_dir, duplicates="median")
    with pytest.raises(RadiogenomicsError, match="expression.gene_mismatch"):
        load_expression(cohort_dir, gene_mismatch="union")


# -------------------------------------------------------------------------- matrix

def matrix_text(header0="gene", barcodes=("TCGA-02-0001-01A-01R-0177-01", "TCGA-02-0003-01A-01R-0177-01",
                                          "TCGA-02-0003-01B-02R-0911-01", "TCGA-06-0125-01A-01R-1849-01",
                                          "TCGA-06-0125-11A-01R-1849-01")):
    values = {
        "EGFR": [1, 2, 4, 6, 9], "PTEN": [2, 2, 2, 2, 9], "TP53": [3, 5, 7, 1, 9], "VEGFA": [4, 8, 6, 2, 9],
    }
    lines = ["\t".join([header0, *barcodes])]
    lines += ["\t".join([g, *map(str, v)]) for g, v in values.items()]
    return "\n".join(lines) + "\n"


def test_matrix_equals_directory(tmp_path, cohort_dir):
    path = write_raw(tmp_path / "m.tsv", matrix_text())
    frame = load_expression(path)
    expected = load_expression(cohort_dir)
    pd.testing.assert_frame_equal(frame, expected, check_names=True)
    assert frame.attrs["qc"].frame().loc["input", "count"] == 5


def test_matrix_gz_and_short_barcodes(tmp_path):
    path = tmp_path / "m.tsv.gz"
    with gzip.open(path, "wt") as fh:
        fh.write(matrix_text("sample", ("TCGA-02-0001-01", "TCGA-02-0003-01", "TCGA-02-0004-01A-01",
                                        "TCGA-06-0125-01", "TCGA-06-0125-11")))
    frame = load_expression(path)
    assert list(frame.index) == ["TCGA-02-0001", "TCGA-02-0003", "TCGA-02-0004", "TCGA-06-0125"]
    np.testing.assert_allclose(frame["EGFR"], [1, 2, 4, 6])


def test_matrix_cbioportal_entrez_column(tmp_path):
    text = ("Hugo_Symbol\tEntrez_Gene_Id\tTCGA-02-0001-01\tTCGA-02-0002-01\n"
            "EGFR\t1956\t1.0\t2.0\nPTEN\t\t3.0\t4.0\n")
    frame = load_expression(write_raw(tmp_path / "data_mrna.txt", text))
    assert list(frame.columns) == ["EGFR", "PTEN"]
    np.testing.assert_allclose(frame.to_numpy(), [[1.0, 3.0], [2.0, 4.0]])


def test_matrix_firehose_layout(tmp_path):
    text = ("Hybridization REF\tTCGA-02-0001-01A-01R-0177-01\tTCGA-02-0002-01A-01R-0177-01\n"
            "Composite Element REF\tSignal\tSignal\nEGFR\t1.0\t2.0\nPTEN\t3.0\t4.0\n")
    frame = load_expression(write_raw(tmp_path / "GBM.medianexp.txt", text))
    np.testing.assert_allclose(frame.to_numpy(), [[1.0, 3.0], [2.0, 4.0]])
    bad = write_raw(tmp_path / "bad.txt", text.replace("Signal\tSignal", "Signal\tlog2"))
    with pytest.raises(RadiogenomicsError, match=rf"{bad}:2:"):
        load_expression(bad)


@pytest.mark.parametrize("mutate, line, what", [
    (lambda t: t.replace("\t7\t", "\tx7\t"), 4, "non-numeric value 'x7' in column 'TCGA-02-0003-01B-02R-0911-01'"),
    (lambda t: t.replace("\t7\t", "\tNA\t"), 4, "missing value (NaN) in column 'TCGA-02-0003-01B-02R-0911-01'"),
    (lambda t: t.replace("\t7\t", "\tinf\t"), 4, "non-finite"),
    (lambda t: t.replace("PTEN", "EGFR"), 3, "duplicated gene row 'EGFR' (also on line 2)"),
    (lambda t: t.replace("TCGA-02-0003-01B-02R-0911-01", "TCGA-02-0003-01A-01R-0177-01"), 1, "appears twice"),
    (lambda t: t.replace("TCGA-06-0125-11A-01R-1849-01", "normal_1"), 1, "not a TCGA barcode"),
    (lambda t: t.replace("\t7\t", "\t7\t\t"), 4, "expected 6 tab-separated fields"),
    (lambda t: t.split("\n")[0] + "\n", 2, "no gene rows"),
    (lambda t: "", 1, "empty file"),
])
def test_matrix_bad_input(tmp_path, mutate, line, what):
    path = write_raw(tmp_path / "m.tsv", mutate(matrix_text()))
    with pytest.raises(RadiogenomicsError) as err:
        load_expression(path)
    msg = str(err.value)
    assert f"{path}:{line}:" in msg, msg
    assert what in msg, msg


def test_matrix_two_aliquots_one_patient_with_duplicates_error(tmp_path):
    path = write_raw(tmp_path / "m.tsv", matrix_text())
    with pytest.raises(RadiogenomicsError, match=rf"{path}:1: aliquot .* are both patient TCGA-02-0003"):
        load_expression(path, duplicates="error")


# ------------------------------------------------------------------ standardisation

def hand_frame():
    return pd.DataFrame(
        {"G1": [1.0, 2.0, 4.0], "G2": [5.0, 5.0, 5.0], "G3": [0.0, 10.0, 20.0]},
        index=pd.Index(["P1", "P2", "P3"], name="patient"),
    )


def test_standardize_range_by_hand():
    qc = expression._new_qc()
    out = standardize(hand_frame(), qc=qc)
    # G1: mean 7/3, range 3 -> (-4/9, -1/9, 5/9); G2 constant: dropped; G3: mean 10, range 20
    expected = pd.DataFrame({"G1": [-4 / 9, -1 / 9, 5 / 9], "G3": [-0.5, 0.0, 0.5]},
                            index=hand_frame().index)
    pd.testing.assert_frame_equal(out, expected, check_exact=False, rtol=0, atol=1e-12)
    assert out.attrs["constant_genes"] == ["G2"]
    table = qc.frame()
    assert table.loc["dropped_constant_genes", "count"] == 1
    assert table.loc["dropped_constant_genes", "detail"] == "G2"
    assert table.loc["genes", "count"] == 2


def test_standardize_zscore_by_hand():
    out = standardize(hand_frame(), method="zscore")
    sd1 = np.sqrt(((1 - 7 / 3) ** 2 + (2 - 7 / 3) ** 2 + (4 - 7 / 3) ** 2) / 2)  # sqrt(7/3)
    assert sd1 == pytest.approx(np.sqrt(7 / 3))
    np.testing.assert_allclose(out["G1"], [(1 - 7 / 3) / sd1, (2 - 7 / 3) / sd1, (4 - 7 / 3) / sd1])
    np.testing.assert_allclose(out["G3"], [-1.0, 0.0, 1.0])
    assert "G2" not in out


def test_standardize_errors():
    with pytest.raises(RadiogenomicsError, match="at least 2 patients"):
        standardize(hand_frame().iloc[:1])
    with pytest.raises(RadiogenomicsError, match="every gene is constant"):
        standardize(hand_frame()[["G2"]])
    with pytest.raises(RadiogenomicsError, match="expression.standardize"):
        standardize(hand_frame(), method="minmax")
    bad = hand_frame()
    bad.iloc[0, 0] = np.nan
    with pytest.raises(RadiogenomicsError, match="NaN"):
        standardize(bad)


# ------------------------------------------------------------------- rule function

def test_ingest_writes_standardised_matrix_and_qc(tmp_path, cohort_dir):
    out, qc = tmp_path / "out" / "expression.tsv", tmp_path / "out" / "qc.tsv"
    expression.ingest(cohort_dir, out, qc)
    table = pd.read_csv(out, sep="\t", index_col=0)
    assert table.index.name == "patient"
    raw = np.array([[1.0, 2.0, 3.0, 4.0], [3.0, 2.0, 6.0, 7.0], [6.0, 2.0, 1.0, 2.0]])
    keep = [0, 2, 3]  # PTEN is constant across the three patients
    x = raw[:, keep]
    expected = (x - x.mean(axis=0)) / (x.max(axis=0) - x.min(axis=0))
    assert list(table.columns) == ["EGFR", "TP53", "VEGFA"]
    np.testing.assert_allclose(table.to_numpy(), expected, atol=1e-7)
    qct = pd.read_csv(qc, sep="\t", index_col=0, keep_default_na=False)
    assert qct.loc["dropped_constant_genes", "detail"] == "PTEN"
    assert qct.loc["dropped_sample_type", "count"] == 2
    assert qct.loc["patients", "count"] == 3 and qct.loc["genes", "count"] == 3


@pytest.mark.parametrize("bad_text", [
    GOOD + "EGFR\t1.5\nPTEN\tabc\nTP53\t3.5\nVEGFA\t4.5\n",
    "",
])
def test_ingest_writes_nothing_on_failure(tmp_path, cohort_dir, bad_text):
    write_raw(cohort_dir / "zz_bad.txt", bad_text)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    with pytest.raises(RadiogenomicsError, match="zz_bad.txt:"):
        expression.ingest(cohort_dir, out_dir / "expression.tsv", out_dir / "qc.tsv")
    assert os.listdir(out_dir) == []


def test_duplicate_gene_policies(tmp_path):
    text = ("gene\tTCGA-02-0001-01\tTCGA-02-0002-01\n"
            "EGFR\t1.0\t2.0\nPTEN\t3.0\t4.0\nEGFR\t5.0\t6.0\n")
    path = write_raw(tmp_path / "m.tsv", text)
    with pytest.raises(RadiogenomicsError, match=rf"^{path}:4: duplicated gene row 'EGFR' \(also on line 2\); 1 extra"):
        load_expression(path)
    first = load_expression(path, duplicate_genes="first")
    assert list(first.columns) == ["EGFR", "PTEN"]
    np.testing.assert_allclose(first["EGFR"], [1.0, 2.0])
    mean = load_expression(path, duplicate_genes="mean")
    np.testing.assert_allclose(mean["EGFR"], [3.0, 4.0])
    qc = mean.attrs["qc"].frame()
    assert qc.loc["merged_duplicate_genes", "count"] == 1 and "EGFR (averaged)" in qc.loc["merged_duplicate_genes", "detail"]
    with pytest.raises(RadiogenomicsError, match="expression.duplicate_genes: expected one of"):
        load_expression(path, duplicate_genes="sum")
