"""Judge problems worth one line on the terminal, collected for the command line to print.

The library does not print: a grade's `method_reason` says why it fell back to the embeddings,
and the command line prints these lines once, after its output (as it does the caches'
warnings, evaluator.kvstore). A line told for many answers is printed once, with their number.
Thread-safe: a batch grades in several threads.
"""

from __future__ import annotations

import threading

MAX_LINES = 32  # distinct lines kept: a long-lived process using the library stays bounded

_lock = threading.Lock()
_told: dict[str, int] = {}


def tell(line: str) -> None:
    """Note `line` for the command line (once per answer it concerns)."""
    with _lock:
        if line in _told or len(_told) < MAX_LINES:
            _told[line] = _told.get(line, 0) + 1


def drain() -> list[str]:
    """The lines told since the last drain, in order, each once; forgets them."""
    with _lock:
        lines = [f"{line} ({n} answers)" if n > 1 else line for line, n in _told.items()]
        _told.clear()
    return lines
