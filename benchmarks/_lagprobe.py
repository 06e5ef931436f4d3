"""A Jupyter server extension for benchmarks only: samples the event loop's lag every 10 ms and keeps
the last samples in $LAGPROBE_FILE as {"samples": [[unix time, lag ms], ...]}."""

from __future__ import annotations

import asyncio
import json
import os
import time

_INTERVAL = 0.01


def _jupyter_server_extension_points():
    return [{"module": "_lagprobe"}]


async def _sample(path: str) -> None:
    samples: list[list[float]] = []
    last_dump = time.monotonic()
    while True:
        start = time.monotonic()
        await asyncio.sleep(_INTERVAL)
        samples.append([time.time(), (time.monotonic() - start - _INTERVAL) * 1000])
        del samples[:-6000]
        if time.monotonic() - last_dump > 0.5:
            last_dump = time.monotonic()
            with open(path + ".tmp", "w") as fh:
                json.dump({"samples": samples}, fh)
            os.replace(path + ".tmp", path)


def _load_jupyter_server_extension(serverapp) -> None:
    path = os.environ["LAGPROBE_FILE"]
    serverapp.io_loop.add_callback(lambda: asyncio.ensure_future(_sample(path)))
