"""A run's details in the main area (one panel per run, restored on reload) and the sidebar's compact details at
the sidebar's default width, in a real JupyterLab and a real browser (Debian's Chromium)."""

from __future__ import annotations

import json
import time
import urllib.request

import nbformat
from test_jobs_ui import row, run_panel
from uilab import open_jobs, open_lab, screenshot

ENV_BUILD = 600  # s: the first notebook job builds its environment (papermill, ipykernel) with uv
LONG_LINE = "a long line with spaces " * 60


def make_notebook(folder, name="analysis.ipynb"):
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("alpha = 1\nratio: float = 0.5\nlabel = 'default'")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params,
                nbformat.v4.new_code_cell(f"print({LONG_LINE!r}, flush=True)\nprint('ratio', repr(ratio))"),
                nbformat.v4.new_code_cell("assert alpha < 5, f'alpha is too big: {alpha}'")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, folder / name)


def wait_status(lab, run_id: str, statuses: set[str], timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        run = lab.api(f"runs/{run_id}")
        if run["status"] in statuses:
            return run
        assert time.monotonic() < deadline, f"run {run_id} is still {run['status']}"
        time.sleep(0.2)


def saved_layout(lab) -> str:
    """The main area's widgets as Lab saved them in its workspace (what a reload restores)."""
    request = urllib.request.Request(f"{lab.url}lab/api/workspaces/default",
                                     headers={"Authorization": f"token {lab.token}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        data = json.loads(response.read())["data"]
    return json.dumps(data.get("layout-restorer:data", {}).get("main", {}))


def no_horizontal_overflow(page, selector: str) -> list:
    """[class, scrollWidth, clientWidth] of `selector` and each element under it that scrolls sideways (a text
    ellipsised on purpose, overflow hidden, does not count)."""
    return page.evaluate("""sel => {
        const root = document.querySelector(sel);
        const all = [root, ...root.querySelectorAll('*')];
        return all.filter(e => e.scrollWidth > e.clientWidth
                               && (e === root || ['auto', 'scroll'].includes(getComputedStyle(e).overflowX)))
                  .map(e => [e.className, e.scrollWidth, e.clientWidth]);
    }""", selector)


def test_details_open_in_the_main_area_and_the_sidebar_fits(start_lab, page):
    lab = start_lab()
    make_notebook(lab.root)
    typed = {"ratio": {"type": "float", "text": "2.0"}, "label": {"type": "str", "text": "from the form"}}
    done = lab.api("notebooks/run", "POST", {"path": "analysis.ipynb", "name": "analysis-ok",
                                             "typed_parameters": typed})
    failed = lab.api("notebooks/run", "POST", {"path": "analysis.ipynb", "name": "analysis-bad",
                                               "parameters": {"alpha": 9}})
    sleeper = lab.api("runs", "POST", {"spec": {"name": "sleeper", "cmd": "python -c \"import time; "
                                                "print('tick', flush=True); time.sleep(300)\""}})
    done = wait_status(lab, done["id"], {"SUCCEEDED", "FAILED"}, ENV_BUILD)
    assert done["status"] == "SUCCEEDED", done
    assert wait_status(lab, failed["id"], {"SUCCEEDED", "FAILED"}, ENV_BUILD)["status"] == "FAILED"
    wait_status(lab, sleeper["id"], {"RUNNING"}, 120)
    executed = f"analysis-{done['id']}.ipynb"

    open_lab(page, lab)
    open_jobs(page)
    # The list shows each run's source and a notebook run's parameters.
    ok_row = row(page, done["id"], "SUCCEEDED")
    ok_row.wait_for(timeout=30000)
    assert ok_row.locator(".jp-JobsRun-source").inner_text() == "analysis.ipynb"
    assert ok_row.locator(".jp-JobsRun-params").inner_text() == 'ratio=2.0, label="from the form"'

    # A click opens the run's panel in the main area, titled with the run's name.
    ok_row.click()
    panel = run_panel(page, done["id"])
    panel.wait_for(timeout=30000)
    assert page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab.lm-mod-current").inner_text() == "analysis-ok"
    panel.locator(".jp-JobsRunPanel-logs", has_text="ratio 2.0").wait_for(timeout=30000)
    outputs = panel.locator('.jp-JobsRunPanel-section[data-section="Outputs"]')
    outputs.locator(".jp-JobsRunPanel-fileOpen", has_text=executed).wait_for(timeout=30000)
    assert "OUTPUT_NOTEBOOK" not in panel.inner_text() and "_outputs" not in panel.inner_text()
    params = panel.locator(".jp-JobsRunPanel-parameters")
    assert params.locator('tr[data-param="ratio"] td').inner_text() == "2.0"
    spec = panel.locator('.jp-JobsRunPanel-section[data-section="Spec"]').inner_text()
    assert done["instance_type"] in spec and "local" in spec and "analysis.ipynb" in spec, spec
    # Finished: Fork, Open, Download, Delete, never Cancel.
    actions = panel.locator(".jp-JobsRunPanel-actions")
    assert actions.locator("button", has_text="Cancel").count() == 0
    for label in ("Fork", "Delete", "Open executed notebook"):
        assert actions.locator("button", has_text=label).is_visible(), label
    assert actions.locator(".jp-JobsRunPanel-zip").is_visible()
    # The log wraps at spaces: the long line takes several lines and nothing scrolls sideways.
    logs = panel.locator(".jp-JobsRunPanel-logs")
    assert LONG_LINE.strip() in logs.inner_text()
    assert logs.evaluate("e => e.getBoundingClientRect().height") > 3 * 12  # wrapped onto several lines
    width = logs.evaluate("e => [e.scrollWidth, e.clientWidth]")
    assert width[0] <= width[1], width
    assert no_horizontal_overflow(page, f'.jp-JobsRunPanel-body[data-run-id="{done["id"]}"]') == []
    screenshot(page, "details-panel-main-area")

    # Clicking the run again activates the same panel, not a second one.
    ok_row.click()
    assert page.locator(f'.jp-JobsRunPanel-body[data-run-id="{done["id"]}"]').count() == 1

    # The sidebar at its default width, the run selected: nothing overflows, the buttons are on screen.
    selected = page.locator(f'.jp-JobsSelected[data-run-id="{done["id"]}"]')
    selected.wait_for(timeout=10000)
    assert no_horizontal_overflow(page, "#jupyter-jobs-sidebar") == []
    sidebar_box = page.locator("#jupyter-jobs-sidebar").bounding_box()
    buttons = selected.locator(".jp-JobsSelected-actions button")
    assert buttons.count() >= 4
    for i in range(buttons.count()):
        box = buttons.nth(i).bounding_box()
        assert buttons.nth(i).is_visible() and box["x"] + box["width"] <= sidebar_box["x"] + sidebar_box["width"]
    assert selected.locator("button", has_text="Cancel").count() == 0
    screenshot(page, "details-sidebar-default-width", page.locator("#jupyter-jobs-sidebar"))

    # A failed notebook: the failing cell's traceback, short, as the CLI prints it.
    row(page, failed["id"]).click()
    bad = run_panel(page, failed["id"])
    traceback = bad.locator(".jp-JobsRunPanel-traceback")
    traceback.wait_for(timeout=30000)
    assert 'Exception encountered at "In [' in traceback.inner_text()
    assert "AssertionError: alpha is too big: 9" in traceback.inner_text()
    screenshot(page, "details-panel-failed")

    # A running run has Cancel (panel and sidebar); once cancelled, it has none.
    row(page, sleeper["id"]).click()
    running = run_panel(page, sleeper["id"])
    running.locator(".jp-JobsRunPanel-logs", has_text="tick").wait_for(timeout=30000)
    assert page.locator(f'.jp-JobsSelected[data-run-id="{sleeper["id"]}"] button', has_text="Cancel").is_visible()
    cancel = running.locator(".jp-JobsRunPanel-actions button", has_text="Cancel")
    cancel.click()
    row(page, sleeper["id"], "CANCELLED").wait_for(timeout=60000)
    cancel.wait_for(state="detached", timeout=30000)
    running.locator('[data-status="CANCELLED"]').first.wait_for(timeout=30000)

    # The panels come back with the layout after a reload (once Lab has saved the layout with them).
    ids = [done["id"], failed["id"], sleeper["id"]]
    deadline = time.monotonic() + 60
    while not all(f"jupyter-jobs-run:{run_id}" in saved_layout(lab) for run_id in ids):
        assert time.monotonic() < deadline, saved_layout(lab)
        time.sleep(0.2)
    page.reload()
    page.wait_for_selector("#jp-main-dock-panel", timeout=60000)
    for run_id in (done["id"], failed["id"], sleeper["id"]):
        page.locator(f'.jp-JobsRunPanel-body[data-run-id="{run_id}"]').wait_for(state="attached", timeout=60000)
    for title in ("analysis-ok", "analysis-bad", "sleeper"):
        page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab", has_text=title).wait_for(state="attached", timeout=30000)
    assert not page.errors, page.errors
