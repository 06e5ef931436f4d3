"""config.yaml as DataSphere users write it: the seeds' shapes parse and mean what the docs say."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from jupyter_jobs.spec.config import load_config, parse_config
from jupyter_jobs.spec.models import (
    DockerImage,
    Env,
    FileRef,
    GracefulShutdown,
    JobSpec,
    OutputDataset,
    PipOptions,
    PythonEnv,
    ResourceRef,
    Spark,
    WorkingStorage,
)
from jupyter_jobs.spec.writer import to_yaml

DATA = Path(__file__).resolve().parents[1] / "data"
SEED_EXAMPLE = DATA / "seed_000_example.yaml"


def parse(text: str, **kwargs):
    return parse_config(textwrap.dedent(text), **kwargs)


def write_tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


# -- the seed's full example ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def seed_example():
    return parse_config(SEED_EXAMPLE.read_text(), source=str(SEED_EXAMPLE))


def test_seed_example_parses_without_warnings(seed_example):
    assert seed_example.warnings == []
    assert seed_example.spec.name == "simple-python-script"
    assert seed_example.spec.desc == "Program description"


def test_seed_example_folded_cmd_is_one_command_with_its_arguments(seed_example):
    cmd = seed_example.spec.cmd
    assert "\n" not in cmd
    assert cmd == (
        "python src/main.py --params ${PARAMS} --features ${<connector_ID>}/features.tsv "
        "--validate ${CIFAR}/val.json --normalizer ${DS_PROJECT_HOME}/misc/norm.bin "
        "--model ${MODEL} --epochs 5"
    )


def test_seed_example_variables(seed_example):
    spec = seed_example.spec
    variables = spec.variables()
    # `${<connector_ID>}` refers to the s3 mount, which has no var: its id is the variable.
    assert spec.s3_mounts == [ResourceRef(id="<connector_ID>")]
    assert variables["<connector_ID>"] == "s3-mounts"
    assert spec.datasets == [ResourceRef(id="<dataset_ID>", var="CIFAR")]
    assert variables["CIFAR"] == "datasets"
    assert variables["PARAMS"] == "inputs"
    assert variables["MODEL"] == "outputs"
    assert variables["DS_PROJECT_HOME"] == "flags"


def test_seed_example_env_values_stay_strings(seed_example):
    # YAML 1.1 would read `Yes` as true and 8 as an int; the environment gets the text as typed.
    assert seed_example.spec.env.vars == {"PYTHONBUFFERED": "Yes", "DEVICE_COUNT": "8"}


def test_seed_example_files_resources_and_flags(seed_example):
    spec = seed_example.spec
    assert spec.inputs == [FileRef(path="misc/logging.yaml"),
                           FileRef(path="/usr/share/params.json", var="PARAMS")]
    assert spec.outputs == [FileRef(path="data/model.bin", var="MODEL"), FileRef(path="other/metrics.png")]
    assert spec.env.docker == DockerImage(image="<Docker_image_ID>")
    assert spec.env.python == PythonEnv(type="auto")
    assert spec.flags == ["attach-project-disk"]
    assert spec.attach_project_disk
    assert spec.instance_types == ["g2.1"]


def test_seed_example_line_numbers(seed_example):
    lines = SEED_EXAMPLE.read_text().splitlines()
    for key in ("cmd", "inputs", "outputs", "env", "flags", "cloud-instance-type"):
        assert lines[seed_example.lines[key] - 1].startswith(f"{key}:")


def test_seed_example_from_its_folder_checks_inputs(tmp_path):
    """Read from a file, the relative input must exist next to the config (the absolute one has a var)."""
    params = write_tree(tmp_path, {"params.json": "{}"}) / "params.json"
    text = SEED_EXAMPLE.read_text().replace("/usr/share/params.json", str(params))
    write_tree(tmp_path, {"config.yaml": text, "misc/logging.yaml": "version: 1\n"})
    loaded = load_config(tmp_path / "config.yaml")
    assert loaded.base_dir == tmp_path.resolve()
    assert loaded.spec.inputs[1] == FileRef(path=str(params), var="PARAMS")


# -- the other shapes of seeds 000 and 001 -----------------------------------------------------------
def test_python_auto_scalar():
    spec = parse("""
        cmd: python main.py <call_arguments>
        env:
          python: auto
    """).spec
    assert spec.cmd == "python main.py <call_arguments>"
    assert spec.env.python == PythonEnv(type="auto")


@pytest.mark.parametrize("root_key", ["root-path", "root-paths"])
def test_python_auto_with_root_path_and_pip_options(root_key):
    loaded = parse(f"""
        cmd: python main.py <call_arguments>
        env:
          python:
            type: auto # specify automated environment build
            {root_key}:
              - other.py
            pip:
              extra-index-urls:
                - https://pypi.ngc.nvidia.com
              trusted-hosts:
                - nvidia.com
              no-deps: true  # The default value is false
    """)
    assert loaded.warnings == []
    python = loaded.spec.env.python
    assert python.type == "auto"
    assert python.root_paths == ["other.py"]
    assert python.local_paths is None
    assert python.pip == PipOptions(extra_index_urls=["https://pypi.ngc.nvidia.com"],
                                    trusted_hosts=["nvidia.com"], no_deps=True)


@pytest.mark.parametrize("text, expected", [("true", True), ("false", False), ("yes", True), ("False", False)])
def test_pip_no_deps_is_a_yaml_boolean(text, expected):
    spec = parse(f"""
        cmd: python main.py
        env:
          python:
            pip:
              no-deps: {text}
    """).spec
    assert spec.env.python.pip.no_deps is expected


def test_python_manual_full(tmp_path):
    write_tree(tmp_path, {"requirements.txt": "numpy==1.26.4\n", "foo.py": "", "lib/__init__.py": ""})
    spec = parse("""
        cmd: python foo.py
        env:
         python:
           type: manual     # specify manual environment configuration
           version: 3.10.13 # optional
           requirements-file: requirements.txt  # optional
           local-paths:     # optional, cannot be used together with root-paths
             - foo.py
             - lib/
    """, base_dir=tmp_path).spec
    assert spec.env.python == PythonEnv(type="manual", version="3.10.13", requirements_file="requirements.txt",
                                        local_paths=["foo.py", "lib/"])


@pytest.mark.parametrize("written", ["3.10", "'3.10'", '"3.10"'])
def test_python_version_3_10_stays_3_10(written):
    spec = parse(f"""
        cmd: python main.py
        env:
          python:
            type: manual
            version: {written}
    """).spec
    assert spec.env.python.version == "3.10"


def test_local_paths_empty_list_means_no_local_modules():
    spec = parse("""
        cmd: python main.py
        env:
          python:
            type: manual
            local-paths: []
    """).spec
    assert spec.env.python.local_paths == []
    assert spec.env.python.version is None and spec.env.python.requirements_file is None


@pytest.mark.parametrize("kind", ["auto", "manual"])
def test_root_paths_with_either_type(kind):
    spec = parse(f"""
        cmd: python main.py
        env:
          python:
            type: {kind}
            root-paths:           # optional, cannot be used together with local-paths
              - main.py
              - other.py
    """).spec
    assert spec.env.python.type == kind
    assert spec.env.python.root_paths == ["main.py", "other.py"]


def test_plain_bash_shape(tmp_path):
    write_tree(tmp_path, {"run.sh": "#!/bin/bash\nuname -a\n"})
    loaded = parse("""
        cmd: ./run.sh
        inputs:
          - run.sh  # explicitly list all the required modules
    """, base_dir=tmp_path)
    assert loaded.spec.cmd == "./run.sh"
    assert loaded.spec.inputs == [FileRef(path="run.sh")]
    assert loaded.spec.env.python is None
    assert loaded.spec.instance_types == ["c1.4"]


def test_literal_block_cmd_keeps_its_lines():
    spec = parse("""
        cmd: |
          echo one
          echo two
    """).spec
    assert spec.cmd == "echo one\necho two"


def test_file_entry_forms():
    spec = parse("""
        cmd: cat ${A} ${B}
        outputs:
          - plain.txt
          - a.txt: A
          - b.txt:
              var: B
          - c.txt:
    """).spec
    assert spec.outputs == [FileRef(path="plain.txt"), FileRef(path="a.txt", var="A"),
                            FileRef(path="b.txt", var="B"), FileRef(path="c.txt")]


def test_env_vars_forms():
    environ = {"FROM_SUBMITTER": "copied"}
    listed = parse("""
        cmd: env
        env:
          vars:
            - FROM_SUBMITTER
            - PLAIN: value
            - NUMBER: 3.10
    """, environ=environ).spec
    assert listed.env.vars == {"FROM_SUBMITTER": "copied", "PLAIN": "value", "NUMBER": "3.10"}
    mapped = parse("""
        cmd: env
        env:
          vars:
            ON: on
            EMPTY:
    """).spec
    assert mapped.env.vars == {"ON": "on", "EMPTY": ""}


def test_args_are_strings_and_variables():
    spec = parse("""
        cmd: python train.py --epochs ${EPOCHS} --lr ${LR}
        args:
          EPOCHS: 5
          LR: 1e-3
    """).spec
    assert spec.args == {"EPOCHS": "5", "LR": "1e-3"}


def test_description_alias_and_instance_types_plural_wins():
    loaded = parse("""
        name: n
        description: d
        cmd: ls
        cloud-instance-type: c1.8
        cloud-instance-types: [g1.1, c1.4]
    """)
    assert loaded.spec.desc == "d"
    assert loaded.spec.instance_types == ["g1.1", "c1.4"]
    assert any("cloud-instance-types" in w for w in loaded.warnings)


def test_working_storage_and_graceful_shutdown():
    spec = parse("""
        cmd: ls
        working-storage:
          type: SSD
          size: 150Gb
        graceful-shutdown:
          signal: SIGUSR1
          timeout: 1h2m3s
    """).spec
    assert spec.working_storage == WorkingStorage(size_gb=150)
    assert spec.graceful_shutdown == GracefulShutdown(signal="SIGUSR1", timeout_s=3723)


# -- warnings -------------------------------------------------------------------------------------
def test_unknown_top_level_key_warns_with_suggestion():
    loaded = parse("""
        cmd: ls
        outptus:
          - a.txt
    """)
    assert loaded.spec.outputs == []
    [warning] = loaded.warnings
    assert "line 3" in warning and "`outptus`" in warning and "did you mean `outputs`?" in warning


def test_unknown_nested_key_warns_with_suggestion():
    loaded = parse("""
        cmd: ls
        env:
          pyton: auto
    """)
    assert loaded.spec.env.python is None
    [warning] = loaded.warnings
    assert "line 4" in warning and "`env.pyton`" in warning and "did you mean `python`?" in warning


def test_unknown_key_far_from_any_has_no_suggestion():
    [warning] = parse("cmd: ls\nzzzz: 1\n").warnings
    assert "`zzzz`" in warning and "did you mean" not in warning


# -- writing back -----------------------------------------------------------------------------------
ROUND_TRIP = [
    JobSpec(cmd="true"),
    JobSpec(name="n", desc="d", cmd="python main.py --x 1"),
    JobSpec(cmd="echo one\necho two\n  indented"),
    JobSpec(cmd="python t.py --epochs ${EPOCHS} --lr ${LR}", args={"EPOCHS": "5", "LR": "1e-3"}),
    JobSpec(cmd="cat ${DATA}", inputs=[FileRef(path="a.txt"), FileRef(path="/abs/data.csv", var="DATA"),
                                       FileRef(path="dir/")],
            outputs=[FileRef(path="out/"), FileRef(path="m.bin", var="MODEL")]),
    JobSpec(cmd="env", env=Env(vars={"YES": "Yes", "N": "8", "V": "3.10", "E": "", "T": "true", "NUL": "null"})),
    JobSpec(cmd="python a.py", env=Env(python=PythonEnv(type="auto"))),
    JobSpec(cmd="python a.py", env=Env(python=PythonEnv(
        type="manual", version="3.10", requirements_file="req.txt", local_paths=[],
        pip=PipOptions(index_url="https://x/simple", extra_index_urls=["https://y"], trusted_hosts=["y"],
                       no_deps=True)))),
    JobSpec(cmd="python a.py", env=Env(python=PythonEnv(type="auto", root_paths=["a.py", "b.py"]))),
    JobSpec(cmd="ls", env=Env(docker=DockerImage(image="python:3.11-slim"))),
    JobSpec(cmd="ls", env=Env(docker=DockerImage(image="cr.example/x:1", username="u", password_secret="PW"))),
    JobSpec(cmd="ls ${DS_PROJECT_HOME} ${S3} ${CIFAR}", flags=["attach-project-disk"],
            s3_mounts=[ResourceRef(id="bt1abc", var="S3")], datasets=[ResourceRef(id="ds1", var="CIFAR"),
                                                                     ResourceRef(id="ds2")]),
    JobSpec(cmd="ls", instance_types=["g2.1"]),
    JobSpec(cmd="ls", instance_types=["g1.1", "c1.8"], working_storage=WorkingStorage(size_gb=250),
            graceful_shutdown=GracefulShutdown(signal="SIGUSR2", timeout_s=90), timeout_s=3600),
    JobSpec(cmd="ls ${OUT}", output_datasets=[OutputDataset(name="ds", var="OUT", description="x", size_gb=100,
                                                            labels={"a": "b"})],
            spark=Spark(connector="sp1")),
]


@pytest.mark.parametrize("spec", ROUND_TRIP, ids=range(len(ROUND_TRIP)))
def test_yaml_round_trip(spec):
    text = to_yaml(spec)
    loaded = parse_config(text)
    assert loaded.spec == spec, text
    assert loaded.warnings == []


def test_round_trip_of_the_seed_example(seed_example):
    assert parse_config(to_yaml(seed_example.spec)).spec == seed_example.spec
