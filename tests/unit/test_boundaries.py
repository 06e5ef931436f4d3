"""Input is validated where it enters: the models refuse paths that climb out, hashes that are paths and
names that are not names, so a submit from any front door (API, config, CLI) can never point the host at
its own files. The config reader reports the same mistakes with key and line."""

from __future__ import annotations

import pytest
from helpers import wait_finished
from pydantic import ValidationError

from jupyter_jobs.errors import ConfigError
from jupyter_jobs.service.schemas import ForkRequest, SubmitRequest
from jupyter_jobs.spec.bundle import Bundle, BundleFile, BundleInput
from jupyter_jobs.spec.config import parse_config
from jupyter_jobs.spec.models import FileRef, JobSpec, OutputDataset, ResourceRef

SHA = "ab" * 32


def field_of(exc: pytest.ExceptionInfo) -> str:
    return ".".join(str(p) for p in exc.value.errors()[0]["loc"])


@pytest.mark.parametrize("sha", ["/etc/passwd", "../../etc/passwd", "AB" * 32, "ab" * 31, "ab" * 32 + "\n", ""])
def test_a_bundle_file_sha256_is_64_lowercase_hex(sha):
    with pytest.raises(ValidationError) as info:
        BundleFile(path="a.txt", sha256=sha)
    assert field_of(info) == "sha256"
    assert BundleFile(path="a.txt", sha256=SHA).sha256 == SHA
    assert BundleFile(path="dir").sha256 is None  # a directory entry


@pytest.mark.parametrize("path", ["../x", "a/../../x", "/etc/passwd", "a/./b", "a//b", "a/", "..", ".", "a\x00b",
                                  "a\nb", "a\rb", "x/.."])
def test_a_bundle_file_path_is_relative_and_normalised(path):
    with pytest.raises(ValidationError) as info:
        BundleFile(path=path, sha256=SHA)
    assert field_of(info) == "path"


def test_good_bundle_paths_pass():
    assert BundleFile(path="", sha256=SHA).path == ""  # a single-file input
    assert BundleFile(path="src/pkg/mod.py", sha256=SHA).path == "src/pkg/mod.py"
    assert BundleFile(path="..hidden/x", sha256=SHA).path == "..hidden/x"  # a name, not a climb


def test_a_submit_that_stages_a_host_file_is_refused_naming_the_field():
    """The attack: a bundle whose sha256 is a path made the runner copy /etc/passwd into the job."""
    spec = JobSpec(cmd="cat data.txt", inputs=[FileRef(path="data.txt")])
    for bundle in (
        {"inputs": [{"ref": "data.txt", "files": [{"path": "", "sha256": "../../../../etc/passwd"}]}]},
        {"inputs": [{"ref": "data.txt", "is_dir": True, "files": [{"path": "../../x", "sha256": SHA}]}]},
        {"code": {"ref": "<code>", "files": [{"path": "/tmp/evil.py", "sha256": SHA}]}},
    ):
        with pytest.raises(ValidationError) as info:
            SubmitRequest.model_validate({"spec": spec.model_dump(), "bundle": bundle})
        assert field_of(info).startswith("bundle."), field_of(info)
    with pytest.raises(ValidationError):
        ForkRequest.model_validate({"inputs": {"X": {"ref": "x", "files": [{"path": "", "sha256": "/etc/shadow"}]}}})
    Bundle(inputs=[BundleInput(ref="/abs/data", is_dir=True, files=[BundleFile(path="a/b.txt", sha256=SHA)])])


@pytest.mark.parametrize("name", ["/etc", "../../x", "a/../../b", "a/b", "..", ".", "", "a\x00", "a\nb", "x" * 300])
def test_output_dataset_names_are_plain_names(name):
    with pytest.raises(ValidationError) as info:
        OutputDataset(name=name, var="OUT")
    assert field_of(info) == "name"
    assert OutputDataset(name="my-dataset_1.v2", var="OUT").name == "my-dataset_1.v2"


@pytest.mark.parametrize("var", ["../../x", "a/b", "", "X Y", "A\x00"])
def test_variable_names_in_the_spec_are_names(var):
    """`${VAR}` of an input decides where it lands (`_inputs/VAR/...`): it must not be a path."""
    for make in (lambda: FileRef(path="/abs/data", var=var), lambda: ResourceRef(id="ds1", var=var),
                 lambda: OutputDataset(name="ds", var=var)):
        with pytest.raises(ValidationError) as info:
            make()
        assert field_of(info) == "var"


def test_spec_paths_without_a_variable_stay_inside_and_have_no_control_characters():
    with pytest.raises(ValidationError, match="needs a variable"):
        FileRef(path="/etc/passwd")
    with pytest.raises(ValidationError, match="needs a variable"):
        FileRef(path="a/../../x")
    with pytest.raises(ValidationError, match="control character"):
        FileRef(path="data\x00.txt")
    with pytest.raises(ValidationError, match="empty"):
        FileRef(path="")
    assert FileRef(path="/data/x.csv", var="X").path == "/data/x.csv"  # bound to a variable: allowed
    assert FileRef(path="out/").path == "out/"


def test_empty_idempotency_keys_are_refused():
    """An empty key was stored as a key: every later submit with "" failed on the unique index (a 500)."""
    with pytest.raises(ValidationError) as info:
        SubmitRequest(spec=JobSpec(cmd="true"), idempotency_key="")
    assert field_of(info) == "idempotency_key"
    with pytest.raises(ValidationError):
        ForkRequest(idempotency_key="")


# -- the config reader names key and line for the same mistakes -------------------------------------------
def read_error(text: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse_config(text, environ={})
    return info.value


@pytest.mark.parametrize("name", ["/etc", "../../escape", "a/b"])
def test_config_output_dataset_name_is_refused_with_key_and_line(name):
    exc = read_error(f"cmd: ls ${{OUT}}\noutput-datasets:\n  - var: OUT\n    name: '{name}'\n")
    assert exc.key == "output-datasets[0].name" and exc.line == 4, str(exc)
    assert "\n" not in str(exc) and "line 4" in str(exc)


def test_config_path_with_a_control_character_is_refused_with_key_and_line(tmp_path):
    text = 'cmd: cat ${X}\ninputs:\n  - "data\\0.txt": X\n'
    with pytest.raises(ConfigError) as info:
        parse_config(text, base_dir=tmp_path, environ={})
    exc = info.value
    assert exc.line == 3 and exc.key == "inputs[0]", str(exc)
    assert "control character" in str(exc)


def test_an_input_file_whose_name_the_service_would_refuse_is_a_config_error(tmp_path):
    from jupyter_jobs.capture.files import capture_inputs

    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "bad\nname.txt").write_text("x")
    with pytest.raises(ConfigError) as info:
        capture_inputs([FileRef(path="d", var="D")], tmp_path, 1 << 20, 1 << 20, lines={"inputs[0]": 3})
    assert info.value.key == "inputs[0]" and info.value.line == 3 and "control character" in str(info.value)


def test_commands_and_environments_carry_no_nul_and_names_are_names():
    """A NUL reached the runner's exec (a runner error); an env name like `A=B` rewrote another variable."""
    for bad in ({"cmd": "echo\x00"}, {"cmd": "echo", "args": {"A": "x\x00"}},
                {"cmd": "echo", "env": {"vars": {"A": "\x00"}}}, {"cmd": "echo", "env": {"vars": {"A=B": "x"}}}):
        with pytest.raises(ValidationError):
            JobSpec.model_validate(bad)
    for bad in ({"env_vars": {"A=B": "x"}}, {"args": {"A": "\x00"}}, {"outputs": {"OUT": "out\x00.txt"}}):
        with pytest.raises(ValidationError):
            ForkRequest.model_validate(bad)
    exc = read_error('cmd: "echo \\0 ${A}"\nargs: {A: x}\n')
    assert exc.key == "cmd" and exc.line == 1 and "NUL" in str(exc)


def test_a_run_stored_before_a_stricter_rule_is_still_listed(tmp_path):
    """Rules added later must not make an existing data dir unreadable: such a run lists as stored."""
    from sqlalchemy import update

    from jupyter_jobs.service.db import RunRow
    from jupyter_jobs.service.service import JobsService
    from jupyter_jobs.settings import JobsSettings

    service = JobsService(JobsSettings(data_dir=str(tmp_path / "data")))
    try:
        run = service.submit(SubmitRequest(spec=JobSpec(cmd="true")))
        old_spec = {**run.spec.model_dump(mode="json"), "output_datasets": [{"name": "a/b", "var": "OUT"}]}
        with service.index.Session() as session:
            session.execute(update(RunRow).where(RunRow.id == run.id).values(spec=old_spec))
            session.commit()
        assert [r.id for r in service.list()] == [run.id]
        assert service.get(run.id).id == run.id
        # it still ends, and its outputs are still found (it is settled once its result is there)
        assert wait_finished(service, run.id).status == "SUCCEEDED"
    finally:
        service.close()
