"""The parts of papermill a notebook run's submit uses (typing `-p` values, reading a notebook and its
`parameters` cell), without papermill's package import.

`import papermill` imports its executor: nbformat (and jsonschema, which builds rfc3987-syntax's grammar
at import when that is installed, as JupyterLab's dependencies install it), nbclient, jupyter_client,
requests and its remote-storage handlers (boto3, pyarrow, ...): 1-3 s, more than the rest of `jupyter
jobs run` before its job starts, and the job runs papermill anyway. papermill's translators (its
parameter inference and literals) and helpers import only the standard library: they are loaded from
the installed papermill under a private package name, so the same code answers, at the installed
version, and `import papermill` elsewhere in the process is untouched. Its CLI's value typing and YAML
loader live in modules that import the executor, so they are restated here (a test keeps them equal).
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import sys
import types
from pathlib import Path

import yaml

_ALIAS = f"{__name__}._papermill"


def papermill_module(name: str) -> types.ModuleType:
    """`papermill.<name>` for one of its standard-library-only modules (translators, utils, exceptions,
    models): the real one when papermill is imported already, else loaded without papermill's `__init__`."""
    if "papermill" in sys.modules:
        return importlib.import_module(f"papermill.{name}")
    if _ALIAS not in sys.modules:
        spec = importlib.util.find_spec("papermill")
        if spec is None or not spec.submodule_search_locations:
            raise ImportError("papermill is not installed")
        package = types.ModuleType(_ALIAS)
        package.__path__ = list(spec.submodule_search_locations)
        sys.modules[_ALIAS] = package
    return importlib.import_module(f"{_ALIAS}.{name}")


def resolve_type(value: str):
    """A `-p NAME VALUE` value as papermill's CLI types it (`papermill.cli._resolve_type`)."""
    if value == "True":
        return True
    if value == "False":
        return False
    if value == "None":
        return None
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return value


class NoDatesSafeLoader(yaml.SafeLoader):
    """papermill's loader of `-f` files and `-y` texts (`papermill.iorw.NoDatesSafeLoader`): dates stay text."""

    yaml_implicit_resolvers = {k: [r for r in v if r[0] != "tag:yaml.org,2002:timestamp"]
                               for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}


class Node(dict):
    """A notebook's JSON objects with attribute access, as papermill's helpers read a NotebookNode."""

    def __getattr__(self, name: str):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def read_notebook(path: str | Path):
    """A notebook as papermill reads it for a run (every cell with a `tags` list, sources as one text).
    A notebook older than format 4 goes through papermill's own reader (nbformat converts it)."""
    data = json.loads(Path(path).read_text(encoding="utf-8"), object_hook=Node)
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list) or data.get("nbformat", 0) < 4:
        from papermill.iorw import load_notebook_node

        return load_notebook_node(str(path))
    for cell in data.cells:
        if isinstance(cell.get("source"), list):
            cell["source"] = "".join(cell["source"])
        cell.setdefault("metadata", Node()).setdefault("tags", [])
    data.setdefault("metadata", Node())
    return data


def infer_parameters(nb) -> list:
    """The parameters papermill infers from the cell tagged `parameters` (its `_infer_parameters`, with
    its own helpers and translators): (name, inferred_type_name, default, help) tuples."""
    utils, translators = papermill_module("utils"), papermill_module("translators")
    index = utils.find_first_tagged_cell_index(nb, "parameters")
    if index < 0:
        return []
    # The job runs every notebook on its environment's `python3` kernel, so a notebook saved without a
    # kernelspec (papermill would refuse it) is read as Python.
    meta = nb.get("metadata") or {}
    kernel = (meta.get("kernelspec") or {}).get("name") or "python3"
    language = ((meta.get("language_info") or {}).get("name") or (meta.get("kernelspec") or {}).get("language")
                or "python")
    translator = translators.papermill_translators.find_translator(kernel, language)
    try:
        return translator.inspect(nb.cells[index])
    except NotImplementedError:
        return []
