"""Which executors a server offers, and which instance types each can serve: what the Lab's "Run as job"
dialog shows in its executor picker (`GET /jobs/config`, `GET /jobs/instance-types?executor=`), and a
notebook run on the executor picked."""

from __future__ import annotations

import socket

import pytest
from test_ui_routes import make_notebook


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens once the socket is closed


# A Docker executor whose host offers one GPU (c.DockerExecutor.gpus) and whose own totals are configured,
# beside the local one (no GPU): the two serve different instance types. Nothing here needs the engine
# until a run starts; its address is a socket nobody serves, so a run on it fails saying so.
TWO_EXECUTORS = {"JobsSettings": {"executors": ["local", "docker"], "local_gpus": []},
                 "DockerExecutor": {"gpus": ["0"], "cpus": 4, "memory_gb": 8,
                                    "base_url": "unix:///nonexistent/jupyter-jobs-test/docker.sock"}}


@pytest.mark.parametrize("jobs_extra_config", [TWO_EXECUTORS], indirect=True)
async def test_config_lists_the_configured_executors_default_first(api):
    code, config, _ = await api("config")
    assert code == 200, config
    assert [(x["name"], x["default"]) for x in config["executors"]] == [("local", True), ("docker", False)]
    assert "docker" in next(x for x in config["executors"] if x["name"] == "docker")["features"]


@pytest.mark.parametrize("jobs_extra_config", [TWO_EXECUTORS], indirect=True)
async def test_instance_types_per_executor(api):
    code, both, _ = await api("instance-types")
    assert code == 200, both
    gpu = next(t for t in both["instance_types"] if t["gpus"] == 1)
    assert gpu["executors"]["docker"] == {"available": True, "reason": None}
    assert gpu["executors"]["local"]["available"] is False and "GPU" in gpu["executors"]["local"]["reason"]

    for name in ("local", "docker"):
        code, one, _ = await api("instance-types", params={"executor": name})
        assert code == 200, one
        assert all(set(t["executors"]) == {name} for t in one["instance_types"])
        assert [t["name"] for t in one["instance_types"]] == [t["name"] for t in both["instance_types"]]
    served = {t["name"] for t in one["instance_types"] if t["executors"]["docker"]["available"]}
    assert gpu["name"] in served


@pytest.mark.parametrize("jobs_extra_config", [TWO_EXECUTORS], indirect=True)
async def test_a_notebook_run_goes_to_the_executor_picked(api, wait_run, jp_root_dir):
    make_notebook(jp_root_dir)
    code, run, _ = await api("notebooks", "run", method="POST",
                             body={"path": "nb.ipynb", "executor": "docker", "instance_type": "c1.4"})
    assert code == 201, run
    assert run["executor"] == "docker" and run["instance_type"] == "c1.4"
    done = await wait_run(run["id"])
    assert done["status"] == "FAILED" and "Docker Engine" in done["error"], done
    assert "jupyter-jobs-test/docker.sock" in done["error"]


@pytest.mark.parametrize("jobs_extra_config", [
    {"JobsSettings": {"executors": ["local", "ray"]}, "RayExecutor": {"address": f"http://127.0.0.1:{closed_port()}"}},
], indirect=True)
async def test_an_unreachable_engine_serves_nothing_and_says_why(api):
    pytest.importorskip("ray.job_submission", reason="the ray extra is not installed")
    code, both, _ = await api("instance-types")
    assert code == 200, both
    for itype in both["instance_types"]:
        ray = itype["executors"]["ray"]
        assert ray["available"] is False and "Ray cluster" in ray["reason"], itype
    assert next(t for t in both["instance_types"] if t["name"] == "c1.4")["executors"]["local"]["available"]

    code, err, _ = await api("instance-types", params={"executor": "ray"})
    assert code == 502 and "cannot reach the Ray cluster" in err["message"], err
    code, err, _ = await api("instance-types", params={"executor": "nope"})
    assert code == 422 and err["field"] == "executor", err
