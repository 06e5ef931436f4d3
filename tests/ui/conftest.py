"""A real `jupyter lab` (own port, token, root dir, jobs data dir) with the jupyter_jobs server extension and
the built Lab extension, driven by Debian's Chromium through Python Playwright. Never `playwright install`:
the browser is `/usr/bin/chromium` (scripts/install-chromium.sh)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
from helpers import require_in_ci
from uilab import BUILT, CHROMIUM, CHROMIUM_ARGS, RESULTS, Lab, free_port, write_lab_config


def pytest_collection_modifyitems(items):
    """Every UI test is slow (a `pytestmark` in a conftest marks nothing, so mark them here)."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    if not Path(CHROMIUM).exists():
        require_in_ci(f"{CHROMIUM} is missing: run scripts/install-chromium.sh")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        require_in_ci("the `playwright` Python package is missing (pip install -e '.[test]')")
    if not (BUILT / "package.json").exists():
        require_in_ci("the Lab extension is not built: `cd labextension && jlpm install && jlpm build`")
    return CHROMIUM


@pytest.fixture(scope="session")
def shared_envs(tmp_path_factory) -> Path:
    """Built job environments (papermill, ipykernel), shared by every UI test: warm after the first."""
    return tmp_path_factory.mktemp("ui-envs")


@pytest.fixture
def start_lab(chromium_path, jobs_data_dir, shared_envs, tmp_path):
    """`start_lab(jobs_extension=True, extra_config=None, **jobs_settings)` -> a running Lab; stopped (by its
    pid) at the end. `extra_config` holds more config sections (an executor's options)."""
    labs: list[Lab] = []

    def start(jobs_extension: bool = True, extra_config: dict | None = None, **jobs) -> Lab:
        envs = jobs_data_dir / "envs"
        if not envs.exists():
            envs.symlink_to(shared_envs, target_is_directory=True)
        root = tmp_path / "root"
        root.mkdir(exist_ok=True)
        token, port = uuid.uuid4().hex, free_port()
        config_dir = Path(os.environ["JUPYTER_CONFIG_DIR"])
        write_lab_config(config_dir, tmp_path / "lab-settings" / "user", tmp_path / "labext", root,
                         jobs_data_dir, token, port, jobs_extension, jobs, extra_config)
        log = tmp_path / "lab.log"
        env = dict(os.environ)
        proc = subprocess.Popen([sys.executable, "-m", "jupyterlab", "--no-browser"], cwd=root, env=env,
                                stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True)
        lab = Lab(url=f"http://127.0.0.1:{port}/", token=token, root=root, data_dir=jobs_data_dir, log=log,
                  proc=proc)
        labs.append(lab)
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"jupyter lab exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{lab.url}api/status?token={token}", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise AssertionError(f"jupyter lab did not start:\n{log.read_text()[-3000:]}") from None
                time.sleep(0.2)
        return lab

    yield start
    for lab in labs:
        if lab.proc and lab.proc.poll() is None:
            lab.proc.terminate()
            try:
                lab.proc.wait(15)
            except subprocess.TimeoutExpired:
                lab.proc.kill()
                lab.proc.wait(5)


@pytest.fixture
def browser(chromium_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser, request):
    """A fresh browser page; more context options (e.g. `timezone_id`) by indirect parametrization."""
    context = browser.new_context(viewport={"width": 1400, "height": 900}, **getattr(request, "param", {}))
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.errors = errors
    yield page
    RESULTS.mkdir(parents=True, exist_ok=True)
    if getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed:
        page.screenshot(path=str(RESULTS / f"failed-{request.node.name}.png"))
    context.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


