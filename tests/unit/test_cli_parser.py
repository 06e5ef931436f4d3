"""The command line's own shape: every option says what it does, a run is named by a positional id
(`--id` kept), and `run` takes papermill's positional output path wherever it stands."""

from __future__ import annotations

import argparse

import pytest

from jupyter_jobs.cli.commands import build_parser, main


def _parsers(parser: argparse.ArgumentParser, path: str = "jupyter jobs"):
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _parsers(sub, f"{path} {name}")


def test_every_option_and_argument_has_a_help_line():
    missing = [f"{path}: {action.option_strings or action.dest}"
               for path, parser in _parsers(build_parser()) for action in parser._actions
               if not isinstance(action, argparse._SubParsersAction) and not (action.help or "").strip()]
    assert missing == []
    subcommands = [name for _, parser in _parsers(build_parser()) for action in parser._actions
                   if isinstance(action, argparse._SubParsersAction)
                   for name in action.choices if not any(c.dest == name and c.help for c in action._choices_actions)]
    assert subcommands == []


@pytest.mark.parametrize("command", ["get", "logs", "cancel", "attach", "download-files", "delete", "fork",
                                     "set-data-ttl"])
def test_a_run_is_named_by_a_positional_id_or_by_id(command, capsys):
    extra = ["--days", "1"] if command == "set-data-ttl" else []
    for argv in ([command, "abc", *extra], [command, "--id", "abc", *extra]):
        # No run "abc" exists: the command gets as far as looking it up, and says so in one line.
        assert main(argv) == 2
        assert "abc" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        main([command, *extra])
    assert exit_.value.code == 2 and "the run's id is required" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([command, "abc", "--id", "abd", *extra])
    assert "two run ids" in capsys.readouterr().err


def test_run_takes_the_output_path_before_or_after_the_flags(capsys):
    parser = build_parser()
    args = parser.parse_args(["run", "in.ipynb", "out.ipynb", "-p", "x", "1"])
    assert (args.notebook, args.output_path, args.parameters) == ("in.ipynb", "out.ipynb", [["x", "1"]])
    # After the flags (argparse alone refuses it): the missing notebook is then the one error.
    assert main(["run", "missing.ipynb", "-p", "x", "1", "out.ipynb"]) == 2
    assert "notebook missing.ipynb not found" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["run", "in.ipynb", "-p", "x", "1", "out.ipynb", "more.ipynb"])
    assert "unrecognized arguments: out.ipynb more.ipynb" in capsys.readouterr().err
