"""Every lecture in a real JupyterLab in headless Chromium, served the way ``make lab`` serves
it (scripts/lab.sh: the learner's git-ignored workspace, autosave on).

For each lecture: open its workspace copy, Run All, wait for the kernel to be idle, check that
no cell produced an error, that every widget shows its controls and its plot, and that using a
control (slider, toggle or Train button) changes the plot. A screenshot of the first widget
(or the first figure) goes to ``artifacts/<lecture>.png``. The tracked lecture must stay
byte-identical.

The workspace test plays a learner: run a lecture, edit and add a cell, let autosave write,
save explicitly, and then ``git status`` of the repository must show nothing new.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "artifacts"
CONTROLS = ".widget-slider, .widget-toggle-buttons, .widget-button, .widget-dropdown"

_KERNEL_IDLE = """() => {
  const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const kernel = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
  return Boolean(kernel) && kernel.status === 'idle' && w.context.isReady;
}"""

_ALL_EXECUTED = """() => {
  const w = window.jupyterapp.shell.currentWidget;
  const cells = w.content.model.cells;
  for (let i = 0; i < cells.length; i++) {
    const c = cells.get(i);
    if (c.type === 'code' && c.sharedModel.getSource().trim() && !c.executionCount) return false;
  }
  return w.sessionContext.session.kernel.status === 'idle';
}"""

_OUTPUTS = """() => {
  const cells = window.jupyterapp.shell.currentWidget.content.model.cells;
  const result = [];
  for (let i = 0; i < cells.length; i++) {
    const c = cells.get(i);
    result.push(c.type === 'code' ? c.outputs.toJSON() : []);
  }
  return result;
}"""


def _dismiss_popups(page):
    for label in ("No", "Dismiss"):
        button = page.locator(".jp-toast-button", has_text=label)
        if button.count():
            button.first.click()


def _image_src(cell):
    images = cell.locator(".widget-output img")
    return images.first.get_attribute("src") if images.count() else None


def _wait_for_new_image(cell, before, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        src = _image_src(cell)
        if src and src != before:
            return src
        time.sleep(0.2)
    return None


def _use_a_control(page, cell):
    """Move a slider, flip a toggle or press Train; return a description of what was done."""
    handle = cell.locator(".noUi-handle")
    train = cell.locator(".widget-button", has_text="Train")
    toggles = cell.locator(".widget-toggle-button:not(.mod-active)")
    if train.count():
        train.first.scroll_into_view_if_needed()
        train.first.click()
        return "pressed Train"
    if handle.count():
        handle.first.scroll_into_view_if_needed()
        handle.first.focus()
        page.keyboard.press("ArrowRight")
        return "moved a slider"
    if toggles.count():
        toggles.first.scroll_into_view_if_needed()
        toggles.first.click()
        return "flipped a toggle"
    return None


def _open_and_run_all(page, lab_server, lecture):
    """Open the workspace copy of ``lecture`` in JupyterLab and run every cell."""
    page.goto(f"{lab_server['url']}/lab/tree/lectures/{lecture.name}?reset"
              f"&token={lab_server['token']}")
    page.wait_for_selector(".jp-NotebookPanel", timeout=60_000)
    page.wait_for_function(_KERNEL_IDLE, timeout=90_000, polling=250)
    _dismiss_popups(page)
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    page.wait_for_function(_ALL_EXECUTED, timeout=150_000, polling=500)


def _shutdown_kernels(page):
    try:
        page.evaluate("() => window.jupyterapp.serviceManager.sessions.shutdownAll()")
    except Exception:  # the page may already be broken; the server teardown stops kernels
        pass


@pytest.mark.timeout(240)
def test_lecture_renders_in_jupyterlab(lecture, lab_server, browser):
    committed = lecture.read_bytes()
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        _open_and_run_all(page, lab_server, lecture)

        outputs = page.evaluate(_OUTPUTS)
        errors = [f"cell {i}: {o.get('ename')}: {o.get('evalue')}"
                  for i, cell_outputs in enumerate(outputs) for o in cell_outputs
                  if o["output_type"] == "error"]
        assert not errors, f"{lecture.name} raised in JupyterLab:\n" + "\n".join(errors)
        assert page.get_by_text("Error displaying widget").count() == 0

        widget_cells = [i for i, cell_outputs in enumerate(outputs)
                        if any("application/vnd.jupyter.widget-view+json" in o.get("data", {})
                               for o in cell_outputs)]
        cells = page.locator(".jp-Notebook .jp-Cell")
        assert cells.count() == len(outputs), "not every cell is in the DOM"
        for i in widget_cells:
            cell = cells.nth(i)
            cell.locator(".widget-output img").first.wait_for(timeout=30_000)
            assert cell.locator(CONTROLS).count() > 0, f"cell {i}: widget has no controls"

        for i in widget_cells:
            cell = cells.nth(i)
            before = _image_src(cell)
            action = _use_a_control(page, cell)
            assert action, f"cell {i}: no slider, toggle or Train button to use"
            assert _wait_for_new_image(cell, before), f"cell {i}: {action} but the plot did not change"
            if action == "pressed Train":  # let the run finish so the screenshot shows full curves
                cell.locator(".widget-label", has_text="done").wait_for(timeout=120_000)

        ARTIFACTS.mkdir(exist_ok=True)
        figure_cells = [i for i, cell_outputs in enumerate(outputs)
                        if any("image/png" in o.get("data", {}) for o in cell_outputs)]
        shown = (widget_cells or figure_cells or [0])[0]
        cells.nth(shown).evaluate("node => node.scrollIntoView({block: 'start'})")
        time.sleep(0.3)
        _dismiss_popups(page)
        page.screenshot(path=str(ARTIFACTS / f"{lecture.stem}.png"))
    finally:
        _shutdown_kernels(page)
        page.close()
    assert lecture.read_bytes() == committed, f"{lecture.name}: the tracked lecture was modified"
    assert (lab_server["workspace"] / "lectures" / lecture.name).exists()


def _git(*args):
    result = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=True)
    return result.stdout


def _repository_state():
    """What a learner's session could change: git status (untracked files listed one by one)
    and the bytes of every tracked notebook (a file already modified would not show twice)."""
    status = set(_git("status", "--porcelain", "--untracked-files=all").splitlines())
    notebooks = {name: hashlib.sha256((REPO / name).read_bytes()).hexdigest()
                 for name in _git("ls-files", "*.ipynb").splitlines() if (REPO / name).exists()}
    return status, notebooks


_EDITOR_FOCUSED = """() => {
  const element = document.activeElement;
  return Boolean(element && element.closest('.jp-Cell.jp-mod-active .cm-editor'));
}"""

_ACTIVE_SOURCE_HAS = """(text) => {
  const cell = window.jupyterapp.shell.currentWidget.content.activeCell;
  return Boolean(cell) && cell.model.sharedModel.getSource().includes(text);
}"""

_DIRTY = """() => window.jupyterapp.shell.currentWidget.context.model.dirty"""

_SAVED_STATE = """() => {
  const w = window.jupyterapp.shell.currentWidget;
  return w.context.isReady && !w.context.model.dirty;
}"""


@pytest.mark.timeout(400)
def test_a_learners_session_with_autosave_leaves_the_repository_clean(lab_server, browser):
    lecture = sorted((REPO / "lectures").glob("*.ipynb"))[0]
    autosave_seconds = lab_server["autosave_seconds"]
    copy = lab_server["workspace"] / "lectures" / lecture.name
    status_before, notebooks_before = _repository_state()
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        _open_and_run_all(page, lab_server, lecture)
        # the learner edits the first cell and adds a cell of their own, by keyboard
        page.evaluate("""() => {
          const cell = window.jupyterapp.shell.currentWidget.content.model.cells.get(0);
          cell.sharedModel.setSource(cell.sharedModel.getSource() + '\\n\\nMy note: read twice.');
        }""")
        page.evaluate("""() => {
          const notebook = window.jupyterapp.shell.currentWidget.content;
          notebook.activeCellIndex = notebook.widgets.length - 1;
        }""")
        for command in ("notebook:insert-cell-below", "notebook:enter-edit-mode"):
            page.evaluate(f"() => window.jupyterapp.commands.execute('{command}')")
        page.wait_for_function(_EDITOR_FOCUSED, timeout=30_000, polling=100)
        page.keyboard.type("learner_answer = 6 * 7\nprint('learner', learner_answer)")
        page.wait_for_function(_ACTIVE_SOURCE_HAS, arg="print('learner'", timeout=30_000)
        page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-cell')")
        page.wait_for_function(_ALL_EXECUTED, timeout=60_000, polling=500)

        # autosave alone (no save command yet) writes the learner's work into the workspace copy
        # generous: JupyterLab stretches the interval to 10x the duration of the last save.
        # JupyterLab marks the notebook clean when a save completes, even when the learner's
        # last output arrived while that save was in flight (the output is then on screen but
        # not on disk, and autosave waits for the next change). A learner keeps typing; so does
        # this test, one keystroke in the new cell whenever the notebook is clean but unsaved.
        deadline = time.monotonic() + 60 * autosave_seconds
        while time.monotonic() < deadline and "learner 42" not in copy.read_text():
            time.sleep(0.5)
            if not page.evaluate(_DIRTY) and "learner 42" not in copy.read_text():
                page.evaluate("() => window.jupyterapp.commands.execute('notebook:enter-edit-mode')")
                page.wait_for_function(_EDITOR_FOCUSED, timeout=30_000, polling=100)
                page.keyboard.press("End")
                page.keyboard.type(" ")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "workspace_session.png"))
        last = page.evaluate("""() => {
          const cells = window.jupyterapp.shell.currentWidget.content.model.cells;
          const c = cells.get(cells.length - 1);
          return [c.sharedModel.getSource(), c.outputs.toJSON()];
        }""")
        assert "learner 42" in copy.read_text(), \
            f"autosave did not write the workspace copy; last cell in the browser: {last}"
        page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
        page.wait_for_function(_SAVED_STATE, timeout=30_000, polling=250)
        time.sleep(2 * autosave_seconds)  # a few more autosave rounds
    finally:
        _shutdown_kernels(page)
        page.close()

    saved = json.loads(copy.read_text())
    assert "My note: read twice." in "".join(saved["cells"][0]["source"])
    assert sum(bool(c.get("outputs")) for c in saved["cells"]) >= 2, "outputs were not saved"
    ignored = subprocess.run(["git", "check-ignore", "-q", str(copy)], cwd=REPO)
    assert ignored.returncode == 0, f"{copy} is not git-ignored"

    status_after, notebooks_after = _repository_state()
    assert status_after - status_before == set(), "git status shows new changes"
    changed = [name for name in notebooks_before if notebooks_after.get(name) != notebooks_before[name]]
    assert not changed, f"tracked notebooks modified: {changed}"
    assert "learner" not in lecture.read_text()
