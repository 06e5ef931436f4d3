"""A real IPython kernel (this Python) to drive from a test: execute cells, read their replies and values.

Used by the kernel tests and by the front-door tests that run `%%job` cells on every engine.
"""

from __future__ import annotations

import os
import queue
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Reply:
    status: str
    content: dict
    messages: list[dict] = field(default_factory=list)  # iopub messages, each with "received_at"

    def text(self, name: str = "stdout") -> str:
        return "".join(m["content"]["text"] for m in self.messages
                       if m["msg_type"] == "stream" and m["content"]["name"] == name)

    def of_type(self, *types: str) -> list[dict]:
        return [m for m in self.messages if m["msg_type"] in types]

    def mimes(self) -> list[str]:
        """MIME types of every display (not the status line's HTML)."""
        out = []
        for m in self.of_type("display_data", "execute_result"):
            data = m["content"]["data"]
            if "text/html" in data and "job <code>" in data["text/html"]:
                continue
            out += list(data)
        return out


class Kernel:
    def __init__(self, km, kc, cwd: Path):
        self.km, self.kc, self.cwd = km, kc, cwd

    def execute(self, code: str, timeout: float = 240, on_message=None) -> Reply:
        msg_id = self.kc.execute(code, allow_stdin=False)
        messages = []
        deadline = time.time() + timeout
        while True:
            try:
                msg = self.kc.get_iopub_msg(timeout=max(0.1, deadline - time.time()))
            except queue.Empty:
                raise TimeoutError(f"no idle after {timeout}s; so far: {messages[-5:]}") from None
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            msg["received_at"] = time.time()
            if on_message:
                on_message(msg)
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                break
            messages.append(msg)
        reply = self.kc.get_shell_msg(timeout=30)
        while reply["parent_header"].get("msg_id") != msg_id:
            reply = self.kc.get_shell_msg(timeout=30)
        return Reply(reply["content"]["status"], reply["content"], messages)

    def ok(self, code: str, **kwargs) -> Reply:
        reply = self.execute(code, **kwargs)
        assert reply.status == "ok", (reply.content, reply.text("stderr"), reply.text())
        return reply

    def value(self, expr: str):
        """A JSON-able value from the kernel (via its repr)."""
        import ast

        reply = self.ok(f"print(repr({expr}))")
        return ast.literal_eval(reply.text().strip())

    def shutdown(self) -> None:
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)


def start_kernel(data_dir: Path, cwd: Path) -> Kernel:
    """A kernel of this Python in `cwd`, on the jobs data dir `data_dir`, with `%load_ext jupyter_jobs` done."""
    from jupyter_client.manager import KernelManager

    # warm executors (one per job environment) of these tests need not outlive them by long
    env = dict(os.environ, JUPYTER_JOBS_DATA_DIR=str(data_dir), PYTHONUNBUFFERED="1", JUPYTER_JOBS_WARM_IDLE="60")
    env.pop("MPLBACKEND", None)
    km = KernelManager(kernel_name="python3")
    km.kernel_spec.argv[0] = sys.executable  # this very interpreter, whatever kernelspecs are installed
    km.start_kernel(env=env, cwd=str(cwd))
    kc = km.client()
    kc.start_channels()
    kc.wait_for_ready(timeout=60)
    kernel = Kernel(km, kc, cwd)
    kernel.ok("%load_ext jupyter_jobs")
    return kernel
