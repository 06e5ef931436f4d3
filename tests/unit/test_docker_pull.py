"""How a long image pull reads in the run's system log (the Engine's documented pull stream)."""

from __future__ import annotations

import pytest

from jupyter_jobs.executors.pull import PullFailed, PullProgress, follow_pull

MB = 1 << 20

STREAM = [
    {"status": "Pulling from library/python", "id": "3.12"},
    {"status": "Already exists", "progressDetail": {}, "id": "aaa"},
    {"status": "Pulling fs layer", "progressDetail": {}, "id": "bbb"},
    {"status": "Pulling fs layer", "progressDetail": {}, "id": "ccc"},
    {"status": "Downloading", "progressDetail": {"current": 10 * MB, "total": 40 * MB}, "id": "bbb"},
    {"status": "Downloading", "progressDetail": {"current": 1 * MB, "total": 20 * MB}, "id": "ccc"},
    {"status": "Download complete", "progressDetail": {}, "id": "bbb"},
    {"status": "Extracting", "progressDetail": {"current": 5 * MB, "total": 40 * MB}, "id": "bbb"},
    {"status": "Pull complete", "progressDetail": {}, "id": "bbb"},
    {"status": "Downloading", "progressDetail": {"current": 20 * MB, "total": 20 * MB}, "id": "ccc"},
    {"status": "Pull complete", "progressDetail": {}, "id": "ccc"},
    {"status": "Digest: sha256:0123"},
    {"status": "Status: Downloaded newer image for python:3.12"},
]


def test_progress_counts_layers_and_bytes_midway_and_at_the_end():
    progress = PullProgress("python:3.12")
    for event in STREAM[:6]:
        progress.feed(event)
    assert progress.line() == "pulling image python:3.12: 1/3 layers, 11.0 MiB of 60.0 MiB"
    for event in STREAM[6:]:
        progress.feed(event)
    assert progress.line() == "pulling image python:3.12: 3/3 layers, 60.0 MiB of 60.0 MiB"


def test_follow_pull_says_it_starts_and_ends():
    said: list[str] = []
    follow_pull("python:3.12", iter(STREAM), said.append, every=3600)
    assert said == ["pulling image python:3.12 (not on this Docker host yet)",
                    "pulled image python:3.12: 3/3 layers, 60.0 MiB of 60.0 MiB"]


def test_an_error_event_stops_the_pull_with_its_message():
    events = [STREAM[0], {"error": "pull access denied for nope, repository does not exist",
                          "errorDetail": {"message": "pull access denied"}}]
    with pytest.raises(PullFailed, match="pull access denied for nope"):
        follow_pull("nope", iter(events), lambda text: None)
