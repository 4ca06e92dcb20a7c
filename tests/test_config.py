"""Every config key is validated by the schema before any job runs."""

import copy
from pathlib import Path

import pytest
import yaml

from conftest import REPO, snakemake, tiny_config, workflow_dir
from radiogenomics import configuration
from radiogenomics.errors import RadiogenomicsError

SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"


def demo_config():
    return yaml.safe_load((REPO / "config" / "config.yaml").read_text())


@pytest.mark.parametrize("name", ["config.yaml", "paper.yaml"])
def test_shipped_configs_are_valid(name):
    configuration.load(REPO / "config" / name, SCHEMA)


def test_defaults_are_filled():
    cfg = demo_config()
    del cfg["expression"]["duplicates"]
    del cfg["cv"]["folds"]
    configuration.validate(cfg, SCHEMA)
    assert cfg["expression"]["duplicates"] == "mean"
    assert cfg["cv"]["folds"] == 10


def _set(cfg, dotted, value):
    *parents, last = dotted.split(".")
    node = cfg
    for p in parents:
        node = node[p]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value


BAD = [
    # (key path, bad value, text the error must contain)
    ("seed", "abc", "config key seed"),
    ("seed", -1, "config key seed"),
    ("cv.folds", 1, "config key cv.folds"),
    ("cv.folds", 2.5, "config key cv.folds"),
    ("dnn.grid.learning_rate.0", -0.1, "config key dnn.grid.learning_rate[0]"),
    ("dnn.grid.learning_rate.0", 0, "config key dnn.grid.learning_rate[0]"),
    ("autoencoder.grid.decay.0", -1e-5, "config key autoencoder.grid.decay[0]"),
    ("autoencoder.grid.activation.0", "relu", "config key autoencoder.grid.activation[0]"),
    ("autoencoder.momentum", 1.0, "config key autoencoder.momentum"),
    ("dnn.dropout", 1.5, "config key dnn.dropout"),
    ("dnn.nonneg", "yes", "config key dnn.nonneg"),
    ("dnn.batch_size", 0, "config key dnn.batch_size"),
    ("features.labels.enhancing", 256, "config key features.labels.enhancing"),
    ("features.labels.edema", -2, "config key features.labels.edema"),
    ("features.convention", "matlab", "config key features.convention"),
    ("expression.standardize", "minmax", "config key expression.standardize"),
    ("expression.sample_types.0", "1", "config key expression.sample_types[0]"),
    ("data.expression", 3, "config key data.expression"),
    ("baseline.lambda_min_ratio", 1.5, "config key baseline.lambda_min_ratio"),
    ("baseline.solver", "glmnet", "config key baseline.solver"),
    ("autoencoder.hidden.1", 0, "config key autoencoder.hidden[1]"),
    ("training.backend", "torch", "config key training.backend: 'torch' is not one of ['tensorflow', 'jax']"),
    ("training.folds_per_job", 0, 'config key training.folds_per_job: 0 is not valid under any of the given '
     'schemas; expected a positive integer (at most cv.folds) or "all"'),
    ("training.folds_per_job", "some", "config key training.folds_per_job: 'some' is not valid"),
    ("training.folds_per_job", 2.5, "config key training.folds_per_job: 2.5"),
    ("training.folds_per_job", 4, "config key training.folds_per_job: 4 folds per job, but cv.folds is 3; "
     "expected a positive integer up to cv.folds, or all"),
]


@pytest.mark.parametrize("key,value,expected", BAD, ids=[f"{k}={v!r}" for k, v, _ in BAD])
def test_invalid_value_names_the_key(key, value, expected):
    cfg = demo_config()
    _set(cfg, key, value)
    with pytest.raises(RadiogenomicsError) as err:
        configuration.validate(cfg, SCHEMA)
    assert expected in str(err.value)


@pytest.mark.parametrize("section", [None, "dnn", "features.labels", "autoencoder.grid"])
def test_unknown_key_is_rejected(section):
    cfg = demo_config()
    node = cfg
    if section:
        for part in section.split("."):
            node = node[part]
    node["learning_rat"] = 0.1
    with pytest.raises(RadiogenomicsError) as err:
        configuration.validate(cfg, SCHEMA)
    assert "learning_rat" in str(err.value)


def test_missing_required_key():
    cfg = demo_config()
    del cfg["dnn"]["grid"]["decay"]
    with pytest.raises(RadiogenomicsError, match=r"config key dnn\.grid: 'decay' is a required property"):
        configuration.validate(cfg, SCHEMA)


def test_training_backend_and_folds_per_job_defaults():
    cfg = demo_config()
    configuration.validate(cfg, SCHEMA)
    assert cfg["training"]["backend"] == "tensorflow" and cfg["training"]["folds_per_job"] == 1
    for value in (1, 3, "all"):
        cfg = demo_config()
        cfg["training"].update(backend="jax", folds_per_job=value)
        configuration.validate(cfg, SCHEMA)


def test_semantic_checks():
    cfg = demo_config()
    cfg["demo"]["n_imaged"] = cfg["demo"]["n_patients"] + 1
    with pytest.raises(RadiogenomicsError, match="demo.n_imaged"):
        configuration.validate(cfg, SCHEMA)
    cfg = demo_config()
    cfg["features"]["labels"]["edema"] = cfg["features"]["labels"]["enhancing"]
    with pytest.raises(RadiogenomicsError, match="features.labels"):
        configuration.validate(cfg, SCHEMA)


def test_unreadable_config_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("seed: [1, 2\n")
    with pytest.raises(RadiogenomicsError, match=str(bad)):
        configuration.load(bad, SCHEMA)


BROKEN_YAML = "seed: 7\ndata:\n  expression: resources/demo/expression\n   segmentations: x\n"


def test_yaml_syntax_error_names_file_and_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(BROKEN_YAML)
    with pytest.raises(RadiogenomicsError, match=rf"^{bad}:4:\d+: not valid YAML: "):
        configuration.read_yaml(bad)
    with pytest.raises(RadiogenomicsError, match=rf"^{bad}:4:"):
        configuration.load(bad, SCHEMA)


def test_config_check_command(tmp_path, capsys):
    """python -m radiogenomics.configuration: for --configfile files, which Snakemake parses
    before any workflow code can name the file and line."""
    bad = tmp_path / "bad.yaml"
    bad.write_text(BROKEN_YAML)
    assert configuration.main([str(bad)]) == 1
    assert f"{bad}:4:" in capsys.readouterr().err
    assert configuration.main([str(REPO / "config" / "config.yaml"), str(REPO / "config" / "paper.yaml")]) == 0
    override = tmp_path / "override.yaml"
    override.write_text("cv:\n  folds: 1\n")
    assert configuration.main([str(REPO / "config" / "config.yaml"), str(override)]) == 1
    assert "cv.folds" in capsys.readouterr().err


@pytest.mark.workflow
def test_snakemake_names_the_line_of_a_yaml_syntax_error(tmp_path):
    wd = workflow_dir(tmp_path / "wf", tiny_config())
    (wd / "config" / "config.yaml").write_text(BROKEN_YAML)
    proc = snakemake(wd, "-n", check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "config/config.yaml:4:" in out and "not valid YAML" in out, out[-3000:]
    assert "Traceback" not in out


@pytest.mark.workflow
@pytest.mark.parametrize("section,key,value,expected", [
    ("dnn", "grid", {"learning_rate": [-0.3], "decay": [1e-4]}, "config key dnn.grid.learning_rate[0]"),
    ("training", "folds_per_job", 4, "config key training.folds_per_job: 4 folds per job, but cv.folds is 3"),
])
def test_snakemake_stops_before_any_job(tmp_path, section, key, value, expected):
    """An invalid config stops `snakemake` at parse time with the key in the message."""
    cfg = tiny_config()
    cfg.setdefault(section, {})[key] = value
    wd = workflow_dir(tmp_path / "wf", cfg)
    proc = snakemake(wd, "-n", check=False)
    assert proc.returncode != 0
    assert expected in proc.stdout + proc.stderr
    assert not (wd / "results").exists()
    assert not (wd / "resources").exists()
