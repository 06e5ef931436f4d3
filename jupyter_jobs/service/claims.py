"""Claims on runs being started, and the leases that keep them.

A claim (`claimed_by`) names the process that claimed a run (`procs.identity`), a token every change
of the claimed row compares on, and a lease (`lease_until`, a time on the claimer's clock). A claimer
on this host is judged by its pid; one on another host cannot be seen from here, so its claim holds
only while its lease does. The claiming process renews its leases (`ClaimKeeper`) from the claim
until the runner's handle is stored, so a server that dies mid-start (during an image pull, say)
leaves a claim that lapses within one lease.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time

from ..runner.protocol import Status
from .index import RunIndex
from .transitions import Transition

log = logging.getLogger(__name__)


def new_claim(who: dict, lease_seconds: float) -> dict:
    """`claimed_by` for a claim by the process `who`: a fresh token to compare on, leased from now."""
    return {**who, "claim": secrets.token_hex(8), "lease_until": time.time() + lease_seconds}


class ClaimKeeper:
    """This process's claims: renews their leases in a background thread (while it holds any) and
    makes every change of a claimed row, so a renewal never races a change of the claim's token."""

    def __init__(self, index: RunIndex, lease_seconds: float):
        self.index = index
        self.lease_seconds = lease_seconds
        self._held: dict[str, dict] = {}  # run id -> the claim as last written
        self._lock = threading.Lock()
        self._renewer: threading.Thread | None = None

    def hold(self, run_id: str, claim: dict) -> None:
        """Keep `claim` (just written by this process) alive until it is changed away or released."""
        with self._lock:
            self._held[run_id] = claim
            if self._renewer is None:
                self._renewer = threading.Thread(target=self._renew, name="jobs-claims", daemon=True)
                self._renewer.start()

    def release(self, run_id: str) -> None:
        with self._lock:
            self._held.pop(run_id, None)

    def change(self, run_id: str, from_status: str | None, changes: dict) -> bool:
        """Apply `changes` to the run only while it holds this process's claim; a new `claimed_by` is
        leased from now and kept, None ends the claim. False (and the claim forgotten) when the run no
        longer holds it: another process undid or took it over."""
        with self._lock:
            claim = self._held.get(run_id)
            if claim is None:
                return False
            new = changes.get("claimed_by", claim)
            if new:
                new = {**new, "lease_until": time.time() + self.lease_seconds}
                changes = {**changes, "claimed_by": new}
            applied = self.index.apply(Transition(run_id, from_status, changes, claim=claim["claim"]))
            if applied and new:
                self._held[run_id] = new
            else:
                self._held.pop(run_id, None)
            return applied

    def _renew(self) -> None:
        """Renew every held lease a few times per lease; ends when nothing is held."""
        while True:
            time.sleep(self.lease_seconds / 3)
            with self._lock:
                if not self._held:
                    self._renewer = None
                    return
                run_ids = list(self._held)
            for run_id in run_ids:
                try:
                    self.change(run_id, Status.PREPARING.value, {})  # False: released or taken over meanwhile
                except Exception:  # the index unreachable for a moment: try again next round
                    log.warning("run %s: renewing its claim's lease failed", run_id, exc_info=True)
