"""Fixtures for the lecture tests: the list of lectures, one headless execution per lecture
(shared by the error test and the claims test) and a JupyterLab server for the browser tests."""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from tests import jupyterlab

REPO = Path(__file__).resolve().parents[2]
LECTURES = sorted((REPO / "lectures").glob("*.ipynb"))

# JupyterLab user settings for the test server: no news pop-up, no update check, autosave ON
# every AUTOSAVE_SECONDS (a learner's session compressed: the workspace design must keep the
# tracked notebooks clean with it) and every cell kept in the DOM.
AUTOSAVE_SECONDS = 2
LAB_SETTINGS = {
    **jupyterlab.NO_POPUPS,
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings":
        {"autosave": True, "autosaveInterval": AUTOSAVE_SECONDS},
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
}


# ----------------------------------------------------------------------------- headless runs
CLAIMS_MARKER = "CLAIMS-JSON:"


def lecture_claims(nb):
    """The claims of a notebook: a list of ``(cell_index, text, expression)``.

    A markdown cell states a computed number by carrying the metadata
    ``"claims": {"<text as it appears in the cell source>": "<expression>"}``; the expression is
    evaluated in the notebook's namespace after all cells ran, and ``str()`` of its value must
    equal the text. A malformed ``claims`` entry gives the expression ``None``.
    """
    found = []
    for index, cell in enumerate(nb.cells):
        claims = cell.get("metadata", {}).get("claims")
        if claims is None:
            continue
        if not isinstance(claims, dict):
            found.append((index, repr(claims), None))
            continue
        for text, expression in claims.items():
            ok = isinstance(text, str) and isinstance(expression, str) and cell.cell_type == "markdown"
            found.append((index, text, expression if ok else None))
    return found


def _claims_cell(expressions):
    """Source of a code cell that evaluates every expression and prints str() of each as JSON."""
    return (
        "def __course_claims(expressions, namespace):\n"
        "    import json\n"
        "    values = []\n"
        "    for expression in expressions:\n"
        "        try:\n"
        "            values.append(str(eval(expression, namespace)))\n"
        "        except Exception as error:\n"
        "            values.append(f'<{type(error).__name__}: {error}>')\n"
        f"    print({CLAIMS_MARKER!r} + json.dumps(values))\n"
        f"__course_claims({expressions!r}, globals())\n"
    )


def execute_notebook(path, cwd=None, timeout=120):
    """Execute a notebook headless once, then evaluate its claims in the same kernel.

    Returns a dict: ``nb`` (the executed notebook, without the added claims cell), ``seconds``
    (wall time of the whole run, kernel start included), ``problems`` (list of str: errors and
    warnings written to stderr, by cell index) and ``claims`` (list of
    ``(cell_index, text, expression, value)``, value = str() of the evaluated expression, or
    ``"<ErrorName: message>"``).
    """
    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    claims = lecture_claims(nb)
    expressions = [expression or "None" for _, _, expression in claims]
    nb.cells.append(nbformat.v4.new_code_cell(_claims_cell(expressions)))
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(cwd or path.parent)}})
    start = time.monotonic()
    client.execute()
    seconds = time.monotonic() - start
    claims_cell = nb.cells.pop()
    printed = "".join(o.get("text", "") for o in claims_cell.get("outputs", [])
                      if o.get("output_type") == "stream" and o.get("name") == "stdout")
    values = None
    for line in printed.splitlines():
        if line.startswith(CLAIMS_MARKER):
            values = json.loads(line[len(CLAIMS_MARKER):])
    if values is None:
        values = ["<the claims cell printed nothing>"] * len(claims)
    problems = []
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            if output.output_type == "error":
                problems.append(f"cell {index}: {output.ename}: {output.evalue}")
            elif output.output_type == "stream" and output.name == "stderr" \
                    and re.search(r"Warning|Traceback", output.text):
                problems.append(f"cell {index} wrote to stderr: {output.text[:300]}")
    return {
        "nb": nb,
        "seconds": seconds,
        "problems": problems,
        "claims": [(index, text, expression, value)
                   for (index, text, expression), value in zip(claims, values)],
    }


def claim_failures(run):
    """Messages for every claim of an executed notebook that does not hold (empty list: all hold)."""
    failures = []
    for index, text, expression, value in run["claims"]:
        source = run["nb"].cells[index].source
        where = f"cell {index}: claim {text!r}"
        if expression is None:
            failures.append(f"{where}: malformed claims metadata (need a markdown cell and "
                            "a dict of text -> expression strings)")
        elif text not in source:
            failures.append(f"{where} does not occur in the cell's source")
        elif value != text:
            failures.append(f"{where}: {expression} gives {value!r}")
    return failures


@pytest.fixture(scope="session")
def lecture_run(tmp_path_factory):
    """``lecture_run(path)``: the result of :func:`execute_notebook` for a lecture, computed once
    per session and shared by every test that asks for it.

    The kernel runs in an empty temporary folder, as in the learner's workspace (which holds the
    notebooks only): a lecture that reads or writes files next to itself fails here.
    """
    cache = {}

    def run(path):
        if path not in cache:
            cache[path] = execute_notebook(path, cwd=tmp_path_factory.mktemp(path.stem))
        return cache[path]

    return run


@pytest.fixture
def notebook_checks():
    """The helpers above for tests that build their own notebooks."""
    return {"execute": execute_notebook, "claim_failures": claim_failures,
            "lecture_claims": lecture_claims}


def pytest_generate_tests(metafunc):
    if "lecture" in metafunc.fixturenames:
        metafunc.parametrize("lecture", LECTURES, ids=[p.stem for p in LECTURES])


@pytest.fixture(scope="session")
def lab_server(tmp_path_factory):
    """JupyterLab started the way ``make lab`` starts it: ``scripts/lab.sh`` with a free PORT, a
    token and a workspace of its own (``workspace/.pytest-<pid>/`` in the repository, git-ignored
    like the learner's ``workspace/``, removed at teardown).

    Yields a dict: ``url`` (base URL), ``token``, ``workspace`` (Path), ``autosave_seconds``
    (the autosave interval of its settings). The server runs in its
    own process group, killed at teardown.
    """
    home = tmp_path_factory.mktemp("lab")
    workspace = REPO / "workspace" / f".pytest-{os.getpid()}"
    env = dict(os.environ)
    env.update({
        "WORKSPACE": str(workspace),
        "JUPYTERLAB_SETTINGS_DIR": str(jupyterlab.write_settings(home / "settings", LAB_SETTINGS)),
        "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "RELEASE_ASSIGNMENTS": "0",  # lectures only: no nbgrader release into the repository
    })
    try:
        with jupyterlab.lab_server(REPO / "scripts" / "lab.sh", [], REPO, env,
                                   home / "server.log") as server:
            yield {**server, "workspace": workspace, "autosave_seconds": AUTOSAVE_SECONDS}
    finally:
        shutil.rmtree(workspace, ignore_errors=True)


@pytest.fixture(scope="module")
def browser(chromium_path):
    """Headless Debian chromium driven by Playwright (no browser download)."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, args=jupyterlab.CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def chromium_path():
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    return path
