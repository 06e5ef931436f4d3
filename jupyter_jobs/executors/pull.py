"""Pulling an image can take minutes: turn the Docker Engine's pull stream into a few readable lines.

The Engine streams one JSON object per layer step (`Pulling fs layer`, `Downloading` with
`progressDetail`, `Download complete`, `Pull complete`, `Already exists`, ...) and `error` on failure.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from ..spec.units import format_size

_DONE = frozenset({"Pull complete", "Already exists"})


class PullFailed(Exception):
    pass


class PullProgress:
    """Follows the layers of one pull; `line()` says where it stands."""

    def __init__(self, image: str):
        self.image = image
        self.layers: dict[str, str] = {}
        self.downloaded: dict[str, int] = {}
        self.sizes: dict[str, int] = {}

    def feed(self, event: dict) -> None:
        if event.get("error"):
            raise PullFailed(str(event["error"]).strip())
        layer, status = event.get("id"), event.get("status", "")
        if not layer or status.startswith(("Pulling from", "Digest:", "Status:")):
            return
        self.layers[layer] = status
        detail = event.get("progressDetail") or {}
        if status == "Downloading" and detail.get("total"):
            self.downloaded[layer] = int(detail.get("current", 0))
            self.sizes[layer] = int(detail["total"])
        elif status in ("Download complete", "Pull complete") and layer in self.sizes:
            self.downloaded[layer] = self.sizes[layer]

    def line(self) -> str:
        done = sum(1 for status in self.layers.values() if status in _DONE)
        text = f"pulling image {self.image}: {done}/{len(self.layers)} layers"
        if self.sizes:
            text += f", {format_size(sum(self.downloaded.values()))} of {format_size(sum(self.sizes.values()))}"
        return text


def follow_pull(image: str, events: Iterable[dict], say: Callable[[str], None], every: float = 2.0) -> None:
    """Consume a pull stream, saying how far it got at most every `every` seconds, and when done."""
    progress = PullProgress(image)
    said = time.monotonic()
    say(f"pulling image {image} (not on this Docker host yet)")
    for event in events:
        progress.feed(event)
        if time.monotonic() - said >= every:
            say(progress.line())
            said = time.monotonic()
    say(progress.line().replace("pulling image", "pulled image", 1))
