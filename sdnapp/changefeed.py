"""Hearing of the writes other instances commit to a shared (PostgreSQL) store.

Every write transaction adds a numbered row to the store's `changes` table and NOTIFYs on commit
(sdnapp/engines.py). Here one thread LISTENs on a connection of its own and, on each notification or
every POLL_INTERVAL anyway, reads whether a row newer than the last it saw was written by another
instance: a lost notification (or a connection lost and made again) only delays a change, never
loses it. What to do then is the caller's (`on_change`: re-read the desired state, reconcile).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from .engines import ChangeSource, StoreUnavailable

LOG = logging.getLogger(__name__)

POLL_INTERVAL = 2.0
STOP_SLICE = 0.5
RECONNECT_DELAY = 1.0
PRUNE_INTERVAL = 60.0
KEEP_CHANGES = 10000  # rows kept in the feed: far more than pile up between two polls


class ChangeFeed:
    def __init__(self, source: ChangeSource, on_change: Callable[[], None], poll: float = POLL_INTERVAL) -> None:
        self.source = source
        self.on_change = on_change
        self.poll = poll
        self.told = 0  # how many times on_change was called
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="change-feed", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.poll + 5)
        self.source.close()

    def _tell(self) -> None:
        self.told += 1
        try:
            self.on_change()
        except Exception:
            LOG.exception("acting on another instance's change failed")

    def _run(self) -> None:
        seen: int | None = None
        lost = False
        while not self._stop.is_set():
            try:
                self.source.open()
                top, _ = self.source.since(seen or 0)
                if seen is not None:
                    # Back after losing the database: what was announced meanwhile went unheard.
                    LOG.info("change feed: listening again")
                    self._tell()
                seen, lost = top, False
                pruned = polled = time.monotonic()
                while not self._stop.is_set():
                    # In slices, so that stop() is not kept waiting for a whole poll.
                    if not self.source.wait(min(self.poll, STOP_SLICE)) and time.monotonic() - polled < self.poll:
                        continue
                    polled = time.monotonic()
                    top, theirs = self.source.since(seen)
                    seen = top
                    if theirs:
                        self._tell()
                    if time.monotonic() - pruned > PRUNE_INTERVAL:
                        self.source.prune(KEEP_CHANGES)
                        pruned = time.monotonic()
            except StoreUnavailable as e:
                if not lost:
                    LOG.warning("change feed: %s; trying again", e)
                    lost = True
                self._stop.wait(RECONNECT_DELAY)
