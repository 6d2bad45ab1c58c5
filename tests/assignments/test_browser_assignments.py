"""nbgrader's Assignments tab and Formgrader's Generate in a real JupyterLab (headless Debian
chromium), on a temporary clone of the course served the way ``make lab`` serves it.

A student opens Nbgrader > Assignments, sees the released assignments, clicks Fetch, opens the
fetched notebook (``workspace/<assignment>/``), edits and saves it, clicks Submit and sees the
submission listed. Then the instructor (``bash scripts/lab.sh instructor``) clicks Generate in
Formgrader: ``release/`` is rewritten, the fetched copy and the submission are not.
Screenshots: ``artifacts/assignments/*.png``.
"""
from __future__ import annotations

import shutil
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests import jupyterlab
from tests.assignments.test_workspace_exchange import (COURSE_ID, lab_env, make_lab_clone,
                                                       tree_digest)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "artifacts" / "assignments"
ASSIGNMENTS = ("forward_pass", "softmax_backward")  # a clone with two, to keep the test short
NAME = "forward_pass"
MARKER = "answer written in the browser"

_NOTEBOOK_READY = """(path) => {
  const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const kernel = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
  return Boolean(kernel) && kernel.status === 'idle' && w.context.isReady && w.context.path === path;
}"""

_SAVED = """() => {
  const w = window.jupyterapp.shell.currentWidget;
  return w.context.isReady && !w.context.model.dirty;
}"""


@contextmanager
def lab_server(root: Path, home: Path, *args: str):
    """``bash scripts/lab.sh [args]`` in the clone ``root`` on a free port; yields
    ``{"url", "token"}``. The server runs in its own process group, killed on exit."""
    env = lab_env(root, JUPYTERLAB_SETTINGS_DIR=str(jupyterlab.write_settings(
                      home / "settings", jupyterlab.NO_POPUPS)),
                  JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"),
                  JUPYTER_RUNTIME_DIR=str(home / "runtime"))
    log = home / f"server-{len(list(home.glob('server-*.log')))}.log"
    with jupyterlab.lab_server(root / "scripts" / "lab.sh", list(args), root, env, log,
                               timeout=600) as server:  # the first start releases everything
        yield server


@pytest.fixture(scope="module")
def chromium():
    sync_api = pytest.importorskip("playwright.sync_api")
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, args=jupyterlab.CHROMIUM_ARGS)
        yield browser
        browser.close()


def _dismiss_popups(page):
    for label in ("No", "Dismiss"):
        button = page.locator(".jp-toast-button", has_text=label)
        if button.count():
            button.first.click()


def _shot(page, name):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    _dismiss_popups(page)
    page.screenshot(path=str(ARTIFACTS / name))


def _open_assignments_tab(page):
    page.wait_for_function(
        "() => window.jupyterapp.commands.hasCommand('nbgrader:open-assignment-list')",
        timeout=60_000, polling=250)
    page.evaluate("() => window.jupyterapp.commands.execute('nbgrader:open-assignment-list')")
    page.locator("#released_assignments_list").wait_for(timeout=60_000)


@pytest.mark.timeout(900)
def test_fetch_edit_submit_in_the_assignments_tab_and_generate_keeps_student_work(
        tmp_path, chromium):
    root = make_lab_clone(tmp_path / "course", ASSIGNMENTS)
    workspace = root / "workspace"
    fetched = workspace / NAME / f"{NAME}.ipynb"
    inbound = root / ".exchange" / COURSE_ID / "inbound"

    with lab_server(root, tmp_path / "student") as server:
        page = chromium.new_page(viewport={"width": 1400, "height": 900})
        page.goto(f"{server['url']}/lab?token={server['token']}")
        page.wait_for_function("() => Boolean(window.jupyterapp && window.jupyterapp.shell)",
                               timeout=90_000)
        _open_assignments_tab(page)

        # the released assignments are listed
        released = page.locator("#released_assignments_list .list_item")
        released.filter(has_text=NAME).wait_for(timeout=60_000)
        for name in ASSIGNMENTS:
            assert released.filter(has_text=name).count() == 1, f"{name} is not listed as released"
        assert page.get_by_text("Error fetching courses").count() == 0
        _shot(page, "01_released.png")

        # Fetch: the assignment moves to the fetched list and lands in workspace/<name>/
        released.filter(has_text=NAME).locator("button", has_text="Fetch").click()
        fetched_row = page.locator("#fetched_assignments_list .list_item").filter(has_text=NAME)
        fetched_row.first.wait_for(timeout=60_000)
        assert fetched.is_file(), "Fetch did not create workspace/<assignment>/<assignment>.ipynb"

        # open the fetched notebook from the tab, add a cell, save
        fetched_row.first.locator("a.assignment-notebooks-link").click()
        page.locator(f"#nbgrader-{COURSE_ID}-{NAME} a", has_text=NAME).first.click()
        page.wait_for_function(_NOTEBOOK_READY, arg=f"{NAME}/{NAME}.ipynb", timeout=120_000,
                               polling=250)
        _dismiss_popups(page)
        page.locator(".jp-Notebook .jp-Cell").first.click()
        page.keyboard.press("Escape")
        page.keyboard.press("b")  # a new code cell below the first one, in edit mode after Enter
        page.keyboard.press("Enter")
        page.keyboard.type(f"# {MARKER}")
        page.keyboard.press("Escape")
        page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
        page.wait_for_function(_SAVED, timeout=30_000, polling=250)
        assert MARKER in fetched.read_text(), "the saved notebook does not hold the edit"
        page.evaluate("() => window.jupyterapp.commands.execute('filebrowser:refresh')")
        page.locator(".jp-DirListing-item", has_text=NAME).first.wait_for(timeout=30_000)
        _shot(page, "02_fetched_notebook_edited.png")

        # Submit from the Assignments tab: it is listed as submitted
        _open_assignments_tab(page)
        page.locator("#fetched_assignments_list .list_item").filter(has_text=NAME) \
            .locator("button", has_text="Submit").first.click()
        submitted = page.locator("#submitted_assignments_list .list_item").filter(has_text=NAME)
        submitted.first.wait_for(timeout=60_000)
        submissions = list(inbound.iterdir())
        assert len(submissions) == 1 and MARKER in (submissions[0] / f"{NAME}.ipynb").read_text()
        _shot(page, "03_submitted.png")
        page.evaluate("() => window.jupyterapp.serviceManager.sessions.shutdownAll()")
        page.close()

    student_work = {"fetched": tree_digest(workspace / NAME), "inbound": tree_digest(inbound)}
    release = root / "release" / NAME / f"{NAME}.ipynb"
    stamp = release.stat().st_mtime_ns

    # the instructor's server on the course root: Formgrader > Manage Assignments > Generate
    with lab_server(root, tmp_path / "instructor", "instructor") as server:
        page = chromium.new_page(viewport={"width": 1400, "height": 1100})
        page.goto(f"{server['url']}/formgrader/manage_assignments?token={server['token']}")
        row = page.locator("tr", has_text=NAME).filter(has=page.locator("td.assign a"))
        row.first.wait_for(timeout=60_000)
        row.first.locator("td.assign a").click()
        page.get_by_text("Successfully created the student version").wait_for(timeout=120_000)
        _shot(page, "04_formgrader_generate.png")
        page.close()

    assert release.stat().st_mtime_ns != stamp, "Generate did not rewrite release/"
    assert {"fetched": tree_digest(workspace / NAME),
            "inbound": tree_digest(inbound)} == student_work, "Generate changed the student's work"
    assert MARKER in fetched.read_text()
