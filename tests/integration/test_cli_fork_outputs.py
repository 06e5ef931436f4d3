"""`jupyter jobs fork` never overwrites its parent's outputs unless asked: they come back to
`NAME-FORKID/` beside the parent's (said before the run), to `-o DIR`, or with `--force` in place."""

from __future__ import annotations

import json

from test_cli_jobs import job_id, jobs, ok, write


def test_fork_outputs_land_beside_the_parents_unless_forced(tmp_path):
    write(tmp_path, {"config.yaml": """
        name: counter
        cmd: echo "x=${X}" > result.txt
        args:
          X: 1
        outputs:
          - result.txt
    """})
    ok("execute", "-c", "config.yaml", cwd=tmp_path)
    parent = json.loads(ok("list", "--format", "json").stdout)[0]["id"]
    assert (tmp_path / "result.txt").read_text() == "x=1\n"

    proc = ok("fork", parent, "--arg", "X=2", cwd=tmp_path / ".")
    child = job_id(proc.stderr)
    folder = tmp_path / f"counter-{child}"
    assert f"the fork's outputs come back to {folder}" in proc.stderr
    assert (folder / "result.txt").read_text() == "x=2\n"
    assert (tmp_path / "result.txt").read_text() == "x=1\n"  # the parent's, untouched
    assert "downloaded 1 output file (" in proc.stderr

    proc = ok("fork", "--id", parent, "--arg", "X=3", "-o", str(tmp_path / "elsewhere"), cwd=tmp_path)
    assert (tmp_path / "elsewhere" / "result.txt").read_text() == "x=3\n"
    assert (tmp_path / "result.txt").read_text() == "x=1\n"

    proc = ok("fork", parent, "--arg", "X=4", "--force", cwd=tmp_path)
    assert "replacing its outputs (--force)" in proc.stderr
    assert (tmp_path / "result.txt").read_text() == "x=4\n"

    refused = jobs("fork", parent, "-p", "x", "1", "--lenient", cwd=tmp_path)  # lenient about names, not kinds
    assert refused.returncode == 2 and "not a notebook job" in refused.stderr
