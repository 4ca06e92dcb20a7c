"""The README's "Running on real data" blocks, run on files written as they are published.

Each ``<!-- readme-config: NAME -->`` block of README.md is read from the README itself,
merged over the tiny config, validated by the schema and then used exactly as the rules use
it, on fixture files with the published names and header lines (values synthetic). All
microarray layouts carry the same numbers, so they must give the same matrix. Then the bad
variants of each layout (one line naming the file, nothing written) and one end-to-end run
of the workflow from a TCIA tree and a cBioPortal matrix.
"""

from __future__ import annotations

import copy
import gzip
import re

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import REPO, snakemake, tiny_config, workflow_dir
from radiogenomics import configuration, features
from radiogenomics.cohort import find_segmentations, patient_map_from, read_patient_map, segmentation_inventory
from radiogenomics.errors import RadiogenomicsError
from radiogenomics.expression import ingest, load_expression

SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"
PATIENTS = [f"TCGA-02-{i:04d}" for i in range(1, 7)]
GENES = ["EGFR", "PTEN", "TP53", "IDH1", "MGMT", "CDKN2A"]
RNG = np.random.default_rng(5)
VALUES = np.round(RNG.uniform(3, 12, size=(len(GENES), len(PATIENTS))), 4)   # genes x patients
ALIQUOTS = [f"{p}-01A-01R-0{i}77-01" for i, p in enumerate(PATIENTS)]


def readme_blocks() -> dict[str, dict]:
    text = (REPO / "README.md").read_text()
    blocks = dict(re.findall(r"<!-- readme-config: (\w+) -->\n```yaml\n(.*?)```", text, flags=re.S))
    return {name: yaml.safe_load(body) for name, body in blocks.items()}


def relocate(value, data_root):
    """The block with every path that starts with /data/ moved under data_root."""
    if isinstance(value, dict):
        return {k: relocate(v, data_root) for k, v in value.items()}
    if isinstance(value, str) and value.startswith("/data/"):
        return str(data_root) + value[len("/data"):]
    return value


def config_for(name: str, data_root) -> dict:
    block = relocate(readme_blocks()[name], data_root)
    cfg = tiny_config(demo={"enabled": False},
                      data={"expression": "unused", "segmentations": "unused"})
    for section, values in block.items():
        cfg.setdefault(section, {}).update(values)
    return configuration.validate(copy.deepcopy(cfg), SCHEMA)


def load(cfg: dict) -> pd.DataFrame:
    """load_expression with the config as the expression rule passes it."""
    e = cfg["expression"]
    return load_expression(cfg["data"]["expression"], sample_types=e["sample_types"], duplicates=e["duplicates"],
                           gene_mismatch=e["gene_mismatch"], sample_sheet=cfg["data"]["sample_sheet"],
                           blank_genes=e["blank_genes"], duplicate_genes=e["duplicate_genes"],
                           missing_values=e["missing_values"], rnaseq=dict(e["rnaseq"]))


def segmentations(cfg: dict):
    d = cfg["data"]
    spec = d["patient_map"]
    mapping = patient_map_from(spec)
    return (find_segmentations(d["segmentations"], d["segmentation_glob"], d["patient_regex"],
                               d["prefer_segmentation"], patient_map=mapping),
            segmentation_inventory(d["segmentations"], d["segmentation_glob"], d["patient_regex"],
                                   d["prefer_segmentation"], patient_map=mapping,
                                   map_source=spec["file"] if spec else ""))   # as collect_features


def expected() -> pd.DataFrame:
    return pd.DataFrame(VALUES.T, index=pd.Index(PATIENTS, name="patient"), columns=GENES)


def matrix_rows(extra=()):
    rows = [(g, VALUES[i]) for i, g in enumerate(GENES)]
    return rows + list(extra)


def test_every_source_has_a_block():
    assert set(readme_blocks()) == {"cbioportal", "xena", "firehose", "r", "level3", "gdc_rnaseq",
                                    "tcia", "brats2020", "brats2021", "brats2023"}


# ---------------------------------------------------------------------------------------
# microarray layouts


def write_cbioportal(root, extra_text=""):
    path = root / "gbm_tcga" / "data_mrna_affymetrix_microarray.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["Hugo_Symbol\tEntrez_Gene_Id\t" + "\t".join(p + "-01" for p in PATIENTS)]
    entrez = {"EGFR": 1956, "PTEN": 5728, "TP53": 7157, "IDH1": 3417, "MGMT": 4255, "CDKN2A": 1029}
    for gene, row in matrix_rows():
        lines.append(f"{gene}\t{entrez[gene]}\t" + "\t".join(f"{v:g}" for v in row))
    lines.append("\t100131754\t" + "\t".join("5.5" for _ in PATIENTS))            # no symbol: dropped
    lines.append("PTEN\t5728\t" + "\t".join(f"{v + 1:g}" for v in VALUES[1]))     # PTEN twice: averaged
    path.write_text("\n".join(lines) + "\n" + extra_text)
    return path


def test_cbioportal(tmp_path):
    write_cbioportal(tmp_path)
    frame = load(config_for("cbioportal", tmp_path))
    want = expected()
    want["PTEN"] = want["PTEN"] + 0.5
    pd.testing.assert_frame_equal(frame, want, check_names=False)
    qc = frame.attrs["qc"].frame()
    assert qc.loc["dropped_blank_genes", "count"] == 1 and "line(s) 8" in qc.loc["dropped_blank_genes", "detail"]
    assert qc.loc["merged_duplicate_genes", "count"] == 1 and "PTEN" in qc.loc["merged_duplicate_genes", "detail"]


def test_cbioportal_na_cell_is_an_error_naming_it_and_counting(tmp_path):
    path = write_cbioportal(tmp_path, "MDM2\t4193\t" + "\t".join(["NA", "", "1", "2", "3", "NA"]) + "\n")
    with pytest.raises(RadiogenomicsError, match=rf"^{path}:10: missing value \(NaN\) in column 'TCGA-02-0001-01' "
                                                 r"for gene 'MDM2' \(3 missing cell\(s\)"):
        load(config_for("cbioportal", tmp_path))
    cfg = config_for("cbioportal", tmp_path)
    cfg["expression"]["missing_values"] = "drop_gene"
    frame = load(cfg)
    assert "MDM2" not in frame.columns and frame.attrs["qc"].frame().loc["dropped_genes_missing_values", "count"] == 1
    cfg["expression"]["missing_values"] = "impute_mean"
    frame = load(cfg)
    assert frame.loc["TCGA-02-0002", "MDM2"] == pytest.approx(2.0)                 # mean of 1, 2, 3
    assert frame.attrs["qc"].frame().loc["imputed_missing_values", "count"] == 3


def test_xena(tmp_path):
    path = tmp_path / "xena" / "HT_HG-U133A.gz"
    path.parent.mkdir()
    text = "sample\t" + "\t".join(p + "-01" for p in PATIENTS) + "\n"
    text += "".join(f"{g}\t" + "\t".join(f"{v:g}" for v in row) + "\n" for g, row in matrix_rows())
    with gzip.open(path, "wt") as fh:
        fh.write(text)
    pd.testing.assert_frame_equal(load(config_for("xena", tmp_path)), expected(), check_names=False)


def write_firehose(root):
    path = root / "firehose" / "GBM.transcriptome__ht_hg_u133a__broad_mit_edu__Level_3__gene_rma__data.data.txt"
    path.parent.mkdir(parents=True)
    text = "Hybridization REF\t" + "\t".join(ALIQUOTS) + "\n"
    text += "Composite Element REF\t" + "\t".join("Signal" for _ in ALIQUOTS) + "\n"
    text += "".join(f"{g}\t" + "\t".join(f"{v:g}" for v in row) + "\n" for g, row in matrix_rows())
    path.write_text(text)
    return path


def test_firehose(tmp_path):
    write_firehose(tmp_path)
    pd.testing.assert_frame_equal(load(config_for("firehose", tmp_path)), expected(), check_names=False)


def test_r_write_table(tmp_path):
    """R's write.table(assay(x), sep = "\\t"): quoted names, no header cell for the row names."""
    path = tmp_path / "r" / "gbm_u133a.tsv"
    path.parent.mkdir()
    text = "\t".join(f'"{a}"' for a in ALIQUOTS) + "\n"
    text += "".join(f'"{g}"\t' + "\t".join(f"{v:g}" for v in row) + "\n" for g, row in matrix_rows())
    path.write_text(text)
    pd.testing.assert_frame_equal(load(config_for("r", tmp_path)), expected(), check_names=False)
    # col.names = NA writes an empty first header cell instead: the same matrix
    path.write_text('""\t' + text)
    pd.testing.assert_frame_equal(load(config_for("r", tmp_path)), expected(), check_names=False)


def test_level3_directory(tmp_path):
    for k, (aliquot, column) in enumerate(zip(ALIQUOTS, VALUES.T)):
        d = tmp_path / "level3" / f"{k:08x}-0000-4000-8000-000000000000"      # gdc-client: one folder per file
        d.mkdir(parents=True)
        body = "".join(f"{g}\t{v:g}\n" for g, v in zip(GENES, column))
        (d / f"broad.mit.edu_GBM.HT_HG-U133A.{k}.level3.data.txt").write_text(
            f"Hybridization REF\t{aliquot}\nComposite Element REF\tSignal\n{body}")
    (tmp_path / "level3" / "MANIFEST.txt").write_text("id\tfilename\tmd5\tsize\tstate\n")
    frame = load(config_for("level3", tmp_path))
    pd.testing.assert_frame_equal(frame, expected(), check_names=False)
    assert frame.attrs["qc"].frame().loc["skipped_files", "detail"] == "MANIFEST.txt"


# ---------------------------------------------------------------------------------------
# GDC RNA-seq

STAR_HEADER = ("gene_id\tgene_name\tgene_type\tunstranded\tstranded_first\tstranded_second\ttpm_unstranded\t"
               "fpkm_unstranded\tfpkm_uq_unstranded")
SHEET_HEADER = "File ID\tFile Name\tData Category\tData Type\tProject ID\tCase ID\tSample ID\tSample Type"
ENSEMBL = {"EGFR": "ENSG00000146648.18", "PTEN": "ENSG00000171862.11", "TP53": "ENSG00000141510.18",
           "IDH1": "ENSG00000138413.14", "MGMT": "ENSG00000170430.10", "CDKN2A": "ENSG00000147889.18"}


def write_gdc(root, n=len(PATIENTS)):
    d = root / "gdc" / "star_counts"
    sheet = [SHEET_HEADER]
    tpm = np.round(2.0 ** VALUES - 1.0, 6)          # log2(tpm + 1) == VALUES
    for k in range(n):
        uuid = f"{k:08x}-1111-4222-8333-444455556666"
        name = f"{uuid}.rna_seq.augmented_star_gene_counts.tsv"
        (d / uuid).mkdir(parents=True)
        rows = ["# gene-model: GENCODE v36", STAR_HEADER,
                "N_unmapped\t\t\t2617084\t2617084\t2617084\t\t\t",
                "N_multimapping\t\t\t5349183\t5349183\t5349183\t\t\t",
                "N_noFeature\t\t\t2066521\t33213394\t33269745\t\t\t",
                "N_ambiguous\t\t\t4321395\t1069452\t1070004\t\t\t"]
        for i, gene in enumerate(GENES):
            rows.append(f"{ENSEMBL[gene]}\t{gene}\tprotein_coding\t{100 * i + k}\t{50 + k}\t{50 + i}\t"
                        f"{tpm[i, k]:.6f}\t{tpm[i, k] / 3:.4f}\t{tpm[i, k] / 2:.4f}")
        rows.append(f"ENSG00000223972.5\tDDX11L1\ttranscribed_unprocessed_pseudogene\t0\t0\t0\t0.0000\t0.0000\t0.0000")
        (d / uuid / name).write_text("\n".join(rows) + "\n")
        sheet.append(f"{uuid}\t{name}\tTranscriptome Profiling\tGene Expression Quantification\tTCGA-GBM\t"
                     f"{PATIENTS[k]}\t{PATIENTS[k]}-01A\tPrimary Tumor")
    path = root / "gdc" / "gdc_sample_sheet.2026-12-01.tsv"
    path.write_text("\n".join(sheet) + "\n")
    return d, path


def test_gdc_rnaseq(tmp_path):
    write_gdc(tmp_path)
    frame = load(config_for("gdc_rnaseq", tmp_path))
    pd.testing.assert_frame_equal(frame, expected(), check_names=False, atol=1e-5)
    qc = frame.attrs["qc"].frame()
    assert qc.loc["dropped_gene_types", "count"] == len(PATIENTS)                # the pseudogene, per file
    cfg = config_for("gdc_rnaseq", tmp_path)
    cfg["expression"]["rnaseq"]["gene_key"] = "gene_id"
    assert list(load(cfg).columns) == [ENSEMBL[g].split(".")[0] for g in GENES]


def test_gdc_rnaseq_bad_input_names_the_file_and_writes_nothing(tmp_path):
    d, sheet = write_gdc(tmp_path)
    cfg = config_for("gdc_rnaseq", tmp_path)
    first = sorted(d.rglob("*.tsv"))[0]
    text = sheet.read_text()
    cases = []
    # a file the sheet does not list
    extra = d / "ffffffff-1111-4222-8333-444455556666" / "ffffffff-1111-4222-8333-444455556666.rna_seq.augmented_star_gene_counts.tsv"
    cases.append((lambda: (extra.parent.mkdir(), extra.write_text(first.read_text())),
                  lambda: (extra.unlink(), extra.parent.rmdir()), rf"^{extra}: not listed in the sample sheet"))
    # the sheet lists a file that is not there
    cases.append((lambda: sheet.write_text(text + text.splitlines()[1].replace("00000000-", "eeeeeeee-") + "\n"),
                  lambda: sheet.write_text(text), rf"^{sheet}: lists eeeeeeee-.*which is not in"))
    # two files of one sample
    cases.append((lambda: sheet.write_text(text.replace("TCGA-02-0002-01A", "TCGA-02-0001-01A")),
                  lambda: sheet.write_text(text), r"aliquot TCGA-02-0001-01A also comes from"))
    # not a sample sheet
    cases.append((lambda: sheet.write_text(text.replace("Sample ID", "Sample")),
                  lambda: sheet.write_text(text), rf"^{sheet}:1: not a GDC sample sheet: no column 'Sample ID'"))
    # a wrong header in a counts file
    star = first.read_text()
    cases.append((lambda: first.write_text(star.replace("tpm_unstranded", "TPM")),
                  lambda: first.write_text(star), rf"^{first}:2: expected the STAR-counts header"))
    for break_it, repair, message in cases:
        break_it()
        try:
            with pytest.raises(RadiogenomicsError, match=message):
                e = cfg["expression"]
                ingest(cfg["data"]["expression"], tmp_path / "out" / "expression.tsv", tmp_path / "out" / "qc.tsv",
                       sample_sheet=cfg["data"]["sample_sheet"], duplicate_genes=e["duplicate_genes"],
                       rnaseq=dict(e["rnaseq"]))
            assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
        finally:
            repair()
    load(cfg)  # repaired


# ---------------------------------------------------------------------------------------
# segmentation layouts


def label_map(path, radius=6, enhancing=4, shape=(32, 32, 24)):
    g = np.meshgrid(*[np.arange(n) for n in shape], indexing="ij", sparse=True)
    r = np.sqrt(sum((x - c) ** 2 for x, c in zip(g, (16.0, 15.0, 12.0))))
    data = np.zeros(shape, dtype=np.uint8)
    data[r < radius + 4] = 2
    data[r < radius] = enhancing
    data[r < radius / 3] = 1
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(data, np.eye(4)), str(path))


def mr_image(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(RNG.uniform(0, 900, (8, 8, 6)).astype(np.float32), np.eye(4)), str(path))


def test_tcia_tree(tmp_path):
    root = tmp_path / "Pre-operative_TCGA_GBM_NIfTI_and_Segmentations"
    dates = {"TCGA-02-0006": "1996.08.23", "TCGA-02-0009": "1997.06.14", "TCGA-06-0122": "2004.12.12"}
    for patient, date in dates.items():
        for modality in ("t1", "t1Gd", "t2", "flair"):
            mr_image(root / patient / f"{patient}_{date}_{modality}.nii.gz")
        label_map(root / patient / f"{patient}_{date}_GlistrBoost.nii.gz", radius=8)
    for patient in ("TCGA-02-0006", "TCGA-06-0122"):                 # corrected maps for two of three
        label_map(root / patient / f"{patient}_{dates[patient]}_GlistrBoost_ManuallyCorrected.nii.gz", radius=6)
    found, inventory = segmentations(config_for("tcia", tmp_path))
    assert found == {
        "TCGA-02-0006": str(root / "TCGA-02-0006" / "TCGA-02-0006_1996.08.23_GlistrBoost_ManuallyCorrected.nii.gz"),
        "TCGA-02-0009": str(root / "TCGA-02-0009" / "TCGA-02-0009_1997.06.14_GlistrBoost.nii.gz"),
        "TCGA-06-0122": str(root / "TCGA-06-0122" / "TCGA-06-0122_2004.12.12_GlistrBoost_ManuallyCorrected.nii.gz"),
    }
    rows = inventory.set_index("file")
    assert len(rows) == 3 * 5 + 2 and rows["used"].sum() == 3
    mr = rows[rows.index.str.contains(r"_(?:t1|t1Gd|t2|flair)\.nii\.gz$")]
    assert len(mr) == 12 and not mr["used"].any()                  # never an MR image
    assert rows.loc["TCGA-02-0006/TCGA-02-0006_1996.08.23_GlistrBoost.nii.gz", "reason"].startswith(
        "another file of the patient contains 'ManuallyCorrected'")


def test_brats2020_name_mapping(tmp_path):
    root = tmp_path / "MICCAI_BraTS2020_TrainingData"
    for k in (1, 2, 3):
        subject = f"BraTS20_Training_{k:03d}"
        label_map(root / subject / f"{subject}_seg.nii.gz")
        for modality in ("flair", "t1", "t1ce", "t2"):
            mr_image(root / subject / f"{subject}_{modality}.nii.gz")
    (root / "name_mapping.csv").write_text(
        "Grade,BraTS_2017_subject_ID,BraTS_2018_subject_ID,TCGA_TCIA_subject_ID,BraTS_2019_subject_ID,"
        "BraTS_2020_subject_ID\n"
        "HGG,Brats17_CBICA_AAB_1,Brats18_CBICA_AAB_1,NA,BraTS19_CBICA_AAB_1,BraTS20_Training_001\n"
        "HGG,Brats17_TCIA_231_1,Brats18_TCIA02_605_1,TCGA-02-0006,BraTS19_TCIA02_605_1,BraTS20_Training_002\n"
        "HGG,Brats17_TCIA_300_1,Brats18_TCIA06_122_1,TCGA-06-0122,BraTS19_TCIA06_122_1,BraTS20_Training_003\n")
    found, inventory = segmentations(config_for("brats2020", tmp_path))
    assert found == {"TCGA-02-0006": str(root / "BraTS20_Training_002" / "BraTS20_Training_002_seg.nii.gz"),
                     "TCGA-06-0122": str(root / "BraTS20_Training_003" / "BraTS20_Training_003_seg.nii.gz")}
    rows = inventory.set_index("file")
    unmapped = rows.loc["BraTS20_Training_001/BraTS20_Training_001_seg.nii.gz"]
    assert not unmapped["used"] and unmapped["id"] == "BraTS20_Training_001"
    assert "not in" in unmapped["reason"] and "name_mapping.csv" in unmapped["reason"]


def test_brats2021_and_2023(tmp_path):
    r21 = tmp_path / "BraTS2021_Training_Data"
    for k in (0, 2):
        label_map(r21 / f"BraTS2021_{k:05d}" / f"BraTS2021_{k:05d}_seg.nii.gz")
        mr_image(r21 / f"BraTS2021_{k:05d}" / f"BraTS2021_{k:05d}_t1ce.nii.gz")
    (r21 / "tcga_map.tsv").write_text("BraTS2021\tTCGA\nBraTS2021_00000\tTCGA-02-0006\nBraTS2021_00002\t\n")
    found, inventory = segmentations(config_for("brats2021", tmp_path))
    assert found == {"TCGA-02-0006": str(r21 / "BraTS2021_00000" / "BraTS2021_00000_seg.nii.gz")}
    assert inventory["used"].sum() == 1 and len(inventory) == 5

    r23 = tmp_path / "ASNR-MICCAI-BraTS2023-GLI-Challenge-TrainingData"
    for k in (0, 1):
        subject = f"BraTS-GLI-{k:05d}-000"
        label_map(r23 / subject / f"{subject}-seg.nii.gz", enhancing=3)
        mr_image(r23 / subject / f"{subject}-t1c.nii.gz")
    (r23 / "tcga_map.csv").write_text("BraTS2023,TCGA\nBraTS-GLI-00000-000,TCGA-02-0006\nBraTS-GLI-00001-000,TCGA-06-0122\n")
    cfg = config_for("brats2023", tmp_path)
    found, _ = segmentations(cfg)
    assert set(found) == {"TCGA-02-0006", "TCGA-06-0122"}
    values = features.patient_features(found["TCGA-02-0006"], cfg["features"]["labels"], "paper")
    assert not features.missing_regions(values)                     # enhancing = 3 is read
    with pytest.raises(RadiogenomicsError, match=r"label values \[3\]"):
        features.patient_features(found["TCGA-02-0006"], {"enhancing": 4, "edema": 2, "necrosis": 1}, "paper")


def test_patient_map_bad_input(tmp_path):
    bad = tmp_path / "map.csv"
    bad.write_text("BraTS2021,TCGA\nBraTS2021_00000,TCGA-02-6\n")
    with pytest.raises(RadiogenomicsError, match=rf"^{bad}:2: 'TCGA-02-6' in column 'TCGA' is not a TCGA patient"):
        read_patient_map(bad, "BraTS2021", "TCGA")
    with pytest.raises(RadiogenomicsError, match=rf"^{bad}: no column 'ID'"):
        read_patient_map(bad, "ID", "TCGA")
    bad.write_text("BraTS2021,TCGA\nBraTS2021_00000,TCGA-02-0006\nBraTS2021_00000,TCGA-02-0009\n")
    with pytest.raises(RadiogenomicsError, match=rf"^{bad}:3: BraTS2021_00000 maps to TCGA-02-0009 here"):
        read_patient_map(bad, "BraTS2021", "TCGA")


# ---------------------------------------------------------------------------------------
# end to end: a TCIA tree and a cBioPortal matrix


@pytest.mark.workflow
def test_workflow_from_tcia_tree_and_cbioportal_matrix(tmp_path):
    data = tmp_path / "data"
    rng = np.random.default_rng(11)
    patients = [f"TCGA-02-{i:04d}" for i in range(1, 21)]
    genes = [f"GENE{i}" for i in range(40)]
    imaged = patients[:12]
    size = {p: rng.uniform(4, 9) for p in imaged}
    values = rng.normal(7, 1, size=(len(genes), len(patients)))
    for j, p in enumerate(patients):                                 # two genes carry the tumour size
        if p in size:
            values[:2, j] += size[p] - 6
    matrix = data / "gbm_tcga" / "data_mrna_affymetrix_microarray.txt"
    matrix.parent.mkdir(parents=True)
    matrix.write_text("Hugo_Symbol\tEntrez_Gene_Id\t" + "\t".join(p + "-01" for p in patients) + "\n" + "".join(
        f"{g}\t{1000 + i}\t" + "\t".join(f"{v:.4f}" for v in values[i]) + "\n" for i, g in enumerate(genes)))
    tree = data / "Pre-operative_TCGA_GBM_NIfTI_and_Segmentations"
    for k, p in enumerate(imaged):
        date = f"20{k:02d}.01.01"
        mr_image(tree / p / f"{p}_{date}_flair.nii.gz")
        suffix = "_GlistrBoost_ManuallyCorrected" if k % 2 else "_GlistrBoost"
        label_map(tree / p / f"{p}_{date}{suffix}.nii.gz", radius=size[p])
    listed = data / "paper_patients.txt"              # data.patients: 10 of the 12 imaged
    listed.write_text("# patients of the paper\n" + "\n".join(imaged[:10]) + "\n")
    cfg = tiny_config(demo={"enabled": False}, data={"expression": "x", "segmentations": "x",
                                                      "patients": str(listed)})
    for name in ("cbioportal", "tcia"):
        block = relocate(readme_blocks()[name], data)
        for section, settings in block.items():
            cfg[section].update(settings)
    root = workflow_dir(tmp_path / "run", cfg)
    snakemake(root)
    expr = pd.read_csv(root / "results/expression/expression.tsv", sep="\t", index_col=0)
    assert expr.shape == (len(patients), len(genes))
    feats = pd.read_csv(root / "results/features/features.tsv", sep="\t", index_col=0)
    assert list(feats.index) == imaged
    inventory = pd.read_csv(root / "results/features/segmentation_files.tsv", sep="\t", keep_default_na=False)
    assert inventory["used"].sum() == 12 and len(inventory) == 24
    manifest = pd.read_csv(root / "results/cohort/patients.tsv", sep="\t", index_col=0, keep_default_na=False)
    assert list(manifest.index[manifest["supervised"]]) == imaged[:10]
    for p in imaged[10:]:
        assert manifest.loc[p, "note"] == f"not in {listed}: excluded from supervised learning"
    assert manifest.loc[imaged[0], "note"].startswith("supervised: expression and all 20 image features, listed")
    assert manifest.loc[patients[-1], "note"].startswith("no segmentation")
    folds = pd.read_csv(root / "results/cohort/folds.tsv", sep="\t", index_col=0)
    assert list(folds.index) == imaged[:10]
    factors = pd.read_csv(root / "results/features/scale_factors.tsv", sep="\t", index_col=0)
    np.testing.assert_allclose(factors["scale"], feats.loc[imaged[:10]].max())   # over the supervised only
    table2 = pd.read_csv(root / "results/evaluation/table2.tsv", sep="\t")
    assert len(table2) > 0 and (root / "results/summary.md").is_file()
