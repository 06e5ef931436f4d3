"""Server memory for one `GET /jobs/runs/{id}/logs?stream=stdout&format=text` of a large log.

A real Jupyter server with the jupyter_jobs extension runs a job that prints `--mb` MB (default 200) to
stdout; then the log is fetched as text while the server's resident memory is sampled. Prints the
peak RSS growth during the request and its ratio to the log's size (goal: well under 0.1, i.e. the
log is streamed, not loaded; before streaming it was ~2.4: +480 MB for a 200 MB log).

    python benchmarks/log_memory.py [--mb 200]
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path

from server_load import start_server

from jupyter_jobs.service.schemas import SubmitRequest
from jupyter_jobs.spec.models import JobSpec


def rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=200, help="size of the job's stdout log in MB")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="jobs-log-memory-") as tmp:
        work = Path(tmp)
        server, client, _ = start_server(work)  # the load benchmark's server (its loop probe is idle)
        try:
            run = client.submit(SubmitRequest(spec=JobSpec(
                cmd=f"yes 0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ | head -c {args.mb}M")))
            deadline = time.monotonic() + 600
            while not (run := client.get(run.id)).finished:
                if time.monotonic() > deadline:
                    raise SystemExit("the job did not finish")
                time.sleep(0.5)
            base = rss(server.pid)
            peak = base
            done = threading.Event()

            def sample() -> None:
                nonlocal peak
                while not done.is_set():
                    peak = max(peak, rss(server.pid))
                    time.sleep(0.005)

            sampler = threading.Thread(target=sample)
            sampler.start()
            size = 0
            started = time.monotonic()
            with client._open("GET", f"runs/{run.id}/logs", params={"stream": "stdout", "format": "text"},
                              headers={"Accept": "text/plain"}, timeout=600) as response:
                while chunk := response.read(1 << 20):
                    size += len(chunk)
            elapsed = time.monotonic() - started
            done.set()
            sampler.join()
        finally:
            server.terminate()
            server.wait(30)
    growth = peak - base
    print(f"log text received: {size / 1e6:.1f} MB in {elapsed:.2f} s ({size / 1e6 / elapsed:.0f} MB/s)")
    print(f"server RSS: {base / 1e6:.1f} MB before, peak {peak / 1e6:.1f} MB during the request "
          f"(+{growth / 1e6:.1f} MB)")
    print(f"RSS growth / log size: {growth / max(size, 1):.3f}")


if __name__ == "__main__":
    main()
