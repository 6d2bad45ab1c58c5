"""Start ``scripts/lab.sh`` (what ``make lab`` runs) for the browser tests, and stop it.

Shared by the lecture tests (``tests/lectures/conftest.py``) and the assignment workspace tests
(``tests/assignments/test_browser_assignments.py``).
"""
from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
"""Arguments of the headless Chromium the browser tests drive."""

NO_POPUPS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings":
        {"fetchNews": "false", "checkForUpdates": False},
}
"""JupyterLab user settings of every test server: no news pop-up and no update check."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_settings(folder: Path, settings: dict) -> Path:
    """Write ``{"<plugin>.jupyterlab-settings": values}`` as JupyterLab user settings into
    ``folder`` (for ``JUPYTERLAB_SETTINGS_DIR``); returns ``folder``."""
    for relative, values in settings.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    return folder


@contextmanager
def lab_server(script: Path, args: list[str], cwd: Path, env: dict, log_path: Path,
               timeout: float = 90.0):
    """``bash <script> [args] --LabApp.expose_app_in_browser=True`` on a free port with a fresh
    token (``PORT`` and ``JUPYTER_TOKEN`` are added to ``env``), its output in ``log_path``.

    Yields ``{"url", "token"}`` once ``/api/status`` answers (at most ``timeout`` seconds). The
    server runs in its own process group, which is stopped on exit (SIGTERM, then SIGKILL).
    """
    token, port = secrets.token_hex(16), free_port()
    env = dict(env, PORT=str(port), JUPYTER_TOKEN=token)
    url = f"http://127.0.0.1:{port}"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            ["bash", str(script), *args, "--LabApp.expose_app_in_browser=True"], cwd=cwd,
            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            _wait_for(f"{url}/api/status?token={token}", process, log_path, timeout)
            yield {"url": url, "token": token}
        finally:
            try:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
            except ProcessLookupError:
                pass


def _wait_for(url: str, process: subprocess.Popen, log_path: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"lab.sh exited with {process.returncode}: "
                               + log_path.read_text(errors="replace")[-3000:])
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"JupyterLab did not answer at {url} within {timeout:.0f} s")
