"""The "Run as job" dialog on a server with two executors: the executor picker reloads which instance types the
chosen one can serve, and the run goes to the executor picked (real JupyterLab, real Chromium)."""

from __future__ import annotations

from test_jobs_ui import make_notebook
from uilab import open_lab, screenshot

# Local (no GPU) and Docker on a host that offers one GPU: they serve different instance types. The Docker
# engine's address is a socket nobody serves, so a run sent there fails at once saying so (no image pulls).
DOCKER_WITH_A_GPU = {"DockerExecutor": {"gpus": ["0"], "cpus": 4, "memory_gb": 8,
                                        "base_url": "unix:///nonexistent/jupyter-jobs-ui/docker.sock"}}


def test_the_executor_picker_changes_the_instance_types_listed(start_lab, page):
    lab = start_lab(executors=["local", "docker"], local_gpus=[], extra_config=DOCKER_WITH_A_GPU)
    gpu_type = next(t["name"] for t in lab.api("instance-types?executor=docker")["instance_types"]
                    if t["gpus"] == 1)
    make_notebook(lab.root)
    open_lab(page, lab, "lab/tree/analysis.ipynb")
    page.wait_for_selector(".jp-NotebookPanel .jp-JobsRunButton", timeout=60000)
    page.locator(".jp-NotebookPanel .jp-JobsRunButton").first.click()

    dialog = page.locator(".jp-Dialog")
    picker = dialog.locator(".jp-JobsRunDialog-executor select")
    picker.wait_for(timeout=30000)
    assert picker.locator("option").all_inner_texts() == ["local (default)", "docker"]
    assert picker.input_value() == "local"

    def types_for(executor: str):
        instance = dialog.locator(f'.jp-JobsRunDialog-instance select[data-executor="{executor}"]')
        instance.wait_for(timeout=30000)
        return instance, instance.locator(f'option[value="{gpu_type}"]')

    instance, gpu = types_for("local")
    assert gpu.is_disabled() and "unavailable: needs 1 GPU" in gpu.inner_text()
    assert "unavailable on local" in dialog.locator(".jp-JobsRunDialog-unavailable summary").inner_text()
    local_unavailable = dialog.locator(".jp-JobsRunDialog-instance option:disabled").count()
    screenshot(page, "run-dialog-executor-local", page.locator(".jp-Dialog-content"))

    picker.select_option("docker")
    instance, gpu = types_for("docker")
    assert gpu.is_enabled() and "unavailable" not in gpu.inner_text()
    assert dialog.locator(".jp-JobsRunDialog-instance option:disabled").count() < local_unavailable
    instance.select_option(gpu_type)
    dialog.locator(".jp-JobsRunDialog-gpu", has_text="GPU: 1").wait_for(timeout=10000)
    screenshot(page, "run-dialog-executor-docker", page.locator(".jp-Dialog-content"))

    # Back on local, the GPU type it cannot serve is no longer the choice; on docker again, it can be.
    picker.select_option("local")
    instance, gpu = types_for("local")
    assert gpu.is_disabled() and instance.input_value() != gpu_type
    picker.select_option("docker")
    instance, gpu = types_for("docker")
    instance.select_option(gpu_type)
    dialog.locator(".jp-JobsRunDialog-name").fill("picked-docker")
    dialog.locator(".jp-Dialog-button.jp-mod-accept").click()

    details = page.locator(".jp-JobsSelected")
    details.wait_for(timeout=60000)
    run = lab.api(f"runs/{details.get_attribute('data-run-id')}")
    assert (run["executor"], run["instance_type"], run["name"]) == ("docker", gpu_type, "picked-docker")
    # This Docker engine cannot be reached: the run fails and the sidebar says why.
    page.locator(f'.jp-JobsRun[data-run-id="{run["id"]}"][data-status="FAILED"]').wait_for(timeout=60000)
    page.locator(".jp-JobsSelected", has_text="cannot reach the Docker Engine").first.wait_for(timeout=30000)
    assert not page.errors, page.errors
