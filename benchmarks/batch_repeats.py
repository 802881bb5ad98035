"""Are repeated answers graded once per run? CPU seconds of `evaluator batch` on a class export
with repeats against the same answers once each.

Builds two CSVs from examples/answers.csv (120 distinct answers to the bundled questions) in a
temporary folder: the 120 rows as they are, and 6,000 rows holding each of them 50 times in
shuffled order (synthetic: a class whose answers repeat, as a copied model answer or a blank
does). Runs the real command on each in a child process, default embedder, embedding only,
and reads the child's CPU time (user + sys) and wall time from the kernel (`os.wait4`).
Repeats are graded once per run, so the 6,000-row file should cost about what the 120 rows
cost, plus reading and writing the rows.

    .venv/bin/python benchmarks/batch_repeats.py               # 3 runs of each, medians
    .venv/bin/python benchmarks/batch_repeats.py --runs 1 --embedder hashing
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
EXAMPLES = PROJECT / "examples" / "answers.csv"


def write_inputs(folder: Path, repeats: int) -> tuple[Path, Path]:
    with EXAMPLES.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    header, data = rows[0], rows[1:]
    distinct, repeated = folder / "distinct.csv", folder / "repeated.csv"
    with distinct.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows([header, *data])
    many = [row for row in data for _ in range(repeats)]
    random.Random(1).shuffle(many)
    with repeated.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows([[f"{row[0]}-{i}", *row[1:]] for i, row in enumerate(many)])
    return distinct, repeated


def run(src: Path, embedder: str, folder: Path) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of one `evaluator batch` child process."""
    out = folder / f"{src.stem}-out.csv"
    cmd = [sys.executable, "-m", "evaluator.cli", "batch", str(src), "-o", str(out)]
    cmd += ["--force", "--quiet", "--no-judge", "--embedder", embedder]
    env = {**os.environ, "PYTHONPATH": str(PROJECT), "HF_HUB_OFFLINE": "1"}
    env["EVALUATOR_CACHE_DIR"] = str(folder / "cache")  # cold caches: every run embeds
    started = time.perf_counter()
    child = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"batch failed on {src}")
    return usage.ru_utime + usage.ru_stime, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--embedder", default="use-multilingual")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        distinct, repeated = write_inputs(folder, args.repeats)
        times: dict[str, list[tuple[float, float]]] = {"distinct": [], "repeated": []}
        for _ in range(args.runs):  # alternated, so drift on a shared machine hits both
            for name, src in (("distinct", distinct), ("repeated", repeated)):
                shutil.rmtree(folder / "cache", ignore_errors=True)
                times[name].append(run(src, args.embedder, folder))
        print(f"embedder {args.embedder}, {args.runs} runs each, medians (min–max)")
        for name, src in (("distinct", distinct), ("repeated", repeated)):
            rows = sum(1 for _ in src.open(encoding="utf-8")) - 1
            cpu = [c for c, _ in times[name]]
            wall = [w for _, w in times[name]]
            print(
                f"{name:9} {rows:>6,} rows: CPU {statistics.median(cpu):6.1f} s "
                f"({min(cpu):.1f}–{max(cpu):.1f}), wall {statistics.median(wall):6.1f} s "
                f"({min(wall):.1f}–{max(wall):.1f})"
            )


if __name__ == "__main__":
    main()
