"""Threads never outnumber the free cores (cores.py)."""

from __future__ import annotations

import os

import pytest

from evaluator import cores


@pytest.mark.parametrize(("load", "free"), [(0.0, 2), (0.4, 2), (0.6, 1), (1.0, 1), (5.0, 1)])
def test_free_cores_leave_the_busy_ones_alone(
    monkeypatch: pytest.MonkeyPatch, load: float, free: int
) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    monkeypatch.setattr(os, "getloadavg", lambda: (load, load, load))
    assert cores.free_cores() == free


def test_free_cores_is_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(64)), raising=False)
    monkeypatch.setattr(os, "getloadavg", lambda: (0.0, 0.0, 0.0))
    assert cores.free_cores() == cores.MAX_THREADS
