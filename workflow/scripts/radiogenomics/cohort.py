"""Which patients have which data: segmentation discovery and the cohort manifest."""

from __future__ import annotations

import glob
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import RadiogenomicsError


#: Columns of the segmentation inventory (``results/features/segmentation_files.tsv``):
#: ``id`` is what ``data.patient_regex`` found in the name, ``patient`` the TCGA patient
#: (the same, or its ``data.patient_map`` entry).
INVENTORY_COLUMNS = ["file", "id", "patient", "used", "reason"]



def _is_patient_id(text: str) -> bool:
    """A participant barcode (``TCGA-02-0006``: no sample part), as
    :func:`radiogenomics.expression.parse_barcode` reads it."""
    from .expression import parse_barcode

    try:
        barcode = parse_barcode(text)
    except RadiogenomicsError:
        return False
    return barcode.sample_type is None and barcode.barcode == text


def patient_map_from(spec) -> dict[str, str] | None:
    """``data.patient_map`` (``{file, id_column, patient_column}`` or ``None``) as a dict."""
    if spec is None:
        return None
    return read_patient_map(spec["file"], spec["id_column"], spec["patient_column"])


def read_patient_map(path, id_column: str, patient_column: str) -> dict[str, str]:
    """A table (CSV or TSV, told apart by the header) mapping the ID found in segmentation
    file names to the TCGA patient, e.g. BraTS 2020's ``name_mapping.csv``
    (``BraTS_2020_subject_ID`` -> ``TCGA_TCIA_subject_ID``).

    Rows whose patient cell is empty or ``NA`` (subjects not from TCGA) are left out, so
    their files are listed as unmapped. A patient that is not a TCGA patient barcode
    (``TCGA-02-0006``), an ID listed twice with different patients, or a missing column is
    an error naming the file (and line).
    """
    path = Path(path)
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            header = fh.readline()
    except OSError as exc:
        raise RadiogenomicsError(f"data.patient_map: cannot read {path} ({exc.strerror})") from None
    sep = "\t" if header.count("\t") >= header.count(",") else ","
    table = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    missing = [c for c in (id_column, patient_column) if c not in table.columns]
    if missing:
        raise RadiogenomicsError(
            f"{path}: no column {', '.join(map(repr, missing))} (data.patient_map columns; the file has "
            f"{', '.join(map(repr, table.columns[:8]))})"
        )
    out: dict[str, str] = {}
    for i, (source, patient) in enumerate(zip(table[id_column], table[patient_column]), start=2):
        source, patient = source.strip(), patient.strip()
        if not source or patient.upper() in ("", "NA", "N/A", "NAN"):
            continue
        if not _is_patient_id(patient):
            raise RadiogenomicsError(f"{path}:{i}: {patient!r} in column {patient_column!r} is not a TCGA "
                                     "patient ID (expected e.g. TCGA-02-0006)")
        if out.get(source, patient) != patient:
            raise RadiogenomicsError(f"{path}:{i}: {source} maps to {patient} here and to {out[source]} "
                                     "on an earlier line")
        out[source] = patient
    return out


def _patterns(pattern) -> list[str]:
    patterns = [pattern] if isinstance(pattern, str) else list(pattern)
    if not patterns or not all(isinstance(p, str) and p for p in patterns):
        raise RadiogenomicsError(f"data.segmentation_glob: expected a pattern or a list of patterns, got {pattern!r}")
    return patterns


def segmentation_inventory(directory, pattern, patient_regex: str, prefer: str | None = None, *,
                           patient_map: dict[str, str] | None = None, map_source: str = "data.patient_map"
                           ) -> pd.DataFrame:
    """Every file under ``directory``: which patient it belongs to, whether it is read, and why.

    ``pattern``: a glob relative to ``directory`` or a list of them (a file is a candidate
    when it matches any, e.g. ``["*.nii.gz", "*.nii"]``). The patient ID is the first
    capture group (or the whole match) of ``patient_regex`` searched in the file name.
    The default regex matches the public TCGA-GBM segmentations
    (``TCGA-02-0006_2006.03.29_GlistrBoost_ManuallyCorrected.nii.gz`` -> ``TCGA-02-0006``).
    ``patient_map`` (from :func:`read_patient_map`, named ``map_source`` in messages):
    when given, the ID found in the name (e.g. ``BraTS2021_00000``) is looked up there; a
    candidate whose ID is not in the map is listed as unmapped and not read (never
    guessed). Two candidates for one patient are an error naming both, unless exactly one
    of them contains ``prefer`` in its name (e.g. ``ManuallyCorrected``).

    Returns a frame with :data:`INVENTORY_COLUMNS` (``file`` relative to ``directory``,
    sorted; ``used`` boolean), one row per file found recursively (hidden files and
    directories left out), so that nothing in the folder is skipped without a word.
    Raises :class:`RadiogenomicsError` for a missing directory, a bad regex, a candidate
    whose name has no patient ID, two candidates of one patient, or no candidate at all.
    """
    from .io import files_under

    directory = Path(directory)
    if not directory.is_dir():
        raise RadiogenomicsError(f"data.segmentations: {directory} is not a directory")
    patterns = _patterns(pattern)
    try:
        regex = re.compile(patient_regex)
    except re.error as exc:
        raise RadiogenomicsError(f"data.patient_regex: not a valid regular expression ({exc})") from None
    matched = set()
    for pat in patterns:
        matched.update(os.path.normpath(p) for p in glob.glob(os.path.join(str(directory), pat)))
    rows, found = {}, {}
    for path in files_under(directory):
        rel = path.relative_to(directory).as_posix()
        if os.path.normpath(str(path)) not in matched:
            rows[rel] = ["", "", False, f"does not match data.segmentation_glob {' or '.join(map(repr, patterns))}"]
            continue
        match = regex.search(path.name)
        if match is None:
            raise RadiogenomicsError(
                f"{path}: file name does not match data.patient_regex {patient_regex!r}; "
                "cannot tell which patient it belongs to"
            )
        source = match.group(1) if regex.groups else match.group(0)
        patient = source
        if patient_map is not None:
            patient = patient_map.get(source)
            if patient is None:
                rows[rel] = [source, "", False, f"{source} is not in {map_source}: unmapped, not read"]
                continue
        found.setdefault(patient, []).append(rel)
        rows[rel] = [source, patient, True, "segmentation of the patient"]
    if not found:
        unmapped = sum(1 for r in rows.values() if r[0])
        raise RadiogenomicsError(
            f"data.segmentations: no file matches {' or '.join(map(repr, patterns))} in {directory}"
            + (f" with an ID in {map_source} ({unmapped} matching file(s) unmapped)" if unmapped else "")
        )
    for patient, files in found.items():
        if len(files) == 1:
            continue
        preferred = [f for f in files if prefer and prefer in os.path.basename(f)]
        if len(preferred) != 1:
            raise RadiogenomicsError(
                f"patient {patient} has {len(files)} segmentation files: "
                f"{', '.join(str(directory / f) for f in files)}; keep one, or set "
                "data.prefer_segmentation to text that only one of their names contains"
            )
        for f in files:
            if f != preferred[0]:
                rows[f] = [rows[f][0], patient, False, f"another file of the patient contains {prefer!r} "
                                                       f"(data.prefer_segmentation): {preferred[0]}"]
    table = pd.DataFrame([[f, *row] for f, row in sorted(rows.items())], columns=INVENTORY_COLUMNS)
    return table


def find_segmentations(directory, pattern, patient_regex: str, prefer: str | None = None, *,
                       patient_map: dict[str, str] | None = None) -> dict[str, str]:
    """Map patient ID -> segmentation file (the ``used`` rows of :func:`segmentation_inventory`,
    whose docstring says how files are matched and chosen)."""
    table = segmentation_inventory(directory, pattern, patient_regex, prefer, patient_map=patient_map)
    used = table[table["used"]]
    return {p: os.path.join(str(directory), f) for p, f in zip(used["patient"], used["file"])}


def read_patient_list(path) -> list[str]:
    """``data.patients``: one TCGA patient ID per line (``TCGA-02-0006``), e.g. the patients of
    a paper. Blank lines and ``#`` comments are ignored; anything else that is not a patient
    ID, or an ID listed twice, is an error naming the line."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except OSError as exc:
        raise RadiogenomicsError(f"data.patients: cannot read {path} ({exc.strerror})") from None
    out, seen = [], {}
    for lineno, line in enumerate(lines, start=1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        if not _is_patient_id(text):
            raise RadiogenomicsError(f"{path}:{lineno}: {text!r} is not a TCGA patient ID (expected one per line, "
                                     "e.g. TCGA-02-0006: the first 12 characters of a barcode)")
        if text in seen:
            raise RadiogenomicsError(f"{path}:{lineno}: {text} is listed twice (also on line {seen[text]})")
        seen[text] = lineno
        out.append(text)
    if not out:
        raise RadiogenomicsError(f"{path}: data.patients lists no patient")
    return out


def _missing_text(columns) -> str:
    """'enhancing region' for missing default features (by region), else the columns."""
    from .names import describe

    regions = sorted({describe(c)[0] for c in columns})
    if all(regions):
        return f"{' and '.join(regions)} region"
    return f"value of {', '.join(columns[:4])}{', ...' if len(columns) > 4 else ''}"


def build_manifest(expression_patients, features: pd.DataFrame, missing_region: str = "exclude",
                   features_path="results/features/features.tsv", missing: pd.DataFrame | None = None,
                   missing_path="results/features/missing.tsv", listed=None,
                   list_path="data.patients", columns=None, features_source=None) -> pd.DataFrame:
    """The cohort manifest: which patient has which data, and who is supervised.

    ``expression_patients``: patients with an expression profile (the rows of
    ``results/expression/expression.tsv``). ``features``: the features table (patients x
    image features, original units); a row with NaN marks a missing region (or value).
    ``columns``: the feature columns it must have (default: all of its columns are the
    features). ``missing`` (optional): the features stage's table of patients left out for
    a missing region (index ``patient``, columns ``missing_regions`` or, for
    ``data.features_table``, ``missing_features``, and ``note``).
    Patients in either table have a segmentation (with ``features_source``, the
    ``data.features_table`` file: a row there; the notes name it). A patient is *supervised*
    (paper §2.2.3: the 109 with both gene and MR data) when it has expression and all its
    features are finite. With ``missing_region="error"`` a segmented patient with a
    missing region is an error naming it; with ``"exclude"`` it is left out of the
    supervised set and the note says why. ``listed`` (``data.patients``, named ``list_path`` in
    the notes): when given, only listed patients are supervised; every other patient's note
    says it is not listed, and listed patients without data are in the manifest too.
    Every patient's note says why it is in or out.

    Returns a frame indexed by ``patient`` (sorted) with boolean columns
    ``has_expression``, ``has_segmentation``, ``has_features``, ``supervised`` and a
    text column ``note``.
    """
    if missing_region not in ("exclude", "error"):
        raise RadiogenomicsError(f"features.missing_region: expected exclude or error, got {missing_region!r}")
    columns = list(features.columns) if columns is None else list(columns)
    missing_cols = [c for c in columns if c not in features.columns]
    if missing_cols:
        raise RadiogenomicsError(f"{features_path}: missing feature column(s) {', '.join(missing_cols)}")
    if not columns:
        raise RadiogenomicsError(f"{features_path}: no feature column")
    expression_patients = {str(p) for p in expression_patients}
    feats = features[columns].apply(pd.to_numeric, errors="coerce")
    feats.index = feats.index.map(str)
    if feats.index.duplicated().any():
        dup = feats.index[feats.index.duplicated()][0]
        raise RadiogenomicsError(f"{features_path}: patient {dup} appears more than once")
    values = feats.to_numpy(dtype=float)
    if np.isinf(values).any():
        i, j = map(int, np.argwhere(np.isinf(values))[0])
        raise RadiogenomicsError(
            f"{features_path}: infinite value of {columns[j]} for patient {feats.index[i]}"
        )
    complete = pd.Series(np.isfinite(values).all(axis=1), index=feats.index)
    left_out: dict[str, str] = {}
    if missing is not None and len(missing):
        for p, row in missing.iterrows():
            regions = str(row.get("missing_regions", "") or "").replace(",", " and ") or "a"
            absent = str(row.get("missing_features", "") or "")
            what = f"value of {absent.replace(',', ', ')}" if absent else f"{regions} region"
            if missing_region == "error":
                raise RadiogenomicsError(
                    f"{missing_path}: patient {p} has no {what}; set features.missing_region: "
                    "exclude to leave such patients out"
                )
            if str(p) in feats.index and complete[str(p)]:
                raise RadiogenomicsError(f"{missing_path}: patient {p} is also in {features_path} with all features")
            left_out[str(p)] = f"missing {what}: excluded from supervised learning"
    listed = None if listed is None else {str(p) for p in listed}
    patients = sorted(expression_patients | set(feats.index) | set(left_out) | (listed or set()))
    rows = []
    for p in patients:
        has_expr = p in expression_patients
        has_seg = p in feats.index or p in left_out
        has_feat = bool(p in feats.index and complete[p])
        in_list = listed is None or p in listed
        notes = []
        if not has_expr:
            notes.append("no expression profile")
        if not has_seg:
            notes.append("no segmentation" if features_source is None else f"not in {features_source}")
        elif p in left_out and p not in feats.index:
            notes.append(left_out[p])
        elif not has_feat:
            missing = [c for c, v in zip(columns, values[feats.index.get_loc(p)]) if not np.isfinite(v)]
            what = _missing_text(missing)
            if missing_region == "error":
                raise RadiogenomicsError(
                    f"{features_path}: patient {p} has no {what.replace(' and ', ' or ')} "
                    f"({len(missing)} missing feature(s): {', '.join(missing[:4])}{', ...' if len(missing) > 4 else ''}); "
                    "set features.missing_region: exclude to leave such patients out"
                )
            notes.append(f"missing {what}: excluded from supervised learning")
        supervised = has_expr and has_feat and in_list
        if not in_list:
            notes.append(f"not in {list_path}: excluded from supervised learning")
        if supervised:
            notes.append(f"supervised: expression and all {len(columns)} image features"
                         + (f", listed in {list_path}" if listed is not None else ""))
        elif listed is not None and in_list:
            notes.append(f"listed in {list_path} but not supervised")
        rows.append((p, has_expr, has_seg, has_feat, supervised, "; ".join(notes)))
    manifest = pd.DataFrame(rows, columns=["patient", "has_expression", "has_segmentation", "has_features",
                                           "supervised", "note"]).set_index("patient")
    return manifest


def cohort_folds(manifest: pd.DataFrame, n_folds: int, seed: int, exclude_imaged: bool = False):
    """Fold assignments of the supervised patients and of the autoencoder's patients.

    Supervised: every ``supervised`` patient, seed ``derive(seed, "folds", "supervised")``
    (shared by the networks and the elastic net so errors pair per patient).
    Autoencoder: every patient with expression, or only those without a segmentation
    when ``exclude_imaged``; seed ``derive(seed, "folds", "autoencoder")``.
    Returns two frames indexed by ``patient`` with one column ``fold`` (1..K).
    """
    from .folds import assign_folds
    from .seeds import derive

    supervised = manifest.index[manifest["supervised"].astype(bool)]
    ae_mask = manifest["has_expression"].astype(bool)
    if exclude_imaged:
        ae_mask &= ~manifest["has_segmentation"].astype(bool)
    ae = manifest.index[ae_mask]
    out = []
    for name, patients, what in (
        ("supervised", supervised, "supervised patients (expression and every image feature)"),
        ("autoencoder", ae, "autoencoder patients (with expression"
         + (", without segmentation)" if exclude_imaged else ")")),
    ):
        try:
            folds = assign_folds(list(patients), int(n_folds), derive(seed, "folds", name))
        except RadiogenomicsError as exc:
            raise RadiogenomicsError(f"{exc} ({what})") from None
        out.append(folds.to_frame())
    return out[0], out[1]


def scale_supervised(features: pd.DataFrame, manifest: pd.DataFrame, columns=None, units: dict | None = None):
    """Paper §2.1.2 scaling over the cohort the models see: each feature (``columns``,
    default every column) divided by its maximum over the *supervised* patients (not over
    every segmentation file). Returns (scaled table of the supervised patients, scale
    factors) as :func:`radiogenomics.features.scale_by_max` (``units``: column -> unit,
    see :func:`radiogenomics.names.unit`)."""
    from .features import scale_by_max

    supervised = manifest.index[manifest["supervised"].astype(bool)]
    table = features[list(features.columns) if columns is None else list(columns)].copy()
    table.index = table.index.map(str)
    return scale_by_max(table.loc[list(supervised)], units)


def build_cohort(expression_path, features_path, out_patients, out_folds, out_ae_folds, n_folds: int,
                 seed: int, exclude_imaged: bool = False, missing_region: str = "exclude",
                 missing_path=None, patients_path=None, out_scaled=None, out_scale_factors=None,
                 columns=None, units: dict | None = None, features_source=None) -> pd.DataFrame:
    """The ``cohort`` rule: manifest + both fold tables (+ the scaled features and their scale
    factors, over the supervised patients: :func:`scale_supervised`), written atomically after
    all succeed.

    ``missing_path``: the features stage's ``missing.tsv`` (segmented patients left out
    for a missing region), optional. ``patients_path``: ``data.patients``
    (:func:`read_patient_list`), optional. ``columns``, ``features_source``: see
    :func:`build_manifest`; ``units``: :func:`scale_supervised`.
    """
    from . import io as rio

    try:
        expr_patients = pd.read_csv(expression_path, sep="\t", usecols=[0], dtype=str).iloc[:, 0]
    except (FileNotFoundError, ValueError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise RadiogenomicsError(f"{expression_path}: cannot read the expression matrix ({exc})") from None
    features = rio.read_tsv(features_path)
    missing = rio.read_tsv(missing_path, dtype=str, keep_default_na=False) if missing_path else None
    listed = read_patient_list(patients_path) if patients_path else None
    manifest = build_manifest(expr_patients, features, missing_region, features_path, missing,
                              missing_path or "missing.tsv", listed, str(patients_path or "data.patients"),
                              columns=columns, features_source=features_source)
    folds, ae_folds = cohort_folds(manifest, n_folds, seed, exclude_imaged)
    scaled = (scale_supervised(features, manifest, columns, units) if out_scaled or out_scale_factors
              else None)
    rio.write_tsv(manifest, out_patients)
    rio.write_tsv(folds, out_folds)
    rio.write_tsv(ae_folds, out_ae_folds)
    if out_scaled:
        rio.write_tsv(scaled[0], out_scaled)
    if out_scale_factors:
        rio.write_tsv(scaled[1], out_scale_factors)
    return manifest


def supervised_data(expression: pd.DataFrame, features: pd.DataFrame, folds: pd.Series, *,
                    sources=("expression", "features", "folds"), columns=None) -> pd.DataFrame:
    """The supervised patients' scaled targets (``folds.index`` × the features), after checking
    that every supervised patient has expression and all features. The features are the
    columns of ``features`` (``columns``: the ones it must have, in order). ``sources``: file
    names for the error messages."""
    expr_src, feat_src, folds_src = sources
    if columns is not None and list(features.columns) != list(columns):
        raise RadiogenomicsError(f"{feat_src}: expected the {len(columns)} columns {list(columns)}")
    if features.shape[1] == 0:
        raise RadiogenomicsError(f"{feat_src}: no feature column")
    for table, path in ((expression, expr_src), (features, feat_src)):
        missing = sorted(set(folds.index) - set(table.index))
        if missing:
            raise RadiogenomicsError(f"{folds_src}: supervised patients missing from {path}: {missing[:5]}")
    targets = features.loc[folds.index]
    if targets.isna().any().any():
        bad = list(targets.index[targets.isna().any(axis=1)][:5])
        raise RadiogenomicsError(f"{feat_src}: supervised patients with missing features: {bad}")
    return targets
