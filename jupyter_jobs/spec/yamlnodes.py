"""YAML read as nodes that remember their line, so every config error can point at it.

We compose (not construct) the document: scalars keep the text the user typed, so `3.10` stays
"3.10" and `Yes` stays "Yes" where a string is meant, and we decide the type per key.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import yaml

from ..errors import ConfigError

try:  # the C composer is several times faster; fall back quietly where libyaml is absent
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

#: A config is a few hundred values: more means aliases that repeat an anchor over and over (a
#: "billion laughs"), which would grow to gigabytes if expanded. Nesting deeper than this is no config either.
MAX_VALUES = 10_000
MAX_DEPTH = 64

_NULL = "tag:yaml.org,2002:null"
_BOOL = "tag:yaml.org,2002:bool"


@dataclass
class Node:
    """One YAML node: `kind` is map, seq or scalar; `key` is the dotted path used in messages."""

    kind: str
    line: int
    key: str
    text: str | None = None
    tag: str = ""
    style: str | None = None  # `>` (folded) or `|` (literal) for block scalars
    items: list = field(default_factory=list)  # seq: [Node]; map: [(key_text, key_line, Node)]

    # -- typed access -------------------------------------------------------------------------
    @property
    def is_null(self) -> bool:
        return self.kind == "scalar" and self.tag == _NULL

    def error(self, message: str, hint: str | None = None) -> ConfigError:
        return ConfigError(message, key=self.key, line=self.line, hint=hint)

    def expect(self, kind: str, what: str) -> Node:
        if self.kind != kind or self.is_null:
            raise self.error(f"must be {what}, not {self.describe()}")
        return self

    def describe(self) -> str:
        if self.is_null:
            return "empty"
        return {"map": "a mapping", "seq": "a list"}.get(self.kind, f"the value {self.text!r}")

    def string(self, what: str = "a string") -> str:
        """The text as typed (numbers and booleans included): env values, versions, args."""
        if self.kind != "scalar" or self.is_null:
            raise self.error(f"must be {what}, not {self.describe()}")
        return self.text or ""

    def boolean(self) -> bool:
        if self.kind == "scalar" and self.tag == _BOOL:
            return self.text.lower() in ("true", "yes", "on", "y")
        raise self.error(f"must be true or false, not {self.describe()}")

    def mapping(self) -> dict[str, Node]:
        self.expect("map", "a mapping")
        return {k: v for k, _, v in self.items}

    def sequence(self, what: str = "a list") -> list[Node]:
        return self.expect("seq", what).items


def parse(text: str, source: str | None = None) -> Node | None:
    """Compose `text` into nodes; a syntax error becomes a ConfigError naming its line."""
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark, problem = exc.problem_mark or exc.context_mark, exc.problem or str(exc)
        # An unclosed quote or [ { is noticed only where the text ends or a later line starts: name
        # the line where it was opened instead (the context), and say where it was noticed.
        context = exc.context_mark
        if context and exc.problem_mark and exc.context and context.line < exc.problem_mark.line and (
                exc.problem_mark.index >= len(text) or exc.context.startswith(("while parsing a flow",
                                                                                 "while scanning a quoted"))):
            problem = f"{problem} ({exc.context} that starts on this line; noticed on line " \
                      f"{exc.problem_mark.line + 1})"
            mark = context
        line = mark.line + 1 if mark else None
        raise ConfigError(
            f"YAML syntax error: {problem}", line=line, source=source,
            hint="check indentation and quoting on that line",
        ) from None
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow (NUL, most control characters)
        char = chr(exc.character) if isinstance(exc.character, int) else exc.character
        raise ConfigError(f"YAML does not allow the character {char!r} ({exc.reason})",
                          line=text.count("\n", 0, exc.position) + 1, source=source,
                          hint="remove it, or write it as an escape in a double-quoted string") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"YAML error: {str(exc).splitlines()[0]}", source=source) from None
    except RecursionError:  # the pure-Python composer (no libyaml) on very deep nesting
        raise ConfigError(f"the YAML is nested more than {MAX_DEPTH} levels deep", source=source) from None
    return None if root is None else _Converter(source).convert(root, "")


class _Converter:
    """Turns the composed graph into a tree of Nodes, expanding aliases with a budget: an alias is the
    very node its anchor names, so a node met again on its own path is a recursive alias."""

    def __init__(self, source: str | None):
        self.source = source
        self.left = MAX_VALUES
        self.path: set[int] = set()

    def convert(self, node: yaml.Node, key: str, line: int | None = None) -> Node:
        where = node.start_mark.line + 1
        if id(node) in self.path:
            raise ConfigError("an alias refers to the value that contains it (a recursive alias)", key=key or None,
                              line=where, source=self.source, hint="an alias `*name` must not sit inside `&name`")
        if len(self.path) >= MAX_DEPTH:
            raise ConfigError(f"values are nested more than {MAX_DEPTH} levels deep", key=key or None,
                              line=where, source=self.source)
        self.left -= 1
        if self.left < 0:
            raise ConfigError(f"the config expands to more than {MAX_VALUES} values", key=key or None,
                              line=where, source=self.source,
                              hint="aliases (`*name`) repeat what their anchor (`&name`) holds: repeat less")
        self.path.add(id(node))
        try:
            return _convert(node, key, line, self.convert)
        finally:
            self.path.discard(id(node))


def _convert(node: yaml.Node, key: str, line: int | None, convert) -> Node:
    """One node; its children go through `convert`."""
    line = line or node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        items, seen = [], {}
        for k, v in node.value:
            if not isinstance(k, yaml.ScalarNode):
                raise ConfigError("keys must be plain names", key=key or None, line=k.start_mark.line + 1)
            name = k.value
            child_key = f"{key}.{name}" if key else name
            if name in seen:
                raise ConfigError(
                    f"duplicate key (first on line {seen[name]})", key=child_key,
                    line=k.start_mark.line + 1, hint="keep one of them",
                )
            seen[name] = k.start_mark.line + 1
            # A value is reported at its key's line: a block list or mapping starts on the line
            # below (`inputs:` then `- a`), and "`inputs` has 101 entries" should point at `inputs:`.
            items.append((name, k.start_mark.line + 1, convert(v, child_key, k.start_mark.line + 1)))
        return Node("map", line, key, items=items, tag=node.tag)
    if isinstance(node, yaml.SequenceNode):
        return Node("seq", line, key,
                    items=[convert(v, f"{key}[{i}]") for i, v in enumerate(node.value)], tag=node.tag)
    return Node("scalar", line, key, text=node.value, tag=node.tag, style=node.style)
