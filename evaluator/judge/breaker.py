"""The judge's circuit breaker: after a few failures in a row, a run stops calling the judge.

A judge that is down fails every answer alike, each after its timeout, and a batch would pay
that on every row. After FAILURES_IN_A_ROW failures of the server itself (no token, no
connection, an HTTP error, a reply that is not an event stream), the rest of the run is graded
by the embeddings alone, each grade saying why, and the command line says so once. A reply the
server did send, usable or not, resets the count: the server works, and that answer was hard.
The judge stays off for the rest of the run once it is off. Thread-safe: a batch judges in
several threads. Once a failure is counted, a new request waits until the requests already
on their way have ended: a server that is down then costs one wave of timeouts (the requests
sent together), not one more per worker.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from evaluator.errors import JudgeError

FAILURES_IN_A_ROW = 3


class JudgeOff(JudgeError):
    """Raised instead of calling a judge that the breaker has switched off."""


class Breaker:
    def __init__(self, limit: int = FAILURES_IN_A_ROW) -> None:
        self.limit = limit
        self._lock = threading.Condition()
        self._failures = 0
        self._in_flight = 0
        self._off: str | None = None  # why the judge is off, once it is

    def check(self) -> None:
        """Raises JudgeOff once the judge is off."""
        with self._lock:
            off = self._off
        if off is not None:
            raise JudgeOff(off)

    @contextmanager
    def attempt(self) -> Iterator[None]:
        """One request to the judge. Raises JudgeOff once the judge is off; after a failure,
        first waits for the requests on their way, whose outcome may switch it off."""
        with self._lock:
            while self._off is None and self._failures and self._in_flight:
                self._lock.wait()
            if self._off is not None:
                raise JudgeOff(self._off)
            self._in_flight += 1
        try:
            yield
        finally:
            with self._lock:
                self._in_flight -= 1
                self._lock.notify_all()

    def failed(self, reason: str) -> str | None:
        """Counts a failure of the server; returns why the judge is now off when this one
        switched it off (the once it should be said), else None."""
        with self._lock:
            if self._off is not None:
                return None  # a request already on its way when the judge went off
            self._failures += 1
            if self._failures < self.limit:
                return None
            self._off = (
                f"judge off for the rest of this run: {self._failures} failures in a row"
                f" (last: {reason})"
            )
            return self._off

    def answered(self) -> None:
        """The server sent a reply: the failures so far were not in a row."""
        with self._lock:
            self._failures = 0
