from __future__ import annotations

import pytest

from jupyter_jobs.errors import ConfigError
from jupyter_jobs.pyenv.requirements import parse_requirements


def test_full_syntax(tree):
    base = tree(
        {
            "requirements.txt": r"""
                # a full-line comment
                -i https://pypi.example/simple
                --extra-index-url https://extra.example/simple  # trailing comment
                --extra-index-url=https://extra2.example/simple
                --trusted-host extra.example
                -f https://links.example/wheels
                --find-links ./wheels
                --pre
                --no-deps
                --only-binary :all:
                --prefer-binary
                -r reqs/base.txt
                -c constraints.txt
                requests[socks] >= 2.0, <3 ; python_version < "3.12"
                numpy==1.26.* \
                    --hash=sha256:abc123
                pkg-with-url @ https://example.org/pkg-1.0-py3-none-any.whl ; sys_platform == "linux"
                https://example.org/bare-1.0-py3-none-any.whl
                git+https://github.com/o/r.git@v1#egg=fromgit
                -e git+https://github.com/o/e.git@main#egg=edit&subdirectory=py
                -e ./libs/mylib
                ./dist/local-1.0-py3-none-any.whl
                weird==1.0;python_version>="3.8"
                long-name \
                  ==2.0
                url-with-hash @ https://x.example/a.whl#sha256=ff
                ${NOT_EXPANDED}==1 ; extra == "x"
            """.replace("${NOT_EXPANDED}", "plain"),
            "reqs/base.txt": "-r ../reqs/more.txt\nsix\n-r base.txt\n",
            "reqs/more.txt": "-r base.txt\nattrs==25.3.0\n",
            "constraints.txt": "urllib3<3\n-r reqs/cons-more.txt\n",
            "reqs/cons-more.txt": "idna<4\n",
            "libs/mylib/pyproject.toml": "",
            "dist/local-1.0-py3-none-any.whl": "",
            "wheels/.keep": "",
        }
    )
    parsed = parse_requirements(base / "requirements.txt", base)
    assert parsed.lines == [
        "attrs==25.3.0",
        "six",
        'requests[socks] >= 2.0, <3 ; python_version < "3.12"',
        "numpy==1.26.* --hash=sha256:abc123",
        'pkg-with-url @ https://example.org/pkg-1.0-py3-none-any.whl ; sys_platform == "linux"',
        "https://example.org/bare-1.0-py3-none-any.whl",
        "git+https://github.com/o/r.git@v1#egg=fromgit",
        "edit @ git+https://github.com/o/e.git@main#subdirectory=py",
        "./libs/mylib",
        "./dist/local-1.0-py3-none-any.whl",
        'weird==1.0 ; python_version>="3.8"',
        "long-name   ==2.0",
        "url-with-hash @ https://x.example/a.whl#sha256=ff",
        'plain==1 ; extra == "x"',
    ]
    # `-c` files (and what they include) are constraints, not requirements
    assert parsed.constraints == ["urllib3<3", "idna<4"]
    assert parsed.options == {
        "index_url": "https://pypi.example/simple",
        "extra_index_urls": ["https://extra.example/simple", "https://extra2.example/simple"],
        "trusted_hosts": ["extra.example"],
        "find_links": ["https://links.example/wheels", "./wheels"],
        "no_index": False,
        "no_deps": True,
        "pre": True,
        "only_binary": [":all:"],
        "no_binary": [],
        "require_hashes": False,
    }
    assert parsed.local_paths == ["./wheels", "./libs/mylib", "./dist/local-1.0-py3-none-any.whl"]


def test_paths_are_relative_to_the_including_file(tree):
    base = tree({"req/main.txt": "-e ../lib\n", "lib/setup.py": ""})
    assert parse_requirements(base / "req" / "main.txt", base).lines == ["./lib"]


@pytest.mark.parametrize(
    "files, where, message",
    [
        ({"r.txt": "ok==1\n\nnot a requirement\n"}, "r.txt:3", "invalid requirement"),
        ({"r.txt": "ok==1\n--bogus-option x\n"}, "r.txt:2", "unknown or unsupported option"),
        ({"r.txt": "-r inner.txt\n", "inner.txt": "a\nb==\n"}, "inner.txt:2", "invalid requirement"),
        ({"r.txt": "# c\n-r missing.txt\n"}, "r.txt:2", "cannot read requirements file"),
        ({"r.txt": "-e ./nope\n"}, "r.txt:1", "no such file or folder"),
        ({"r.txt": "-e ../outside\n"}, "r.txt:1", "outside the job folder"),
        ({"r.txt": "a==1 ; not_a_marker\n"}, "r.txt:1", "invalid environment marker"),
        ({"r.txt": "a==1 \\\n  --install-option=x\n"}, "r.txt:1", "unsupported per-requirement option"),
        ({"r.txt": "--index-url\n"}, "r.txt:1", "needs a value"),
        ({"r.txt": "-r https://x.example/r.txt\n"}, "r.txt:1", "remote requirement files"),
    ],
)
def test_errors_name_file_and_line(tree, tmp_path, files, where, message):
    (tmp_path / "job").mkdir()
    (tmp_path / "outside").mkdir()
    base = tree({f"job/{name}": text for name, text in files.items()}) / "job"
    with pytest.raises(ConfigError) as err:
        parse_requirements(base / "r.txt", base)
    assert str(err.value).startswith(str(base / where))
    assert message in str(err.value)
    assert err.value.key == "env.python.requirements-file"
