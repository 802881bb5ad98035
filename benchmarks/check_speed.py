"""How fast is `evaluator check` on 30 unchanged notes (the pre-commit case)? Budget: 0.5 s wall.

Times the whole `evaluator check` process, as a git hook runs it: one cold run (grades
everything, loads the embedder) and then repeated cached runs (every grade from the cache; no
model may load). Also times `evaluator --help`, the floor set by Python and the CLI's imports.

    .venv/bin/python benchmarks/check_speed.py                    # default embedder
    .venv/bin/python benchmarks/check_speed.py --embedder hashing --runs 20

Notes are written to a temporary folder, one per question (`## Q<n>` + the rubric's reference
answer), graded against the project's rubrics (./rubrics, else the bundled set). Exits 1 when
the median cached run is over the budget.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
EVALUATOR = Path(sys.executable).with_name("evaluator")


def write_notes(folder: Path, rubrics_dir: Path, count: int) -> list[Path]:
    sys.path.insert(0, str(PROJECT))
    from evaluator.rubrics.io import load_rubrics

    rubrics = [r for r in load_rubrics(rubrics_dir) if r.number is not None][:count]
    notes = []
    for r in rubrics:
        path = folder / f"q{r.number:02d}.md"
        path.write_text(f"# 笔记\n\n## Q{r.number}\n\n{r.reference_answer}\n", encoding="utf-8")
        notes.append(path)
    return notes


def timed(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode not in (0, 1):
        sys.exit(f"{' '.join(args[:2])} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return elapsed, done.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--embedder", default=None, help="default: the configured default")
    parser.add_argument("--notes", type=int, default=30)
    parser.add_argument("--runs", type=int, default=10, help="cached runs to time")
    parser.add_argument("--budget", type=float, default=0.5, help="seconds, median cached run")
    args = parser.parse_args()

    local = PROJECT / "rubrics"
    rubrics_dir = local if any(local.glob("*.yaml")) else None
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVALUATOR_")}
    env["HF_HUB_OFFLINE"] = "1"

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if rubrics_dir is None:
            from evaluator.rubrics.io import bundled_rubrics_dir

            rubrics_dir = bundled_rubrics_dir()
        notes = write_notes(work, rubrics_dir, args.notes)
        config = f'[tool.evaluator]\ncache_dir = "{(work / "cache").as_posix()}"\n'
        config += f'rubrics = "{rubrics_dir.as_posix()}"\n'
        if args.embedder:
            config += f'embedder = "{args.embedder}"\n'
        (work / "pyproject.toml").write_text(config, encoding="utf-8")
        command = [str(EVALUATOR), "check", *(p.name for p in notes)]

        floor = min(timed([str(EVALUATOR), "--help"], work, env)[0] for _ in range(3))
        cold, out = timed(command, work, env)
        summary = out.strip().splitlines()[-2] if "\n" in out.strip() else out.strip()
        warm = []
        for _ in range(args.runs):
            elapsed, out = timed(command, work, env)
            if f"{len(notes)} from cache" not in out:
                sys.exit(f"a cached run graded something again:\n{out}")
            warm.append(elapsed)

    median = statistics.median(warm)
    print(f"notes: {len(notes)} ({rubrics_dir}), embedder: {args.embedder or 'default'}")
    print(f"cold run (grades everything): {cold:.2f} s   [{summary}]")
    print(
        f"cached runs ({args.runs}): median {median:.3f} s, min {min(warm):.3f} s, "
        f"max {max(warm):.3f} s   budget {args.budget:.2f} s"
    )
    print(f"floor (`evaluator --help`, best of 3): {floor:.3f} s")
    load = os.getloadavg()[0]
    print(f"load average (1 min) while measuring: {load:.2f} on {os.cpu_count()} cores")
    print("within budget" if median <= args.budget else "OVER BUDGET")
    return 0 if median <= args.budget else 1


if __name__ == "__main__":
    raise SystemExit(main())
