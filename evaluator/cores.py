"""How many CPU cores this process can use without fighting other work for them.

Threads that outnumber the free cores wait on each other: the sentence encoder beside one busy
core encodes half as fast with 2 threads as with 1 (benchmarks/README.md, batch_throughput.py),
and llama.cpp collapses further. The count is the cores this process may run on, less the load
other processes put on the machine (the one-minute load average, rounded), and at least one.
"""

from __future__ import annotations

import os

MAX_THREADS = 4  # beyond this the encoder gains little on short texts


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        return os.cpu_count() or 1


def free_cores() -> int:
    """Cores not kept busy by other processes, at least 1."""
    total = usable_cores()
    try:
        busy = round(os.getloadavg()[0])
    except (AttributeError, OSError):  # no load average on this platform
        busy = 0
    return max(1, min(total - busy, MAX_THREADS))
