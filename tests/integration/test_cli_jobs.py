"""`jupyter jobs ...` end to end: real CLI subprocesses, real runner processes, real files.

Every test has its own data dir (tests/conftest.py); the CLI subprocesses inherit it. Waiting is done by
polling the run index (in-process client) or by the CLI itself; no test asserts a timing.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from jupyter_jobs.connect import connect

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
SCRIPT = Path(sys.executable).with_name("jupyter-jobs")
CLI = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "jupyter_jobs.cli"]


# -- helpers ------------------------------------------------------------------------------------------
def jobs(*args: str, cwd: Path | None = None, env: dict | None = None, timeout: float = 60,
         input: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout,
                          input=input)


def ok(*args: str, **kwargs) -> subprocess.CompletedProcess:
    proc = jobs(*args, **kwargs)
    assert proc.returncode == 0, f"exit {proc.returncode}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"
    return proc


def write(root: Path, files: dict[str, str]) -> Path:
    """Write files (dedented); `*.sh` files are made executable."""
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))
        if name.endswith(".sh"):
            path.chmod(0o755)
    return root


def job_id(stderr: str) -> str:
    match = re.search(r"job (\w+) created", stderr)
    assert match, stderr
    return match.group(1)


def submit_async(cwd: Path, config: str = "config.yaml", env: dict | None = None) -> str:
    proc = ok("execute", "-c", config, "--async", cwd=cwd, env=env)
    return proc.stdout.strip()


def wait_final(run_id: str, timeout: float = 60) -> dict:
    """Poll the run index until the run has ended; returns the run as JSON data."""
    client = connect()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = client.get(run_id)
        if run.finished:
            return run.model_dump(mode="json")
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} still {run.status} after {timeout}s")


def wait_for_log(run_id: str, text: str, stream: str = "stdout", timeout: float = 30) -> None:
    client = connect()
    deadline = time.monotonic() + timeout
    while text not in client.logs(run_id, stream):
        assert time.monotonic() < deadline, f"{text!r} never appeared in {stream} of {run_id}"
        time.sleep(0.05)


def get_json(run_id: str) -> dict:
    """The run as `get --format json` shows it (in-process: the CLI's own `get` is tested once below)."""
    return connect().get(run_id).model_dump(mode="json")


def set_jobs_config(jobs_data_dir: Path, **settings) -> None:
    """A jupyter_jobs_config.json the CLI subprocesses read (JUPYTER_CONFIG_DIR points there)."""
    folder = jobs_data_dir / "config"
    folder.mkdir(exist_ok=True)
    (folder / "jupyter_jobs_config.json").write_text(json.dumps({"JobsSettings": settings}))


@pytest.fixture
def example(tmp_path):
    """A copy of an examples/ folder (outputs come back next to the config, not into the repo)."""

    def copy(name: str) -> Path:
        dest = tmp_path / name
        shutil.copytree(EXAMPLES / name, dest, ignore=shutil.ignore_patterns("results", "checkpoint.txt"))
        return dest

    return copy


# -- the seeds' shapes --------------------------------------------------------------------------------
def test_seed_plain_bash_run_sh(example):
    folder = example("bash")
    proc = ok("execute", "-c", "config.yaml", cwd=folder)
    assert "Linux" in proc.stdout  # uname -a
    assert "run.sh" in proc.stdout  # ls -la of the job's work dir
    assert "uploading" in proc.stderr or "uploaded 1 file (" in proc.stderr
    assert re.search(r"job \w+ SUCCEEDED", proc.stderr)


def test_seed_python_script_with_args(tmp_path):
    write(tmp_path, {
        "main.py": """
            import sys
            print("argv:", sys.argv[1:])
        """,
        "config.yaml": """
            cmd: python main.py --epochs ${EPOCHS} --name "${NAME}"
            args:
              EPOCHS: 5
              NAME: two words
            inputs:
              - main.py
        """,
    })
    proc = ok("execute", "-c", "config.yaml", cwd=tmp_path)
    assert "argv: ['--epochs', '5', '--name', 'two words']" in proc.stdout


def test_seed_full_example_runs_with_local_resources(tmp_path, jobs_data_dir):
    """The seed's example, minus the docker image and the GPU: folded cmd, s3 mount and dataset mapped
    to local folders, project disk, absolute input with a variable, env values as typed."""
    project, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    s3, dataset = tmp_path / "s3", tmp_path / "cifar"
    write(s3, {"features.tsv": "f1\tf2\n"})
    write(dataset, {"val.json": "[1, 2, 3]"})
    write(elsewhere, {"params.json": '{"lr": 0.1}'})
    set_jobs_config(jobs_data_dir, s3_mounts={"<connector_ID>": str(s3)}, datasets={"<dataset_ID>": str(dataset)})
    seed = (ROOT / "tests" / "data" / "seed_000_example.yaml").read_text()
    config = (seed.replace("/usr/share/params.json", str(elsewhere / "params.json"))
              .replace("  docker: <Docker_image_ID>", "  # docker: <Docker_image_ID>")
              .replace("  python: auto", "  # python: auto")
              .replace("cloud-instance-type: g2.1", "cloud-instance-type: c1.4"))
    write(project, {
        "config.yaml": config,
        "misc/logging.yaml": "version: 1\n",
        "misc/norm.bin": "NORM",  # on the project disk (the config's folder here), not an input
        "src/main.py": """
            import argparse, json, os, pathlib
            p = argparse.ArgumentParser()
            for name in ("params", "features", "validate", "normalizer", "model"):
                p.add_argument("--" + name)
            p.add_argument("--epochs", type=int)
            a = p.parse_args()
            print("params", json.load(open(a.params)))
            print("features", open(a.features).read().split())
            print("validate", json.load(open(a.validate)))
            print("normalizer", open(a.normalizer).read())
            print("epochs", a.epochs)
            print("env", os.environ["PYTHONBUFFERED"], os.environ["DEVICE_COUNT"])
            print("logging", pathlib.Path("misc/logging.yaml").read_text().strip())
            pathlib.Path(a.model).write_text("weights")
            pathlib.Path("other").mkdir(exist_ok=True)
            pathlib.Path("other/metrics.png").write_bytes(b"PNG")
        """,
    })
    config_text = (project / "config.yaml").read_text().replace("  - misc/logging.yaml",
                                                                 "  - misc/logging.yaml\n  - src/main.py")
    (project / "config.yaml").write_text(config_text)
    proc = ok("execute", "-c", "config.yaml", cwd=project)
    out = proc.stdout
    assert "params {'lr': 0.1}" in out
    assert "features ['f1', 'f2']" in out
    assert "validate [1, 2, 3]" in out
    assert "normalizer NORM" in out
    assert "epochs 5" in out
    assert "env Yes 8" in out
    assert "logging version: 1" in out
    assert (project / "data" / "model.bin").read_text() == "weights"
    assert (project / "other" / "metrics.png").read_bytes() == b"PNG"


# -- realistic configs ----------------------------------------------------------------------------------
def test_plain_bash_with_variables(tmp_path):
    outside = write(tmp_path / "outside", {"lookup.txt": "from outside\n"})
    write(tmp_path / "job", {
        "data/in.txt": "b\na\nc\n",
        "config.yaml": f"""
            name: sort
            cmd: sort ${{IN}} > ${{OUT}} && cat ${{LOOKUP}} && echo "in=${{IN}}"
            inputs:
              - data/in.txt: IN
              - {outside / 'lookup.txt'}: {{var: LOOKUP}}
            outputs:
              - sorted/out.txt: OUT
        """,
    })
    proc = ok("execute", "-c", "config.yaml", cwd=tmp_path / "job")
    assert "from outside" in proc.stdout
    assert re.search(r"in=/\S+/data/in.txt", proc.stdout)  # the path in the job's work dir
    assert (tmp_path / "job" / "sorted" / "out.txt").read_text() == "a\nb\nc\n"


def test_env_vars_both_forms_and_bare_name_from_submitter(tmp_path):
    write(tmp_path, {"config.yaml": """
        cmd: echo "A=$A B=$B TOKEN=$MY_SUBMITTER_VALUE Y=$YES_VALUE"
        env:
          vars:
            - A: 1
            - MY_SUBMITTER_VALUE
            - YES_VALUE: Yes
    """, "old.yaml": """
        cmd: echo "B=$B N=$N"
        env:
          vars:
            B: two
            N: 08
    """})
    env = {**os.environ, "MY_SUBMITTER_VALUE": "copied-at-submit"}
    proc = ok("execute", "-c", "config.yaml", cwd=tmp_path, env=env)
    assert "A=1 B= TOKEN=copied-at-submit Y=Yes" in proc.stdout
    assert "B=two N=08" in ok("execute", "-c", "old.yaml", cwd=tmp_path).stdout
    missing = jobs("execute", "-c", "config.yaml", cwd=tmp_path,
                   env={k: v for k, v in os.environ.items() if k != "MY_SUBMITTER_VALUE"})
    assert missing.returncode == 2 and "MY_SUBMITTER_VALUE is not set" in missing.stderr


def test_literal_multiline_cmd(tmp_path):
    write(tmp_path, {"config.yaml": """
        cmd: |
          set -e
          for i in 1 2 3; do
            echo "line $i"
          done
          echo done >&2
    """})
    proc = ok("execute", "-c", "config.yaml", cwd=tmp_path)
    assert proc.stdout == "line 1\nline 2\nline 3\n"
    assert "done" in proc.stderr


def test_input_and_output_directories_keep_their_layout(tmp_path):
    write(tmp_path, {
        "dataset/a.txt": "A",
        "dataset/sub/b.txt": "B",
        "dataset/sub/deeper/c.txt": "C",
        "config.yaml": """
            cmd: >
              find dataset -type f | sort &&
              mkdir -p results/per-file results/empty &&
              for f in $(cd dataset && find . -type f); do
              mkdir -p results/per-file/$(dirname $f) &&
              tr a-z A-Z < dataset/$f > results/per-file/$f.upper; done
            inputs:
              - dataset/
            outputs:
              - results/
        """,
    })
    (tmp_path / "dataset" / "empty").mkdir()
    proc = ok("execute", "-c", "config.yaml", cwd=tmp_path)
    assert proc.stdout.split() == ["dataset/a.txt", "dataset/sub/b.txt", "dataset/sub/deeper/c.txt"]
    per_file = tmp_path / "results" / "per-file"
    got = sorted(str(p.relative_to(per_file)) for p in per_file.rglob("*") if p.is_file())
    assert got == ["a.txt.upper", "sub/b.txt.upper", "sub/deeper/c.txt.upper"]
    assert (per_file / "sub" / "deeper" / "c.txt.upper").read_text() == "C"


def test_failing_job_exit_code_and_stderr(tmp_path):
    write(tmp_path, {"config.yaml": """
        cmd: echo working; echo "something broke" >&2; exit 3
    """})
    proc = jobs("execute", "-c", "config.yaml", cwd=tmp_path)
    assert proc.returncode == 3
    assert "working" in proc.stdout
    assert "something broke" in proc.stderr
    assert re.search(r"job \w+ FAILED", proc.stderr)
    [run] = json.loads(ok("list", "--format", "json").stdout)
    assert (run["status"], run["exit_code"]) == ("FAILED", 3)


def test_graceful_cancel_signal_reaches_trap_and_outputs_come_back(example):
    folder = example("graceful")
    run_id = submit_async(folder)
    wait_for_log(run_id, "step 2")
    proc = ok("cancel", "--id", run_id, "--graceful")
    assert run_id in proc.stderr
    attached = jobs("attach", "--id", run_id, cwd=folder)
    assert attached.returncode != 0
    assert "CANCELLED" in attached.stderr
    run = wait_final(run_id)
    assert run["status"] == "CANCELLED"
    assert "got SIGUSR1: checkpoint saved" in ok("logs", "--id", run_id, "--stream", "stdout").stdout
    assert "sending SIGUSR1" in ok("logs", "--id", run_id, "--stream", "system").stdout
    assert (folder / "checkpoint.txt").read_text().startswith("stopped at step ")


def test_fork_with_overrides(tmp_path):
    write(tmp_path, {
        "a.txt": "first input\n",
        "b.txt": "second input\n",
        "config.yaml": """
            name: original
            cmd: echo "x=${X} color=$COLOR"; cat ${DATA}
            args:
              X: 1
            inputs:
              - a.txt: DATA
            env:
              vars:
                - COLOR: red
        """,
    })
    parent = job_id(ok("execute", "-c", "config.yaml", cwd=tmp_path).stderr)
    proc = ok("fork", "--id", parent, "--arg", "X=2", "--env-var", "COLOR=blue", "--var", "DATA=b.txt",
              "--name", "forked", cwd=tmp_path)
    assert "x=2 color=blue" in proc.stdout
    assert "second input" in proc.stdout
    child = job_id(proc.stderr)
    data = get_json(child)
    assert data["name"] == "forked" and data["parent_id"] == parent and data["status"] == "SUCCEEDED"
    bad = jobs("fork", "--id", parent, "--arg", "NOPE=1", cwd=tmp_path)
    assert bad.returncode == 2 and "NOPE" in bad.stderr and len(bad.stderr.splitlines()) == 1


def test_config_in_another_folder(tmp_path):
    write(tmp_path / "some" / "dir", {
        "input.txt": "relative to the config\n",
        "config.yaml": """
            cmd: cat input.txt > out/copy.txt
            inputs:
              - input.txt
            outputs:
              - out/copy.txt
        """,
    })
    (tmp_path / "cwd").mkdir()
    ok("execute", "-c", "../some/dir/config.yaml", cwd=tmp_path / "cwd")
    assert (tmp_path / "some" / "dir" / "out" / "copy.txt").read_text() == "relative to the config\n"
    assert not (tmp_path / "cwd" / "out").exists()


def test_progress_lines_shown_by_execute(example):
    proc = ok("execute", "-c", "config.yaml", cwd=example("hello"))
    assert "progress 20% greeted Ada" in proc.stderr
    assert "progress 100% greeted Guido" in proc.stderr
    assert "Hello, Margaret!" in proc.stdout


def test_async_writes_job_id_file_and_attach(tmp_path):
    write(tmp_path, {"config.yaml": """
        cmd: echo attached-output; sleep 0.3; echo more > result.txt
        outputs:
          - result.txt
    """})
    proc = ok("execute", "-c", "config.yaml", "--async", "-o", "out.json", cwd=tmp_path)
    data = json.loads((tmp_path / "out.json").read_text())
    assert list(data) == ["job_id"] and data["job_id"] == proc.stdout.strip()
    attached = ok("attach", "--id", data["job_id"], cwd=tmp_path)
    assert "attached-output" in attached.stdout
    assert (tmp_path / "result.txt").read_text() == "more\n"


def test_list_get_and_logs(tmp_path):
    assert json.loads(ok("list", "--format", "json").stdout) == []
    write(tmp_path, {"config.yaml": """
        name: logs-demo
        cmd: echo to-out; echo to-err >&2
    """})
    run_id = job_id(ok("execute", "-c", "config.yaml", cwd=tmp_path).stderr)
    [run] = json.loads(ok("list", "--format", "json").stdout)
    assert (run["id"], run["name"], run["status"], run["exit_code"]) == (run_id, "logs-demo", "SUCCEEDED", 0)
    table = ok("list").stdout
    assert run_id in table and "logs-demo" in table
    details = ok("get", "--id", run_id[:8]).stdout  # a unique prefix is enough
    assert f"id:              {run_id}" in details and "SUCCEEDED" in details
    as_json = json.loads(ok("get", "--id", run_id, "--format", "json").stdout)
    assert as_json["spec"]["cmd"] == "echo to-out; echo to-err >&2" and as_json["exit_code"] == 0
    assert ok("logs", "--id", run_id, "--stream", "stdout").stdout == "to-out\n"
    assert ok("logs", "--id", run_id, "--stream", "stderr").stdout == "to-err\n"
    assert ok("logs", "--id", run_id, "--stream", "system").stdout  # environment set-up notes
    both = ok("logs", "--id", run_id)
    assert "to-out" in both.stdout and "to-err" in both.stderr
    missing = jobs("get", "--id", "zzzzzzzz")
    assert missing.returncode == 2 and "no job" in missing.stderr


def test_logs_follow_until_the_end(tmp_path):
    write(tmp_path, {"config.yaml": """
        cmd: for i in 1 2 3; do echo tick $i; sleep 0.2; done
    """})
    run_id = submit_async(tmp_path)
    proc = ok("logs", "--id", run_id, "--follow")
    assert proc.stdout == "tick 1\ntick 2\ntick 3\n"
    assert wait_final(run_id)["status"] == "SUCCEEDED"


def test_download_files_with_logs(tmp_path):
    write(tmp_path, {"config.yaml": """
        cmd: mkdir -p out/sub && echo 1 > out/sub/one.txt && echo model > model.bin && echo logged
        outputs:
          - out/
          - model.bin
    """})
    run_id = submit_async(tmp_path)
    wait_final(run_id)
    ok("download-files", "--id", run_id, "--with-logs", "--output-dir", "dl", cwd=tmp_path)
    dl = tmp_path / "dl"
    assert (dl / "out" / "sub" / "one.txt").read_text() == "1\n"
    assert (dl / "model.bin").read_text() == "model\n"
    assert (dl / "logs" / "stdout.log").read_text() == "logged\n"
    assert (dl / "logs" / "events.jsonl").exists()


def test_set_data_ttl_and_cleanup(tmp_path):
    write(tmp_path, {"in.txt": "x", "config.yaml": """
        cmd: cat in.txt > out.txt
        inputs: [in.txt]
        outputs: [out.txt]
    """})
    kept = submit_async(tmp_path)
    dropped = submit_async(tmp_path)
    wait_final(kept), wait_final(dropped)
    assert "forever" in ok("set-data-ttl", "--id", kept, "--days", "inf").stderr
    ok("set-data-ttl", "--id", dropped, "--days", "0")
    assert get_json(kept)["expires_at"] is None
    proc = ok("cleanup")
    assert "deleted the data of 1 expired run;" in proc.stderr
    assert get_json(dropped)["data_deleted"] is True
    assert get_json(kept)["data_deleted"] is False
    ok("download-files", "--id", kept, "--output-dir", "kept", cwd=tmp_path)
    assert (tmp_path / "kept" / "out.txt").read_text() == "x"
    assert jobs("set-data-ttl", "--id", kept, "--days", "soon").returncode == 2


def test_unchanged_inputs_are_not_uploaded_again(tmp_path):
    write(tmp_path, {"data/a.txt": "a" * 1000, "data/b.txt": "b", "config.yaml": """
        cmd: cat data/b.txt
        inputs:
          - data/
    """})
    first = ok("execute", "-c", "config.yaml", cwd=tmp_path)
    assert "uploaded 2 files" in first.stderr
    second = ok("execute", "-c", "config.yaml", cwd=tmp_path)
    assert "nothing to upload" in second.stderr
    os.utime(tmp_path / "data" / "a.txt", (time.time() + 100, time.time() + 100))  # touch
    third = ok("execute", "-c", "config.yaml", cwd=tmp_path)
    assert "nothing to upload" in third.stderr
    (tmp_path / "data" / "b.txt").write_text("B")
    fourth = ok("execute", "-c", "config.yaml", cwd=tmp_path)
    assert "uploaded 1 file (" in fourth.stderr and fourth.stdout == "B"


def test_missing_output_is_reported_not_fatal(tmp_path):
    write(tmp_path, {"config.yaml": """
        cmd: echo made > made.txt
        outputs:
          - made.txt
          - never.txt
    """})
    proc = ok("execute", "-c", "config.yaml", cwd=tmp_path)
    assert "output never.txt was not produced" in proc.stderr
    assert (tmp_path / "made.txt").read_text() == "made\n"
    assert not (tmp_path / "never.txt").exists()


def test_instance_types_and_gpu_config_refused(tmp_path):
    listing = json.loads(ok("instance-types", "--format", "json").stdout)
    by_name = {t["name"]: t for t in listing}
    if by_name["g2.1"]["available"]:
        pytest.skip("this machine has a GPU: g2.1 runs here")
    assert by_name["c1.4"]["available"] is True
    assert "GPU" in by_name["g2.1"]["reason"]
    table = ok("instance-types").stdout
    assert re.search(r"^g2\.1 .* no: ", table, re.M)
    write(tmp_path, {"config.yaml": """
        cmd: nvidia-smi
        cloud-instance-type: g2.1
    """})
    proc = jobs("execute", "-c", "config.yaml", cwd=tmp_path)
    assert proc.returncode == 2
    [line] = proc.stderr.splitlines()
    assert "g2.1" in line and "c1.4" in line  # names the types that do run here
    assert json.loads(ok("list", "--format", "json").stdout) == []


def test_output_streams_while_the_job_runs(tmp_path):
    write(tmp_path, {"config.yaml": """
        cmd: echo first; sleep 3; echo second
    """})
    proc = subprocess.Popen([*CLI, "execute", "-c", "config.yaml"], cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        first = proc.stdout.readline()
        assert first == "first\n"
        assert proc.poll() is None  # read while the job still sleeps
        rest, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert rest == "second\n"
    assert proc.returncode == 0, err


def test_through_the_jupyter_launcher(tmp_path):
    launcher = shutil.which("jupyter")
    if launcher is None:
        pytest.skip("no `jupyter` on PATH")
    write(tmp_path, {"config.yaml": "cmd: echo via-launcher\n"})
    proc = subprocess.run([launcher, "jobs", "execute", "-c", "config.yaml"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "via-launcher\n"


# -- many jobs --------------------------------------------------------------------------------------------
SUBMITTER = """
import os, sys
from jupyter_jobs.cli.commands import main
for i in range(int(sys.argv[1]), int(sys.argv[2])):
    os.environ["N"] = str(i)
    if main(["execute", "-c", "config.yaml", "--async"]) != 0:
        sys.exit(1)
"""


@pytest.mark.slow
def test_200_async_jobs_all_finish_none_lost_or_duplicated(tmp_path, jobs_data_dir):
    """`execute --async` 200 times back to back, from two submitter processes at once (each runs the CLI's
    main() in a loop: 200 interpreter start-ups would take longer than the jobs). Jobs run concurrently."""
    set_jobs_config(jobs_data_dir, local_cpus=64.0, local_memory_gb=4096.0)
    write(tmp_path, {"config.yaml": """
        cmd: echo "job $N" > out.txt; echo "done $N"
        env:
          vars:
            - N
        outputs:
          - out.txt
    """})
    count, halves = 200, [(0, 100), (100, 200)]
    procs = [subprocess.Popen([sys.executable, "-c", SUBMITTER, str(a), str(b)], cwd=tmp_path, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for a, b in halves]
    ids = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        ids += out.split()
    assert len(ids) == count and len(set(ids)) == count

    client = connect()
    deadline = time.monotonic() + 120
    while True:
        runs = client.list(limit=1000)
        if len(runs) == count and all(r.finished for r in runs):
            break
        assert time.monotonic() < deadline, f"{sum(not r.finished for r in runs)} of {len(runs)} not done"
        time.sleep(0.5)
    listed = json.loads(ok("list", "--format", "json", "--limit", "1000").stdout)
    assert sorted(r["id"] for r in listed) == sorted(ids)
    bad = [(r["id"], r["status"], r["error"], (Path(client.service.run_dir(r["id"])) / "runner.out").read_text()[-500:])
           for r in listed if r["status"] != "SUCCEEDED"]
    assert not bad
    numbers = sorted(int(client.get(run_id).spec.env.vars["N"]) for run_id in ids)
    assert numbers == list(range(count))
    for run_id in ids[::20]:
        n = client.get(run_id).spec.env.vars["N"]
        assert client.logs(run_id, "stdout") == f"done {n}\n"


def test_attach_project_disk_standalone_is_the_config_folder(tmp_path):
    write(tmp_path, {
        "project/jobs/misc/norm.bin": "weights\n",
        "project/jobs/config.yaml": """
            cmd: cat ${DS_PROJECT_HOME}/misc/norm.bin; echo "home=$DS_PROJECT_HOME"
            flags:
              - attach-project-disk
            """,
    })
    done = ok("execute", "-c", str(tmp_path / "project" / "jobs" / "config.yaml"))
    assert done.stdout == f"weights\nhome={tmp_path / 'project' / 'jobs'}\n"
    assert "cannot make it read-only" in done.stderr
