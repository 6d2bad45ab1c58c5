"""The Gradescope package installs without the network, and a renamed notebook is graded by
the same rule on Gradescope and locally."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from autograder.deploy import gradescope, gradescope_run
from autograder.engine import notebook_io
from tests import submissions as subs

REPO = subs.REPO
ASSIGNMENT = "forward_pass"


def offline_env(**extra: str) -> dict:
    """The environment without pip's configuration (no index, no find-links, no cache)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env.update({"PIP_CONFIG_FILE": os.devnull, "PIP_NO_CACHE_DIR": "1"}, **extra)
    return env


@pytest.fixture(scope="module")
def unpacked(tmp_path_factory):
    """The default package (dependency wheels bundled), unpacked like /autograder/source."""
    top = tmp_path_factory.mktemp("offline")
    package = gradescope.build_package(REPO, ASSIGNMENT, top / "autograder.zip")
    with zipfile.ZipFile(package) as zf:
        zf.extractall(top / "source")
    return top


def test_the_default_package_bundles_every_dependency(unpacked):
    wheels = {p.name.split("-")[0] for p in (unpacked / "source" / "wheels").glob("*.whl")}
    assert {"fnn_course", "numpy", "scikit_learn", "scipy", "array_api_compat", "joblib",
            "threadpoolctl"} <= wheels
    meta = json.loads((unpacked / "source" / "package.json").read_text())
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert meta["offline"] is True and meta["python"] == version
    assert (unpacked / "source" / "wheels" / "PYTHON").read_text().strip() == version
    assert (unpacked / "source" / "wheels" / "OFFLINE").is_file()
    numpy = next((unpacked / "source" / "wheels").glob("numpy-*.whl")).name
    assert numpy.startswith(f"numpy-{gradescope.pinned_requirements()[0].split('==')[1]}-")


def test_the_bundled_wheels_install_with_no_index_and_no_network(unpacked, tmp_path):
    wheels = unpacked / "source" / "wheels"
    target = tmp_path / "site"
    command = [sys.executable, "-m", "pip", "install", "-q", "--no-index", "--find-links",
               str(wheels), "--target", str(target), *map(str, wheels.glob("fnn_course-*.whl"))]
    if shutil.which("unshare") and os.geteuid() == 0:
        command = ["unshare", "--net", *command]  # no network at all
    proc = subprocess.run(command, env=offline_env(), capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    check = subprocess.run(
        [sys.executable, "-I", "-c", "import sys; sys.path.insert(0, sys.argv[1]); "
         "import numpy, sklearn.datasets, autograder.deploy.gradescope_run as g; "
         "print(numpy.__file__, g.__file__)", str(target)],
        capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, check.stderr[-3000:]
    assert all(path.startswith(str(target)) for path in check.stdout.split())


def test_wheelhouse_or_no_bundle_are_the_other_choices(tmp_path):
    house = tmp_path / "house"
    house.mkdir()
    (house / "dep-1.0-py3-none-any.whl").write_bytes(b"PK")
    files = gradescope.read_package(gradescope.build_package(
        REPO, ASSIGNMENT, tmp_path / "a.zip", wheelhouse=house, python_version="3.12"))
    assert "wheels/dep-1.0-py3-none-any.whl" in files
    assert files["wheels/PYTHON"] == b"3.12\n"
    files = gradescope.read_package(gradescope.build_package(
        REPO, ASSIGNMENT, tmp_path / "b.zip", bundle_dependencies=False))
    assert "wheels/OFFLINE" not in files and json.loads(files["package.json"])["offline"] is False
    assert [n for n in files if n.startswith("wheels/")] == [
        n for n in files if n.startswith("wheels/fnn_course-")]
    with pytest.raises(ValueError, match="python_version"):
        gradescope.dependency_wheels(tmp_path / "w", "3")


@pytest.mark.parametrize("files, chosen", [
    (["forward_pass.ipynb", "notes.ipynb"], "forward_pass.ipynb"),
    (["forward_pass (1).ipynb"], "forward_pass (1).ipynb"),
    (["deep/forward_pass.ipynb", "other.ipynb"], "deep/forward_pass.ipynb"),
    (["mine.ipynb", ".ipynb_checkpoints/forward_pass-checkpoint.ipynb"], "mine.ipynb"),
    (["a.ipynb", "b.ipynb"], None),
    ([], None),
])
def test_one_rule_picks_the_notebook_locally_and_on_gradescope(tmp_path, files, chosen):
    folder = tmp_path / "submitted" / "ada" / ASSIGNMENT
    folder.mkdir(parents=True)
    for name in files:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text("{}")
    layout = notebook_io.load_layout(REPO, ASSIGNMENT)
    local, reason = notebook_io.find_submission(tmp_path, ASSIGNMENT, "ada", layout)
    remote, note = gradescope_run.find_notebook(folder, f"{ASSIGNMENT}.ipynb")
    assert local == remote
    if chosen is None:
        assert local is None and reason == note and note
    else:
        assert local == folder / chosen and reason is None


def test_a_linked_notebook_is_never_chosen(tmp_path):
    folder = tmp_path / "sub"
    folder.mkdir()
    (tmp_path / "elsewhere.ipynb").write_text("{}")
    (folder / "forward_pass.ipynb").symlink_to(tmp_path / "elsewhere.ipynb")
    path, note = notebook_io.choose_notebook(folder, "forward_pass.ipynb")
    assert path is None and "no notebook" in note


@pytest.mark.skipif(os.geteuid() != 0 or not Path("/usr/bin/python3.11").exists()
                    or sys.version_info[:2] != (3, 11) or shutil.which("unshare") is None,
                    reason="needs root, unshare and /usr/bin/python3.11 (the wheels' Python)")
def test_setup_sh_installs_offline(unpacked, tmp_path):
    """setup.sh as Gradescope runs it, with apt-get faked and no network namespace access."""
    root = tmp_path / "autograder"
    root.mkdir()
    shutil.copytree(unpacked / "source", root / "source")
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "apt-get").write_text("#!/bin/sh\nexit 0\n")
    os.chmod(fake / "apt-get", 0o755)
    env = offline_env(AUTOGRADER_ROOT=str(root), PATH=f"{fake}:/usr/bin:/bin")
    proc = subprocess.run(["unshare", "--net", "bash", str(root / "source" / "setup.sh")],
                          env=env, capture_output=True, text=True, timeout=600, cwd="/")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "from the network" not in proc.stdout
    check = subprocess.run([str(root / "venv" / "bin" / "python"), "-c",
                            "import numpy, sklearn, autograder; print(autograder.__file__)"],
                           capture_output=True, text=True, timeout=120, cwd="/")
    assert check.returncode == 0 and str(root / "venv") in check.stdout, check.stderr
