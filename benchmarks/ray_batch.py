"""`evaluator batch` locally against `--engine ray`, side by side in one run on this machine.

Three measurements, each a real `evaluator batch` child process (default embedder, embedding
only, a fresh cache folder per run so every run embeds):

1. Speed on mohler.csv (2,273 rows, inline references): rows/s of local batch, and of
   `--engine ray` (a local Ray started by the command) with 1 and 2 actors. Runs alternate, so
   drift on a shared machine hits all three; medians are printed.
2. Ray's fixed start-up overhead: the same three on the first 20 rows of mohler.csv, where the
   grading itself is negligible; the difference to local batch is what Ray costs per run
   (starting Ray, the actors loading the embedder, reading the input twice: once to count rows
   for the progress bar, once to grade).
3. Memory, streaming: a synthetic input of mohler rows repeated to 100,000 and 1,000,000 rows
   (distinct ids; the answers repeat, so after the first pass an actor's grade cache answers
   them: this measures the flow of rows through Ray, not the model), `--engine ray` with 2
   actors. Every process of the run (the command, Ray's raylet and GCS, each worker) is
   sampled every 0.5 s from /proc; its peak RSS and peak private memory are printed by role
   (RSS includes the pages of Ray's shared object store a process touched; private memory is
   its own). Private memory that does not grow from 10^5 to 10^6 rows means the run streams.

    .venv/bin/python benchmarks/ray_batch.py                  # all three, 3 speed runs
    .venv/bin/python benchmarks/ray_batch.py --part speed --runs 1
    .venv/bin/python benchmarks/ray_batch.py --part memory --rows 100000,1000000
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
MOHLER = PROJECT.parent / "shared" / "benchmarks" / "mohler.csv"
ENGINES = {
    "local": [],
    "ray, 1 actor": ["--engine", "ray", "--actors", "1"],
    "ray, 2 actors": ["--engine", "ray", "--actors", "2"],
}


def command(src: Path, out: Path, engine: list[str], cache: Path) -> list[str]:
    return [
        sys.executable, "-m", "evaluator.cli", "batch", str(src), "-o", str(out), "--force",
        "--quiet", "--no-judge", "--embedder", "use-multilingual", "--cache-dir", str(cache),
        "--reference-col", "reference_answer", "--question-col", "question", *engine,
    ]  # fmt: skip


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(PROJECT), "HF_HUB_OFFLINE": "1"}


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = defaultdict(list)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children[ppid].append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo += children.get(pid, [])
    return found


def _role(pid: int, root: int) -> str | None:
    try:
        cmd = (Path("/proc") / str(pid) / "cmdline").read_bytes().split(b"\0")
    except OSError:
        return None
    text = b" ".join(cmd).decode(errors="replace")
    if pid == root:
        return "command (driver)"
    if "raylet" in text.split(" ")[0]:
        return "raylet"
    if "gcs_server" in text.split(" ")[0]:
        return "gcs_server"
    if text.startswith("ray::"):  # a worker's title: its actor or task, then the method
        return text.split(" ")[0].split(".")[0]
    return None  # Ray's helper processes (monitor, log monitor, agents)


def _memory_kb(pid: int) -> tuple[int, int]:
    """(RSS, private) in kB. RSS counts the pages of Ray's shared object store a process has
    touched; private memory (smaps_rollup's Private_Clean + Private_Dirty) is its own."""
    rss = private = 0
    try:
        for line in (Path("/proc") / str(pid) / "smaps_rollup").read_text().splitlines():
            if line.startswith("Rss:"):
                rss = int(line.split()[1])
            elif line.startswith(("Private_Clean:", "Private_Dirty:")):
                private += int(line.split()[1])
    except OSError:
        pass
    return rss, private


def run(cmd: list[str], sample: bool = False) -> tuple[float, dict[str, tuple[float, float]]]:
    """(wall seconds, peak (RSS, private) MB per role) of one child process and its
    descendants."""
    peaks: dict[str, tuple[float, float]] = {}
    started = time.perf_counter()
    child = subprocess.Popen(cmd, env=env(), stdout=subprocess.DEVNULL)
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            for pid in _descendants(child.pid):
                role = _role(pid, child.pid)
                if role is not None:
                    rss, private = _memory_kb(pid)
                    seen = peaks.get(role, (0.0, 0.0))
                    peaks[role] = (max(seen[0], rss / 1024), max(seen[1], private / 1024))
            done.wait(0.5)

    watcher = threading.Thread(target=watch, daemon=True)
    if sample:
        watcher.start()
    code = child.wait()
    wall = time.perf_counter() - started
    done.set()
    if sample:
        watcher.join()
    if code != 0:
        sys.exit(f"failed ({code}): {' '.join(cmd)}")
    return wall, peaks


def head(src: Path, dst: Path, rows: int) -> Path:
    with src.open(encoding="utf-8", newline="") as fh, dst.open("w", encoding="utf-8") as out:
        reader, writer = csv.reader(fh), csv.writer(out)
        writer.writerow(next(reader))
        for i, row in enumerate(reader):
            if i >= rows:
                break
            writer.writerow(row)
    return dst


def synthetic(dst: Path, rows: int) -> Path:
    """mohler rows repeated to `rows` rows, each with its own id."""
    with MOHLER.open(encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        header, base = next(reader), list(reader)
    with dst.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        for i in range(rows):
            row = base[i % len(base)]
            writer.writerow([f"{row[0]}#{i}", *row[1:]])
    return dst


def speed(folder: Path, runs: int) -> None:
    inputs = {"mohler.csv": MOHLER, "first 20 rows": head(MOHLER, folder / "head.csv", 20)}
    walls: dict[tuple[str, str], list[float]] = defaultdict(list)
    for _ in range(runs):
        for name, src in inputs.items():
            for engine, flags in ENGINES.items():
                cache = folder / "cache"
                shutil.rmtree(cache, ignore_errors=True)
                out = folder / ("out" if flags else "out.csv")
                walls[name, engine].append(run(command(src, out, flags, cache))[0])
    print(f"\nspeed, {runs} runs each, median wall seconds (min–max)")
    rows = {"mohler.csv": 2273, "first 20 rows": 20}
    for name in inputs:
        base = statistics.median(walls[name, "local"])
        for engine in ENGINES:
            w = walls[name, engine]
            med = statistics.median(w)
            print(
                f"  {name:14} {engine:14} {med:6.1f} s ({min(w):.1f}–{max(w):.1f})  "
                f"{rows[name] / med:6.1f} rows/s  {med - base:+5.1f} s vs local"
            )


def memory(folder: Path, sizes: list[int]) -> None:
    print("\nmemory, --engine ray --actors 2: peak RSS/private MB per process, wall time")
    for rows in sizes:
        src = synthetic(folder / f"synthetic-{rows}.csv", rows)
        out = folder / f"out-{rows}"
        wall, peaks = run(
            command(src, out, ENGINES["ray, 2 actors"], folder / "cache"), sample=True
        )
        manifest = json.loads((out / "_manifest.json").read_text(encoding="utf-8"))
        shown = ", ".join(f"{role} {r:.0f}/{p:.0f}" for role, (r, p) in sorted(peaks.items()))
        print(f"  {rows:>9,} rows: {wall:6.0f} s, {rows / wall:7.0f} rows/s; {shown}")
        print(
            f"  {'':>9}       output: {manifest['rows']:,} rows in {len(manifest['shards'])} shards"
        )
        src.unlink()
        shutil.rmtree(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", choices=["all", "speed", "memory"], default="all")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rows", default="100000,1000000", help="memory: input sizes")
    args = parser.parse_args()
    if not MOHLER.is_file():
        sys.exit(f"{MOHLER} is missing (the shared benchmark data)")
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if args.part in ("all", "speed"):
            speed(folder, args.runs)
        if args.part in ("all", "memory"):
            memory(folder, [int(n) for n in args.rows.split(",")])


if __name__ == "__main__":
    main()
