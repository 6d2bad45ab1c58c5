"""Render every lecture in a real JupyterLab in headless Chromium.

For each lecture: open it, Run All, wait for the kernel to be idle, check that no cell
produced an error, that every widget shows its controls and its plot, and that using a
control (slider, toggle or Train button) changes the plot. A screenshot of the first widget
(or the first figure) goes to ``artifacts/<lecture>.png``. No output may be saved into the notebook file on disk.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
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


@pytest.fixture(scope="module")
def browser(chromium_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


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


@pytest.mark.timeout(240)
def test_lecture_renders_in_jupyterlab(lecture, lab_server, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        page.goto(f"{lab_server}/lab/tree/lectures/{lecture.name}?reset")
        page.wait_for_selector(".jp-NotebookPanel", timeout=60_000)
        page.wait_for_function(_KERNEL_IDLE, timeout=90_000, polling=250)
        _dismiss_popups(page)

        page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
        page.wait_for_function(_ALL_EXECUTED, timeout=150_000, polling=500)

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
        try:
            page.evaluate("() => window.jupyterapp.serviceManager.sessions.shutdownAll()")
        except Exception:  # the page may already be broken; the server teardown stops kernels
            pass
        page.close()
    on_disk = json.loads(lecture.read_text())
    saved = [i for i, c in enumerate(on_disk["cells"]) if c.get("outputs")]
    assert not saved, f"{lecture.name}: JupyterLab saved outputs of cells {saved} to disk"
