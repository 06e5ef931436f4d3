"""A Jupyter server killed with kill -9 while its Ray job runs, then started again: the one sequence the
shared-fs and relay transports are both held to."""

from __future__ import annotations

from pathlib import Path


def kill_restart_and_finish(server, run_id: str, go: Path) -> str:
    """Kill the server while `run_id` waits for `go`, start it again, let the job go on: the run is
    re-attached (still RUNNING), ends SUCCEEDED once, with no status appended twice. The job's stdout."""
    client = server.client
    server.kill_hard()
    server.start()
    assert client.get(run_id).status == "RUNNING"  # re-attached through Ray's job info
    go.touch()
    events = list(client.follow(run_id))
    assert [e["status"] for e in events if e["type"] == "status"] == ["PREPARING", "RUNNING"]
    assert [e["type"] for e in events].count("result") == 1 and events[-1]["status"] == "SUCCEEDED"
    return "".join(e.get("text", "") for e in events if e["type"] == "log" and e["stream"] == "stdout")
