"""`evaluator batch` on mohler.csv, embedding only, as a user runs it: cold, warm, and the naive
loop a user writes first, in one run.

Every figure is the wall time of a whole command (Python start, imports, model load, reading
and writing the CSV), the median of --runs:

- cold: no vector or grade of this file on disk yet (the model's own start-up files exist, as
  after any first use): every text is encoded;
- warm: the same command again: every grade is on disk, so nothing is encoded or graded;
- no cache: `--no-cache`, nothing read from or written to disk but the output;
- naive: a per-row loop (encode the reference and the answer, then their cosine), the baseline.

    nice .venv/bin/python benchmarks/batch_throughput.py                 # idle machine
    nice .venv/bin/python benchmarks/batch_throughput.py --busy          # one core kept busy
    .venv/bin/python benchmarks/batch_throughput.py --runs 5 --naive-rows 500

`--busy` starts a process that keeps one core busy for the whole measurement, as a judge
server or another job would. Targets (issue 28, idle 2-core machine): cold >= 400 rows/s,
warm >= 2,000 rows/s; exits 1 when one is missed.
"""

from __future__ import annotations

import argparse
import csv
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
MOHLER = PROJECT.parent / "shared" / "benchmarks" / "mohler.csv"
EVALUATOR = Path(sys.executable).with_name("evaluator")
COLD, WARM = 400.0, 2000.0  # rows/s targets

NAIVE = """
import csv, sys
import numpy as np
from evaluator.scoring.embedding.backends import get_embedder
embed = get_embedder("use-multilingual").encode
rows = list(csv.DictReader(open(sys.argv[1], encoding="utf-8", newline="")))[: int(sys.argv[2])]
with open(sys.argv[3], "w", encoding="utf-8", newline="") as out:
    write = csv.writer(out).writerow
    for row in rows:
        ref, ans = embed([row["reference_answer"]]), embed([row["answer"]])
        write([row["id"], float(np.dot(ref[0], ans[0]))])
"""


def _spin() -> None:
    while True:
        pass


def timed(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--csv", type=Path, default=MOHLER)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--naive-rows", type=int, default=None, help="rows for the naive loop")
    parser.add_argument("--busy", action="store_true", help="keep one core busy meanwhile")
    args = parser.parse_args()
    with args.csv.open(encoding="utf-8", newline="") as fh:
        rows = sum(1 for _ in csv.DictReader(fh))  # cells may hold line breaks
    naive_rows = args.naive_rows or rows
    work = Path(tempfile.mkdtemp(prefix="batch-throughput-"))
    hog = None
    try:
        cache = work / "cache"
        env = {**os.environ, "EVALUATOR_CACHE_DIR": str(cache), "HF_HUB_OFFLINE": "1"}
        batch = [str(EVALUATOR), "batch", str(args.csv), "-o", str(work / "out.csv"),
                 "--reference-col", "reference_answer", "--question-col", "question",
                 "--force", "-q"]  # fmt: skip
        subprocess.run(  # the model's start-up files, as after any first use
            [str(EVALUATOR), "grade", "7", "--answer", "批量归一化", "--json"],
            env=env, check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        if args.busy:
            hog = multiprocessing.Process(target=_spin, daemon=True)
            hog.start()
            time.sleep(2)
        load = os.getloadavg()[0]
        cold, warm, bare, naive = [], [], [], []
        for _ in range(args.runs):
            for stored in cache.glob("*.sqlite3*"):
                stored.unlink()  # vectors and grades: a file never graded here
            cold.append(timed(batch, env))
            warm.append(timed(batch, env))
            bare.append(timed([*batch, "--no-cache"], env))
            script = [sys.executable, "-c", NAIVE, str(args.csv), str(naive_rows),
                      str(work / "naive.csv")]  # fmt: skip
            naive.append(timed(script, env) * rows / naive_rows)
    finally:
        if hog is not None:
            hog.terminate()
        shutil.rmtree(work, ignore_errors=True)
    print(f"{args.csv.name}: {rows:,} rows, {args.runs} runs, load {load:.1f} at start"
          + (", one core kept busy" if args.busy else ""))  # fmt: skip
    print(f"{'':<10} {'median s':>9} {'min s':>7} {'max s':>7} {'rows/s':>8}")
    report = {"cold": cold, "warm": warm, "no cache": bare, "naive": naive}
    for name, times in report.items():
        median = statistics.median(times)
        print(f"{name:<10} {median:>9.2f} {min(times):>7.2f} {max(times):>7.2f} "
              f"{rows / median:>8,.0f}")  # fmt: skip
    if naive_rows < rows:
        print(f"(naive timed on {naive_rows:,} rows, scaled to {rows:,})")
    speed = {name: rows / statistics.median(times) for name, times in report.items()}
    print(f"cold is {speed['cold'] / speed['naive']:.1f}x the naive loop, "
          f"warm {speed['warm'] / speed['naive']:.1f}x")  # fmt: skip
    missed = [f"{n} {speed[n]:,.0f} < {t:,.0f} rows/s" for n, t in (("cold", COLD), ("warm", WARM))
              if speed[n] < t]  # fmt: skip
    if missed and not args.busy:
        print("missed: " + "; ".join(missed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
