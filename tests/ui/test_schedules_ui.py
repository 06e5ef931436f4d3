"""Schedules in the Lab (real JupyterLab, real Chromium, the server's own firing loop on the real clock):
"Schedule…" in the Run as job dialog with the cron's preview in the browser's time zone, the Schedules view
with the next fire time, a fired run in the schedule's history, pause / resume, delete, and the notification
when a scheduled run fails."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.parse

import nbformat
import pytest
from test_jobs_ui import ENV_BUILD, make_notebook
from uilab import open_jobs, open_lab, screenshot

BROWSER_TZ = "Asia/Tokyo"  # not the machine's: the dialog's default must come from the browser
NEXT_MINUTE = 150_000  # ms: an every-minute cron's next tick, plus the firing loop's look


def failing_notebook(folder):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("raise ValueError('the input table is not there')")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, folder / "broken.ipynb")


def refusal(lab, path: str) -> str:
    """The message of the server's 4xx answer to GET `path`."""
    with pytest.raises(urllib.error.HTTPError) as caught:
        lab.api(path)
    assert 400 <= caught.value.code < 500
    return json.loads(caught.value.read())["message"]


def schedules_tab(page):
    return page.locator("#jupyter-jobs-sidebar .lm-TabBar-tab", has_text="Schedules")


@pytest.mark.parametrize("page", [{"timezone_id": BROWSER_TZ}], indirect=True)
def test_schedule_a_notebook_and_see_its_runs(start_lab, page):
    lab = start_lab(schedule_poll_seconds=1)
    make_notebook(lab.root)
    failing_notebook(lab.root)
    open_lab(page, lab, "lab/tree/analysis.ipynb")
    open_jobs(page)
    assert page.locator("#jupyter-jobs-sidebar .lm-TabBar-tab.lm-mod-current").inner_text() == "Runs"
    page.wait_for_selector(".jp-NotebookPanel .jp-JobsRunButton", timeout=60000)
    page.locator(".jp-NotebookPanel .jp-JobsRunButton").first.click()

    dialog = page.locator(".jp-Dialog")
    alpha = dialog.locator('.jp-JobsRunDialog-param[data-param="alpha"] input')
    alpha.wait_for(timeout=30000)
    alpha.fill("7")
    dialog.locator(".jp-JobsRunDialog-name").fill("every-minute")
    dialog.locator(".jp-Dialog-button.jp-JobsRunDialog-schedule").click()

    # The schedule form: the browser's time zone; the cron in words and its next 3 times, from the server.
    cron = page.locator(".jp-JobsScheduleDialog-cron")
    cron.wait_for(timeout=10000)
    assert page.locator(".jp-JobsScheduleDialog-timezone").input_value() == BROWSER_TZ
    page.locator(".jp-JobsScheduleDialog-description", has_text="03:00").wait_for(timeout=10000)
    # Back: the Run as job dialog again, as it was left; then on to the schedule again.
    page.locator(".jp-Dialog-button", has_text="Back").click()
    page.locator('.jp-JobsRunDialog-param[data-param="alpha"] input').wait_for(timeout=10000)
    assert page.locator('.jp-JobsRunDialog-param[data-param="alpha"] input').input_value() == "7"
    assert page.locator(".jp-JobsRunDialog-name").input_value() == "every-minute"
    page.locator(".jp-Dialog-button.jp-JobsRunDialog-schedule").click()
    cron.wait_for(timeout=10000)
    cron.fill("0 3 * * 9")
    expected = refusal(lab, "schedules/preview?" + urllib.parse.urlencode({"cron": "0 3 * * 9",
                                                                        "timezone": BROWSER_TZ}))
    problem = page.locator(".jp-JobsScheduleDialog-cronError")
    problem.wait_for(timeout=10000)
    assert problem.inner_text() == expected
    screenshot(page, "schedule-dialog-bad-cron", page.locator(".jp-Dialog-content"))
    cron.fill("* * * * *")
    page.locator(".jp-JobsScheduleDialog-description", has_text="Every minute").wait_for(timeout=10000)
    assert problem.count() == 0
    times = [float(t) for t in page.locator(".jp-JobsScheduleDialog-next li").evaluate_all(
        "items => items.map(li => li.dataset.t)")]
    assert len(times) == 3 and all(t % 60 == 0 for t in times)
    assert [b - a for a, b in zip(times, times[1:])] == [60, 60]
    # A time zone the server refuses: said under the field, and by the refused "Create schedule".
    zone = page.locator(".jp-JobsScheduleDialog-timezone")
    zone.fill("Mars/Olympus_Mons")
    problem.wait_for(timeout=10000)
    assert problem.inner_text() == refusal(lab, "schedules/preview?" + urllib.parse.urlencode(
        {"cron": "* * * * *", "timezone": "Mars/Olympus_Mons"}))
    page.locator(".jp-Dialog-button.jp-mod-accept", has_text="Create schedule").click()
    page.locator(".jp-JobsScheduleDialog-submitProblem", has_text="Mars/Olympus_Mons").wait_for(timeout=10000)
    assert lab.api("schedules")["schedules"] == []
    zone.fill(BROWSER_TZ)
    page.locator(".jp-JobsScheduleDialog-description", has_text="Every minute").wait_for(timeout=10000)
    page.locator(".jp-JobsScheduleDialog-missed select").select_option("run-once")
    screenshot(page, "schedule-dialog", page.locator(".jp-Dialog-content"))
    page.locator(".jp-Dialog-button.jp-mod-accept", has_text="Create schedule").click()

    # Stored as asked; the Schedules view opens on it, with its next fire time.
    item = page.locator(".jp-JobsSchedule", has_text="every-minute")
    item.wait_for(timeout=30000)
    assert schedules_tab(page).get_attribute("aria-selected") == "true"
    schedule_id = item.get_attribute("data-schedule-id")
    stored = lab.api(f"schedules/{schedule_id}")
    assert (stored["cron"], stored["timezone"], stored["missed"], stored["overlap"]) == (
        "* * * * *", BROWSER_TZ, "run-once", "skip")
    assert stored["kind"] == "notebook" and stored["parameters"] == {"alpha": "7"} and not stored["paused"]
    assert f"Every minute · {BROWSER_TZ}" in item.locator(".jp-JobsSchedule-when").inner_text()
    assert "alpha=7" in item.locator(".jp-JobsSchedule-meta").inner_text()
    next_fire = item.locator(".jp-JobsSchedule-next")
    # (the view's answer may be one tick older than the API's, if the schedule fired in between)
    assert float(next_fire.get_attribute("data-next")) in (stored["next_fire_at"], stored["next_fire_at"] - 60)
    assert next_fire.inner_text().startswith("Next: ")
    screenshot(page, "schedules-view", page.locator("#jupyter-jobs-sidebar"))

    # A failing notebook on the same cron (through the API): its failure is notified, naming it.
    broken = lab.api("schedules/notebook", "POST", {"path": "broken.ipynb", "name": "broken-nightly",
                                                    "timing": {"cron": "* * * * *", "timezone": BROWSER_TZ}})

    # The server's firing loop fires at the next minute: the run shows in the schedule's history.
    item.locator(".jp-JobsSchedule-head").click()
    fired = item.locator(".jp-JobsScheduleRun").last
    fired.wait_for(timeout=NEXT_MINUTE)
    run_id = fired.get_attribute("data-run-id")
    run = lab.api(f"runs/{run_id}")
    assert run["schedule_id"] == schedule_id and run["kind"] == "notebook"
    item.locator(f'.jp-JobsScheduleRun[data-run-id="{run_id}"][data-status="SUCCEEDED"]').wait_for(
        timeout=ENV_BUILD)
    item.locator(".jp-JobsSchedule-head .jp-JobsStatus").wait_for(timeout=30000)
    screenshot(page, "schedules-view-history", page.locator("#jupyter-jobs-sidebar"))

    # A click on the run opens its details as the runs list does (a main-area panel).
    item.locator(f'.jp-JobsScheduleRun[data-run-id="{run_id}"]').click()
    details = page.locator(f'.jp-JobsRunPanel-body[data-run-id="{run_id}"]')
    details.locator(".jp-JobsRunPanel-logs", has_text="alpha 7 int").wait_for(timeout=30000)

    toast = page.locator(".Toastify__toast", has_text="broken-nightly failed")
    toast.wait_for(timeout=ENV_BUILD)
    assert "ValueError" in toast.inner_text()
    screenshot(page, "schedule-failed-notification")
    failed_id = re.search(r"\(run (\w+)\)", toast.inner_text()).group(1)
    assert lab.api(f"runs/{failed_id}")["schedule_id"] == broken["id"]
    toast.locator("button", has_text="Open run").click()
    page.locator(f'.jp-JobsRunPanel-body[data-run-id="{failed_id}"][data-status="FAILED"]').wait_for(timeout=30000)

    # Pause shows the badge and stops the next fire time; resume takes both back.
    schedules_tab(page).click()
    item.locator(".jp-JobsSchedule-actions button", has_text="Pause").click()
    item.locator(".jp-JobsSchedule-paused").wait_for(timeout=10000)
    assert lab.api(f"schedules/{schedule_id}")["paused"] is True
    item.locator('.jp-JobsSchedule-next[data-next=""]', has_text="Paused").wait_for(timeout=10000)
    screenshot(page, "schedules-view-paused", page.locator("#jupyter-jobs-sidebar"))
    item.locator(".jp-JobsSchedule-actions button", has_text="Resume").click()
    item.locator(".jp-JobsSchedule-paused").wait_for(state="detached", timeout=10000)
    item.locator('.jp-JobsSchedule-next:not([data-next=""])', has_text="Next: ").wait_for(timeout=10000)
    shown = float(item.locator(".jp-JobsSchedule-next").get_attribute("data-next"))
    resumed = lab.api(f"schedules/{schedule_id}")
    assert resumed["paused"] is False and shown % 60 == 0 and resumed["next_fire_at"] >= shown

    # Delete, after a confirmation: gone from the view and the server; its runs stay.
    broken_item = page.locator(f'.jp-JobsSchedule[data-schedule-id="{broken["id"]}"]')
    broken_item.locator(".jp-JobsSchedule-actions button", has_text="Delete").click()
    page.locator(".jp-Dialog .jp-Dialog-button.jp-mod-warn").click()
    broken_item.wait_for(state="detached", timeout=10000)
    assert [s["id"] for s in lab.api("schedules")["schedules"]] == [schedule_id]
    assert lab.api(f"runs/{failed_id}")["status"] == "FAILED"
    lab.api(f"schedules/{schedule_id}/pause", "POST")
    assert not page.errors, page.errors
