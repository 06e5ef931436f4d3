"""The hello example: reads names, greets each with a short pause, reports progress, writes outputs."""

import argparse
import json
import os
import sys
import time
from pathlib import Path


def progress(percent: float, message: str) -> None:
    """Append a progress line where `jupyter jobs execute` (and the UI) pick it up."""
    path = os.environ.get("JOB_PROGRESS_FILENAME")
    if path:
        with open(path, "a") as fh:
            fh.write(json.dumps({"progress": percent, "message": message}) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--names", required=True)
    parser.add_argument("--greeting", default="Hello")
    parser.add_argument("--pause", type=float, default=0.3)
    parser.add_argument("--report", required=True)
    parser.add_argument("--cards", required=True)
    args = parser.parse_args()

    names = [line.strip() for line in Path(args.names).read_text().splitlines() if line.strip()]
    mark = os.environ.get("PUNCTUATION", ".")
    cards = Path(args.cards)
    cards.mkdir(parents=True, exist_ok=True)
    print(f"greeting {len(names)} people on {os.uname().nodename} (job {os.environ.get('JOB_ID', '?')})")
    for i, name in enumerate(names, 1):
        line = f"{args.greeting}, {name}{mark}"
        print(line)
        (cards / f"{i:02d}-{name.lower()}.txt").write_text(line + "\n")
        progress(100 * i / len(names), f"greeted {name}")
        time.sleep(args.pause)
    print(f"done: {len(names)} greetings", file=sys.stderr)
    Path(args.report).write_text(f"{len(names)} greetings: {', '.join(names)}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
