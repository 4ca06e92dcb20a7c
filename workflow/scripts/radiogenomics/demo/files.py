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

from ..errors import RadiogenomicsError
from ..names import IMAGE_FEATURES
from ..seeds import derive
from .expression import _aliquots, _expression, _patient_ids
from .factors import DRIVES, FACTORS
from .genes import gene_symbols
from .tumours import segmentation

log = logging.getLogger(__name__)

#: Every UNCORRECTED_EVERY-th imaged patient also gets the automatic GlistrBoost map.
UNCORRECTED_EVERY = 8
#: Every ONLY_UNCORRECTED_EVERY-th imaged patient has only the automatic map.
ONLY_UNCORRECTED_EVERY = 5


def _level3_template(genes) -> str:
    """The body of a Level-3 file as one ``%`` format (one C-level call per file)."""
    return "".join(f"{g.replace('%', '%%')}\t%.5f\n" for g in genes)


def _write_level3(path: Path, barcode: str, template: str, values) -> None:
    header = f"Hybridization REF\t{barcode}\nComposite Element REF\tSignal\n"
    path.write_text(header + template % tuple(values.tolist()))


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
