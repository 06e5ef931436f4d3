"""Every mistake the reference client refuses is refused here too, before anything runs, with the key and
the line (the list at the end of shared/reference/datasphere-config.md).

Each case marks the line the error must name with a `#<` comment.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from jupyter_jobs.capture.files import capture_inputs
from jupyter_jobs.errors import ConfigError
from jupyter_jobs.spec.config import load_config, parse_config

MARK = "#<"


def marked_line(text: str) -> int:
    [line] = [i for i, row in enumerate(text.splitlines(), 1) if MARK in row]
    return line


def config_error(text: str, base_dir: Path | None = None, environ: dict | None = None) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse_config(text, base_dir=base_dir, environ={} if environ is None else environ)
    return info.value


def assert_names(exc: ConfigError, key: str, line: int, *words: str) -> None:
    assert exc.key == key, str(exc)
    assert exc.line == line, str(exc)
    message = str(exc)
    assert f"`{key}`" in message
    assert f"line {line} " in message or f":{line} " in message
    assert "\n" not in message
    for word in words:
        assert word in message


@pytest.fixture
def project(tmp_path):
    """A config folder with the files the cases below refer to."""
    (tmp_path / "data.csv").write_text("a,b\n1,2\n")
    (tmp_path / "main.py").write_text("print('hi')\n")
    (tmp_path / "requirements.txt").write_text("pyyaml\n")
    return tmp_path


CASES = {
    # name: (config text, key, words the message must contain)
    "empty config": ("# only a comment #<\n", "cmd", ["empty"]),
    "cmd missing": ("name: job #<\ninputs: [data.csv]\n", "cmd", ["missing"]),
    "cmd empty": ("name: job\ncmd: #<\n", "cmd", ["empty"]),
    "cmd blank string": ("cmd: '   ' #<\n", "cmd", ["empty"]),
    "cmd not a string": ("cmd: #<\n  - python\n  - main.py\n", "cmd", ["must be"]),
    "flags not a list": ("cmd: ls\nflags: attach-project-disk #<\n", "flags", ["list"]),
    "flags unknown": ("cmd: ls\nflags:\n  - attach-project-dsk #<\n", "flags[0]", ["attach-project-disk"]),
    "args a list": ("cmd: ls\nargs: #<\n  - EPOCHS\n", "args", ["mapping"]),
    "args value a list": ("cmd: ls\nargs:\n  EPOCHS: [1, 2] #<\n", "args.EPOCHS", ["must be"]),
    "inputs not a list": ("cmd: ls\ninputs: data.csv #<\n", "inputs", ["list"]),
    "inputs entry a mapping of two": ("cmd: ls\ninputs:\n  - {data.csv: A, main.py: B} #<\n", "inputs[0]",
                                      ["path: VAR"]),
    "outputs a mapping": ("cmd: ls\noutputs: #<\n  out.txt: OUT\n", "outputs", ["list"]),
    "outputs var a list": ("cmd: ls\noutputs:\n  - out.txt: [OUT] #<\n", "outputs[0].out.txt", ["variable"]),
    "env.vars a number": ("cmd: ls\nenv:\n  vars: 5 #<\n", "env.vars", ["list"]),
    "env.vars value a mapping": ("cmd: ls\nenv:\n  vars:\n    - A: {b: c} #<\n", "env.vars[0].A", ["must be"]),
    "env.vars bad name": ("cmd: ls\nenv:\n  vars:\n    - 1BAD: x #<\n", "env.vars[0]", ["1BAD"]),
    "pip not a mapping": ("cmd: ls\nenv:\n  python:\n    pip: --no-deps #<\n", "env.python.pip", ["mapping"]),
    "pip no-deps not a bool": ("cmd: ls\nenv:\n  python:\n    pip:\n      no-deps: maybe #<\n",
                               "env.python.pip.no-deps", ["true or false"]),
    "pip extra-index-urls a mapping": ("cmd: ls\nenv:\n  python:\n    pip:\n      extra-index-urls: #<\n"
                                       "        a: b\n", "env.python.pip.extra-index-urls", ["list"]),
    "pip index-url a list": ("cmd: ls\nenv:\n  python:\n    pip:\n      index-url: [a, b] #<\n",
                             "env.python.pip.index-url", ["URL"]),
    "input missing": ("cmd: ls\ninputs:\n  - data.csv\n  - nope.txt #<\n", "inputs[1]", ["nope.txt", "exist"]),
    "input with var missing": ("cmd: ls\ninputs:\n  - nope.txt: {var: X} #<\n", "inputs[0]", ["exist"]),
    "absolute input without var": ("cmd: ls\ninputs:\n  - /etc/hostname #<\n", "inputs[0]",
                                   ["absolute", "var"]),
    "absolute output without var": ("cmd: ls\noutputs:\n  - /tmp/out.txt #<\n", "outputs[0]", ["absolute"]),
    "dotdot input without var": ("cmd: ls\ninputs:\n  - ../data.csv #<\n", "inputs[0]", ["..", "var"]),
    "dotdot output without var": ("cmd: ls\noutputs:\n  - out/../../x.txt #<\n", "outputs[0]", [".."]),
    "bad var name with space": ("cmd: ls\noutputs:\n  - out.txt: 'MY VAR' #<\n", "outputs[0].out.txt",
                                ["'MY VAR'"]),
    "bad var name with bracket": ("cmd: ls\nargs:\n  'X[1]': 1 #<\n", "args.X[1]", ["'X[1]'"]),
    "bad var name too long": (f"cmd: ls\nargs:\n  {'A' * 51}: 1 #<\n", f"args.{'A' * 51}", ["1-50"]),
    "reserved var DS_PROJECT_HOME": ("cmd: ls\nargs:\n  DS_PROJECT_HOME: /x #<\n", "args.DS_PROJECT_HOME",
                                     ["reserved"]),
    "reserved var JOB_PROGRESS_FILENAME": ("cmd: ls\noutputs:\n  - p.txt: {var: JOB_PROGRESS_FILENAME} #<\n",
                                           "outputs[0].p.txt.var", ["reserved"]),
    "duplicate var arg and output": ("cmd: ls\nargs:\n  A: 1\noutputs:\n  - out.txt: A #<\n",
                                     "outputs[0].out.txt", ["twice", "line 3"]),
    "duplicate var two inputs": ("cmd: ls\ninputs:\n  - data.csv: D\n  - main.py: {var: D} #<\n",
                                 "inputs[1].main.py.var", ["twice"]),
    "duplicate var dataset id and arg": ("cmd: ls\nargs:\n  ds1: x\ndatasets:\n  - ds1 #<\n", "datasets[0]",
                                         ["twice"]),
    "unknown variable in cmd": ("cmd: python main.py --data ${DATA} #<\nargs:\n  DATE: x\n", "cmd",
                                ["${DATA}", "did you mean `DATE`?"]),
    "unknown variable lists declared ones": ("args:\n  EPOCHS: 1\ncmd: >- #<\n  python main.py\n"
                                             "    --x ${XYZZY}\n", "cmd", ["${XYZZY}", "EPOCHS"]),
    "DS_PROJECT_HOME without flag": ("cmd: ls ${DS_PROJECT_HOME}/x #<\n", "cmd", ["attach-project-disk"]),
    "docker image a list": ("cmd: ls\nenv:\n  docker: #<\n    - ubuntu:focal\n", "env.docker", ["mapping"]),
    "docker image with spaces": ("cmd: ls\nenv:\n  docker: 'ubuntu focal' #<\n", "env.docker", ["image"]),
    "docker mapping without image": ("cmd: ls\nenv:\n  docker: #<\n    username: me\n", "env.docker",
                                     ["image"]),
    "docker plain password": ("cmd: ls\nenv:\n  docker:\n    image: cr.example/x:1\n    username: me\n"
                              "    password: hunter2 #<\n", "env.docker.password", ["plain-text", "secret-id"]),
    "python env a list": ("cmd: ls\nenv:\n  python: [auto] #<\n", "env.python", ["mapping"]),
    "python env unknown word": ("cmd: ls\nenv:\n  python: manual #<\n", "env.python", ["auto"]),
    "python env bad type": ("cmd: ls\nenv:\n  python:\n    type: conda #<\n", "env.python.type",
                            ["'conda'"]),
    "python manual with nothing": ("cmd: ls\nenv:\n  python: #<\n    type: manual\n", "env.python",
                                   ["at least one"]),
    "python version 2.7": ("cmd: ls\nenv:\n  python:\n    type: manual\n    version: 2.7 #<\n",
                           "env.python.version", ["2.7"]),
    "python version not a version": ("cmd: ls\nenv:\n  python:\n    type: manual\n    version: latest #<\n",
                                     "env.python.version", ["'latest'"]),
    "python version on auto": ("cmd: ls\nenv:\n  python:\n    type: auto\n    version: '3.11' #<\n",
                               "env.python.version", ["manual"]),
    "requirements file missing": ("cmd: ls\nenv:\n  python:\n    type: manual\n"
                                  "    requirements-file: reqs.txt #<\n", "env.python.requirements-file",
                                  ["reqs.txt"]),
    "root-paths with local-paths": ("cmd: ls\nenv:\n  python:\n    type: manual\n    root-paths: [main.py]\n"
                                    "    local-paths: [lib/] #<\n", "env.python.local-paths", ["root-paths"]),
    "root-path with root-paths": ("cmd: ls\nenv:\n  python:\n    root-paths: [main.py]\n"
                                  "    root-path: [main.py] #<\n", "env.python.root-path", ["not both"]),
    "unset bare env var": ("cmd: ls\nenv:\n  vars:\n    - A: 1\n    - SURELY_NOT_SET_42 #<\n", "env.vars[1]",
                           ["SURELY_NOT_SET_42", "not set"]),
    "working-storage bad type": ("cmd: ls\nworking-storage:\n  type: HDD #<\n  size: 200Gb\n",
                                 "working-storage.type", ["'HDD'"]),
    "working-storage too small": ("cmd: ls\nworking-storage:\n  type: SSD\n  size: 50Gb #<\n",
                                  "working-storage.size", ["100 GiB"]),
    "working-storage bad size": ("cmd: ls\nworking-storage:\n  size: lots #<\n", "working-storage.size",
                                 ["'lots'"]),
    "working-storage without size": ("cmd: ls\nworking-storage: #<\n  type: SSD\n", "working-storage",
                                     ["size"]),
    "graceful-shutdown bad signal": ("cmd: ls\ngraceful-shutdown:\n  signal: SIGKILL #<\n",
                                     "graceful-shutdown.signal", ["SIGKILL", "SIGTERM"]),
    "graceful-shutdown bad timeout": ("cmd: ls\ngraceful-shutdown:\n  signal: SIGINT\n  timeout: soon #<\n",
                                      "graceful-shutdown.timeout", ["'soon'"]),
    "graceful-shutdown negative timeout": ("cmd: ls\ngraceful-shutdown:\n  timeout: -5 #<\n",
                                           "graceful-shutdown.timeout", ["'-5'"]),
    "timeout zero": ("cmd: ls\ntimeout: 0 #<\n", "timeout", ["0"]),
    "too many inputs": ("cmd: ls\ninputs: #<\n" + "".join(f"  - f{i}.txt\n" for i in range(101)), "inputs",
                        ["101", "100"]),
    "too many outputs": ("cmd: ls\noutputs: #<\n" + "".join(f"  - f{i}.txt\n" for i in range(101)), "outputs",
                         ["101"]),
    "too many datasets": ("cmd: ls\ndatasets: #<\n" + "".join(f"  - ds{i}\n" for i in range(101)), "datasets",
                          ["101"]),
    "output inside another output": ("cmd: ls\noutputs:\n  - out\n  - out/a.txt #<\n", "outputs[1]",
                                     ["overlap", "'out'"]),
    "output folder after its file": ("cmd: ls\noutputs:\n  - out/sub/a.txt\n  - out/ #<\n", "outputs[1]",
                                     ["overlap"]),
    "duplicate output": ("cmd: ls\noutputs:\n  - out/a.txt\n  - ./out/a.txt: {var: A} #<\n", "outputs[1]",
                         ["twice", "line 3"]),
    "duplicate input": ("cmd: ls\ninputs:\n  - data.csv\n  - data.csv #<\n", "inputs[1]", ["twice"]),
    "duplicate key": ("cmd: ls\nname: a\ncmd: pwd #<\n", "cmd", ["duplicate", "line 1"]),
}


@pytest.mark.parametrize("name", list(CASES))
def test_config_error(name, project):
    text, key, words = CASES[name]
    exc = config_error(text, base_dir=project)
    assert_names(exc, key, marked_line(text), *words)


def test_missing_input_is_caught_by_load_config_with_file_and_line(project):
    text = "cmd: ls\ninputs:\n  - data.csv\n  - missing.csv #<\n"
    (project / "config.yaml").write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(project / "config.yaml")
    assert_names(info.value, "inputs[1]", 4)
    assert str(info.value).startswith(f"{project / 'config.yaml'}:4 `inputs[1]`")


@pytest.mark.parametrize("text", [
    "cmd: ls\ninputs:\n  - a.txt\n  b: c #<\n",
    "cmd: ls\nname: [a, b #<\n",
    "cmd: ls\n\tname: x #<\n",
    "cmd: 'unterminated #<\nname: x\n",
    "cmd: ls\nenv: {vars: [A, B] #<\nname: x\n",
])
def test_yaml_syntax_error_names_its_line(text):
    exc = config_error(text)
    assert exc.line == marked_line(text)
    assert "YAML syntax error" in str(exc) and f"line {exc.line}" in str(exc)
    assert "\n" not in str(exc)


# -- oversize inputs (checked while hashing, before any upload) ---------------------------------------
def test_oversize_input_file(project):
    (project / "big.bin").write_bytes(b"x" * 2048)
    text = "cmd: ls\ninputs:\n  - data.csv\n  - big.bin #<\n"
    loaded = parse_config(text, base_dir=project)
    with pytest.raises(ConfigError) as info:
        capture_inputs(loaded.spec.inputs, loaded.base_dir, max_file=1024, max_total=1 << 20, lines=loaded.lines)
    assert_names(info.value, "inputs[1]", 4, "big.bin", "1.0 KiB")


def test_oversize_file_inside_an_input_folder(project):
    (project / "folder" / "sub").mkdir(parents=True)
    (project / "folder" / "sub" / "big.bin").write_bytes(b"x" * 4096)
    text = "cmd: ls\ninputs:\n  - folder/: {var: F} #<\n"
    loaded = parse_config(text, base_dir=project)
    with pytest.raises(ConfigError) as info:
        capture_inputs(loaded.spec.inputs, loaded.base_dir, max_file=1024, max_total=1 << 20, lines=loaded.lines)
    assert_names(info.value, "inputs[0]", 3, "big.bin")


def test_inputs_over_the_total_upload_limit(project):
    for name in ("a.bin", "b.bin"):
        (project / name).write_bytes(b"x" * 800)
    text = "cmd: ls\ninputs:\n  - a.bin\n  - b.bin #<\n"
    loaded = parse_config(text, base_dir=project)
    with pytest.raises(ConfigError) as info:
        capture_inputs(loaded.spec.inputs, loaded.base_dir, max_file=1024, max_total=1024, lines=loaded.lines)
    assert_names(info.value, "inputs[1]", 4, "more than")


# -- the CLI: one line, exit code 2, nothing created --------------------------------------------------
def jobs(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "jupyter_jobs.cli", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=60)


@pytest.mark.parametrize("text, key", [
    ("cmd: ls\noutptus: [a]\ninputs:\n  - nope.txt\n", "inputs[0]"),
    ("cmd: python main.py ${DATA}\n", "cmd"),
    ("cmd: ls\ninputs: [a, b\n", None),
    ("", "cmd"),
])
def test_cli_execute_bad_config_one_line_exit_2_nothing_created(tmp_path, text, key):
    (tmp_path / "bad.yaml").write_text(text)
    proc = jobs("execute", "-c", "bad.yaml", cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert lines[0].startswith("jobs: error: bad.yaml:")
    if key:
        assert f"`{key}`" in lines[0]
    listed = jobs("list", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout) == []


@pytest.mark.parametrize("text, where", [
    ("cmd: ls\ncloud-instance-type: g9.9\n", "bad.yaml:2 `cloud-instance-type`"),
    ("cmd: ls\ncloud-instance-type: c1.4\ncloud-instance-types:\n  - g9.9\n", "bad.yaml:3 `cloud-instance-types`"),
])
def test_cli_execute_unknown_instance_type_names_the_line(tmp_path, text, where):
    """The catalogue is the executor side's: the type is refused at submit, yet named like a parse error."""
    (tmp_path / "bad.yaml").write_text(text)
    proc = jobs("execute", "-c", "bad.yaml", cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    error = proc.stderr.splitlines()[-1]
    assert error.startswith(f"jobs: error: {where}: unknown instance type 'g9.9'"), proc.stderr
    assert "did you mean" in error
    assert json.loads(jobs("list", "--format", "json").stdout) == []


def test_cli_fork_unknown_instance_type_names_the_flag(tmp_path):
    (tmp_path / "ok.yaml").write_text("cmd: 'true'\n")
    parent = jobs("execute", "-c", "ok.yaml", cwd=tmp_path)
    assert parent.returncode == 0, parent.stderr
    parent_id = json.loads(jobs("list", "--format", "json").stdout)[0]["id"]
    proc = jobs("fork", "--id", parent_id, "--cloud-instance-type", "g9.9", cwd=tmp_path)
    assert proc.returncode == 2
    assert len(proc.stderr.splitlines()) == 1
    assert proc.stderr.startswith("jobs: error: `--cloud-instance-type`: unknown instance type 'g9.9'")
    assert len(json.loads(jobs("list", "--format", "json").stdout)) == 1


def test_cli_execute_missing_config_file(tmp_path):
    proc = jobs("execute", "-c", "nope.yaml", cwd=tmp_path)
    assert proc.returncode == 2
    assert len(proc.stderr.splitlines()) == 1 and "does not exist" in proc.stderr


def test_cli_execute_oversize_input_refused_before_upload(tmp_path, jobs_data_dir):
    (jobs_data_dir / "config").mkdir(exist_ok=True)
    (jobs_data_dir / "config" / "jupyter_jobs_config.json").write_text(
        json.dumps({"JobsSettings": {"max_file_size": 100}}))
    (tmp_path / "big.bin").write_bytes(b"x" * 200)
    (tmp_path / "config.yaml").write_text(textwrap.dedent("""\
        cmd: ls
        inputs:
          - big.bin
    """))
    proc = jobs("execute", "-c", "config.yaml", cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    [line] = proc.stderr.splitlines()
    assert "config.yaml:3 `inputs[0]`" in line and "big.bin" in line
    assert json.loads(jobs("list", "--format", "json").stdout) == []
    blobs = jobs_data_dir / "blobs"
    assert not blobs.exists() or not [p for p in blobs.glob("??/*")]
