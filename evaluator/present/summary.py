"""Batch statistics and the end-of-run terminal table.

`Summary` is fed one `RowView` per output row and keeps only small aggregates (a 0.1-point
score histogram gives an exact median; per-question running sums; a bounded miss counter) plus
the first `max_rows` rows for the HTML report (`present.html`), so a 100k-row batch costs the
same memory as a small one.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from evaluator.result import Band

if TYPE_CHECKING:
    from rich.console import Console

BANDS: tuple[Band, ...] = ("excellent", "good", "fair", "weak", "none")
MAX_TABLE_ROWS = 2000
MAX_QUESTIONS = 500  # questions tracked one by one; the rest share one "(other)" line
MAX_MISSED_KEYS = 20000  # distinct (question, key point) counters kept before pruning
ANSWER_EXCERPT = 300
OTHER = "(other questions)"


@dataclass
class RowView:
    """What the summary needs from one output row (from a fresh Grade or a resumed output)."""

    row: int
    id: str
    question_id: str = ""
    question_title: str = ""
    score: float | None = None
    band: str = ""
    method: str = ""
    flags: list[str] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)  # key point names
    feedback: str = ""
    error: str = ""
    answer: str = ""


@dataclass
class QuestionStats:
    title: str
    count: int = 0
    total: float = 0.0
    total_sq: float = 0.0
    low: float = math.inf
    high: float = -math.inf

    def add(self, score: float) -> None:
        self.count += 1
        self.total += score
        self.total_sq += score * score
        self.low = min(self.low, score)
        self.high = max(self.high, score)

    @property
    def mean(self) -> float:
        return self.total / self.count if self.count else 0.0

    @property
    def stdev(self) -> float:
        if self.count < 2:
            return 0.0
        var = (self.total_sq - self.total * self.total / self.count) / (self.count - 1)
        return math.sqrt(max(var, 0.0))


class Summary:
    def __init__(self, max_rows: int = MAX_TABLE_ROWS) -> None:
        self.max_rows = max_rows
        self.rows = 0
        self.errors = 0
        self.error_examples: list[RowView] = []
        self.methods: Counter[str] = Counter()
        self.bands: Counter[str] = Counter()
        self.flags: Counter[str] = Counter()
        self.tenths = [0] * 1001  # scores are rounded to 0.1: an exact histogram in 1001 cells
        self.total = 0.0
        self.questions: dict[str, QuestionStats] = {}
        self.missed: Counter[tuple[str, str]] = Counter()
        self.missed_pruned = False
        self.table: list[RowView] = []

    # ---------------------------------------------------------------- accumulate

    def add(self, view: RowView) -> None:
        self.rows += 1
        if len(self.table) < self.max_rows:
            if len(view.answer) > ANSWER_EXCERPT:
                view.answer = view.answer[:ANSWER_EXCERPT] + "…"
            self.table.append(view)
        if view.error or view.score is None:
            self.errors += 1
            if len(self.error_examples) < 5:
                self.error_examples.append(view)
            return
        score = min(max(view.score, 0.0), 100.0)
        self.tenths[round(score * 10)] += 1
        self.total += score
        self.methods[view.method] += 1
        self.bands[view.band] += 1
        self.flags.update(view.flags)
        key = view.question_id or "?"
        stats = self.questions.get(key)
        if stats is None:
            if len(self.questions) >= MAX_QUESTIONS:
                key = OTHER
                stats = self.questions.setdefault(OTHER, QuestionStats(OTHER))
            else:
                stats = self.questions[key] = QuestionStats(view.question_title or key)
        elif view.question_title and stats.title == key:
            stats.title = view.question_title
        stats.add(score)
        # Once per answer: two key points with one label (two "混合精度训练" points) would
        # otherwise count an answer twice and show shares above 100 %.
        self.missed.update((key, name) for name in dict.fromkeys(view.missed))
        if len(self.missed) > MAX_MISSED_KEYS:  # keep the heavy hitters, drop the long tail
            self.missed = Counter(dict(self.missed.most_common(MAX_MISSED_KEYS // 2)))
            self.missed_pruned = True

    # ---------------------------------------------------------------- statistics

    @property
    def graded(self) -> int:
        return self.rows - self.errors

    @property
    def mean(self) -> float | None:
        return self.total / self.graded if self.graded else None

    @property
    def median(self) -> float | None:
        n = self.graded
        if not n:
            return None
        wanted = [(n - 1) // 2, n // 2]
        found: list[float] = []
        seen = 0
        for tenth, count in enumerate(self.tenths):
            while count and len(found) < 2 and seen + count > wanted[len(found)]:
                found.append(tenth / 10)
            seen += count
            if len(found) == 2:
                break
        return sum(found) / 2

    def histogram(self, width: float = 10.0) -> list[tuple[float, float, int]]:
        """(low, high, count) bins over 0-100; the last bin includes 100."""
        bins = []
        edges = int(100 / width)
        for b in range(edges):
            lo, hi = b * width, (b + 1) * width
            last = b == edges - 1
            count = sum(
                c for t, c in enumerate(self.tenths) if lo <= t / 10 < hi or (last and t == 1000)
            )
            bins.append((lo, hi, count))
        return bins

    def top_missed(self, n: int = 15) -> list[tuple[str, str, int, float]]:
        """(question title, key point, misses, share of that question's graded rows)."""
        out = []
        for (qid, name), count in self.missed.most_common(n):
            stats = self.questions.get(qid)
            share = count / stats.count if stats and stats.count else 0.0
            out.append((stats.title if stats else qid, name, count, share))
        return out

    def question_rows(self) -> list[tuple[str, str, QuestionStats]]:
        return sorted(
            ((qid, s.title, s) for qid, s in self.questions.items()),
            key=lambda item: (item[0] == OTHER, _natural(item[0])),
        )


def _natural(text: str) -> list[object]:
    """Sort key that puts q2 before q10."""
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", text)]


def score_text(value: float | None) -> str:
    """A score in tables and cards: one decimal, or a dash when there is none."""
    return "–" if value is None else f"{value:.1f}"


# ---------------------------------------------------------------------------- terminal


def print_summary(summary: Summary, console: Console, output: str = "") -> None:
    """The end-of-run table on stderr: counts, scores, distribution, per question, errors."""
    from rich.table import Table

    overview = Table(title=f"Batch summary{f' — {output}' if output else ''}", show_header=False)
    overview.add_column(style="bold")
    overview.add_column()
    overview.add_row("rows", f"{summary.rows:,}")
    overview.add_row("graded", f"{summary.graded:,}")
    overview.add_row("errors", f"{summary.errors:,}")
    overview.add_row("mean score", score_text(summary.mean))
    overview.add_row("median score", score_text(summary.median))
    overview.add_row(
        "distribution",
        "  ".join(f"{b} {summary.bands.get(b, 0):,}" for b in BANDS),
    )
    overview.add_row(
        "method", "  ".join(f"{m} {c:,}" for m, c in summary.methods.most_common()) or "–"
    )
    if summary.flags:
        overview.add_row("flags", "  ".join(f"{f} {c:,}" for f, c in summary.flags.most_common(6)))
    console.print(overview)

    rows = summary.question_rows()
    if rows:
        per_q = Table(title="Per question", show_lines=False)
        per_q.add_column("question", overflow="fold", max_width=60)
        per_q.add_column("n", justify="right")
        per_q.add_column("mean", justify="right")
        per_q.add_column("sd", justify="right")
        per_q.add_column("min–max", justify="right")
        shown = rows[:30]
        for qid, title, s in shown:
            label = title if title == qid else f"{title} [{qid}]"
            per_q.add_row(
                label, f"{s.count:,}", f"{s.mean:.1f}", f"{s.stdev:.1f}", f"{s.low:g}–{s.high:g}"
            )
        if len(rows) > len(shown):
            per_q.caption = f"{len(rows) - len(shown)} more questions in the report"
        console.print(per_q)

    if summary.error_examples:
        errs = Table(title=f"Rows with errors ({summary.errors:,})")
        errs.add_column("row", justify="right")
        errs.add_column("id")
        errs.add_column("error", overflow="fold")
        for v in summary.error_examples:
            errs.add_row(str(v.row), v.id, v.error)
        if summary.errors > len(summary.error_examples):
            errs.caption = "all of them have their message in the output's error column"
        console.print(errs)
