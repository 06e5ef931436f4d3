"""The config reader on hostile and random input: a JobSpec or one ConfigError, never a traceback, and
never unbounded memory (YAML aliases can make a 1 KB file expand to gigabytes)."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jupyter_jobs.errors import ConfigError
from jupyter_jobs.spec.config import parse_config

EXAMPLES = sorted((Path(__file__).parents[2] / "examples").glob("*/config.yaml"))
BILLION_LAUGHS = """\
cmd: echo hi
a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]
i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]
env:
  vars: *i
"""


def read(text: str, base_dir: Path | None = None):
    """What every caller of the reader may see: a LoadedConfig or a ConfigError (returned here)."""
    try:
        return parse_config(text, source="config.yaml", base_dir=base_dir, environ={"HOME": "/home/u"})
    except ConfigError as exc:
        message = str(exc)
        assert message and "\n" not in message.split(" (")[0], message
        return exc


#: Parses each text of a JSON list read from stdin under tracemalloc, in a process whose address space is
#: capped (so an unbounded expansion is a MemoryError there, not a machine out of memory); prints each
#: result as [error message or null, error line, peak bytes].
_BOUNDED = """
import json, resource, sys, tracemalloc
resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))
from jupyter_jobs.errors import ConfigError
from jupyter_jobs.spec.config import parse_config
out = []
for text in json.load(sys.stdin):
    tracemalloc.start()
    try:
        parse_config(text, source="config.yaml", environ={})
        out.append([None, None])
    except ConfigError as exc:
        out.append([str(exc), exc.line])
    out[-1].append(tracemalloc.get_traced_memory()[1])
    tracemalloc.stop()
print(json.dumps(out))
"""


def parse_bounded(texts: list[str]) -> list[tuple[str | None, int | None, int]]:
    proc = subprocess.run([sys.executable, "-c", _BOUNDED], input=json.dumps(texts), capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


def test_billion_laughs_is_refused_in_bounded_memory():
    [(message, line, peak)] = parse_bounded([BILLION_LAUGHS])
    assert message and "more than" in message and "values" in message and line is not None, message
    assert message.startswith(f"config.yaml:{line} ") and "\n" not in message
    assert peak < 64 << 20, f"peak {peak / 2**20:.0f} MiB"


@pytest.mark.parametrize("text, line", [
    ("cmd: echo\nenv: &e\n  vars: *e\n", 2),
    ("cmd: echo\nx: &a [1, [2, *a]]\n", 2),
    ("&root\ncmd: echo\nenv: {vars: *root}\n", 1),
])
def test_a_recursive_alias_is_one_line_naming_its_line(text, line):
    result = read(text)
    assert isinstance(result, ConfigError), result
    assert "recursive alias" in str(result) and result.line == line, str(result)


def test_deep_nesting_is_refused_not_a_recursion_error():
    for text in ("cmd: echo\nx: " + "[" * 5000 + "]" * 5000 + "\n",
                 "cmd: echo\nx:\n" + "".join(" " * i + "- \n" for i in range(1, 3000))):
        result = read(text)
        assert isinstance(result, ConfigError), result


def test_aliases_within_the_budget_still_work():
    text = "cmd: echo ${A}\nargs: &args {A: one}\nenv:\n  vars: &v [X: 1]\n"
    loaded = read(text)
    assert not isinstance(loaded, ConfigError), loaded
    assert loaded.spec.args == {"A": "one"} and loaded.spec.env.vars == {"X": "1"}


# -- hypothesis: random text and mutations of the examples ---------------------------------------------------
TOKENS = list(" \n\t-:[]{},&*!|>'\"#%@`?.${}0123456789abcxyzAZ_/\\\x00\x1b\u00e9") + [
    "cmd", "inputs", "outputs", "env", "vars", "args", "python", "docker", "output-datasets", "name", "var",
    "size", "timeout", "<<", "&a ", "*a", "\n  - ", ": ", "..", "/etc/passwd", "null", "3.10"]
YAMLISH = st.lists(st.sampled_from(TOKENS), max_size=60).map("".join)


@st.composite
def mutated_example(draw):
    text = EXAMPLES[draw(st.integers(0, len(EXAMPLES) - 1))].read_text()
    for _ in range(draw(st.integers(1, 4))):
        pos = draw(st.integers(0, len(text)))
        op = draw(st.sampled_from(["insert", "delete", "replace", "duplicate"]))
        piece = draw(YAMLISH)
        if op == "insert":
            text = text[:pos] + piece + text[pos:]
        elif op == "delete":
            text = text[:pos] + text[pos + draw(st.integers(1, 40)):]
        elif op == "replace":
            text = text[:pos] + piece + text[pos + len(piece):]
        else:
            end = draw(st.integers(pos, len(text)))
            text = text[:end] + text[pos:end] + text[end:]
    return text


FUZZ = settings(max_examples=400, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@FUZZ
@given(text=YAMLISH)
def fuzz_random_text(text):
    read(text)


@FUZZ
@given(text=mutated_example())
def fuzz_mutated_examples(text):
    for example in EXAMPLES:  # with the example's folder too, so input paths are looked up on disk
        read(text, base_dir=example.parent)


@pytest.mark.parametrize("fuzz", [fuzz_random_text, fuzz_mutated_examples], ids=["random", "mutated-examples"])
def test_fuzzed_configs_give_a_spec_or_a_config_error_in_bounded_memory(fuzz):
    assert EXAMPLES, "examples/*/config.yaml are the fuzzer's seeds"
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    fuzz()
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) << 10  # KiB on Linux
    assert grown < 256 << 20, f"max RSS grew {grown / 2**20:.0f} MiB"


def test_hostile_configs_stay_within_bounded_memory():
    """Expansion, width and depth: each refused in a few MB, in a process capped at 3 GiB."""
    texts = [EXAMPLES[0].read_text(), BILLION_LAUGHS, BILLION_LAUGHS.replace("lol", "x" * 1000),
             "cmd: x\n" + "k: &k [" * 60, "cmd: x\nx: [" + ", ".join(["a"] * 50_000) + "]\n"]
    baseline, *hostile = parse_bounded(texts)
    for text, (message, _, peak) in zip(texts[1:], hostile):
        assert message, text[:80]
        assert peak < baseline[2] + (64 << 20), f"{message}: peak {peak / 2**20:.0f} MiB"
