"""Helpers of the browser tests: the Lab server's config, opening Lab and the Jobs sidebar, screenshots."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BUILT = REPO / "jupyter_jobs" / "labextension"
CHROMIUM = os.environ.get("JUPYTER_JOBS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]
RESULTS = REPO / "test-results" / "ui"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Lab:
    url: str  # http://127.0.0.1:PORT/
    token: str
    root: Path
    data_dir: Path
    log: Path
    proc: subprocess.Popen | None = None
    env: dict = field(default_factory=dict)

    def lab_url(self, path: str = "lab") -> str:
        return f"{self.url}{path}?token={self.token}"

    def api(self, path: str, method: str = "GET", body: dict | None = None) -> dict | None:
        data = json.dumps(body).encode() if body is not None else (b"" if method == "POST" else None)
        request = urllib.request.Request(f"{self.url}jobs/{path}", data=data, method=method, headers={
            "Authorization": f"token {self.token}", "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            text = response.read()
        return json.loads(text) if text else None

    def cli_env(self) -> dict:
        return {**os.environ, "JUPYTER_JOBS_URL": self.url, "JUPYTER_JOBS_TOKEN": self.token}


def write_lab_config(config_dir: Path, settings_dir: Path, labext_dir: Path, root: Path, data_dir: Path,
                     token: str, port: int, jobs_extension: bool, jobs: dict, extra: dict | None = None) -> None:
    """`jobs` is c.JobsSettings; `extra` more sections (e.g. {"DockerExecutor": {...}})."""
    config_dir.mkdir(parents=True, exist_ok=True)
    (config_dir / "jupyter_server_config.json").write_text(json.dumps({
        "ServerApp": {
            "jpserver_extensions": {"jupyter_jobs": jobs_extension, "jupyterlab": True},
            "token": token, "port": port, "ip": "127.0.0.1", "open_browser": False,
            "root_dir": str(root), "allow_root": True, "port_retries": 0,
        },
        "LabApp": {"extra_labextensions_path": [str(labext_dir)], "user_settings_dir": str(settings_dir),
                   "workspaces_dir": str(settings_dir.parent / "workspaces"), "news_url": None},
        "JobsSettings": {"data_dir": str(data_dir), "local_cpus": 256, "local_memory_gb": 2048, **jobs},
        "JobsApp": {"dispatch_interval": 0.2},
        **(extra or {}),
    }))
    # No "Jupyter news" / update pop-up over the bottom-right corner.
    notif = settings_dir / "@jupyterlab" / "apputils-extension"
    notif.mkdir(parents=True, exist_ok=True)
    (notif / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false",
                                                                       "checkForUpdates": False}))
    labext_dir.mkdir(parents=True, exist_ok=True)
    link = labext_dir / "jupyter-jobs"
    if not link.exists():
        link.symlink_to(BUILT, target_is_directory=True)


def open_lab(page, lab: Lab, path: str = "lab") -> None:
    """Load Lab and wait until it has started (the shell is up and the Jobs tab is there)."""
    page.goto(lab.lab_url(path))
    page.wait_for_selector("#jp-main-dock-panel", timeout=60000)
    page.wait_for_selector('.jp-SideBar [data-id="jupyter-jobs-sidebar"]', timeout=60000)


def open_jobs(page) -> None:
    tab = page.locator('.jp-SideBar [data-id="jupyter-jobs-sidebar"]')
    if tab.get_attribute("aria-selected") != "true":
        tab.click()
    page.wait_for_selector("#jupyter-jobs-sidebar:not(.lm-mod-hidden)")


def screenshot(page, name: str, locator=None) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.png"
    (locator or page).screenshot(path=str(path))
    return path


