from __future__ import annotations

import sys

import pytest

from jupyter_jobs.errors import ConfigError
from jupyter_jobs.pyenv.cache import lock_key
from jupyter_jobs.pyenv.detect import resolve_python_env
from jupyter_jobs.pyenv.generate import generate_requirements
from jupyter_jobs.pyenv.lock import EnvLock
from jupyter_jobs.pyenv.pythons import available_pythons, check_python_version
from jupyter_jobs.spec.models import PipOptions, PythonEnv

OWN = "{}.{}".format(*sys.version_info[:2])
FILES = {
    "main.py": "import yaml\nimport helper\n",
    "helper.py": "import six\n",
    "other.py": "import jinja2\n",
    "requirements.txt": "--extra-index-url https://file.example/simple\nattrs==25.3.0\n-e ./lib\n",
    "lib/pyproject.toml": "",
    "data/x.csv": "1\n",
}


def names(lines):
    return [line.split("==")[0] for line in lines]


def test_auto_detects_everything(tree):
    base = tree(FILES)
    lock = resolve_python_env(PythonEnv(root_paths=["other.py"]), "python main.py", base)
    assert lock.python == OWN
    assert names(lock.requirements) == ["Jinja2", "PyYAML", "six"]
    assert lock.local_files == ["helper.py", "main.py", "other.py"]


def test_manual_uses_given_parts_and_detects_the_rest(tree):
    base = tree(FILES)
    env = PythonEnv(
        type="manual",
        requirements_file="requirements.txt",
        pip=PipOptions(extra_index_urls=["https://cfg.example"], no_deps=True),
    )
    lock = resolve_python_env(env, "python main.py", base)
    assert lock.python == OWN  # omitted -> the submitter's
    assert lock.requirements == ["attrs==25.3.0", "./lib"]
    assert lock.local_files == ["helper.py", "lib/pyproject.toml", "main.py"]  # detected + the -e source
    assert set(lock.sources) == {"./lib"}
    assert lock.pip["extra_index_urls"] == ["https://file.example/simple", "https://cfg.example"]
    assert lock.pip["no_deps"] is True


def test_manual_empty_local_paths_means_none(tree):
    base = tree(FILES)
    lock = resolve_python_env(PythonEnv(type="manual", local_paths=[]), "python main.py", base)
    assert lock.local_files == []
    assert names(lock.requirements) == ["PyYAML", "six"]


def test_manual_all_three_given_detects_nothing(tree, monkeypatch):
    base = tree(FILES)

    def fail(*args, **kwargs):
        raise AssertionError("detection ran")

    monkeypatch.setattr("jupyter_jobs.pyenv.detect.detect", fail)
    monkeypatch.setattr("jupyter_jobs.pyenv.detect.probe_environment", fail)
    env = PythonEnv(type="manual", version=OWN, requirements_file="requirements.txt", local_paths=["main.py", "data"])
    lock = resolve_python_env(env, "python main.py", base)
    assert lock.local_files == ["data/x.csv", "lib/pyproject.toml", "main.py"]
    assert lock.unresolved == {} and lock.optional == []


def test_key_is_stable_and_sensitive(tree):
    base = tree(FILES)
    one = resolve_python_env(PythonEnv(), "python main.py", base)
    two = resolve_python_env(PythonEnv(), "python -u main.py", base)
    assert one.key() == two.key() == lock_key(one.to_dict())
    assert EnvLock.from_dict(one.to_dict()) == one
    shuffled = EnvLock.from_dict({**one.to_dict(), "requirements": list(reversed(one.requirements)), "local_files": []})
    assert shuffled.key() == one.key()  # order and shipped files do not matter
    assert EnvLock.from_dict({**one.to_dict(), "python": "3.12"}).key() != one.key()
    assert EnvLock.from_dict({**one.to_dict(), "pip": {"no_deps": True}}).key() != one.key()
    (base / "lib" / "pyproject.toml").write_text("changed")
    env = PythonEnv(type="manual", requirements_file="requirements.txt")
    before = resolve_python_env(env, "python main.py", base).key()
    (base / "lib" / "pyproject.toml").write_text("changed again")
    assert resolve_python_env(env, "python main.py", base).key() != before


def test_unavailable_version_is_refused_with_the_list(tree):
    base = tree(FILES)
    with pytest.raises(ConfigError) as err:
        resolve_python_env(PythonEnv(type="manual", version="3.99"), "python main.py", base)
    assert err.value.key == "env.python.version"
    assert OWN in err.value.hint


def test_errors_for_bad_manual_parts(tree):
    base = tree(FILES)
    with pytest.raises(ConfigError, match="requirements file nope.txt not found"):
        resolve_python_env(PythonEnv(type="manual", requirements_file="nope.txt"), "python main.py", base)
    with pytest.raises(ConfigError, match="no such file or folder"):
        resolve_python_env(PythonEnv(type="manual", local_paths=["gone.py"]), "python main.py", base)


def test_available_pythons_lists_this_interpreter():
    found = available_pythons()
    assert "{}.{}.{}".format(*sys.version_info[:3]) in found
    check_python_version(OWN, found)
    check_python_version("{}.{}.{}".format(*sys.version_info[:3]), found)
    with pytest.raises(ConfigError):
        check_python_version("3.1", ["3.11.7"])  # 3.1 is not a prefix of 3.11


def test_generate_requirements(tree, monkeypatch):
    base = tree(
        {
            "main.py": "import yaml\ntry:\n    import six\nexcept ImportError:\n    pass\n"
            "try:\n    import absent_xyz\nexcept ImportError:\n    pass\nimport unknown_xyz\n",
        }
    )
    monkeypatch.chdir(base)
    text = generate_requirements(["main.py"])
    lines = text.splitlines()
    assert lines[0].startswith("# Generated by jupyter-jobs")
    assert names([x for x in lines if not x.startswith("#")]) == ["PyYAML", "six"]
    assert "# optional imports, pinned because installed: six" in lines
    assert "# optional imports not installed, left out: absent_xyz" in lines
    assert "#   unknown_xyz  (main.py:10)" in lines
    with pytest.raises(ConfigError):
        generate_requirements(["nothere.py"])
