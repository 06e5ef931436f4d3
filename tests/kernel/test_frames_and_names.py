"""The pieces under the magics, without a kernel: display frames in stdout, free names of a cell,
typed values, parameters."""

from __future__ import annotations

import ast
import json

import pytest

from jupyter_jobs.errors import JobsError
from jupyter_jobs.notebook.parameters import load_parameters
from jupyter_jobs.notebook.variables import VariableError, choose, free_names, write_variables
from jupyter_jobs.runner.display import DisplayFrames
from jupyter_jobs.runner.nbexec import load_value, save_value
from jupyter_jobs.runner.protocol import DISPLAY_MARKER as MARKER


def frame(**fields) -> str:
    return MARKER + json.dumps(fields) + "\n"


def test_frames_are_cut_out_of_stdout_in_order_even_when_split_across_reads():
    html = frame(msg_type="display_data", data={"text/html": "<b>x</b>"}, metadata={}, display_id=None)
    text = "before\n" + html + "after\n"
    for cut in range(1, len(text)):
        parser = DisplayFrames()
        parts = parser.feed(text[:cut]) + parser.feed(text[cut:]) + parser.feed("", final=True)
        merged = []
        for kind, value in parts:
            if kind == "text" and merged and merged[-1][0] == "text":
                merged[-1] = ("text", merged[-1][1] + value)
            elif kind != "text" or value:
                merged.append((kind, value))
        assert [k for k, _ in merged] == ["text", "display", "text"], (cut, merged)
        assert merged[0][1] == "before\n" and merged[2][1] == "after\n"
        assert merged[1][1]["data"] == {"text/html": "<b>x</b>"}


def test_a_broken_or_unfinished_frame_is_kept_as_text():
    parser = DisplayFrames()
    assert parser.feed(MARKER + "not json\n") == [("text", MARKER + "not json\n")]
    parser = DisplayFrames()
    assert parser.feed(MARKER + '{"msg_type": "display_data"') == []
    assert parser.feed("", final=True) == [("text", MARKER + '{"msg_type": "display_data"')]
    assert DisplayFrames().feed("plain \x1e text") == [("text", "plain \x1e text")]


@pytest.mark.parametrize("source, expected", [
    ("y = x + 1", ["x"]),
    ("x = 1\nprint(x)", ["print"]),
    ("x = x + 1", ["x"]),
    ("x += 1", ["x"]),
    ("for i in items:\n    total = i", ["items"]),
    ("[a * k for a in data]", ["k", "data"]),
    ("def f(a):\n    return a + scale\nf(3)", ["scale"]),
    ("df['c'] = 1", ["df"]),
    ("import numpy as np\nnp.zeros(n)", ["n"]),
    ("with open(path) as fh:\n    fh.read()", ["open", "path"]),
    ("try:\n    pass\nexcept ValueError as e:\n    print(e)", ["ValueError", "print"]),
    ("g = lambda v: v * w", ["w"]),
])
def test_free_names(source, expected):
    assert sorted(free_names(ast.parse(source))) == sorted(expected)


def test_choose_turns_modules_and_importable_functions_into_imports():
    import math
    import os.path

    ns = {"np_mod": math, "join": os.path.join, "sqrt": math.sqrt, "n": 3, "In": [], "_": 1, "_i3": ""}
    sent = choose(["np_mod", "join", "sqrt", "n", "In", "_", "_i3", "missing"], [], ns, {"In"})
    assert "import math as np_mod" in sent.prelude
    assert f"from {os.path.join.__module__} import join" in sent.prelude
    assert "from math import sqrt" in sent.prelude
    assert sent.variables == {"n": 3}
    with pytest.raises(VariableError, match="--in nope"):
        choose([], ["nope"], ns, set())


def test_values_round_trip_typed(tmp_path):
    np = pytest.importorskip("numpy")
    pd = pytest.importorskip("pandas")
    values = {"i": 7, "d": {"a": [1, 2]}, "arr": np.arange(6).reshape(2, 3),
              "df": pd.DataFrame({"a": [1.5, 2.5], "b": ["x", "y"]})}
    formats = {}
    for name, value in values.items():
        info = save_value(name, value, str(tmp_path), 1 << 30)
        formats[name] = info["format"]
        back = load_value(str(tmp_path / info["file"]), info["format"])
        if name == "arr":
            assert (back == value).all() and back.dtype == value.dtype
        elif name == "df":
            pd.testing.assert_frame_equal(back, value)
        else:
            assert back == value
    assert formats["arr"] == "npy"
    assert formats["df"] == ("parquet" if _has("pyarrow") else formats["i"])


def test_too_large_variable_names_itself(tmp_path):
    np = pytest.importorskip("numpy")
    sent = choose(["big"], [], {"big": np.zeros(25_000_000, dtype="uint8")}, set())
    with pytest.raises(VariableError) as info:
        write_variables(sent, tmp_path, 1 << 30)
    assert "big" in str(info.value) and "25.0 MB" in str(info.value) and "--in big" in str(info.value)
    sent = choose([], ["big"], {"big": np.zeros(2_000, dtype="uint8")}, set())
    with pytest.raises(VariableError, match="--in big: big is 2.0 KB"):
        write_variables(sent, tmp_path, 1000)


def test_parameters_are_typed_like_papermill(tmp_path):
    (tmp_path / "p.yaml").write_text("a: 1\nb: text\n")
    params = load_parameters([("a", "3"), ("c", "0.5"), ("d", "True"), ("e", "hello world"), ("f", "yes"),
                              ("g", "1e3"), ("h", "None")], [("r", "7")], [str(tmp_path / "p.yaml")])
    assert params == {"a": 3, "b": "text", "c": 0.5, "d": True, "e": "hello world", "f": "yes", "g": 1000.0,
                      "h": None, "r": "7"}
    (tmp_path / "bad.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(JobsError, match="mapping"):
        load_parameters(files=[str(tmp_path / "bad.yaml")])


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None
