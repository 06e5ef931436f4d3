from __future__ import annotations

import textwrap

import pytest

from jupyter_jobs.pyenv.imports import parse_imports


def imports(source: str, package: str | None = None) -> dict[str, bool]:
    return {i.module: i.optional for i in parse_imports(textwrap.dedent(source), "x.py", package)}


def test_every_scope():
    found = imports(
        """
        import a, b.c as bc
        from d.e import f
        def fn():
            import g
            class K:
                from h import i
        class C:
            def m(self):
                import j
        if __name__ == "__main__":
            import k
        if flag:
            import l
        else:
            import m
        for _ in []:
            import n
        with open("x"):
            import o
        lambda: __import__("p")
        """
    )
    assert set(found) == set("a b.c d.e g h j k l m n o p".split())
    assert not any(found.values())


def test_optional_imports():
    found = imports(
        """
        try:
            import a
        except ImportError:
            a = None
        try:
            import b
        except (ValueError, ModuleNotFoundError):
            pass
        try:
            import c
        except ValueError:
            import d
        try:
            import e
        except:
            pass
        import contextlib
        with contextlib.suppress(ImportError):
            import f
        from typing import TYPE_CHECKING
        if TYPE_CHECKING:
            import g
        if sys.version_info >= (3, 11):
            import tomllib
        else:
            import tomli
        """
    )
    assert found == {
        "a": True, "b": True, "c": False, "d": False, "e": True, "contextlib": False, "f": True,
        "typing": False, "g": True, "tomllib": True, "tomli": True,
    }  # fmt: skip


def test_dynamic_imports_with_literals_only():
    found = imports(
        """
        import importlib
        from importlib import import_module
        importlib.import_module("a.b")
        import_module("c")
        importlib.import_module(".d", "pkg.sub")
        importlib.import_module(name)
        __import__("e")
        """
    )
    assert set(found) == {"importlib", "a.b", "c", "pkg.sub.d", "e"}


@pytest.mark.parametrize(
    "source, package, expected",
    [
        ("from . import x", "pkg.sub", ("pkg.sub", ("x",))),
        ("from .m import y", "pkg.sub", ("pkg.sub.m", ("y",))),
        ("from .. import z", "pkg.sub", ("pkg", ("z",))),
        ("from ..q import w", "pkg.sub", ("pkg.q", ("w",))),
    ],
)
def test_relative_imports(source, package, expected):
    (imp,) = parse_imports(source, "x.py", package)
    assert (imp.module, imp.names) == expected


def test_relative_imports_outside_a_package_are_dropped():
    assert parse_imports("from . import x\nfrom ... import y", "x.py", None) == []
    assert parse_imports("from ... import y", "x.py", "pkg") == []


def test_syntax_error_is_raised():
    with pytest.raises(SyntaxError):
        parse_imports("def (:\n", "bad.py", None)
