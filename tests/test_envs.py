"""The conda environments in workflow/envs pin the same versions as pyproject.toml."""

import re
import tomllib
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]


def _pins(requirements):
    pins = {}
    for req in requirements:
        m = re.fullmatch(r"\s*([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?\s*==\s*([^\s;]+)\s*", req)
        if m:
            pins[m.group(1).lower().replace("_", "-")] = m.group(2)
    return pins


def project_pins():
    data = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    pins = _pins(data["dependencies"])
    for extra in data["optional-dependencies"].values():
        pins.update(_pins(extra))
    return pins


def env_pins(path):
    env = yaml.safe_load(path.read_text())
    reqs = []
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            reqs.extend(dep.get("pip", []))
        else:
            reqs.append(dep.replace("=", "==", 1) if re.fullmatch(r"[\w.-]+=[^=].*", dep) else dep)
    return _pins(reqs)


ENV_FILES = sorted((REPO / "workflow" / "envs").glob("*.yaml"))


def test_every_dependency_is_pinned():
    data = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    unpinned = [r for r in data["dependencies"] if "==" not in r]
    assert not unpinned, f"unpinned dependencies in pyproject.toml: {unpinned}"


@pytest.mark.parametrize("env_file", ENV_FILES, ids=lambda p: p.name)
def test_env_pins_agree_with_pyproject(env_file):
    project = project_pins()
    env = env_pins(env_file)
    assert env, f"{env_file} pins nothing"
    for name, version in env.items():
        if name in ("python", "pip"):
            continue
        assert name in project, f"{env_file.name}: {name} is not a dependency in pyproject.toml"
        assert version == project[name], (
            f"{env_file.name}: {name}=={version} but pyproject.toml pins {name}=={project[name]}"
        )


def test_envs_cover_the_card_dependencies():
    names = set()
    for f in ENV_FILES:
        names |= set(env_pins(f))
    for pkg in ["numpy", "pandas", "nibabel", "scikit-image", "scikit-learn", "scipy",
                "statsmodels", "seaborn", "keras", "tensorflow-cpu"]:
        assert pkg in names, f"no env in workflow/envs pins {pkg}"


def test_rules_use_existing_envs():
    """Every `conda:` directive in the rules names a file in workflow/envs."""
    for smk in (REPO / "workflow" / "rules").glob("*.smk"):
        for m in re.finditer(r'conda:\s*\n\s*"([^"]+)"', smk.read_text()):
            target = (smk.parent / m.group(1)).resolve()
            assert target.exists(), f"{smk.name}: conda env {m.group(1)} does not exist"
