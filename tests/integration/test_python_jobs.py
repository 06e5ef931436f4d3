"""Jobs with `env.python`: detected and pinned on submit, built once with uv, isolated, cached."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

CLI = [sys.executable, "-m", "jupyter_jobs.cli"]


def jobs(*args: str, cwd: Path | None = None, input: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(CLI + list(args), cwd=cwd, capture_output=True, text=True, input=input, timeout=300)


def write(folder: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


def system_log(run_id: str) -> str:
    return jobs("logs", "--id", run_id, "--stream", "system").stdout


def last_run_id() -> str:
    return json.loads(jobs("list", "--format", "json").stdout)[0]["id"]


def test_auto_env_ships_local_code_pins_imports_and_isolates(tmp_path):
    write(tmp_path, {
        "config.yaml": """\
            cmd: python -u train.py --epochs 2
            env:
              python: auto
            outputs:
              - report.json
            """,
        "train.py": """\
            import json
            import importlib.util

            def main():
                import yaml  # imported inside a function: still detected
                from models.net import describe
                report = {
                    "yaml": yaml.__version__,
                    "net": describe(),
                    # installed on the submitting side, never imported by the job: must be absent
                    "sqlalchemy": importlib.util.find_spec("sqlalchemy") is not None,
                }
                json.dump(report, open("report.json", "w"))
                print("trained")

            if __name__ == "__main__":
                main()
            """,
        "models/__init__.py": "",
        "models/net.py": "def describe():\n    return 'a tiny net'\n",
    })
    first = jobs("execute", "-c", str(tmp_path / "config.yaml"))
    assert first.returncode == 0, first.stderr
    assert "trained" in first.stdout
    assert "PyYAML==" in first.stderr and "3 local files" in first.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    import yaml

    assert report == {"yaml": yaml.__version__, "net": "a tiny net", "sqlalchemy": False}
    # the build is one line and a summary in what `execute` shows; uv's own lines are in the system log only
    assert "[system] building environment " in first.stderr and "[system] built environment " in first.stderr
    assert "Activate with" not in first.stderr and " + pyyaml==" not in first.stderr.lower()
    system = system_log(last_run_id())
    assert "built environment " in system and " + pyyaml==" in system.lower()

    second = jobs("execute", "-c", str(tmp_path / "config.yaml"))
    assert second.returncode == 0, second.stderr
    assert "using cached environment" in system_log(last_run_id())
    listed = jobs("envs", "list").stdout
    assert "3.11" in listed or f"{sys.version_info[0]}.{sys.version_info[1]}" in listed


def test_manual_env_with_requirements_file_and_quoted_version(tmp_path):
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    write(tmp_path, {
        "config.yaml": f"""\
            cmd: python check.py
            env:
              python:
                type: manual
                version: {version}
                requirements-file: requirements.txt
                local-paths: []
            inputs:
              - check.py
            """,
        "requirements.txt": """\
            # pinned by hand
            six==1.16.0  # trailing comment
            """,
        "check.py": "import six, sys\nprint('six', six.__version__, sys.version_info[:2])\n",
    })
    done = jobs("execute", "-c", str(tmp_path / "config.yaml"))
    assert done.returncode == 0, done.stderr
    assert "six 1.16.0" in done.stdout


def test_python_version_no_interpreter_provides_is_refused_before_running(tmp_path):
    write(tmp_path, {
        "config.yaml": """\
            cmd: python main.py
            env:
              python:
                type: manual
                version: "3.4"
                local-paths: []
                requirements-file: requirements.txt
            """,
        "requirements.txt": "",
        "main.py": "print('never')\n",
    })
    done = jobs("execute", "-c", str(tmp_path / "config.yaml"))
    assert done.returncode == 2
    assert "3.4" in done.stderr and "available" in done.stderr.lower()
    assert "Traceback" not in done.stderr
    assert json.loads(jobs("list", "--format", "json").stdout) == []


def test_generate_requirements_cli(tmp_path):
    write(tmp_path, {"app.py": "import yaml\nif __name__ == '__main__':\n    import sqlalchemy\n"})
    done = jobs("generate-requirements", "app.py", "-o", "requirements.txt", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = (tmp_path / "requirements.txt").read_text().splitlines()
    assert any(line.startswith("PyYAML==") for line in lines)
    assert any(line.lower().startswith("sqlalchemy==") for line in lines)
