"""Which kernel variables a cell reads, and how they travel to the job (typed files, with budgets).

A cell's *free names* are the names it loads before (or without) binding them, found in its syntax
tree. Those that exist in the kernel become, by what they are:
- modules -> an import line in the job's prelude (`import numpy as np`),
- functions and classes importable from a module -> `from module import name`,
- anything else -> a variable, serialised to a file (`.npy`, `.parquet`, pickle) and sent as a bundle
  input, when small enough to send without asking (AUTO_SEND_LIMIT); larger ones must be named
  with `--in` (the upload limit applies) or sent as files.
"""

from __future__ import annotations

import ast
import importlib
import re
import types
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import JobsError
from ..runner.nbexec import ValueTooLarge, _size, save_value, type_name

#: Variables a cell reads are sent without `--in` up to this size each.
AUTO_SEND_LIMIT = 20 * 1000 * 1000
#: IPython's own names in a user namespace: never sent.
_IPYTHON_NAME = re.compile(r"^(_+|_i+|_i?\d+|_[oid]h|In|Out|get_ipython|exit|quit)$")


class VariableError(JobsError):
    pass


# -- free names -----------------------------------------------------------------------------------------
def _stored(nodes) -> set[str]:
    names = set()
    for node in nodes:
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name) and isinstance(sub.ctx, (ast.Store, ast.Del)):
                names.add(sub.id)
            elif isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(sub.name)
            elif isinstance(sub, (ast.Import, ast.ImportFrom)):
                names.update((a.asname or a.name).split(".")[0] for a in sub.names)
            elif isinstance(sub, ast.arg):
                names.add(sub.arg)
            elif isinstance(sub, ast.ExceptHandler) and sub.name:
                names.add(sub.name)
    return names


def _loads(node, local: frozenset[str], out: list[str]) -> None:
    """Names `node` loads that are not bound in an enclosing nested scope (`local`)."""
    if isinstance(node, ast.Name):
        if isinstance(node.ctx, ast.Load) and node.id not in local:
            out.append(node.id)
        return
    if isinstance(node, ast.Lambda):
        for default in node.args.defaults + [d for d in node.args.kw_defaults if d]:
            _loads(default, local, out)
        _loads(node.body, local | _stored([node.args]), out)
        return
    if isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
        inner = local | _stored([g.target for g in node.generators])
        for gen in node.generators:
            _loads(gen.iter, inner, out)
            for cond in gen.ifs:
                _loads(cond, inner, out)
        for part in ([node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]):
            _loads(part, inner, out)
        return
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        for part in node.decorator_list + node.args.defaults + [d for d in node.args.kw_defaults if d]:
            _loads(part, local, out)
        inner = local | _stored([node.args]) | _stored(node.body)
        for stmt in node.body:
            _loads(stmt, inner, out)
        return
    if isinstance(node, ast.ClassDef):
        for part in node.decorator_list + node.bases + [k.value for k in node.keywords]:
            _loads(part, local, out)
        inner = local | _stored(node.body)
        for stmt in node.body:
            _loads(stmt, inner, out)
        return
    for child in ast.iter_child_nodes(node):
        _loads(child, local, out)


def free_names(tree: ast.Module) -> list[str]:
    """Names the cell reads before binding them, in order of first use (top level in execution order)."""
    bound: set[str] = set()
    free: list[str] = []
    deferred: list[str] = []  # loads in function bodies: looked up when called, after the whole cell

    def read(node) -> None:
        found: list[str] = []
        _loads(node, frozenset(), found)
        for name in found:
            if name not in bound and name not in free:
                free.append(name)

    def block(stmts) -> None:
        for stmt in stmts:
            statement(stmt)

    def statement(stmt) -> None:
        if isinstance(stmt, (ast.For, ast.AsyncFor)):
            read(stmt.iter)
            bound.update(_stored([stmt.target]))
            block(stmt.body)
            block(stmt.orelse)
        elif isinstance(stmt, (ast.While, ast.If)):
            read(stmt.test)
            block(stmt.body)
            block(stmt.orelse)
        elif isinstance(stmt, (ast.With, ast.AsyncWith)):
            for item in stmt.items:
                read(item.context_expr)
                if item.optional_vars is not None:
                    bound.update(_stored([item.optional_vars]))
            block(stmt.body)
        elif isinstance(stmt, ast.Try) or type(stmt).__name__ == "TryStar":
            block(stmt.body)
            for handler in stmt.handlers:
                if handler.type is not None:
                    read(handler.type)
                if handler.name:
                    bound.add(handler.name)
                block(handler.body)
            block(stmt.orelse)
            block(stmt.finalbody)
        elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            found: list[str] = []
            _loads(stmt, frozenset(), found)
            deferred.extend(found)
            bound.add(stmt.name)
        elif isinstance(stmt, ast.AugAssign):
            read(stmt.value)
            if isinstance(stmt.target, ast.Name):
                if stmt.target.id not in bound and stmt.target.id not in free:
                    free.append(stmt.target.id)
            else:
                read(stmt.target)
        elif isinstance(stmt, (ast.Assign, ast.AnnAssign)):
            if stmt.value is not None:
                read(stmt.value)
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            for target in targets:
                read(target)  # `a[0] = 1` and `a.x = 1` read `a`
            bound.update(_stored(targets))
        elif isinstance(stmt, (ast.Import, ast.ImportFrom)):
            bound.update(_stored([stmt]))
        elif isinstance(stmt, ast.Global):
            pass
        else:
            read(stmt)
            bound.update(_stored([stmt]))  # walrus, del

    block(tree.body)
    for name in deferred:
        if name not in bound and name not in free:
            free.append(name)
    return free


# -- what to send ---------------------------------------------------------------------------------------
@dataclass
class Sent:
    """What a cell takes from the kernel: prelude import lines, variables, and the modules they need."""

    prelude: list[str] = field(default_factory=list)
    variables: dict[str, object] = field(default_factory=dict)
    explicit: set[str] = field(default_factory=set)
    #: Top-level modules the job needs to load the variables (numpy for an array, ...).
    modules: set[str] = field(default_factory=set)


def _importable_as(value) -> str | None:
    """`from module import name` that gives back this very object, or None."""
    module = getattr(value, "__module__", None)
    qualname = getattr(value, "__qualname__", None)
    if not module or not qualname or module == "__main__" or "." in qualname or "<" in qualname:
        return None
    try:
        if getattr(importlib.import_module(module), qualname) is value:
            return f"from {module} import {qualname}"
    except Exception:
        return None
    return None


def choose(names_read: list[str], explicit: list[str], user_ns: dict, hidden: set[str]) -> Sent:
    sent = Sent(explicit=set(explicit))
    for name in explicit:
        if name not in user_ns:
            raise VariableError(f"--in {name}: no variable {name!r} in this kernel")
    for name in list(dict.fromkeys(explicit + names_read)):
        if name not in user_ns or (name not in sent.explicit and (name in hidden or _IPYTHON_NAME.match(name))):
            continue
        value = user_ns[name]
        if isinstance(value, types.ModuleType):
            module = value.__name__
            if module == "__main__":
                continue
            sent.prelude.append(f"import {module}" if module == name else f"import {module} as {name}")
            continue
        if isinstance(value, (types.FunctionType, types.BuiltinFunctionType, type)):
            line = _importable_as(value)
            if line:
                sent.prelude.append(line if line.endswith(f" {name}") else f"{line} as {name}")
                continue
        sent.variables[name] = value
        top = type(value).__module__.split(".")[0]
        if top not in ("builtins", "__main__"):
            sent.modules.add(top)
    return sent


def code_files(values) -> set[str]:
    """The files the code of the functions and classes among `values` was compiled from: for code
    defined in a kernel, its cells' names, so the job's traceback can name them `In[N]`."""
    files: set[str] = set()
    for value in values:
        if isinstance(value, types.MethodType):
            value = value.__func__
        members = vars(value).values() if isinstance(value, type) else [value]
        for member in members:
            member = getattr(member, "__func__", member)  # staticmethod, classmethod
            code = getattr(member, "__code__", None)
            if isinstance(code, types.CodeType):
                files.add(code.co_filename)
    return files


def write_variables(sent: Sent, folder: Path, explicit_budget: int) -> dict[str, dict]:
    """Serialise the variables into `folder`; a too large one stops everything, naming it."""
    written = {}
    for name, value in sent.variables.items():
        budget = explicit_budget if name in sent.explicit else AUTO_SEND_LIMIT
        try:
            written[name] = save_value(name, value, str(folder), budget)
        except ValueTooLarge as exc:
            if name in sent.explicit:
                raise VariableError(f"--in {name}: {exc}",
                                    hint="save it to a file and send it with --inputs FILE") from None
            raise VariableError(
                f"the cell reads {name} ({exc.kind}, {_size(exc.size)}), more than the {_size(budget)} "
                f"sent without asking",
                hint=f"send it anyway with --in {name}, or save it to a file and pass it with --inputs") from None
        except Exception as exc:
            raise VariableError(f"variable {name} ({type_name(value)}) cannot be sent: {type(exc).__name__}: {exc}",
                                hint="create it inside the cell, or send its data as a file with --inputs") from None
    return written
