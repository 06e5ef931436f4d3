"""`jupyter jobs execute --executor docker` end to end against a real Docker Engine."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from docker_runs import containers_of

CLI = [sys.executable, "-m", "jupyter_jobs.cli"]


def jobs(*args: str, cwd: Path, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout)


def write(folder: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


def docker_config(jobs_data_dir: Path, **options) -> None:
    """c.DockerExecutor.* for the CLI subprocesses (JUPYTER_CONFIG_DIR points there in tests)."""
    folder = jobs_data_dir / "config"
    folder.mkdir(exist_ok=True)
    (folder / "jupyter_jobs_config.json").write_text(json.dumps({"DockerExecutor": options}))


def last_run(cwd: Path) -> dict:
    return json.loads(jobs("list", "--format", "json", cwd=cwd).stdout)[0]


def system_log(run_id: str, cwd: Path) -> str:
    return jobs("logs", "--id", run_id, "--stream", "system", cwd=cwd).stdout


def test_plain_job_with_inputs_outputs_env_and_args(tmp_path, test_image, docker_client, jobs_data_dir):
    write(tmp_path, {
        "config.yaml": f"""\
            name: plain
            cmd: >
              bash -c 'echo "in=$(cat ${{DATA}}) greeting=$GREETING epochs=${{EPOCHS}} py=$(python3 -V)";
              echo made-in-container > ${{RESULT}}; echo oops >&2'
            args:
              EPOCHS: 7
            env:
              vars:
                GREETING: hello there
              docker: {test_image}
            inputs:
              - data.txt: DATA
            outputs:
              - out/result.txt: RESULT
            """,
        "data.txt": "input-content\n",
    })
    proc = jobs("execute", "-c", "config.yaml", "--executor", "docker", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "in=input-content greeting=hello there epochs=7 py=Python 3.11" in proc.stdout
    assert "oops" in proc.stderr
    assert (tmp_path / "out" / "result.txt").read_text() == "made-in-container\n"
    run = last_run(tmp_path)
    assert run["executor"] == "docker" and run["status"] == "SUCCEEDED" and run["exit_code"] == 0
    # the runner's own output, kept on the host
    assert (jobs_data_dir / "runs" / run["id"] / "runner.out").exists()
    assert containers_of(docker_client, run["id"]) == []  # removed when the run ended


def test_failing_job_records_exit_code(tmp_path, test_image, jobs_data_dir):
    write(tmp_path, {"config.yaml": f"cmd: bash -c 'echo bye; exit 3'\nenv:\n  docker: {test_image}\n"})
    proc = jobs("execute", "-c", "config.yaml", "--executor", "docker", cwd=tmp_path)
    assert proc.returncode != 0
    run = last_run(tmp_path)
    assert run["status"] == "FAILED" and run["exit_code"] == 3 and "exit code 3" in run["error"]


def test_python_auto_job_builds_its_env_in_the_image_once(tmp_path, test_image, docker_client, jobs_data_dir):
    write(tmp_path, {
        "config.yaml": f"""\
            cmd: python train.py
            env:
              docker: {test_image}
              python: auto
            outputs:
              - report.json
            """,
        "train.py": """\
            import json, sys
            from lib.net import describe
            json.dump({"python": sys.executable, "version": sys.version.split()[0], "net": describe()},
                      open("report.json", "w"))
            print("trained")
            """,
        "lib/__init__.py": "",
        "lib/net.py": "def describe():\n    return 'tiny'\n",
    })
    first = jobs("execute", "-c", "config.yaml", "--executor", "docker", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["net"] == "tiny"
    assert report["python"].startswith("/jobs/envs/")  # a venv in the image's volume, not the host's Python
    assert report["version"] == "3.11.2"  # the image's python3 (the host runs pyenv's 3.11.7)
    run = last_run(tmp_path)
    assert "built environment" in system_log(run["id"], tmp_path)
    volumes = [v.name for v in docker_client.volumes.list() if v.name.startswith("jupyter-jobs-envs-")]
    assert volumes

    second = jobs("execute", "-c", "config.yaml", "--executor", "docker", cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert "using cached environment" in system_log(last_run(tmp_path)["id"], tmp_path)

    # `envs list|prune` reach the environments inside the image's volume too.
    listed = jobs("envs", "list", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    ours = [v for v in volumes if f"Docker volume {v} (image {test_image})" in listed.stdout]
    assert len(ours) == 1, listed.stdout
    env_row = re.compile(r"^[0-9a-f]{12}\s+3\.11\s+\d+\s+[\d.]+ MiB", re.M)  # KEY PYTHON PACKAGES SIZE
    assert env_row.search(listed.stdout.split(f"Docker volume {ours[0]}")[1]), listed.stdout
    pruned = jobs("envs", "prune", cwd=tmp_path)
    assert pruned.returncode == 0, pruned.stderr
    assert f"Docker volume {ours[0]}: evicted 1 environment" in pruned.stderr
    assert not env_row.search(jobs("envs", "list", cwd=tmp_path).stdout.split(f"Docker volume {ours[0]}")[1])


def test_env_build_without_network_says_so(tmp_path, test_image, jobs_data_dir):
    """network "none" (the default): a lock that needs the index fails with a message naming the setting."""
    write(tmp_path, {
        "config.yaml": f"cmd: python main.py\nenv:\n  docker: {test_image}\n  python: auto\n",
        "main.py": "import yaml\nprint(yaml.__version__)\n",
    })
    proc = jobs("execute", "-c", "config.yaml", "--executor", "docker", cwd=tmp_path)
    assert proc.returncode != 0
    run = last_run(tmp_path)
    assert run["status"] == "FAILED"
    assert "environment build failed" in run["error"]
    assert 'c.DockerExecutor.network = "none"' in run["error"]


def test_env_build_with_host_network_reaches_the_index(tmp_path, test_image, jobs_data_dir):
    """network "host": the host's CA bundle is mounted and the TLS variables set, so uv reaches PyPI."""
    docker_config(jobs_data_dir, network="host")
    write(tmp_path, {
        "config.yaml": f"cmd: python main.py\nenv:\n  docker: {test_image}\n  python: auto\n",
        "main.py": "import os, yaml\nprint('yaml', yaml.__version__, os.environ['SSL_CERT_FILE'])\n",
    })
    proc = jobs("execute", "-c", "config.yaml", "--executor", "docker", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "yaml 6." in proc.stdout and "/jobs/ca-certificates.crt" in proc.stdout


def test_embedded_queue_moves_on_when_a_container_ends(tmp_path, test_image, jobs_data_dir):
    """No server, one run at a time: the second `--async` run starts when the first container ends,
    without another CLI call (a host-side kick waits for the container)."""
    folder = jobs_data_dir / "config"
    folder.mkdir(exist_ok=True)
    (folder / "jupyter_jobs_config.json").write_text(json.dumps({"JobsSettings": {"max_concurrent": 1}}))
    write(tmp_path, {"first.yaml": f"cmd: sleep 30\nenv:\n  docker: {test_image}\n",
                     "second.yaml": f"cmd: echo second\nenv:\n  docker: {test_image}\n"})
    ids = []
    for name in ("first.yaml", "second.yaml"):
        proc = jobs("execute", "-c", name, "--executor", "docker", "--async", cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        ids.append(proc.stdout.strip())
    assert "QUEUED" in jobs("get", "--id", ids[1], cwd=tmp_path).stdout
    results = [jobs_data_dir / "runs" / run_id / "result.json" for run_id in ids]
    deadline = time.monotonic() + 120
    while not all(path.exists() for path in results):  # the run dirs only: no CLI call that dispatches
        assert time.monotonic() < deadline, f"still waiting: {[p.parent.name for p in results if not p.exists()]}"
        time.sleep(0.5)
    assert [json.loads(path.read_text())["status"] for path in results] == ["SUCCEEDED", "SUCCEEDED"]
    assert jobs("logs", "--id", ids[1], "--stream", "stdout", cwd=tmp_path).stdout == "second\n"
