"""A full disk (issue 10, item 10): every CLI command ends in one clear line and a non-zero exit, and
leaves no temporary file or half-made run folder behind. Tested on a real small tmpfs, filled up."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from test_cli_jobs import jobs, ok, write

MESSAGE = "jobs: error: no space left on device while "


@pytest.fixture
def small_disk(tmp_path):
    """`fill(kb_left)`: a 4 MB tmpfs at tmp_path/disk, filled until about `kb_left` KB are free."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(disk)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")

    def fill(kb_left: int) -> None:
        free = os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize
        with open(disk / ".filler", "ab") as fh:
            fh.write(b"\0" * max(0, free - kb_left * 1024))

    yield disk, fill
    subprocess.run(["umount", str(disk)], check=True)


def one_line_error(proc: subprocess.CompletedProcess, doing: str) -> None:
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("jobs: error:")]
    assert len(errors) == 1 and errors[0].startswith(MESSAGE + doing), proc.stderr


def leftovers(root: Path) -> list[str]:
    return sorted(p.name for p in root.rglob("*") if p.name.endswith((".tmp", ".part")) or
                  (p.parent.name == "tmp" and p.parent.parent.name == "blobs"))


def test_full_data_dir_upload_and_submit(small_disk, tmp_path, monkeypatch):
    disk, fill = small_disk
    data = disk / "data"
    env = dict(os.environ, JUPYTER_JOBS_DATA_DIR=str(data))
    project = write(tmp_path / "project", {
        "config.yaml": "cmd: cat big.bin > /dev/null\ninputs:\n  - big.bin\n",
        "plain.yaml": "cmd: echo hi\n",
    })
    (project / "big.bin").write_bytes(os.urandom(600_000))
    ok("list", cwd=project, env=env)  # the index exists; now the disk fills up
    fill(100)
    one_line_error(jobs("execute", "-c", "config.yaml", cwd=project, env=env), "uploading the job's inputs")
    fill(0)
    one_line_error(jobs("execute", "-c", "plain.yaml", cwd=project, env=env), "submitting the job")
    assert leftovers(data) == []
    assert list((data / "runs").iterdir()) == [], "no half-made run folder"
    assert ok("list", cwd=project, env=env)


def test_full_output_folder_on_download(small_disk, tmp_path):
    disk, fill = small_disk
    project = write(disk / "project", {
        "config.yaml": "cmd: head -c 900000 /dev/zero > out.bin\noutputs:\n  - out.bin\n"})
    fill(200)
    proc = jobs("execute", "-c", "config.yaml", cwd=project)
    one_line_error(proc, "downloading the job's outputs")
    assert not (project / "out.bin").exists() and leftovers(project) == []
