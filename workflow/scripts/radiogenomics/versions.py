"""Software versions for the report: what is pinned and what the job actually ran with.

``software_versions`` lists, per package, the version installed in the environment of
the job that runs it (``importlib.metadata``; "not installed" when absent, e.g.
TensorFlow in the core conda environment) and the versions pinned by each conda
environment file in ``workflow/envs`` (the same pins as pyproject.toml).
"""

from __future__ import annotations

import platform
import re
import sys
from importlib import metadata
from pathlib import Path

import pandas as pd

#: The packages the workflow depends on (pyproject.toml), in a readable order.
PACKAGES = (
    "snakemake", "numpy", "pandas", "scipy", "scikit-learn", "statsmodels", "seaborn",
    "matplotlib", "nibabel", "scikit-image", "keras", "tensorflow", "tensorflow-cpu",
)


def installed_version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def env_pins(env_file) -> dict[str, str]:
    """``package -> version`` pinned (``==`` for pip, ``=`` for conda) in a conda environment file.

    Parsed line by line (the environments' files are simple lists), so that this runs in
    an environment without PyYAML.
    """
    pins = {}
    for line in Path(env_file).read_text().splitlines():
        line = line.split("#", 1)[0]
        m = re.fullmatch(r"\s*-\s*([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?\s*==?\s*([^\s;=]+)\s*", line)
        if m:
            pins[m.group(1).lower().replace("_", "-")] = m.group(2)
    return pins


def software_versions(env_files=(), packages=PACKAGES, extra: dict | None = None) -> pd.DataFrame:
    """Table indexed by ``package``: ``installed`` (this job) and one ``env:<name>`` column
    per environment file with its pin ("" when that environment does not pin it).

    ``extra`` adds rows given as ``name -> version`` (e.g. the Snakemake that ran the
    workflow, passed in by the rule).
    """
    env_files = sorted(Path(f) for f in env_files)
    pins = {f.stem: env_pins(f) for f in env_files}
    rows = [{"package": "python", "installed": platform.python_version(),
             **{f"env:{k}": v.get("python", "") for k, v in pins.items()}}]
    for pkg in packages:
        rows.append({"package": pkg, "installed": installed_version(pkg),
                     **{f"env:{k}": v.get(pkg, "") for k, v in pins.items()}})
    for name, version in (extra or {}).items():
        rows.append({"package": name, "installed": str(version), **{f"env:{k}": "" for k in pins}})
    table = pd.DataFrame(rows).set_index("package")
    return table


def platform_summary() -> pd.DataFrame:
    return pd.DataFrame(
        {"value": [sys.version.split()[0], platform.platform(), platform.machine()]},
        index=pd.Index(["python", "platform", "machine"], name="item"),
    )
