"""How does `evaluator check` scale with one big note? Time and peak RSS for notes of 1 and 5 MB.

Writes one Markdown note per size into a temporary folder: `## Q<n>` sections cycling over the
project's questions (./rubrics, else the bundled set), each a few lines of its rubric's
reference answer plus a line naming the section, about 855 bytes a section (5 MB: ~5,850
sections, as in issue #27), every answer distinct. Runs the real `evaluator check` in a child
process with a fresh cache folder, and reads the child's peak RSS from the kernel (`os.wait4`
rusage). The code measured is this checkout's (PYTHONPATH is set to it).

    nice .venv/bin/python benchmarks/check_scale.py --embedder hashing   # parsing and grading
    nice .venv/bin/python benchmarks/check_scale.py                      # the default embedder
    nice .venv/bin/python benchmarks/check_scale.py --sizes 0.25,1 --runs 3
    nice .venv/bin/python benchmarks/check_scale.py --parse-only --sizes 5,20,40

Prints one line per size: sections, wall seconds, CPU seconds, peak RSS, and the ratio of each
size's time to the smallest's against the ratio of their sizes (near-linear: about equal).
`--parse-only` times only finding the answers in the note (`parse_note`, in this process, CPU
seconds, best of 3): the part that does not depend on the embedder.
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
SECTION_BYTES = 855  # 5 MB / 5,850 sections, the note of issue #27


def write_note(path: Path, megabytes: float) -> int:
    """A note of about `megabytes` MB; returns its number of sections."""
    sys.path.insert(0, str(PROJECT))
    from evaluator.rubrics.io import load_rubrics

    local = PROJECT / "rubrics"
    rubrics = [r for r in load_rubrics(local if local.is_dir() else None) if r.number is not None]
    target = int(megabytes * 1_000_000)
    size = sections = 0
    with path.open("w", encoding="utf-8", newline="\n") as fh:
        fh.write("# 复习笔记\n\n")
        while size < target:
            r = rubrics[sections % len(rubrics)]
            lines = [line for line in r.reference_answer.splitlines() if line.strip()]
            start = (sections // len(rubrics)) % len(lines)
            body, room = [], SECTION_BYTES - 40  # the heading and the last line take ~40
            for line in itertools.cycle(lines[start:] + lines[:start]):  # the last one cut
                if room <= 0:
                    break
                cut = line.encode()[:room].decode("utf-8", "ignore")
                body.append(cut)
                room -= len(cut.encode()) + 1
            sections += 1
            text = f"## Q{r.number}\n\n" + "\n".join(body) + f"\n\n（第 {sections} 节）\n\n"
            fh.write(text)
            size += len(text.encode())
    return sections


def measure(note: Path, embedder: str | None, cache: Path) -> tuple[float, float, float, str]:
    """(wall s, CPU s, peak RSS MB, summary line) of one `evaluator check` child process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVALUATOR_")}
    env.update(HF_HUB_OFFLINE="1", EVALUATOR_CACHE_DIR=str(cache), PYTHONPATH=str(PROJECT))
    command = [sys.executable, "-m", "evaluator.cli", "check", str(note)]
    if embedder:
        command += ["--embedder", embedder]
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(command, cwd=note.parent, env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        wall = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    if proc.returncode not in (0, 1):
        sys.exit(f"evaluator check failed ({proc.returncode}):\n{stderr[-2000:]}")
    lines = [line for line in stdout.splitlines() if line.startswith(("✔", "✘"))]
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, lines[-1] if lines else ""


def parse_seconds(note: Path) -> float:
    """CPU seconds to find the answers in `note`, best of 3."""
    from evaluator.notes.notes import parse_note
    from evaluator.rubrics.io import load_rubrics

    local = PROJECT / "rubrics"
    rubrics = load_rubrics(local if local.is_dir() else None)
    text = note.read_text(encoding="utf-8")
    best = float("inf")
    for _ in range(3):
        started = time.process_time()
        parse_note(text, rubrics, note)
        best = min(best, time.process_time() - started)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--embedder", default=None, help="default: the configured default")
    parser.add_argument("--sizes", default="1,5", help="note sizes in MB, comma-separated")
    parser.add_argument("--runs", type=int, default=1, help="runs per size (medians shown)")
    parser.add_argument("--parse-only", action="store_true", help="time parse_note alone")
    args = parser.parse_args()
    sizes = [float(s) for s in args.sizes.split(",")]
    if args.parse_only:
        with tempfile.TemporaryDirectory() as tmp:
            base: tuple[float, int] | None = None
            for mb in sizes:
                note = Path(tmp) / f"note-{mb:g}mb.md"
                sections = write_note(note, mb)
                seconds = parse_seconds(note)
                base = base or (seconds, sections)
                print(
                    f"{mb:g} MB, {sections:,} sections: parse {seconds:.3f} s CPU (time "
                    f"×{seconds / base[0]:.1f} for sections ×{sections / base[1]:.1f}; load "
                    f"{os.getloadavg()[0]:.1f})"
                )
        return 0

    print(f"embedder: {args.embedder or 'default'}; {os.cpu_count()} cores")
    first: tuple[float, float] | None = None
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for mb in sizes:
            note = work / f"note-{mb:g}mb.md"
            sections = write_note(note, mb)
            runs = []
            for n in range(args.runs):
                load = os.getloadavg()[0]
                runs.append((*measure(note, args.embedder, work / f"cache-{mb:g}-{n}"), load))
            wall = statistics.median(r[0] for r in runs)
            cpu = statistics.median(r[1] for r in runs)
            rss = max(r[2] for r in runs)
            loads = [r[4] for r in runs]
            first = first or (wall, note.stat().st_size)
            ratio = f"time ×{wall / first[0]:.2f} for size ×{note.stat().st_size / first[1]:.2f}"
            print(
                f"{note.stat().st_size / 1e6:.2f} MB, {sections:,} sections: {wall:.1f} s wall, "
                f"{cpu:.1f} s CPU, peak RSS {rss:.0f} MB ({ratio}; load "
                f"{min(loads):.1f}–{max(loads):.1f})   [{runs[-1][3]}]"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
