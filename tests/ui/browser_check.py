"""`python -m jupyterlab.browser_check` with Debian's Chromium.

The stock check runs `npx playwright install chromium` (a browser download, impossible on machines without
that CDN) and then `browser-test.js`. This runs the very same `BrowserApp` (a Lab server that fails on any
logged error, with `browserTest` in the page config) and only swaps the browser step for the same checks
done with Python Playwright driving /usr/bin/chromium.

    python tests/ui/browser_check.py            # exit 0: the frontend, with jupyter-jobs, loads cleanly
"""

from __future__ import annotations

import json
import os
import sys

from jupyterlab import browser_check

CHROMIUM = os.environ.get("JUPYTER_JOBS_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync"]


async def run_browser(url: str) -> None:
    """What jupyterlab/browser-test.js does: load Lab, wait until it started, fail on collected errors."""
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            page = await browser.new_page()
            print("Navigating to page:", url, flush=True)
            await page.goto(url)
            await page.locator("#jupyter-config-data").wait_for(state="attached", timeout=100000)
            await page.wait_for_selector("#main", timeout=100000)
            el = await page.wait_for_selector("#browserTest", timeout=100000, state="attached")
            await page.wait_for_selector(".completed", state="attached", timeout=100000)
            # The Jobs sidebar is part of what must load.
            await page.wait_for_selector('.jp-SideBar [data-id="jupyter-jobs-sidebar"]', timeout=30000)
            errors = json.loads(await el.text_content() or "[]")
        finally:
            await browser.close()
    for error in errors:
        print(f"Parsed an error from text content: {error.get('message')}", error, file=sys.stderr)
    if errors:
        raise RuntimeError(f"{len(errors)} errors in the browser console")
    print("Browser test complete", flush=True)


class JobsBrowserApp(browser_check.BrowserApp):
    """BrowserApp, run from this file as `__main__` (as `python -m jupyterlab.browser_check` runs it)."""

    name = __name__

    def initialize_handlers(self):
        browser_check.run_test(self.serverapp, run_browser)
        super(browser_check.BrowserApp, self).initialize_handlers()  # LabApp's, without the npx browser


def _jupyter_server_extension_points():
    return [{"module": __name__, "app": JobsBrowserApp}]


if __name__ == "__main__":
    JobsBrowserApp.launch_instance()
