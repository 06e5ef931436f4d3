"""The warm process (see `warm.py`): imports the service stack once, then forks a child per call that
becomes the caller's command. `python -m jupyter_jobs.cli.warm_server`, started by `warm.start()`."""

from __future__ import annotations

import contextlib
import fcntl
import importlib
import json
import os
import signal
import socket
import struct
import sys
import sysconfig
import threading
import time
import traceback
from pathlib import Path

from .warm import _HEADER, _RELAYED, socket_path

#: What a command needs, imported once by the warm process (the rest a command imports in its child).
PRELOAD = (
    "jupyter_jobs.cli.commands", "jupyter_jobs.console", "jupyter_jobs.connect", "jupyter_jobs.submit",
    "jupyter_jobs.spec.config", "jupyter_jobs.service.service", "jupyter_jobs.executors.local",
    "jupyter_jobs.notebook.build", "jupyter_jobs.notebook.results", "jupyter_jobs.pyenv.resolve",
    "jupyter_jobs.pyenv.detect", "jupyter_jobs.schedule_timing", "jupyter_core.paths", "sqlalchemy.dialects.sqlite",
    "sqlite3", "yaml",
)


def serve(idle: float) -> None:
    """Import the service stack, then fork a child per call until `idle` seconds pass without one."""
    found = socket_path()
    if found is None:
        return
    path = Path(found)
    lock = open(path.with_suffix(".lock"), "a+")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return  # another warm process serves
    lock.truncate(0)
    lock.write(str(os.getpid()))
    lock.flush()
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))  # `kill PID` cleans up too
    for module in PRELOAD:
        importlib.import_module(module)
    from sqlalchemy.orm import configure_mappers

    from .parser import build_parser

    build_parser()
    configure_mappers()  # else every child would set up the ORM's classes again
    code = _fingerprint()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    fresh = path.with_name(f"{path.stem}.{os.getpid()}.sock")
    listener.bind(str(fresh))
    listener.listen(16)
    os.replace(fresh, path)  # a caller finds the socket only once it accepts
    listener.settimeout(1.0)
    last = time.monotonic()
    try:
        while time.monotonic() - last < idle:
            _reap()
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            last = time.monotonic()
            with conn:
                request, fds = _receive(conn)
                if request is None or _fingerprint() != code:
                    for fd in fds:
                        os.close(fd)
                    if request is not None:
                        return  # the installed code changed: this call runs cold, the next starts afresh
                    continue
                if os.fork() == 0:
                    listener.close()
                    lock.close()
                    _become(conn, request, fds)
                for fd in fds:
                    os.close(fd)
    finally:  # the socket is removed while the lock is held: never a successor's socket
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        listener.close()
        lock.close()


def _receive(conn: socket.socket) -> tuple[dict | None, list[int]]:
    """A caller's request and its three descriptors; (None, fds) for a caller of another user or a
    malformed request."""
    conn.settimeout(5.0)
    try:
        uid = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))[1]
        header, fds, _flags, _addr = socket.recv_fds(conn, _HEADER.size, 3)
        if uid != os.getuid() or len(header) != _HEADER.size or len(fds) != 3:
            return None, fds
        size = _HEADER.unpack(header)[0]
        body = b""
        while len(body) < size:
            chunk = conn.recv(size - len(body))
            if not chunk:
                return None, fds
            body += chunk
        return json.loads(body), fds
    except (OSError, ValueError):
        return None, []


def _reap() -> None:
    """Collect the children that ended (each call's), so none stays a zombie."""
    with contextlib.suppress(ChildProcessError):  # no children left
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass


def _fingerprint() -> list[int]:
    """Changes when the package's files or the installed distributions change (mtimes)."""
    package = Path(__file__).parent.parent
    sites = {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}
    stamps = [os.stat(site).st_mtime_ns for site in sorted(sites) if os.path.isdir(site)]
    for folder, _dirs, files in os.walk(package):
        stamps += [os.stat(os.path.join(folder, name)).st_mtime_ns for name in files if name.endswith(".py")]
    return stamps


def _become(conn: socket.socket, request: dict, fds: list[int]) -> None:
    """In the forked child: take the caller's terminal, folder and environment, run the command, send
    its exit code. Never returns. If taking them fails, the caller hears nothing and runs the command
    itself."""
    try:
        _take_over(request, fds)
        conn.settimeout(None)
        conn.sendall(b"started\n")
    except BaseException:
        traceback.print_exc(file=sys.__stderr__)
        os._exit(1)
    code = 1
    done = threading.Event()
    try:
        threading.Thread(target=_relay_signals, args=(conn, done), daemon=True).start()
        code = _run(sys.argv[1:])
    finally:
        done.set()
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
        with contextlib.suppress(OSError):
            conn.sendall(f"exit {code}\n".encode())
        os._exit(0)


def _take_over(request: dict, fds: list[int]) -> None:
    """This process becomes the caller's command: its descriptors, folder, environment, argv."""
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    time.tzset()
    os.umask(request["umask"])
    for signum in _RELAYED:
        signal.signal(signum, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    sys.argv = list(request["argv"])
    encoding = request.get("encoding") or "utf-8"
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    sys.stdin = open(0, closefd=False, encoding=encoding)
    sys.stdout = open(1, "w", buffering=1 if os.isatty(1) else -1, closefd=False, encoding=encoding)
    sys.stderr = open(2, "w", buffering=1, closefd=False, encoding=encoding, errors="backslashreplace")


def _run(args: list[str]) -> int:
    """`main(args)` with what an interpreter does at its end: SystemExit's code, a traceback."""
    from .commands import main

    try:
        return main(args)
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            return exc.code or 0
        print(exc.code, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        traceback.print_exc()
        return 130
    except BaseException:
        traceback.print_exc()
        return 1


def _relay_signals(conn: socket.socket, done: threading.Event) -> None:
    """Signals the caller received, raised here; the caller gone mid-command is a hangup."""
    for line in conn.makefile("rb"):
        if line.startswith(b"signal "):
            os.kill(os.getpid(), int(line.split()[1]))
    if not done.is_set():
        os.kill(os.getpid(), signal.SIGHUP)


if __name__ == "__main__":
    serve(float(os.environ.get("JUPYTER_JOBS_WARM_IDLE", "600")))
