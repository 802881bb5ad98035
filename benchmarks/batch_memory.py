"""Does `evaluator batch` stream? Peak RSS of a 100,000-row batch must stay under 600 MB.

Writes a CSV of answers to the project's rubrics in a temporary folder (short and long answers,
blank ones, multi-line cells, a few 50 KB walls of text), runs the real command in a child
process with the hashing embedder, and reads the child's peak RSS from the kernel (`os.wait4`
rusage, the same figure `resource.getrusage(RUSAGE_CHILDREN)` reports). A smaller run first
shows whether memory grows with the number of rows.

    .venv/bin/python benchmarks/batch_memory.py                   # 10,000 then 100,000 rows
    .venv/bin/python benchmarks/batch_memory.py --rows 20000 --small 2000

Exits 1 when the peak is over the budget or a row is missing from the output.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]


def write_input(path: Path, rows: int, seed: int = 1) -> None:
    sys.path.insert(0, str(PROJECT))
    from evaluator.rubrics.io import load_rubrics

    rubrics = [r for r in load_rubrics(PROJECT / "rubrics") if r.number is not None]
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "question", "answer", "cohort"])
        for i in range(rows):
            rubric = rng.choice(rubrics)
            points = [k.text for k in rubric.key_points]
            kind = rng.random()
            if kind < 0.03:
                answer = ""
            elif kind < 0.0302:
                answer = "".join(rng.choices(points, k=400))[:50_000]  # a wall of text
            else:
                picked = rng.sample(points, k=rng.randint(1, len(points)))
                answer = "\n".join(picked) if kind < 0.3 else "。".join(picked)
            writer.writerow([f"s{i}", rubric.number, answer, rng.choice("ABC")])


def count_rows(path: Path) -> int:
    with path.open(encoding="utf-8", newline="") as fh:
        return sum(1 for _ in csv.reader(fh)) - 1


def measure(rows: int, workdir: Path) -> tuple[float, float, bool]:
    """(peak RSS in MB, seconds, every row present) for one batch of `rows` rows."""
    src, out = workdir / f"in-{rows}.csv", workdir / f"out-{rows}.csv"
    write_input(src, rows)
    env = {**os.environ, "EVALUATOR_CACHE_DIR": str(workdir / "cache"), "HF_HUB_OFFLINE": "1"}
    command = [sys.executable, "-m", "evaluator.cli", "batch", str(src), "-o", str(out),
               "--embedder", "hashing", "--rubrics", str(PROJECT / "rubrics"), "--quiet"]  # fmt: skip
    started = time.perf_counter()
    child = subprocess.Popen(command, env=env, stderr=subprocess.PIPE)
    assert child.stderr is not None
    _, status, usage = os.wait4(child.pid, 0)
    elapsed = time.perf_counter() - started
    errors = child.stderr.read().decode(errors="replace")
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        sys.exit(f"batch failed ({child.returncode}): {errors}")
    peak_mb = usage.ru_maxrss / 1024  # kilobytes on Linux
    return peak_mb, elapsed, count_rows(out) == rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=10_000, help="rows of the first run (0: skip)")
    parser.add_argument("--budget", type=float, default=600.0, help="MB")
    args = parser.parse_args()
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        for rows in [r for r in (args.small, args.rows) if r]:
            peak, elapsed, complete = measure(rows, Path(tmp))
            print(
                f"{rows:>8,} rows: peak RSS {peak:6.1f} MB, {elapsed:6.1f} s "
                f"({rows / elapsed:,.0f} rows/s), output complete: {complete}"
            )
            ok &= complete
        ok &= peak < args.budget
    print(f"budget {args.budget:.0f} MB: {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
