from __future__ import annotations

import shutil
import subprocess
import sys

from jupyter_jobs.pyenv.resolve import detect

UV = shutil.which("uv") or str(__import__("pathlib").Path(sys.prefix, "bin", "uv"))


def test_local_modules_followed_and_third_party_pinned(tree):
    base = tree(
        {
            "main.py": """
                import os, json
                import yaml
                from pkg import helper
                import nspkg.inner.mod
                def train():
                    from srcpkg import thing
                if __name__ == "__main__":
                    import jinja2
                    import no_such_module_xyz
            """,
            "pkg/__init__.py": "from . import sub\n",
            "pkg/helper.py": "from .sub import deep\n",
            "pkg/sub/__init__.py": "",
            "pkg/sub/deep.py": "from ..helper import x\nimport packaging.version\n",
            "pkg/unused.py": "import notneeded_xyz\n",
            "nspkg/inner/mod.py": "import tornado\n",
            "src/srcpkg/__init__.py": "import traitlets\n",
            "src/srcpkg/thing.py": "",
        }
    )
    found = detect(base, ["main.py"])
    import jinja2
    import packaging
    import tornado
    import traitlets
    import yaml

    assert found.python_version == "{}.{}".format(*sys.version_info[:2])
    assert found.requirements == sorted(
        [
            f"Jinja2=={jinja2.__version__}",
            f"packaging=={packaging.__version__}",
            f"PyYAML=={yaml.__version__}",
            f"tornado=={tornado.version}",
            f"traitlets=={traitlets.__version__}",
        ],
        key=str.lower,
    )
    assert found.local_files == [
        "main.py",
        "nspkg/inner/mod.py",
        "pkg/__init__.py",
        "pkg/helper.py",
        "pkg/sub/__init__.py",
        "pkg/sub/deep.py",
        "src/srcpkg/__init__.py",
        "src/srcpkg/thing.py",
    ]
    assert found.python_paths == [".", "src"]
    assert found.unresolved == {"no_such_module_xyz": ["main.py:10"]}
    assert found.optional == []


def test_optional_imports_pinned_only_if_installed(tree):
    base = tree(
        {
            "main.py": """
                try:
                    import six
                except ImportError:
                    six = None
                try:
                    import not_installed_xyz
                except ModuleNotFoundError:
                    pass
            """
        }
    )
    found = detect(base, ["main.py"])
    assert [r.split("==")[0] for r in found.requirements] == ["six"]
    assert found.optional == ["not_installed_xyz", "six"]
    assert found.optional_missing == ["not_installed_xyz"]
    assert found.unresolved == {}


def test_module_entry_and_script_folder(tree):
    base = tree(
        {
            "app/__init__.py": "",
            "app/__main__.py": "",
            "app/cli.py": "from . import core\n",
            "app/core.py": "import yaml\n",
            "scripts/run.py": "import helpers\n",
            "scripts/helpers.py": "import six\n",
        }
    )
    found = detect(base, ["scripts/run.py"], ["app.cli", "http.server"])
    assert found.local_files == ["app/__init__.py", "app/cli.py", "app/core.py", "scripts/helpers.py", "scripts/run.py"]
    assert [r.split("==")[0] for r in found.requirements] == ["PyYAML", "six"]


def test_unparsable_file_is_a_warning(tree):
    base = tree({"main.py": "import broken\n", "broken.py": "def (:\n"})
    found = detect(base, ["main.py"])
    assert found.local_files == ["broken.py", "main.py"]
    assert "broken.py" in found.warnings[0] and "SyntaxError" in found.warnings[0]


def test_editable_install_outside_the_job_is_shipped_as_code(tmp_path):
    lib = tmp_path / "mylib"
    (lib / "src" / "mylib_xyz" / "sub").mkdir(parents=True)
    (lib / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n'
        '[project]\nname = "mylib-xyz"\nversion = "0.1"\n'
    )
    (lib / "src" / "mylib_xyz" / "__init__.py").write_text("from .sub import tool\n")
    (lib / "src" / "mylib_xyz" / "sub" / "__init__.py").write_text("")
    (lib / "src" / "mylib_xyz" / "sub" / "tool.py").write_text("import six\n")
    venv = tmp_path / "venv"
    subprocess.run([UV, "venv", "-q", "--python", sys.executable, str(venv)], check=True)
    python = str(venv / "bin" / "python")
    subprocess.run([UV, "pip", "install", "-q", "--python", python, "-e", str(lib), "six"], check=True)
    job = tmp_path / "job"
    job.mkdir()
    (job / "main.py").write_text("import mylib_xyz\nimport yaml\n")

    found = detect(job, ["main.py"], python=python)

    assert found.extra_files == {
        "mylib_xyz/__init__.py": str(lib / "src" / "mylib_xyz" / "__init__.py"),
        "mylib_xyz/sub/__init__.py": str(lib / "src" / "mylib_xyz" / "sub" / "__init__.py"),
        "mylib_xyz/sub/tool.py": str(lib / "src" / "mylib_xyz" / "sub" / "tool.py"),
    }
    assert found.local_files == ["main.py"]
    assert found.python_paths == ["."]
    # Pinned from the venv, not from the interpreter running the test: yaml is not in that venv.
    assert [r.split("==")[0] for r in found.requirements] == ["six"]
    assert found.unresolved == {"yaml": ["main.py:2"]}
    assert not any("mylib" in r for r in found.requirements)
