"""Configuration validation (JSON schema plus the checks a schema cannot express).

``validate(config, schema_path)`` fills the schema's defaults into ``config`` and
raises :class:`RadiogenomicsError` naming the offending key (``dnn.grid.learning_rate[0]``)
and what was expected. The Snakefile calls it before any job is scheduled.
"""

from __future__ import annotations

from pathlib import Path

import jsonschema
import yaml

from .errors import RadiogenomicsError


def _key(path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "<top level>"


def _extend_with_defaults(validator_class):
    """A validator that also fills ``default`` values of absent properties."""
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, sub in properties.items():
                if "default" in sub and name not in instance:
                    default = sub["default"]
                    instance[name] = dict(default) if isinstance(default, dict) else (
                        list(default) if isinstance(default, list) else default
                    )
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults})


def load_schema(schema_path) -> dict:
    with open(schema_path) as fh:
        return yaml.safe_load(fh)


def validate(config: dict, schema_path) -> dict:
    """Validate ``config`` in place (defaults filled) and return it.

    Raises :class:`RadiogenomicsError` with one line per problem, each naming the key.
    """
    schema = load_schema(schema_path)
    cls = jsonschema.validators.validator_for(schema)
    validator = _extend_with_defaults(cls)(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        lines = []
        for err in errors:
            key = _key(err.absolute_path)
            if err.validator == "additionalProperties":
                lines.append(f"config key {key}: {err.message} (see config/README.md for the allowed keys)")
            elif err.validator in ("anyOf", "oneOf") and "description" in err.schema:
                # "... is not valid under any of the given schemas" says nothing of what is
                lines.append(f"config key {key}: {err.message}; expected {err.schema['description']}")
            else:
                lines.append(f"config key {key}: {err.message}")
        raise RadiogenomicsError("invalid configuration:\n  " + "\n  ".join(lines))
    _semantic_checks(config)
    return config


def _semantic_checks(config: dict) -> None:
    problems = []
    demo = config.get("demo", {})
    if demo.get("enabled"):
        if demo["n_imaged"] > demo["n_patients"]:
            problems.append(
                f"config key demo.n_imaged: {demo['n_imaged']} imaged patients but only "
                f"{demo['n_patients']} patients (demo.n_patients)"
            )
        if demo["n_signal_genes"] > demo["n_genes"]:
            problems.append("config key demo.n_signal_genes: more signal genes than demo.n_genes")
        if demo["n_imaged"] < config["cv"]["folds"]:
            problems.append(
                f"config key cv.folds: {config['cv']['folds']} folds need at least as many imaged "
                f"patients (demo.n_imaged = {demo['n_imaged']})"
            )
    table = config["data"].get("features_table")
    if "segmentations" not in config["data"] and (table is None or demo.get("enabled")):
        problems.append("config key data.segmentations: required (the folder of segmentations the image "
                        "features are extracted from, or the demo's), unless data.features_table is set")
    if table is not None and ("columns" in table) == ("regex" in table):
        problems.append("config key data.features_table: set exactly one of columns (a list of column names) "
                        "and regex (the columns whose names it matches)")
    per_job = config.get("training", {}).get("folds_per_job", 1)
    if isinstance(per_job, int) and per_job > config["cv"]["folds"]:
        problems.append(
            f"config key training.folds_per_job: {per_job} folds per job, but cv.folds is "
            f"{config['cv']['folds']}; expected a positive integer up to cv.folds, or all"
        )
    labels = config["features"]["labels"]
    if len(set(labels.values())) != len(labels):
        problems.append(f"config key features.labels: two regions share one label value ({labels})")
    if 0 in labels.values():
        problems.append("config key features.labels: 0 is the background label and cannot be a region")
    if problems:
        raise RadiogenomicsError("invalid configuration:\n  " + "\n  ".join(problems))


def folds_per_job(config: dict) -> int:
    """``training.folds_per_job`` of a validated config as a number of folds (``all``: cv.folds)."""
    per_job = config["training"]["folds_per_job"]
    return int(config["cv"]["folds"]) if per_job == "all" else int(per_job)


def fold_chunks(folds, per_job: int) -> list[list[int]]:
    """``folds`` (1..K) in runs of ``per_job`` consecutive folds, the folds one training job
    trains (``training.folds_per_job``); the last run may be shorter: ``fold_chunks([1..10], 4)``
    = ``[[1, 2, 3, 4], [5, 6, 7, 8], [9, 10]]``."""
    folds = [int(k) for k in folds]
    per_job = int(per_job)
    if per_job < 1:
        raise RadiogenomicsError(f"config key training.folds_per_job: expected a positive integer, got {per_job}")
    return [folds[i:i + per_job] for i in range(0, len(folds), per_job)]


def read_yaml(path):
    """Parse a YAML file; a syntax error is a :class:`RadiogenomicsError` naming the file,
    line and column (``config/config.yaml:12:7: ...``), which Snakemake's own message
    ("not valid JSON or YAML") does not."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise RadiogenomicsError(f"{path}: not UTF-8 text ({exc})") from None
    except OSError as exc:
        raise RadiogenomicsError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        return yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(path)
        problem = exc.problem or exc.context or "syntax error"
        context = ""
        if exc.context and exc.problem and exc.context_mark is not None:
            context = f" ({exc.context} at line {exc.context_mark.line + 1})"
        raise RadiogenomicsError(f"{where}: not valid YAML: {problem}{context}") from None
    except yaml.YAMLError as exc:
        raise RadiogenomicsError(f"{path}: not valid YAML ({exc})") from None


def load(config_path, schema_path) -> dict:
    """Read a YAML config file and validate it."""
    path = Path(config_path)
    config = read_yaml(path)
    if not isinstance(config, dict):
        raise RadiogenomicsError(f"{path}: expected a mapping of config keys at the top level")
    return validate(config, schema_path)


def main(argv=None) -> int:
    """``python -m radiogenomics.configuration FILE...``: check config files before a run.

    Each file must be valid YAML (errors name the file and line) and, merged over the
    ones before it (as Snakemake merges ``--configfile`` files), a valid configuration.
    Snakemake reads ``--configfile`` files before any code of this workflow runs, so its
    message for a YAML syntax error in them names neither the file nor the line; this
    command does.
    """
    import sys

    files = list(sys.argv[1:] if argv is None else argv)
    if not files:
        print("usage: python -m radiogenomics.configuration CONFIG.yaml [MORE.yaml ...]", file=sys.stderr)
        return 2
    schema = Path(__file__).resolve().parents[2] / "schemas" / "config.schema.yaml"
    merged: dict = {}
    try:
        for name in files:
            config = read_yaml(name)
            if not isinstance(config, dict):
                raise RadiogenomicsError(f"{name}: expected a mapping of config keys at the top level")
            _merge(merged, config)
        validate(merged, schema)
    except RadiogenomicsError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"{', '.join(files)}: valid configuration")
    return 0


def _merge(base: dict, update: dict) -> None:
    """Nested update, as Snakemake's ``update_config``."""
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value


if __name__ == "__main__":
    raise SystemExit(main())
