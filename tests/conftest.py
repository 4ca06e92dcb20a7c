"""Shared fixtures: tiny generated cohorts and end-to-end Snakemake runs.

``tiny_config()`` is a configuration small enough that the whole workflow runs in
about a minute on 2 cores. ``workflow_dir(tmp)`` copies ``workflow/`` into a fresh
directory (as a user's checkout would look) so that runs never touch the repository's
own ``results/``. The session fixture ``demo_run`` runs the complete workflow once on
the tiny config and is shared by every end-to-end test (across pytest-xdist workers,
through a lock file); ``shipped_demo`` does the same with ``config/config.yaml``.
"""

from __future__ import annotations

import copy
import fcntl
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow" / "scripts"))

TINY = {
    "seed": 7,
    "data": {
        "expression": "resources/demo/expression",
        "segmentations": "resources/demo/segmentations",
    },
    "demo": {
        "enabled": True,
        "n_patients": 36,
        "n_imaged": 18,
        "n_genes": 120,
        "n_signal_genes": 20,
        "n_duplicate_aliquots": 2,
        "n_non_primary": 2,
        "shape": [96, 96, 64],
        "spacing": [1.0, 1.0, 1.0],
    },
    "expression": {},
    "features": {},
    "cv": {"folds": 3},
    "autoencoder": {
        "hidden": [24, 12, 6, 12, 24],
        "epochs": 4,
        "grid": {"learning_rate": [0.05], "decay": [1.0e-5], "activation": ["tanh"]},
    },
    "dnn": {
        "hidden4": 8,
        "epochs": 5,
        "grid": {"learning_rate": [0.05, 0.1], "decay": [1.0e-4]},
    },
    "baseline": {"l1_ratios": 3, "n_lambdas": 10},
    "report": {"figure_dpi": 60},
}


def tiny_config(**overrides) -> dict:
    """A deep copy of the tiny test configuration with top-level sections updated."""
    cfg = copy.deepcopy(TINY)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(cfg.get(key), dict):
            cfg[key].update(value)
        else:
            cfg[key] = value
    return cfg


def workflow_dir(root: Path, config: dict) -> Path:
    """A fresh working directory holding a copy of workflow/ and the given config."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    shutil.copytree(REPO / "workflow", root / "workflow",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"), dirs_exist_ok=True)
    (root / "config").mkdir(exist_ok=True)
    (root / "config" / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return root


def snakemake(workdir: Path, *args: str, check: bool = True, timeout: int = 1200,
              env: dict | None = None) -> subprocess.CompletedProcess:
    """Run Snakemake in ``workdir`` (a directory made by :func:`workflow_dir`)."""
    cmd = [sys.executable, "-m", "snakemake", "--cores", "2", *args]
    full_env = dict(os.environ)
    full_env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if env:
        full_env.update(env)
    proc = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=timeout, env=full_env)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"snakemake {' '.join(args)} failed in {workdir} (exit {proc.returncode}):\n"
            f"{proc.stdout[-6000:]}\n{proc.stderr[-12000:]}"
        )
    return proc


def _shared_run(tmp_path_factory, name: str, config: dict, timeout: int = 1200) -> Path:
    """The whole workflow run once per session on ``config``; returns its working directory.

    Shared by all pytest-xdist workers: the first one to take the lock runs it, the
    others wait and reuse the result (a marker file records success or failure).
    """
    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent
    root = shared / name
    lock = shared / f"{name}.lock"
    marker = shared / f"{name}.json"
    with open(lock, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        if not marker.exists():
            workflow_dir(root, config)
            proc = snakemake(root, check=False, timeout=timeout)
            marker.write_text(json.dumps({"returncode": proc.returncode,
                                          "stdout": proc.stdout[-6000:], "stderr": proc.stderr[-12000:]}))
        fcntl.flock(handle, fcntl.LOCK_UN)
    result = json.loads(marker.read_text())
    if result["returncode"] != 0:
        pytest.fail(f"the {name} workflow failed (exit {result['returncode']}):\n"
                    f"{result['stdout']}\n{result['stderr']}")
    return root


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory) -> Path:
    """The whole workflow run once on the tiny config; returns its working directory."""
    return _shared_run(tmp_path_factory, "demo_run", tiny_config())


@pytest.fixture(scope="session")
def shipped_demo(tmp_path_factory) -> Path:
    """The whole workflow run once on ``config/config.yaml`` exactly as shipped (the quick
    start's demo, about 2 minutes on 2 cores); returns its working directory."""
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    return _shared_run(tmp_path_factory, "shipped_demo", config, timeout=3600)
