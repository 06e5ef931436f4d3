"""The warm CLI: in a terminal, `jupyter-jobs` hands its command to a process that already imported the service.

Why: SQLAlchemy and the pydantic models take about half a second to import, more than a short job
itself. A person at a terminal pays that on every call; a warm process pays it once.

How: the first call runs as always and then starts `python -m jupyter_jobs.cli.warm_server` in the background.
That process imports the service stack, listens on a Unix socket and, for each later call, forks a
child that becomes the command: the caller's argv, folder, environment, umask and its own terminal
(stdin, stdout and stderr are passed as file descriptors), so prompts, colours and Ctrl-C behave as in
a plain run. The caller relays its signals to the child and exits with the child's exit code.

When: by default only where a person waits (stdin and stderr are terminals, `CI` unset), so scripts
and CI never leave a process behind; `JUPYTER_JOBS_WARM=1` turns it on anywhere, `=0` off. The warm
process exits after `JUPYTER_JOBS_WARM_IDLE` seconds without calls (600), and at the first call after
the installed code changed (that call then runs as always).

Differences from a plain run: the child keeps the warm process's resource limits and cgroup, and
Ctrl-Z stops only the caller (the child is in the warm process's session).

Safety: the socket is in a folder only its user can enter, and the process serves only callers of
its own user (SO_PEERCRED). A call that was handed over never runs a second time in the caller.

This module is the caller's side and imports little (a warm call's time is mostly its own start);
`warm_server.py` is the warm process.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import struct
import sys

_RELAYED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)
_HEADER = struct.Struct("!I")


def wanted() -> bool:
    """`JUPYTER_JOBS_WARM` if set, else: a person is waiting at a terminal and this is not CI."""
    if not hasattr(socket, "send_fds") or not hasattr(os, "fork"):
        return False  # not a POSIX system
    setting = os.environ.get("JUPYTER_JOBS_WARM", "").strip().lower()
    if setting:
        return setting not in ("0", "false", "no", "off")
    return os.isatty(0) and os.isatty(2) and not os.environ.get("CI")


def socket_path() -> str | None:
    """One warm process per user and installation (interpreter + package folder); None when the
    folder for it cannot be made private."""
    import zlib

    base = os.environ.get("XDG_RUNTIME_DIR") or os.environ.get("TMPDIR") or "/tmp"
    folder = os.path.join(base, f"jupyter-jobs-{os.getuid()}")
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        info = os.lstat(folder)
    except OSError:
        return None
    if info.st_uid != os.getuid() or info.st_mode & 0o077 or not os.path.isdir(folder):
        return None
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    key = zlib.crc32(f"{sys.executable}\0{package}".encode())
    return os.path.join(folder, f"warm-{key:08x}.sock")


# -- the caller ------------------------------------------------------------------------------------
def call(argv: list[str]) -> int | None:
    """Run `argv` in the warm process; its exit code, or None when no warm process took it (then the
    caller runs it itself)."""
    path = socket_path()
    if path is None:
        return None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
    except OSError:
        sock.close()
        return None
    received: list[int] = []

    def relay(signum, frame):  # from now on, a signal is the command's (its child reads them once started)
        received.append(signum)
        with contextlib.suppress(OSError):
            sock.sendall(f"signal {signum}\n".encode())

    handlers = {signum: signal.signal(signum, relay) for signum in _RELAYED}
    try:
        request = json.dumps({"argv": argv, "cwd": os.getcwd(), "env": dict(os.environ), "umask": _umask(),
                              "encoding": sys.stdout.encoding}).encode()
        socket.send_fds(sock, [_HEADER.pack(len(request))], [0, 1, 2])
        sock.sendall(request)
        replies = sock.makefile("rb")
        started = replies.readline() == b"started\n"
    except OSError:
        started = False
    if not started:  # refused (the installed code changed) or gone before anything ran
        sock.close()
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
        return None
    return _wait(replies, received)


def _wait(replies, received: list[int]) -> int:
    """The child's exit code, once it sends it (signals are relayed meanwhile)."""
    try:
        for line in replies:
            if line.startswith(b"exit "):
                return int(line.split()[1])
    except OSError:
        pass
    if received:  # the child died of the relayed signal: so does the caller, as a plain run would
        signal.signal(received[-1], signal.SIG_DFL)
        os.kill(os.getpid(), received[-1])
    print("jobs: error: the warm process ended the command without an exit code", file=sys.stderr)
    return 1


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def start() -> None:
    """Start the warm process in the background (it exits at once if one already serves)."""
    import subprocess

    path = socket_path()
    if path is None:
        return
    with open(path[:-len(".sock")] + ".log", "ab") as log:
        subprocess.Popen([sys.executable, "-m", "jupyter_jobs.cli.warm_server"], stdin=subprocess.DEVNULL,
                         stdout=log, stderr=log, cwd="/", start_new_session=True, close_fds=True)
