"""`main`: parse a `jupyter jobs` command line and run its command; the table of commands.

User mistakes end in one line on stderr and exit code 2; `execute` and `attach` exit with the
job's own exit code.
"""

from __future__ import annotations

from ..errors import JobsError
from .admin import cmd_envs, cmd_generate_requirements, cmd_instance_types, cmd_secrets
from .common import _DOING, EXIT_DISK_FULL, EXIT_USAGE, _disk_full
from .parser import _take_id, build_parser
from .runs import cmd_cancel, cmd_cleanup, cmd_delete, cmd_download_files, cmd_get, cmd_list, cmd_logs, cmd_set_data_ttl
from .schedules import cmd_schedule
from .submitting import cmd_attach, cmd_execute, cmd_fork, cmd_run


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if args.command == "run" and args.output_path is None and len(extra) == 1 and not extra[0].startswith("-"):
        args.output_path = extra[0]  # `run in.ipynb -p x 1 out.ipynb`: argparse only takes it before options
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    _take_id(parser, args)
    from .. import console

    _DOING[:] = [f"running `jupyter jobs {args.command}`"]
    try:
        return COMMANDS[args.command](args) or 0
    except JobsError as exc:
        console.info(f"error: {exc}")
        return EXIT_USAGE
    except BrokenPipeError:  # `jupyter jobs list | head`
        return 0
    except Exception as exc:
        full = _disk_full(exc)
        if full is None:
            raise
        console.info(f"error: no space left on device while {_DOING[-1]} ({full})")
        return EXIT_DISK_FULL


COMMANDS = {
    "execute": cmd_execute, "run": cmd_run, "fork": cmd_fork, "attach": cmd_attach, "list": cmd_list, "get": cmd_get,
    "logs": cmd_logs, "cancel": cmd_cancel, "download-files": cmd_download_files,
    "set-data-ttl": cmd_set_data_ttl, "delete": cmd_delete, "cleanup": cmd_cleanup,
    "instance-types": cmd_instance_types, "secrets": cmd_secrets,
    "generate-requirements": cmd_generate_requirements, "envs": cmd_envs, "schedule": cmd_schedule,
}
