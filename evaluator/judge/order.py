"""The order judge requests go out in, so a server's prompt cache is paid for once per rubric.

A request's prompt opens with its static part (instructions, then the rubric), and a
llama.cpp-style server keeps each slot's last prompt, serving a new request from the slot that
shares the longest prefix with it. One rubric's answers sent one after another by one worker
therefore read the rubric once; sent side by side, every slot reads it again (on 2 CPU cores a
~900-token prefix costs ~7 s each time).
"""

from __future__ import annotations

from collections.abc import Sequence


def prefix_runs(keys: Sequence[str], workers: int) -> list[list[int]]:
    """Indexes of `keys` (each request's rubric id) in runs to send one after another: one run
    per rubric, in rubric order, the longest runs halved until there are at least `workers`
    runs (a batch with a single question still keeps every worker busy)."""
    by_key: dict[str, list[int]] = {}
    for i, key in sorted(enumerate(keys), key=lambda item: item[1]):
        by_key.setdefault(key, []).append(i)
    runs = list(by_key.values())
    while len(runs) < workers:
        longest = max(range(len(runs)), key=lambda n: len(runs[n]), default=None)
        if longest is None or len(runs[longest]) < 2:
            break
        run = runs[longest]
        runs[longest : longest + 1] = [run[: len(run) // 2], run[len(run) // 2 :]]
    return runs
