"""A notebook run's parameters, taken as papermill's CLI takes them, and checked against the notebook.

`-p NAME VALUE` is typed by papermill's rule (`papermill.cli._resolve_type`: True/False/None, int,
float, else the text), `-r NAME VALUE` stays text, `-f FILE` and `-y TEXT` are YAML read with
papermill's loader (dates stay text); `papermill_parts.py` holds them, without importing papermill.
They combine in papermill's order whatever the command line's: files, then YAML texts, then `-p`,
then `-r`. So a papermill pipeline's flags mean the same here.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import JobsError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The papermill parameter flags and `--lenient` (`jupyter jobs run`, `fork`, `%job run`)."""
    parser.add_argument("-p", "--parameters", "--parameter", nargs=2, action="append", metavar=("NAME", "VALUE"),
                        dest="parameters", help="a parameter, typed as papermill types it: True/False/None, "
                        "an int, a float (1e3 is 1000.0), else the text (repeatable)")
    parser.add_argument("-r", "--parameters-raw", "--parameters_raw", nargs=2, action="append",
                        metavar=("NAME", "VALUE"), dest="raw_parameters",
                        help="a parameter taken as text, never typed (repeatable)")
    parser.add_argument("-f", "--parameters-file", "--parameters_file", action="append", dest="parameter_files",
                        metavar="FILE", help="a YAML file of parameters (repeatable)")
    parser.add_argument("-y", "--parameters-yaml", "--parameters_yaml", action="append", dest="parameter_yaml",
                        metavar="YAML", help="parameters as a YAML mapping, e.g. 'x: 1' (repeatable)")
    parser.add_argument("--lenient", action="store_true",
                        help="as papermill: warn instead of refusing unknown parameters and notebooks "
                             "without a cell tagged `parameters`")


def from_args(args: argparse.Namespace) -> dict:
    return load_parameters(args.parameters, args.raw_parameters, args.parameter_files, args.parameter_yaml)


def load_parameters(typed: list | None = None, raw: list | None = None, files: list[str] | None = None,
                    yamls: list[str] | None = None) -> dict:
    """The parameters of the flags, merged in papermill's order (files, -y, -p, -r: later wins)."""
    import yaml

    from .papermill_parts import NoDatesSafeLoader, resolve_type

    def mapping(text: str, where: str) -> dict:
        try:
            data = yaml.load(text, Loader=NoDatesSafeLoader)
        except yaml.YAMLError as exc:
            raise JobsError(f"{where}: not YAML: {exc}") from None
        if data is not None and not isinstance(data, dict):
            raise JobsError(f"{where}: expected a mapping of parameter names to values")
        return data or {}

    parameters: dict = {}
    for file in files or []:
        try:
            text = Path(file).read_text()
        except OSError as exc:
            raise JobsError(f"-f {file}: {exc.strerror}") from None
        parameters.update(mapping(text, f"-f {file}"))
    for text in yamls or []:
        parameters.update(mapping(text, f"-y {text!r}"))
    for name, value in typed or []:
        parameters[name] = resolve_type(value)
    for name, value in raw or []:
        parameters[name] = value
    return parameters


def notebook_parameters(nb) -> list:
    """The parameters papermill infers from the cell tagged `parameters` (name, type, default, help)."""
    from .papermill_parts import infer_parameters

    return infer_parameters(nb)


def check_parameters(nb, path: Path, parameters: dict, lenient: bool = False) -> list[str]:
    """Refuse (or, `lenient`, warn about, as papermill does) parameters the notebook's `parameters` cell
    does not set, before anything is submitted. Returns the warnings."""
    if not parameters:
        return []
    known = [p.name for p in notebook_parameters(nb)]
    has_cell = any("parameters" in cell.metadata.get("tags", []) for cell in nb.cells)
    if not has_cell:
        message, hint = (f"{path.name} has no cell tagged `parameters`, so it takes no parameters",
                         "tag the cell that sets the defaults with `parameters`, or pass --lenient")
    else:
        unknown = [name for name in parameters if name not in known]
        if not unknown:
            return []
        message = f"{path.name} has no parameter {', '.join(repr(n) for n in unknown)}"
        hint = f"its parameters: {', '.join(known) or 'none'}; --lenient passes them anyway"
    if not lenient:
        raise JobsError(message, hint=hint)
    return [message + ("; the parameters go in a cell at the top" if not has_cell else "; passed anyway")]


def typed_value(kind: str, text: str):
    """A form field's text read as the type the form declares for it (`TypedValue`): a browser's JSON
    turns the float `2.0` into the number `2`, so the Lab sends what was typed and it is typed here."""
    import ast
    import math

    if kind == "str":
        return text
    stripped = text.strip()
    if kind == "bool":
        if stripped.lower() not in ("true", "false"):
            raise ValueError(f"{text!r} is not True or False")
        return stripped.lower() == "true"
    if kind == "int":
        try:
            return int(stripped)
        except ValueError:
            raise ValueError(f"{text!r} is not an integer") from None
    if kind == "float":
        try:
            value = float(stripped)
        except ValueError:
            raise ValueError(f"{text!r} is not a number") from None
        if not math.isfinite(value):
            raise ValueError(f"{text!r} is not a finite number")
        return value
    try:  # any other type: a Python literal as the parameters cell writes it, else the text
        return ast.literal_eval(stripped)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return text


def injected_literals(parameters: dict) -> dict[str, str]:
    """Each parameter as the Python literal papermill injects (`2.0` stays `2.0`), for showing a run's
    parameters in `list` and the Lab."""
    from .papermill_parts import papermill_module

    translator = papermill_module("translators").PythonTranslator
    return {name: translator.translate(value) for name, value in parameters.items()}
