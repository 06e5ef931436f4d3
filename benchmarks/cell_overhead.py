"""End-to-end time of a trivial `%%job` cell (warm environment cache) in a real kernel, against
papermill executing the same one-cell notebook, measured in the same run (medians).

    python benchmarks/cell_overhead.py [--repeat 7]

Goal: the `%%job` cell takes at most 0.5x papermill's time. By default later jobs use the
environment's warm executor (a fork server that has IPython imported); `--cold` turns it off.
Also prints where the job's time goes:
submit (in the kernel: detection, capture, upload, submit), dispatch (runner started), env (cache
lookup, staging), executor start (job Python + IPython shell), execution, results written, runner
finish, and getting the result back into the cell.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

CODE = "x = 1 + 1\nprint(x)"


def start_kernel(env: dict, cwd: str):
    from jupyter_client.manager import KernelManager

    km = KernelManager(kernel_name="python3")
    km.kernel_spec.argv[0] = sys.executable
    km.start_kernel(env=env, cwd=cwd)
    kc = km.client()
    kc.start_channels()
    kc.wait_for_ready(timeout=60)
    return km, kc


def execute(kc, code: str, timeout: float = 600) -> tuple[float, float, dict]:
    """(seconds from request to idle, time idle was seen, reply content)."""
    t0 = time.time()
    msg_id = kc.execute(code)
    while True:
        msg = kc.get_iopub_msg(timeout=timeout)
        if (msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "status"
                and msg["content"]["execution_state"] == "idle"):
            break
    t1 = time.time()
    reply = kc.get_shell_msg(timeout=timeout)
    while reply["parent_header"].get("msg_id") != msg_id:
        reply = kc.get_shell_msg(timeout=timeout)
    return t1 - t0, t0, reply["content"]


def breakdown(client, run_id: str, t_request: float, t_idle: float) -> dict:
    from jupyter_jobs.runner.protocol import CELL_NOTEBOOK

    run = client.get(run_id)
    events, _ = client.service.events(run_id)
    at = {}
    for e in events:
        if e["type"] == "status":
            at.setdefault(e["status"], e["t"])
        elif e["type"] == "result":
            at["result"] = e["t"]
    nb = json.loads((client.service.outputs_dir(run_id) / CELL_NOTEBOOK).read_text())
    tm = nb["metadata"]["jupyter_jobs"]["timings"]
    return {
        "submit (kernel: detect, capture, upload)": run.created_at - t_request,
        "dispatch + runner start": at["PREPARING"] - run.created_at,
        "env (cached) + staging": at["RUNNING"] - at["PREPARING"],
        "executor start (python + IPython)": tm["shell_ready"] - at["RUNNING"],
        "execution": tm["executed"] - tm["shell_ready"],
        "results written": tm["finished"] - tm["executed"],
        "runner finish": at["result"] - tm["finished"],
        "result back in the cell": t_idle - at["result"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--cold", action="store_true",
                        help="no warm executor (JUPYTER_JOBS_WARM=0): every job imports IPython itself")
    args = parser.parse_args()

    import nbformat
    import papermill

    work = tempfile.mkdtemp(prefix="cell-overhead-")
    data = Path(work) / "jobs-data"
    os.environ["JUPYTER_JOBS_DATA_DIR"] = str(data)
    env = dict(os.environ, PYTHONUNBUFFERED="1", JUPYTER_JOBS_WARM_IDLE="60")
    if args.cold:
        env["JUPYTER_JOBS_WARM"] = "0"
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(CODE)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb_path = Path(work) / "one-cell.ipynb"
    nbformat.write(nb, nb_path)

    km, kc = start_kernel(env, work)
    try:
        execute(kc, "%load_ext jupyter_jobs")
        took, _, reply = execute(kc, "%%job\n" + CODE)  # builds (or finds) the environment
        assert reply["status"] == "ok", reply
        print(f"first %%job (environment build): {took:.2f}s")

        from jupyter_jobs.client import EmbeddedClient

        client = EmbeddedClient()
        job_times, parts = [], []
        pm_times = []
        for _ in range(args.repeat):
            took, t0, reply = execute(kc, "%%job\n" + CODE)
            assert reply["status"] == "ok", reply
            job_times.append(took)
            run_id = client.list(limit=1)[0].id
            parts.append(breakdown(client, run_id, t0, t0 + took))
            start = time.time()
            papermill.execute_notebook(str(nb_path), str(Path(work) / "out.ipynb"), kernel_name="python3",
                                       progress_bar=False)
            pm_times.append(time.time() - start)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)

    job, pm = statistics.median(job_times), statistics.median(pm_times)
    print(f"%%job trivial cell (warm env):      median {job:.3f}s  (n={len(job_times)}: "
          + ", ".join(f"{t:.2f}" for t in job_times) + ")")
    print(f"papermill one-cell notebook:        median {pm:.3f}s  (n={len(pm_times)}: "
          + ", ".join(f"{t:.2f}" for t in pm_times) + ")")
    print(f"ratio %%job / papermill:            {job / pm:.2f}x  (goal <= 0.50x)")
    print("where the %%job time goes (medians):")
    for key in parts[0]:
        print(f"  {key:36} {statistics.median(p[key] for p in parts):.3f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
