"""environment.yml (conda) and pyproject.toml (pip) must list the same packages."""
import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _pyproject_requirements() -> dict:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"]) + list(project["optional-dependencies"]["dev"])
    return {_name(r): r.replace(" ", "") for r in requirements}


def _environment_requirements() -> dict:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    found = {}
    for entry in env["dependencies"]:
        if isinstance(entry, dict):
            found.update({_name(r): r.replace(" ", "") for r in entry["pip"] if not r.startswith("-e")})
        elif _name(entry) not in ("python", "pip"):
            found[_name(entry)] = entry.replace(" ", "")
    return found


def test_same_packages_and_versions():
    assert _environment_requirements() == _pyproject_requirements()


def test_python_version_matches():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert "python=3.11" in env["dependencies"]
    assert tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"] == ">=3.11"


def test_project_itself_is_installed_by_the_environment():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(entry["pip"] for entry in env["dependencies"] if isinstance(entry, dict))
    assert "-e ." in pip_section
