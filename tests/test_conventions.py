"""The Snakemake workflow catalog's conventions: `snakefmt --check` and `snakemake --lint`
clean, and a `.snakemake-workflow-catalog.yml` with the keys the catalog reads."""

import shutil
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def test_snakefmt_check_is_clean():
    """Every Snakefile and rule file is formatted as snakefmt formats it."""
    proc = subprocess.run([str(BIN / "snakefmt"), "--check", "workflow/"], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, (
        "snakefmt --check workflow/ would change files (run `snakefmt workflow/`):\n"
        + proc.stdout + proc.stderr
    )


def test_snakemake_lint_is_clean(tmp_path):
    """`snakemake --lint` on the shipped configuration reports nothing."""
    shutil.copytree(REPO / "workflow", tmp_path / "workflow",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.copytree(REPO / "config", tmp_path / "config")
    proc = subprocess.run([sys.executable, "-m", "snakemake", "--lint"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=600)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "Congratulations, your workflow is in a good condition!" in out, out


def test_catalog_file_declares_usage_deployment_and_report():
    spec = yaml.safe_load((REPO / ".snakemake-workflow-catalog.yml").read_text())
    usage = spec["usage"]
    assert set(usage["mandatory-flags"]) == {"desc", "flags"}
    assert usage["mandatory-flags"]["desc"].strip()
    deployment = usage["software-stack-deployment"]
    assert set(deployment) == {"conda", "singularity", "singularity+conda"}
    assert any(deployment.values()), "at least one deployment method must work"
    assert usage["report"] is True
    # What the catalog's 'standardized usage' also requires of the repository.
    assert (REPO / "workflow" / "Snakefile").is_file()
    assert (REPO / "config" / "README.md").is_file()
    if deployment["conda"]:
        assert list((REPO / "workflow" / "envs").glob("*.yaml"))
