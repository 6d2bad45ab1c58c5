"""Build a Gradescope autograder package (``fnn-grade export-gradescope-autograder``).

Gradescope unpacks the uploaded zip into ``/autograder/source``, runs ``setup.sh`` there once
(as root, on Ubuntu) to build the image, and for every submission copies the student's files
to ``/autograder/submission/`` and runs ``/autograder/run_autograder``, which must write
``/autograder/results/results.json``. The zip made here holds::

    setup.sh            apt: bubblewrap, a Python >= 3.11 with venv; a venv in /autograder/venv;
                        pip install of the bundled wheel; then locks the grader's files
    run_autograder      grades the submission with the hardened grader (autograder.deploy.gradescope_run)
    requirements.txt    the runtime dependencies (the wheel declares them too)
    package.json        assignment name, fnn-course version, build time
    wheels/             fnn_course-<version>-py3-none-any.whl (packages ``course`` and
                        ``autograder``), plus dependency wheels for an offline install
    course_root/        a minimal course root: assignments/<assignment>/<assignment>.ipynb (the
                        grader reads the grade_ids from it) and its cases.py when the course
                        has one, fnn_grade.json if the course has one, and .grader-secret, a
                        secret of this package only

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
import zipfile
from pathlib import Path

from autograder.engine import config as config_mod
from autograder.engine.notebook_io import source_notebook_path

DIST_NAME = "fnn_course"
PACKAGES = ("course", "autograder")
RUNTIME_REQUIREMENTS = ("numpy>=2.0", "array-api-compat>=1.11", "scikit-learn>=1.5")
"""What grading needs at run time (scikit-learn: the digits data of vectorized_gradients)."""

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
PYTHON=/usr/bin/python3
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    apt-get install -y -q --no-install-recommends python3.11 python3.11-venv
    PYTHON=/usr/bin/python3.11
fi
# The sandbox runs this venv's interpreter (a link to /usr/bin/python3.x) inside bubblewrap.
"$PYTHON" -m venv "$ROOT/venv"
PIP=("$ROOT/venv/bin/python" -m pip install -q --disable-pip-version-check --find-links "$SOURCE/wheels")
if [ -f "$SOURCE/wheels/OFFLINE" ]; then
    PIP+=(--no-index)
fi
"${PIP[@]}" "$SOURCE"/wheels/fnn_course-*.whl
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


def _zip_write(zf: zipfile.ZipFile, name: str, data: bytes, mode: int = 0o644) -> None:
    info = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = (0o100000 | mode) << 16
    zf.writestr(info, data)


def build_wheel(dest: Path | str) -> Path:
    """Write a pure-Python wheel of the packages ``course`` and ``autograder`` into ``dest``.

    The wheel is built from the importable sources (no build tools needed, reproducible: fixed
    timestamps, sorted files). ``pip install`` accepts it offline; it declares
    :data:`RUNTIME_REQUIREMENTS` and the ``fnn-grade`` command.
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


def build_package(course_root: Path | str, assignment: str, output: Path | str,
                  wheelhouse: Path | str | None = None) -> Path:
    """Write the Gradescope autograder zip of ``assignment`` to ``output``.

    Parameters
    ----------
    course_root : nbgrader course root (``assignments/<assignment>/<assignment>.ipynb``).
    assignment : an assignment of the course root
        (:func:`autograder.cases.tasks.list_assignments`).
    output : path of the zip to write (its folder is created).
    wheelhouse : optional folder of dependency wheels (``pip download numpy ...`` for the
        image's Python) to bundle: ``setup.sh`` then installs without the network.

    Returns
    -------
    Path of the zip.

    Raises
    ------
    ValueError
        If ``assignment`` is unknown, its source notebook is missing, ``fnn_grade.json`` is
        invalid or ``wheelhouse`` holds no wheel.
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
    try:
        wheel = build_wheel(build)
        extra = sorted(Path(wheelhouse).glob("*.whl")) if wheelhouse else []
        if wheelhouse and not extra:
            raise ValueError(f"wheelhouse {wheelhouse} holds no .whl file")
        meta = {"assignment": assignment, "fnn_course": version(),
                "built": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                "course_root": COURSE_DIR, "offline": bool(extra)}
        tmp = output.with_name(f".{output.name}.{os.getpid()}.tmp")
        with zipfile.ZipFile(tmp, "w") as zf:
            _zip_write(zf, "setup.sh", SETUP_SH.encode(), 0o755)
            _zip_write(zf, "run_autograder", RUN_AUTOGRADER.encode(), 0o755)
            _zip_write(zf, "requirements.txt",
                       "".join(f"{r}\n" for r in RUNTIME_REQUIREMENTS).encode())
            _zip_write(zf, "package.json", json.dumps(meta, indent=1).encode())
            _zip_write(zf, f"wheels/{wheel.name}", wheel.read_bytes())
            for dep in extra:
                _zip_write(zf, f"wheels/{dep.name}", dep.read_bytes())
            if extra:
                _zip_write(zf, "wheels/OFFLINE", b"install without the network\n")
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
