"""The Jobs sidebar and "Run as job" in a real JupyterLab and a real browser (Debian's Chromium)."""

from __future__ import annotations

import re
import subprocess
import sys
import time

import nbformat
import pytest
from uilab import open_jobs, open_lab, screenshot

CLI = [sys.executable, "-m", "jupyter_jobs.cli"]
ENV_BUILD = 240_000  # ms: the first notebook job builds its environment (papermill, ipykernel) with uv
ROW_HEIGHT = 62  # px: a run's row in the sidebar list (labextension/src/panel.tsx)


def make_notebook(folder, name="analysis.ipynb"):
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("alpha = 1\nlabel = 'default'\nratio = 0.5\nverbose = False")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [
        nbformat.v4.new_markdown_cell("# An analysis"),
        params,
        nbformat.v4.new_code_cell("import time\nprint('label', label, 'alpha', alpha, type(alpha).__name__, "
                                  "'verbose', verbose, flush=True)\ntime.sleep(6)"),
        nbformat.v4.new_code_cell("alpha * 2"),
    ]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, folder / name)
    return folder / name


def row(page, run_id: str, status: str | None = None):
    sel = f'.jp-JobsRun[data-run-id="{run_id}"]'
    return page.locator(sel + (f'[data-status="{status}"]' if status else ""))


def run_panel(page, run_id: str):
    """The run's details in the main area (one panel per run)."""
    return page.locator(f'.jp-JobsRunPanel-body[data-run-id="{run_id}"]')


def selected_id(page, other_than: str | None = None) -> str:
    """The run selected in the sidebar (after a submit, fork or re-run: the new one)."""
    sel = ".jp-JobsSelected" + (f':not([data-run-id="{other_than}"])' if other_than else "")
    page.locator(sel).wait_for(timeout=60000)
    return page.locator(".jp-JobsSelected").get_attribute("data-run-id")


def test_run_notebook_through_the_dialog(start_lab, page):
    lab = start_lab()
    make_notebook(lab.root)
    open_lab(page, lab, "lab/tree/analysis.ipynb")
    page.wait_for_selector(".jp-NotebookPanel .jp-JobsRunButton", timeout=60000)
    page.locator(".jp-NotebookPanel .jp-JobsRunButton").first.click()

    dialog = page.locator(".jp-Dialog")
    dialog.locator('.jp-JobsRunDialog-param[data-param="alpha"] input').wait_for(timeout=30000)
    assert dialog.locator('.jp-JobsRunDialog-param[data-param="label"] input').input_value() == "default"
    assert dialog.locator(".jp-JobsRunDialog-type").all_inner_texts()[:4] == ["int", "str", "float", "bool"]
    # GPU types are marked, and ones no executor here can serve are disabled with the reason.
    options = dialog.locator(".jp-JobsRunDialog-instance option")
    gpu = dialog.locator('.jp-JobsRunDialog-instance option[data-gpu="true"]').first
    assert gpu.inner_text().startswith("[GPU]") and gpu.is_disabled() and "unavailable" in gpu.inner_text()
    assert options.count() > 5
    dialog.locator('.jp-JobsRunDialog-param[data-param="alpha"] input').fill("3")
    dialog.locator('.jp-JobsRunDialog-param[data-param="verbose"] input').check()
    dialog.locator(".jp-JobsRunDialog-name").fill("analysis-ui")
    screenshot(page, "run-dialog", page.locator(".jp-Dialog-content"))
    dialog.locator(".jp-Dialog-button.jp-mod-accept").click()

    run_id = selected_id(page)
    assert run_id
    assert row(page, run_id).count() == 1
    # Live, in the run's main-area panel: RUNNING, then SUCCEEDED, without a reload.
    run_panel(page, run_id).wait_for(timeout=60000)
    row(page, run_id, "RUNNING").wait_for(timeout=ENV_BUILD)
    run_panel(page, run_id).locator(".jp-JobsRunPanel-logs", has_text="label default alpha 3 int verbose True"
                                    ).wait_for(timeout=60000)
    screenshot(page, "sidebar-running", page.locator("#jupyter-jobs-sidebar"))
    row(page, run_id, "SUCCEEDED").wait_for(timeout=60000)
    assert page.locator(".jp-JobsStatus-SUCCEEDED", has_text="succeeded").count() >= 1
    # The notification for a run submitted from this browser, with an action to open it.
    toast = page.locator(".Toastify__toast", has_text="analysis-ui succeeded")
    toast.wait_for(timeout=30000)
    assert toast.locator("button", has_text="Open").count() == 1

    # The executed notebook opens in Lab (copied next to its source as NAME-RUNID.ipynb).
    run_panel(page, run_id).locator(".jp-JobsDetails-openNotebook").click()
    executed = f"analysis-{run_id}.ipynb"
    page.locator(f'.lm-DockPanel-tabBar .lm-TabBar-tab[title*="{executed}"]').wait_for(timeout=30000)
    assert (lab.root / executed).exists()
    assert "label default alpha 3" in (lab.root / executed).read_text()
    page.locator(".jp-NotebookPanel .jp-OutputArea-output", has_text="label default alpha 3").first.wait_for(
        timeout=30000)

    # Environment and spec are shown (the run's panel, activated again from the list).
    row(page, run_id).click()
    run_panel(page, run_id).locator('.jp-JobsDetails-section[data-section="Environment"] > summary').click()
    page.locator(".jp-JobsDetails-requirements", has_text="papermill").wait_for(timeout=10000)
    screenshot(page, "sidebar-succeeded", page.locator("#jupyter-jobs-sidebar"))
    screenshot(page, "lab-with-sidebar")

    # Fork with overrides: the parameters form starts from what the run used; one change runs again.
    run_panel(page, run_id).locator(".jp-JobsRunPanel-actions button", has_text="Fork").click()
    fork = page.locator(".jp-Dialog")
    alpha = fork.locator('.jp-JobsRunDialog-param[data-param="alpha"] input')
    alpha.wait_for(timeout=30000)
    assert alpha.input_value() == "3"
    assert fork.locator('.jp-JobsRunDialog-param[data-param="verbose"] input').is_checked()
    alpha.fill("4")
    screenshot(page, "fork-dialog", page.locator(".jp-Dialog-content"))
    fork.locator(".jp-Dialog-button.jp-mod-accept").click()
    fork_id = selected_id(page, other_than=run_id)
    assert lab.api(f"runs/{fork_id}")["parent_id"] == run_id
    run_panel(page, fork_id).locator(".jp-JobsRunPanel-logs", has_text="label default alpha 4 int verbose True"
                                     ).wait_for(timeout=60000)
    row(page, fork_id, "SUCCEEDED").wait_for(timeout=60000)
    assert not page.errors, page.errors


def test_cli_run_appears_and_cancel_rerun_delete_work(start_lab, page, tmp_path):
    lab = start_lab()
    job = tmp_path / "cli-job"
    job.mkdir()
    (job / "config.yaml").write_text(
        "name: cli-sleeper\ncmd: python -c \"import time; print('tick', flush=True); time.sleep(120)\"\n")
    open_lab(page, lab)
    open_jobs(page)
    page.locator(".jp-JobsPanel-empty", has_text="No jobs yet").wait_for(timeout=30000)

    done = subprocess.run(CLI + ["execute", "-c", str(job / "config.yaml"), "--async"], env=lab.cli_env(),
                          capture_output=True, text=True, timeout=120, cwd=job)
    assert done.returncode == 0, done.stderr
    run_id = done.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"[0-9a-z]{12}", run_id), done.stdout

    # It appears without a reload (the poll), goes RUNNING, and its log follows.
    row(page, run_id, "RUNNING").wait_for(timeout=60000)
    row(page, run_id).click()
    run_panel(page, run_id).locator(".jp-JobsRunPanel-logs", has_text="tick").wait_for(timeout=30000)

    # Cancel, from the palette-visible command the button runs; a finished run has no Cancel button.
    run_panel(page, run_id).locator(".jp-JobsRunPanel-actions button", has_text="Cancel").click()
    row(page, run_id, "CANCELLED").wait_for(timeout=60000)
    assert lab.api(f"runs/{run_id}")["status"] == "CANCELLED"
    run_panel(page, run_id).locator(".jp-JobsRunPanel-actions button", has_text="Cancel").wait_for(
        state="detached", timeout=30000)

    # Re-run: a fork with no overrides, selected at once, running the same command.
    run_panel(page, run_id).locator(".jp-JobsRunPanel-actions button", has_text="Re-run").click()
    rerun_id = selected_id(page, other_than=run_id)
    rerun = lab.api(f"runs/{rerun_id}")
    assert rerun["parent_id"] == run_id and rerun["spec"]["cmd"] == lab.api(f"runs/{run_id}")["spec"]["cmd"]
    row(page, rerun_id, "RUNNING").wait_for(timeout=60000)
    run_panel(page, rerun_id).locator(".jp-JobsRunPanel-logs", has_text="tick").wait_for(timeout=30000)

    # The same actions as commands (palette): cancel the selected run.
    page.keyboard.press("Control+Shift+C")
    page.locator(".lm-CommandPalette-input").fill("Cancel Selected Job")
    page.keyboard.press("Enter")
    row(page, rerun_id, "CANCELLED").wait_for(timeout=60000)

    # Filter by status and text.
    page.locator(".jp-JobsPanel-search").fill("no-such-job")
    page.locator(".jp-JobsPanel-empty", has_text="No runs match").wait_for(timeout=10000)
    page.locator(".jp-JobsPanel-search").fill("")
    page.locator(".jp-JobsPanel-statusFilter select").select_option("RUNNING")
    page.locator(".jp-JobsPanel-empty", has_text="No runs match").wait_for(timeout=10000)
    page.locator(".jp-JobsPanel-statusFilter select").select_option("CANCELLED")
    row(page, run_id).wait_for(timeout=10000)
    row(page, rerun_id).wait_for(timeout=10000)
    screenshot(page, "sidebar-cancelled", page.locator("#jupyter-jobs-sidebar"))

    # Delete (with a confirmation).
    row(page, run_id).click()
    run_panel(page, run_id).locator(".jp-JobsRunPanel-actions button", has_text="Delete").click()
    page.locator(".jp-Dialog .jp-Dialog-button.jp-mod-warn").click()
    row(page, run_id).wait_for(state="detached", timeout=10000)
    run_panel(page, run_id).wait_for(state="detached", timeout=10000)  # its panel closes with it
    runs = lab.api("runs")["runs"]
    assert [r["id"] for r in runs] == [rerun_id]
    assert not page.errors, page.errors


def test_missing_server_extension_is_explained(start_lab, page):
    lab = start_lab(jobs_extension=False)
    open_lab(page, lab)
    open_jobs(page)
    problem = page.locator(".jp-JobsPanel .jp-JobsPanel-problem")  # the runs view's (Schedules says it too)
    problem.wait_for(timeout=30000)
    assert "server extension is not running" in problem.inner_text()
    assert "jupyter server extension enable jupyter_jobs" in problem.inner_text()
    screenshot(page, "sidebar-no-extension", page.locator("#jupyter-jobs-sidebar"))
    page.locator("#jupyter-jobs-sidebar .lm-TabBar-tab", has_text="Schedules").click()
    page.locator(".jp-JobsSchedules .jp-JobsPanel-problem", has_text="server extension is not running").wait_for(
        timeout=30000)


def insert_finished_runs(data_dir, count: int) -> None:
    """`count` finished runs straight into the run index (what thousands of past runs look like)."""
    from jupyter_jobs.service.db import RunRow
    from jupyter_jobs.service.service import JobsService, new_run_id
    from jupyter_jobs.settings import JobsSettings
    from jupyter_jobs.spec.models import JobSpec

    service = JobsService(JobsSettings(data_dir=str(data_dir)))
    now = time.time() - count * 60
    statuses = ["SUCCEEDED", "FAILED", "CANCELLED", "SUCCEEDED", "SUCCEEDED"]
    rows = []
    for i in range(count):
        run_id = new_run_id()[:8] + f"{i:04d}"
        run_dir = service.runs_dir / run_id
        run_dir.mkdir(parents=True)
        spec = JobSpec(name=f"history-{i:04d}", cmd="python train.py")
        created = now + i * 60
        rows.append(RunRow(
            id=run_id, name=spec.name, desc=None, kind="command", status=statuses[i % len(statuses)],
            executor="local", instance_type="c1.4", created_at=created, started_at=created + 1,
            finished_at=created + 30 + i % 50, exit_code=0, error=None, spec=spec.model_dump(mode="json"),
            bundle={}, origin={"source": f"/home/me/project/job-{i % 7}/config.yaml"}, handle={}, outputs=[],
            notes=[], run_dir=str(run_dir), data_deleted=False, attempt=1, expires_at=None))
    with service.index.Session() as session:
        session.add_all(rows)
        session.commit()
    service.engine.dispose()


def test_two_thousand_runs_render_and_scroll(start_lab, page, jobs_data_dir):
    count = 2000
    t0 = time.perf_counter()
    insert_finished_runs(jobs_data_dir, count)
    inserted = time.perf_counter() - t0
    lab = start_lab()
    assert len(lab.api("runs", method="GET")["runs"]) == 100
    open_lab(page, lab)
    # Time from clicking the Jobs tab to the first rows on screen, measured in the page.
    page.evaluate("""() => {
        window.__jobsFirstRow = null;
        const obs = new MutationObserver(() => {
            if (!window.__jobsFirstRow && document.querySelector('#jupyter-jobs-sidebar .jp-JobsRun')) {
                window.__jobsFirstRow = performance.now();
                obs.disconnect();
            }
        });
        obs.observe(document.body, {childList: true, subtree: true});
        document.querySelector('.jp-SideBar [data-id="jupyter-jobs-sidebar"]').addEventListener(
            'pointerdown', () => { window.__jobsClick = performance.now(); }, {once: true, capture: true});
    }""")
    open_jobs(page)
    page.wait_for_function("() => window.__jobsFirstRow !== null", timeout=60000)
    first_render_ms = page.evaluate("() => window.__jobsFirstRow - window.__jobsClick")

    # Scroll to the very end: pages load as the list scrolls; the DOM keeps only the rows in view.
    t1 = time.perf_counter()
    longest_frame = 0.0
    for _ in range(200):
        step = page.evaluate("""() => {
            const list = document.querySelector('.jp-JobsPanel-list');
            const t = performance.now();
            list.scrollTop = list.scrollHeight;
            list.dispatchEvent(new Event('scroll'));
            return performance.now() - t;
        }""")
        longest_frame = max(longest_frame, step)
        if page.locator('.jp-JobsRun[title^="history-0000 "]').count():
            break
        page.wait_for_timeout(100)
    page.locator('.jp-JobsRun[title^="history-0000 "]').wait_for(timeout=30000)
    scroll_s = time.perf_counter() - t1
    in_dom = page.locator(".jp-JobsRun").count()
    loaded = page.evaluate("() => document.querySelector('.jp-JobsPanel-rows').style.height")
    assert loaded == f"{count * ROW_HEIGHT}px", loaded
    assert in_dom < 100, in_dom
    # Scroll back up through the middle: rows are rendered at once.
    page.evaluate("() => { const l = document.querySelector('.jp-JobsPanel-list'); l.scrollTop = l.scrollHeight / 2; }")
    page.locator('.jp-JobsRun[title^="history-1"]').first.wait_for(timeout=5000)
    screenshot(page, "sidebar-2000-runs", page.locator("#jupyter-jobs-sidebar"))
    print(f"\n2,000-run history: inserted in {inserted:.2f} s; Jobs tab click -> first rows rendered "
          f"{first_render_ms:.0f} ms; scrolled to the oldest run (10 pages of 200 loaded) in {scroll_s:.2f} s; "
          f"{in_dom} rows in the DOM")
    assert not page.errors, page.errors


@pytest.mark.parametrize("unused", [None])
def test_openapi_types_are_up_to_date(unused):
    """labextension/src/api/openapi.json is the route table's document now (schema.ts: `jlpm check:api`)."""
    import json
    from pathlib import Path

    from jupyter_jobs.server.openapi import document

    committed = Path(__file__).resolve().parents[2] / "labextension" / "src" / "api" / "openapi.json"
    assert json.loads(committed.read_text()) == json.loads(json.dumps(document())), \
        "out of date: run `jlpm build:api` in labextension/"


def test_browser_check(chromium_path, tmp_path):
    """jupyterlab.browser_check's BrowserApp (fails on any logged or console error) with our extension."""
    import os
    from pathlib import Path

    from uilab import BUILT, free_port

    labext = tmp_path / "labext"
    labext.mkdir()
    (labext / "jupyter-jobs").symlink_to(BUILT, target_is_directory=True)
    script = Path(__file__).with_name("browser_check.py")
    done = subprocess.run([sys.executable, str(script), "--allow-root", f"--ServerApp.root_dir={tmp_path}",
                           f"--ServerApp.port={free_port()}", f"--LabApp.extra_labextensions_path={labext}"],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path, env=dict(os.environ))
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-4000:]
    assert "Browser test complete" in out, out[-4000:]
