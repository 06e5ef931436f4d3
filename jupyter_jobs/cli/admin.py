"""Commands about the service rather than one run: secrets, environments, instance types, requirements."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ..errors import JobsError
from ..spec.units import plural
from .common import _client


def cmd_secrets(args) -> int:
    """Values come from stdin or a hidden prompt, never argv (which `ps` and shell history show)."""
    from .. import console

    client = _client()
    if args.action == "list":
        for name in client.secret_names():
            print(name)
        return 0
    if args.action == "delete":
        client.delete_secret(args.name)
        console.info(f"secret {args.name} deleted")
        return 0
    if sys.stdin.isatty():
        import getpass

        value = getpass.getpass(f"value of {args.name}: ")
    else:
        value = sys.stdin.read().rstrip("\n")
    client.set_secret(args.name, value)
    console.info(f"secret {args.name} saved; jobs get it as ${args.name}")
    return 0


def cmd_generate_requirements(args) -> int:
    from .. import console
    from ..pyenv.generate import generate_requirements

    text = generate_requirements([Path(f) for f in args.files])
    if args.output:
        Path(args.output).write_text(text)
        console.info(f"wrote {args.output}")
    else:
        sys.stdout.write(text)
    return 0


def cmd_envs(args) -> int:
    """The host's env cache, then each Docker env volume of this data dir (listed and pruned by the
    same code, run in a short container of the volume's image)."""
    from .. import console
    from ..pyenv.cache import EnvCache, format_entries
    from ..settings import load_settings
    from ..spec.units import format_size, parse_size

    settings = load_settings()
    cache = EnvCache(Path(settings.data_dir) / "envs")
    docker = _docker_envs(settings)
    if args.action == "list":
        entries = cache.list()
        print(f"{cache.root}:")
        print(format_entries(entries) if entries else "no cached environments")
        for volume, image in docker.env_volumes() if docker else []:
            print(f"\nDocker volume {volume} (image {image}):")
            print(docker.env_cache(volume, image, "list").rstrip())
        return 0
    try:
        limit = parse_size(args.max_size)
    except ValueError as exc:
        raise JobsError(f"--max-size: {exc}") from None
    removed = cache.prune(limit)
    kept = format_size(sum(e.size_bytes for e in cache.list()))
    console.info(f"evicted {plural(len(removed), 'environment')}; {kept} kept")
    for volume, image in docker.env_volumes() if docker else []:
        out = docker.env_cache(volume, image, "prune", "--max-bytes", str(limit))
        console.info(f"Docker volume {volume}: evicted {plural(out.count('removed '), 'environment')}")
    return 0


def _docker_envs(settings):
    """The Docker executor when its engine answers, else None. Unreachable is only worth a note when
    the operator configured Docker as an executor."""
    from ..executors import make_executor

    try:
        docker = make_executor("docker", settings)
        docker.client  # noqa: B018 - connects, or says why not
        return docker
    except JobsError as exc:
        if "docker" in settings.executors:
            from .. import console

            console.info(f"note: Docker environments not shown: {exc}")
        return None


def cmd_instance_types(args) -> int:
    from .. import console

    entries = _client().instance_types(args.executor)
    if args.format == "json":
        print(json.dumps([{**t.model_dump(), "available": reason is None, "reason": reason}
                          for t, reason in entries], indent=1))
        return 0
    rows = [[t.name, f"{t.cpus:g}", f"{t.memory_gb:g}", f"{t.gpus:g}" if t.gpus else "-",
             t.gpu_kind or "-", "yes" if reason is None else f"no: {reason}"] for t, reason in entries]
    print(console.table(["NAME", "VCPU", "RAM GB", "GPUS", "GPU KIND", "RUNS HERE"], rows))
    return 0
