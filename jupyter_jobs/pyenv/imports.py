"""Every import a module can make, read from its syntax tree: user code is never executed.

Unlike executing a script and looking at `sys.modules`, this sees imports inside functions, classes,
`if __name__ == "__main__":` and branches, and knows which ones the code is ready to live without.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

#: Exceptions whose handler means "this import may fail" (a bare `except:` counts too).
_IMPORT_ERRORS = {"ImportError", "ModuleNotFoundError", "Exception", "BaseException"}
#: Names in an `if` test that make both branches depend on the interpreter, not on the job.
_ENV_TESTS = {
    "sys.version_info",
    "version_info",
    "sys.platform",
    "sys.implementation",
    "os.name",
    "TYPE_CHECKING",
    "typing.TYPE_CHECKING",
}


@dataclass(frozen=True)
class Import:
    """One import site: the absolute module name and, for `from X import a, b`, the names `a`, `b`."""

    module: str
    names: tuple[str, ...]
    line: int
    #: Inside `try/except ImportError`, `suppress(ImportError)`, `if TYPE_CHECKING` or a version check.
    optional: bool


def parse_imports(source: str | bytes, filename: str, package: str | None) -> list[Import]:
    """Imports of one module; relative ones are resolved against `package` (None for a script).

    Raises SyntaxError for code Python could not run either.
    """
    collector = _Collector(package)
    collector.visit(ast.parse(source, filename=filename))
    return collector.found


def _name_of(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _name_of(node.value)
        return f"{base}.{node.attr}" if base else node.attr
    return ""


def _catches_import_error(handler: ast.ExceptHandler) -> bool:
    if handler.type is None:
        return True
    types = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return any(_name_of(t).rsplit(".", 1)[-1] in _IMPORT_ERRORS for t in types)


def _depends_on_interpreter(test: ast.expr) -> bool:
    for node in ast.walk(test):
        name = _name_of(node) if isinstance(node, (ast.Name, ast.Attribute)) else ""
        if name in _ENV_TESTS or name.startswith("platform."):
            return True
    return False


class _Collector(ast.NodeVisitor):
    def __init__(self, package: str | None):
        self.package = package
        self.optional = 0
        self.found: list[Import] = []

    def _add(self, module: str, names: tuple[str, ...], node: ast.AST) -> None:
        if module:
            self.found.append(Import(module, names, getattr(node, "lineno", 0), self.optional > 0))

    def _optional(self, nodes: list[ast.stmt]) -> None:
        self.optional += 1
        for node in nodes:
            self.visit(node)
        self.optional -= 1

    def _absolute(self, module: str | None, level: int) -> str:
        if level == 0:
            return module or ""
        if not self.package:
            return ""  # a relative import in a script fails at run time; nothing to ship
        parts = self.package.split(".")
        if level - 1 > len(parts) - 1:
            return ""
        base = parts[: len(parts) - (level - 1)]
        return ".".join(base + ([module] if module else []))

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(alias.name, (), node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        names = tuple(alias.name for alias in node.names if alias.name != "*")
        self._add(self._absolute(node.module, node.level), names, node)

    def visit_Try(self, node: ast.Try) -> None:
        if any(_catches_import_error(h) for h in node.handlers):
            self._optional(node.body)
        else:
            for stmt in node.body:
                self.visit(stmt)
        for part in (node.handlers, node.orelse, node.finalbody):
            for stmt in part:
                self.visit(stmt)

    visit_TryStar = visit_Try

    def visit_If(self, node: ast.If) -> None:
        self.visit(node.test)
        if _depends_on_interpreter(node.test):
            self._optional(node.body)
            self._optional(node.orelse)
        else:
            for stmt in node.body + node.orelse:
                self.visit(stmt)

    def visit_With(self, node: ast.With) -> None:
        suppresses = any(
            isinstance(item.context_expr, ast.Call)
            and _name_of(item.context_expr.func).rsplit(".", 1)[-1] == "suppress"
            and any(_name_of(a).rsplit(".", 1)[-1] in _IMPORT_ERRORS for a in item.context_expr.args)
            for item in node.items
        )
        for item in node.items:
            self.visit(item)
        if suppresses:
            self._optional(node.body)
        else:
            for stmt in node.body:
                self.visit(stmt)

    def visit_Call(self, node: ast.Call) -> None:
        """`__import__("x")` and `importlib.import_module("x"[, "pkg"])` with literal strings."""
        func = _name_of(node.func)
        literal = [a.value if isinstance(a, ast.Constant) and isinstance(a.value, str) else None for a in node.args]
        if func == "__import__" and literal and literal[0]:
            self._add(literal[0], (), node)
        elif func.rsplit(".", 1)[-1] == "import_module" and literal and literal[0]:
            name = literal[0]
            if name.startswith("."):
                stripped = name.lstrip(".")
                anchor = literal[1] if len(literal) > 1 and literal[1] else None
                saved, self.package = self.package, anchor
                name = self._absolute(stripped or None, len(name) - len(stripped))
                self.package = saved
            self._add(name, (), node)
        self.generic_visit(node)
