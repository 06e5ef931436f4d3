"""A client that closes a download early (an output file, the outputs zip) is a debug line in the
server log, never an "Uncaught exception" traceback."""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
import sys
import time

import pytest
from server.test_runs import file_input, upload

BIG = 64 << 20  # well past the socket buffers: the server is still writing when the client leaves

SCRIPT = f"""
import os
os.makedirs("out", exist_ok=True)
with open("out/big.bin", "wb") as fh:
    fh.write(os.urandom(1 << 20) * {BIG >> 20})
""".encode()


class Lines(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(f"{record.levelname} {record.getMessage()}")


@pytest.fixture
def server_log(jp_serverapp):
    """Every line the server logs: its own log and Tornado's (where "Uncaught exception" goes)."""
    lines = Lines()
    loggers = [jp_serverapp.log, logging.getLogger("tornado.application"), logging.getLogger("tornado.general")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.addHandler(lines)
        lg.setLevel(logging.DEBUG)
    yield lines
    for lg, level in zip(loggers, levels):
        lg.removeHandler(lines)
        lg.setLevel(level)


async def _read_some_then_reset(port: int, path: str, headers: dict) -> bytes:
    """GET `path`, read the first bytes of the answer, then close the socket with a reset."""
    def go() -> bytes:
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{head}\r\n".encode())
            got = sock.recv(65536)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        return got

    return await asyncio.to_thread(go)


async def test_download_closed_early_is_a_debug_line(api, wait_run, jp_http_port, jp_base_url, jp_auth_header,
                                                     server_log):
    await upload(api, SCRIPT)
    body = {"spec": {"name": "big", "cmd": f"{sys.executable} job.py", "inputs": [{"path": "job.py"}],
                     "outputs": [{"path": "out/"}]},
            "bundle": {"inputs": [file_input("job.py", SCRIPT)]}, "origin": {"source": "test"}}
    code, run, _ = await api("runs", method="POST", body=body)
    assert code == 201, run
    assert (await wait_run(run["id"]))["status"] == "SUCCEEDED"

    for path in (f"jobs/runs/{run['id']}/outputs/out/big.bin", f"jobs/runs/{run['id']}/outputs.zip"):
        before = len(server_log.lines)
        got = await _read_some_then_reset(jp_http_port, jp_base_url + path, jp_auth_header)
        assert got.startswith(b"HTTP/1.1 200"), got[:200]
        deadline = time.monotonic() + 60
        while not any("closed the connection" in line for line in server_log.lines[before:]):
            assert time.monotonic() < deadline, server_log.lines[before:]
            await asyncio.sleep(0.05)
        new = server_log.lines[before:]
        assert [line for line in new if "closed the connection" in line][0].startswith("DEBUG"), new
        assert not any("Uncaught exception" in line or line.startswith("ERROR") for line in new), new
    code, _, response = await api("runs", run["id"], "outputs", "out", "big.bin")  # the server still serves
    assert code == 200 and len(response.body) == BIG
