"""The in-job executor of cell and notebook jobs: standard library plus IPython (and papermill for
notebooks). It is shipped into the job's work dir as `.jobs/nbexec.py`, next to runner/protocol.py as
`.jobs/jupyter_jobs_protocol.py` (the contracts it shares with the runner and the kernel side), and run
with the job environment's Python, so jupyter_jobs itself is never installed in (or put on the path of)
the job.

    python .jobs/nbexec.py .jobs/job.json

Cell jobs run in a plain Python process with IPython's `InteractiveShell` (no kernel, no ZMQ): a
display publisher and a displayhook turn every rich output into a *display frame*, one line on stdout:

    DISPLAY_MARKER + json({"msg_type": ..., "data": {...}, "metadata": {...}, "display_id": ...}) + "\\n"

Frames share the pipe with the job's own stdout, so the runner sees text and displays in the order
they were produced; it turns frames into `display` events (runner/display.py) and keeps them out of
the stdout log. A failure is an `error` frame (ename, evalue, traceback). The executed one-cell notebook
and the `--out` variables are written under `.jobs/out/`.

Notebook jobs run papermill (nbclient + ipykernel in the job env); each cell's outputs are forwarded
as frames and stream text, and progress (cells done / total) goes to JOB_PROGRESS_FILENAME.

The value helpers (`save_value` / `load_value`) are also imported by the kernel side, so both ends
agree on the formats: NumPy arrays as .npy, pandas DataFrames as Parquet (when pyarrow is there),
anything else as a pickle (cloudpickle when installed).
"""

from __future__ import annotations

import json
import os
import sys
import time

_T0 = time.time()

try:  # imported from the package (the kernel side loads values with it)
    from . import protocol
except ImportError:  # run as .jobs/nbexec.py: the protocol was shipped beside it
    import jupyter_jobs_protocol as protocol


# -- values (shared with the kernel side) ---------------------------------------------------------------
class ValueTooLarge(Exception):
    def __init__(self, name: str, size: int, budget: int, kind: str):
        super().__init__(f"{name} is {_size(size)} ({kind}), over the {_size(budget)} budget")
        self.name, self.size, self.budget, self.kind = name, size, budget, kind


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n} B"


def type_name(value) -> str:
    kind = type(value)
    module = kind.__module__
    return kind.__qualname__ if module in ("builtins", "__main__") else f"{module.split('.')[0]}.{kind.__qualname__}"


def estimate_size(value) -> int | None:
    """In-memory size of big containers without serialising them (None: unknown, serialise to see)."""
    nbytes = getattr(value, "nbytes", None)
    if isinstance(nbytes, int) and type(value).__module__.split(".")[0] == "numpy":
        return nbytes
    if type(value).__module__.split(".")[0] == "pandas" and hasattr(value, "memory_usage"):
        try:
            usage = value.memory_usage(deep=False)
            return int(usage.sum()) if hasattr(usage, "sum") else int(usage)
        except Exception:
            return None
    return None


def _is_ndarray(value) -> bool:
    mod = sys.modules.get("numpy")
    return mod is not None and isinstance(value, mod.ndarray) and not value.dtype.hasobject


def _is_dataframe(value) -> bool:
    mod = sys.modules.get("pandas")
    return mod is not None and isinstance(value, mod.DataFrame)


def _pickler():
    try:
        import cloudpickle

        return cloudpickle, "cloudpickle"
    except ImportError:
        import pickle

        return pickle, "pickle"


def save_value(name: str, value, folder: str, budget: int) -> dict:
    """Write `value` to `folder` in the best typed format; raises ValueTooLarge past `budget` bytes."""
    os.makedirs(folder, exist_ok=True)
    kind = type_name(value)
    estimate = estimate_size(value)
    if estimate is not None and estimate > budget:
        raise ValueTooLarge(name, estimate, budget, kind)
    path = None
    fmt = None
    if _is_ndarray(value):
        import numpy

        path, fmt = os.path.join(folder, f"{name}.npy"), "npy"
        numpy.save(path, value, allow_pickle=False)
    elif _is_dataframe(value):
        try:
            import pyarrow  # noqa: F401

            path, fmt = os.path.join(folder, f"{name}.parquet"), "parquet"
            value.to_parquet(path)
        except Exception:  # no pyarrow, or columns Parquet cannot hold: pickle keeps them exactly
            path = None
    if path is None:
        module, fmt = _pickler()
        path = os.path.join(folder, f"{name}.pkl")
        with open(path, "wb") as fh:
            module.dump(value, fh, protocol=4)
    size = os.path.getsize(path)
    if size > budget:
        os.unlink(path)
        raise ValueTooLarge(name, size, budget, kind)
    return {"file": os.path.basename(path), "format": fmt, "size": size, "type": kind}


def load_value(path: str, fmt: str):
    if fmt == "npy":
        import numpy

        return numpy.load(path, allow_pickle=False)
    if fmt == "parquet":
        import pandas

        return pandas.read_parquet(path)
    import pickle

    with open(path, "rb") as fh:
        return pickle.load(fh)  # cloudpickle's output loads with pickle (cloudpickle must be importable)


# -- frames ---------------------------------------------------------------------------------------------
def emit(frame: dict) -> None:
    """One display frame on the real stdout, after whatever text the job printed before it."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    out = sys.__stdout__
    out.write(protocol.DISPLAY_MARKER + json.dumps(frame, default=str) + "\n")
    out.flush()


def progress(value: float, message: str) -> None:
    path = os.environ.get("JOB_PROGRESS_FILENAME")
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"progress": value, "message": message}) + "\n")


class _Recorder:
    """The outputs of the executed cell, as nbformat v4 output dicts (for the notebook written back)."""

    def __init__(self):
        self.outputs: list[dict] = []

    def stream(self, name: str, text: str) -> None:
        if self.outputs and self.outputs[-1].get("output_type") == "stream" and self.outputs[-1]["name"] == name:
            self.outputs[-1]["text"] += text
        else:
            self.outputs.append({"output_type": "stream", "name": name, "text": text})

    def frame(self, frame: dict) -> None:
        kind = frame["msg_type"]
        if kind == "clear_output":
            self.outputs.clear()
        elif kind == "update_display_data":
            for out in self.outputs:
                if out.get("_display_id") == frame.get("display_id"):
                    out["data"], out["metadata"] = frame["data"], frame.get("metadata", {})
        elif kind == "error":
            self.outputs.append({"output_type": "error", "ename": frame["ename"], "evalue": frame["evalue"],
                                 "traceback": frame["traceback"]})
        else:
            out = {"output_type": kind, "data": frame["data"], "metadata": frame.get("metadata", {})}
            if kind == "execute_result":
                out["execution_count"] = frame.get("execution_count")
            if frame.get("display_id"):
                out["_display_id"] = frame["display_id"]
            self.outputs.append(out)

    def nbformat_outputs(self) -> list[dict]:
        return [{k: v for k, v in out.items() if k != "_display_id"} for out in self.outputs]


class _Tee:
    """sys.stdout / sys.stderr: text goes through unchanged (logs) and is kept for the notebook."""

    def __init__(self, stream, name: str, recorder: _Recorder):
        self._stream, self._name, self._recorder = stream, name, recorder

    def write(self, text: str) -> int:
        self._stream.write(text)
        if text:
            self._recorder.stream(self._name, text)
        return len(text)

    def __getattr__(self, name):
        return getattr(self._stream, name)


# -- cell jobs ------------------------------------------------------------------------------------------
def _import_ipython():
    """InteractiveShell without `IPython/__init__` (which pulls in the terminal app, prompt_toolkit and
    jedi: about half of IPython's import time). The package's own attributes load on first use."""
    import importlib.util
    import types

    if "IPython" not in sys.modules:
        spec = importlib.util.find_spec("IPython")
        if spec is not None and spec.submodule_search_locations:
            stub = types.ModuleType("IPython")
            stub.__path__ = list(spec.submodule_search_locations)
            stub.__file__ = spec.origin
            stub.__spec__ = spec
            stub.__package__ = "IPython"

            def __getattr__(name, _stub=stub):
                if name.startswith("__"):
                    raise AttributeError(name)
                if name == "get_ipython":
                    from IPython.core.getipython import get_ipython

                    return get_ipython
                # anything else (IPython.embed, version_info, ...): run the real package init once
                del _stub.__getattr__
                with open(spec.origin, encoding="utf-8") as fh:
                    exec(compile(fh.read(), spec.origin, "exec"), _stub.__dict__)
                return getattr(_stub, name)

            stub.__getattr__ = __getattr__
            sys.modules["IPython"] = stub
            if "jedi" not in sys.modules:
                sys.modules["jedi"] = None  # completion is useless here; skip its slow import
    try:
        from IPython.core.interactiveshell import InteractiveShell
    except Exception:  # fall back to the ordinary import
        for name in [m for m in sys.modules if m == "IPython" or m.startswith("IPython.") or m == "jedi"]:
            del sys.modules[name]
        from IPython.core.interactiveshell import InteractiveShell
    return InteractiveShell


def _make_shell(recorder: _Recorder):
    InteractiveShell = _import_ipython()
    from IPython.core.displayhook import DisplayHook
    from IPython.core.displaypub import DisplayPublisher
    from traitlets.config import Config

    def send(frame):
        recorder.frame(frame)
        emit(frame)

    class FramePublisher(DisplayPublisher):
        def publish(self, data, metadata=None, source=None, *, transient=None, update=False, **kwargs):
            display_id = (transient or {}).get("display_id")
            send({"msg_type": "update_display_data" if update else "display_data", "data": data,
                  "metadata": metadata or {}, "display_id": display_id})

        def clear_output(self, wait=False):
            send({"msg_type": "clear_output", "wait": bool(wait)})

    class FrameDisplayHook(DisplayHook):
        def write_output_prompt(self):
            pass

        def write_format_data(self, format_dict, md_dict=None):
            send({"msg_type": "execute_result", "data": format_dict, "metadata": md_dict or {},
                  "execution_count": self.shell.execution_count, "display_id": None})

        def finish_displayhook(self):
            pass

    class JobShell(InteractiveShell):
        error: dict | None = None

        def _showtraceback(self, etype, evalue, stb):
            frame = {"msg_type": "error", "ename": getattr(etype, "__name__", str(etype)),
                     "evalue": str(evalue), "traceback": list(stb)}
            self.error = frame
            send(frame)

        def enable_gui(self, gui=None):
            pass

        def init_completer(self):
            pass  # nobody completes code in a job; saves importing the completer (and jedi)

    config = Config()
    config.HistoryManager.enabled = False
    config.InteractiveShell.colors = "Linux"
    shell = JobShell.instance(config=config, display_pub_class=FramePublisher,
                              displayhook_class=FrameDisplayHook)
    if sys.modules.get("jedi", 0) is None:
        del sys.modules["jedi"]  # user code may import it for real
    return shell


def run_cell(job: dict) -> int:
    import signal

    def interrupt(signum, frame):
        raise KeyboardInterrupt(f"cancelled (signal {signum})")

    signal.signal(signal.SIGTERM, interrupt)
    work = os.getcwd()
    if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
        sys.path[0] = work  # like a kernel: the work dir, not this file's folder, is importable
    else:
        sys.path.insert(0, work)
    import importlib.util

    if importlib.util.find_spec("matplotlib_inline") is not None:  # plots become PNG displays, as in a kernel
        os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    recorder = _Recorder()
    timings = {"process_start": _T0}
    shell = _make_shell(recorder)
    _known_cells(shell, job.get("cells") or {})
    timings["shell_ready"] = time.time()
    sys.stdout = _Tee(sys.stdout, "stdout", recorder)
    sys.stderr = _Tee(sys.stderr, "stderr", recorder)
    ok = True
    try:
        for name, info in job.get("inputs", {}).items():
            shell.user_ns[name] = load_value(info["path"], info["format"])
        if job.get("prelude"):
            exec(compile(job["prelude"], "<jupyter-jobs prelude>", "exec"), shell.user_ns)
    except BaseException:
        shell.showtraceback()
        ok = False
    timings["inputs_loaded"] = time.time()
    if ok:
        shell.execution_count = job.get("execution_count") or 1
        result = shell.run_cell(job["source"], store_history=True)
        ok = result.success and shell.error is None
    timings["executed"] = time.time()
    sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
    out_dir = os.path.join(work, protocol.JOB_OUT_DIR)
    manifest = {}
    if ok:
        for name in job.get("outputs", []):
            if name not in shell.user_ns:
                manifest[name] = {"error": f"the cell did not define {name}"}
                continue
            try:
                manifest[name] = save_value(name, shell.user_ns[name], out_dir, job.get("out_budget", 1 << 30))
            except ValueTooLarge as exc:
                manifest[name] = {"error": f"{exc}; write it to a file and bring it back with --outputs"}
            except Exception as exc:
                manifest[name] = {"error": f"cannot be saved: {type(exc).__name__}: {exc}"}
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, protocol.VARIABLES_FILE), "w", encoding="utf-8") as fh:
        json.dump(manifest, fh)
    timings["finished"] = time.time()
    _write_notebook(os.path.join(work, protocol.CELL_NOTEBOOK), job, recorder, shell, timings)
    return 0 if ok else 1


def _known_cells(shell, cells: dict) -> None:
    """Kernel cells the sent functions were defined in: their tracebacks say `Cell In[N]`, with lines."""
    import linecache

    for name, cell in cells.items():
        shell.compile._filename_map[name] = cell["count"]
        linecache.cache[name] = (sum(map(len, cell["lines"])), None, list(cell["lines"]), name)


def _write_notebook(path: str, job: dict, recorder: _Recorder, shell, timings: dict) -> None:
    cell = {"cell_type": "code", "execution_count": shell.execution_count - 1 or None,
            "id": "jupyter-jobs-cell", "metadata": {}, "outputs": recorder.nbformat_outputs(),
            "source": job["source"]}
    nb = {"nbformat": 4, "nbformat_minor": 5, "cells": [cell], "metadata": {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python", "version": ".".join(map(str, sys.version_info[:3]))},
        "jupyter_jobs": {"run_id": os.environ.get("JOB_ID"), "timings": timings}}}
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(nb, fh, indent=1)


# -- notebook jobs --------------------------------------------------------------------------------------
#: `ipykernel_launcher`, less the kernel's warning that its TCP sockets are not encrypted: they are
#: this job's own loopback sockets, and the line would only alarm the reader of the job's log.
_KERNEL_LAUNCHER = """import logging, sys
from pathlib import Path
if sys.path[0] == "" or Path(sys.path[0]) == Path.cwd():
    del sys.path[0]
logging.getLogger("IPKernelApp").addFilter(lambda record: "without encryption" not in record.getMessage())
from ipykernel import kernelapp
kernelapp.launch_new_instance()
"""


def _kernelspec(work: str) -> None:
    """A `python3` kernel that is this environment's Python, first on JUPYTER_PATH."""
    folder = os.path.join(work, protocol.JOB_DIR, "jupyter")
    spec_dir = os.path.join(folder, "kernels", "python3")
    os.makedirs(spec_dir, exist_ok=True)
    with open(os.path.join(spec_dir, "kernel.json"), "w", encoding="utf-8") as fh:
        json.dump({"argv": [sys.executable, "-c", _KERNEL_LAUNCHER, "-f", "{connection_file}"],
                   "display_name": "Python 3 (job)", "language": "python"}, fh)
    os.environ["JUPYTER_PATH"] = os.pathsep.join([folder] + [p for p in os.environ.get("JUPYTER_PATH", "").split(
        os.pathsep) if p])


def run_notebook(job: dict) -> int:
    import signal

    def interrupt(signum, frame):
        raise KeyboardInterrupt(f"cancelled (signal {signum})")

    signal.signal(signal.SIGTERM, interrupt)
    work = os.getcwd()
    _kernelspec(work)
    import papermill
    import papermill.engines
    from papermill.clientwrap import PapermillNotebookClient
    from papermill.exceptions import PapermillExecutionError

    class JobsNotebookClient(PapermillNotebookClient):
        """Forwards each output as it arrives and reports cells done / total."""

        def __init__(self, nb_man, *args, **kwargs):
            super().__init__(nb_man, *args, **kwargs)
            code_cells = [c for c in nb_man.nb.cells if c.cell_type == "code"]
            total = max(len(code_cells), 1)
            done = [0]
            complete = nb_man.cell_complete

            def cell_complete(cell, cell_index=None, **kw):
                complete(cell, cell_index=cell_index, **kw)
                if cell.cell_type == "code":
                    done[0] += 1
                    progress(100.0 * done[0] / total, f"cell {done[0]}/{total}")

            nb_man.cell_complete = cell_complete
            progress(0.0, f"cell 0/{total}")

        def process_message(self, msg, cell, cell_index):
            kind = msg["msg_type"]
            content = msg["content"]
            if kind in ("display_data", "update_display_data", "execute_result"):
                emit({"msg_type": kind, "data": content.get("data", {}), "metadata": content.get("metadata", {}),
                      "display_id": (content.get("transient") or {}).get("display_id"),
                      "execution_count": content.get("execution_count")})
            elif kind == "clear_output":
                emit({"msg_type": "clear_output", "wait": bool(content.get("wait"))})
            return super().process_message(msg, cell, cell_index)

    papermill.engines.PapermillNotebookClient = JobsNotebookClient
    output = os.path.join(work, job["output"])
    os.makedirs(os.path.dirname(output), exist_ok=True)
    source = os.path.join(work, job["notebook"])
    try:
        papermill.execute_notebook(source, output, parameters=job.get("parameters") or {}, kernel_name="python3",
                                   language="python", progress_bar=False, stdout_file=sys.stdout,
                                   stderr_file=sys.stderr, cwd=os.path.dirname(source) or work,
                                   request_save_on_cell_execute=False)
    except PapermillExecutionError as exc:
        cell = _failed_cell(output, exc)
        emit({"msg_type": "error", "ename": exc.ename, "evalue": exc.evalue, "traceback": list(exc.traceback),
              "cell": cell, "execution_count": exc.exec_count,
              "summary": f"cell {cell} failed: {exc.ename}" + (f": {exc.evalue}" if exc.evalue else "")})
        return 1
    except KeyboardInterrupt:
        emit({"msg_type": "error", "ename": "KeyboardInterrupt", "evalue": "cancelled", "traceback": []})
        return 1
    return 0


def _failed_cell(output: str, exc) -> int:
    """1-based position of the failed cell among code cells (papermill's index counts its own cells)."""
    try:
        with open(output, encoding="utf-8") as fh:
            cells = json.load(fh)["cells"]
        code = [c for c in cells if c["cell_type"] == "code"
                and "injected-parameters" not in c.get("metadata", {}).get("tags", [])
                and "papermill-error-cell-tag" not in c.get("metadata", {}).get("tags", [])]
        for position, c in enumerate(code, 1):
            if (any(o.get("output_type") == "error" for o in c.get("outputs", []))
                    or c.get("metadata", {}).get("papermill", {}).get("exception")):  # e.g. a UsageError
                return position
    except (OSError, ValueError, KeyError):
        pass
    return exc.cell_index


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    with open(argv[0], encoding="utf-8") as fh:
        job = json.load(fh)
    if job["mode"] == "cell":
        code = _run_warm(argv)
        if code is not None:
            return code
    code = run_notebook(job) if job["mode"] == "notebook" else run_cell(job)
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    return code


# -- warm start: a fork server per environment ------------------------------------------------------------
# Importing IPython is most of a trivial cell job's time. The first cell job in an environment starts a
# small server (detached, minimal environment, no secrets) that has imported IPython and waits on an
# abstract unix socket named after the environment and this file's content. Later cell jobs hand it
# their stdin/stdout/stderr, working dir and environment; it forks a worker that runs the cell exactly
# as a cold process would. This process stays the job's command: it forwards signals to the worker and
# exits with its exit code; the worker kills itself when this process dies (a SIGKILL'd job).
# Only the same user may connect (SO_PEERCRED). It exits after WARM_IDLE seconds without work, or when
# its environment is deleted. JUPYTER_JOBS_WARM=0 turns it off.
WARM_IDLE = float(os.environ.get("JUPYTER_JOBS_WARM_IDLE", "600"))
_KEEP_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "VIRTUAL_ENV", "USER", "LOGNAME",
             "JUPYTER_JOBS_WARM_IDLE")


def _warm_name() -> str:
    import hashlib

    code = b""
    for path in (__file__, protocol.__file__):
        with open(os.path.abspath(path), "rb") as fh:
            code += fh.read()
    digest = hashlib.sha256(code + sys.prefix.encode() + str(os.getuid()).encode()).hexdigest()
    return "\0jupyter-jobs-warm-" + digest[:40]


def _run_warm(argv: list[str]) -> int | None:
    """Run through the environment's fork server; None: there is none (one is started for next time)."""
    import signal
    import socket
    import struct

    if os.environ.get("JUPYTER_JOBS_WARM", "1") == "0" or not hasattr(socket, "send_fds") \
            or not sys.platform.startswith("linux"):
        return None
    name = _warm_name()
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(name)
    except OSError:
        conn.close()
        _start_warm_server()
        return None
    payload = json.dumps({"cwd": os.getcwd(), "env": dict(os.environ), "argv": argv}).encode()
    try:
        socket.send_fds(conn, [struct.pack("!I", len(payload)) + payload], [0, 1, 2])
        reader = conn.makefile("rb")
        first = reader.readline()
    except OSError:
        return None
    if not first:
        return None  # the server went away before starting a worker: run cold
    pid = json.loads(first)["pid"]

    def forward(signum, frame):
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2):
        signal.signal(sig, forward)
    while True:
        try:
            line = reader.readline()
            break
        except InterruptedError:
            continue
    if not line:
        sys.stderr.write("jupyter-jobs: the warm executor went away\n")
        return 1
    return int(json.loads(line)["exit"])


def _start_warm_server() -> None:
    import shutil
    import subprocess

    folder = os.path.join(sys.prefix, ".jupyter-jobs")
    try:
        os.makedirs(folder, exist_ok=True)
        copy = os.path.join(folder, "nbexec-warm.py")
        # the work dir (and these files) go away with this job; the copy imports its protocol beside it
        for src, dest in ((__file__, copy), (protocol.__file__, os.path.join(folder, "jupyter_jobs_protocol.py"))):
            tmp = f"{dest}.{os.getpid()}"
            shutil.copyfile(os.path.abspath(src), tmp)
            os.replace(tmp, dest)
        env = {k: os.environ[k] for k in _KEEP_ENV if k in os.environ}
        env["PYTHONUNBUFFERED"] = "1"
        subprocess.Popen([sys.executable, copy, "--warm-server", _warm_name()[1:], os.path.abspath(__file__)],
                         cwd=folder, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True, close_fds=True)
    except OSError:
        pass


def _warm_server(name: str) -> None:
    import socket
    import struct

    _import_ipython()
    import IPython.core.displayhook  # noqa: F401
    import IPython.core.displaypub  # noqa: F401
    import IPython.display  # noqa: F401
    import traitlets.config  # noqa: F401

    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        server.bind("\0" + name)
    except OSError:
        return  # another one is already serving
    server.listen(16)
    server.settimeout(2.0)
    last_work = time.time()
    while time.time() - last_work < WARM_IDLE and os.path.isdir(sys.prefix):
        try:
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        except ChildProcessError:
            pass
        try:
            conn, _ = server.accept()
        except TimeoutError:
            continue
        last_work = time.time()
        fds: list[int] = []
        try:
            conn.settimeout(10)
            creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
            if struct.unpack("3i", creds)[1] != os.getuid():
                raise PermissionError("another user")
            data, fds, _, _ = socket.recv_fds(conn, 1 << 16, 3)
            size = struct.unpack("!I", data[:4])[0]
            data = data[4:]
            while len(data) < size:
                chunk = conn.recv(size - len(data))
                if not chunk:
                    raise ConnectionError("short message")
                data += chunk
            request = json.loads(data)
            conn.settimeout(None)
        except (OSError, ValueError, struct.error):
            conn.close()
            for fd in fds:
                os.close(fd)
            continue
        if os.fork() == 0:
            server.close()
            _warm_monitor(conn, request, fds)
        conn.close()
        for fd in fds:
            os.close(fd)


def _warm_monitor(conn, request: dict, fds: list[int]) -> None:
    """A forked child: fork the worker, tell the client its pid, then its exit code."""
    worker = os.fork()
    if worker == 0:
        _warm_worker(conn, request, fds)
    for fd in fds:
        os.close(fd)
    code = 1
    try:
        conn.sendall(json.dumps({"pid": worker}).encode() + b"\n")
        _, status = os.waitpid(worker, 0)
        code = os.waitstatus_to_exitcode(status)
        code = 128 - code if code < 0 else code
        conn.sendall(json.dumps({"exit": code}).encode() + b"\n")
    except OSError:
        pass
    os._exit(0)


def _warm_worker(conn, request: dict, fds: list[int]) -> None:
    import signal
    import threading

    global _T0
    _T0 = time.time()
    os.setsid()
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    for path in reversed([p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]):
        sys.path.insert(1, path)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)

    def watchdog():  # the job's own process died (killed): so does this one
        try:
            while conn.recv(1):
                pass
        except OSError:
            pass
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=watchdog, daemon=True).start()
    code = 1
    try:
        sys.argv = [request["argv"][0]]
        with open(request["argv"][0], encoding="utf-8") as fh:
            job = json.load(fh)
        code = run_cell(job)
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
        os._exit(code)


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--warm-server":
        _warm_server(sys.argv[2])
        os._exit(0)
    code = main()
    os._exit(code)  # skip interpreter teardown (IPython's atexit hooks): the results are written
