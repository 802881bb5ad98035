"""Progress in the terminal: mastery per question, the weakest key points, and scores over time
as a sparkline (every attempt) and bars (the mean of each day)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime

from rich.console import Console, JustifyMethod
from rich.table import Table
from rich.text import Text

from evaluator.present.grade_text import BAND_STYLE
from evaluator.present.practice_text import when
from evaluator.present.progress import Progress, QuestionProgress, ScorePoint
from evaluator.result import band_for

_SPARKS = "▁▂▃▄▅▆▇█"
BAR_WIDTH = 30
DAYS_SHOWN = 14


def sparkline(scores: Sequence[float]) -> str:
    """One block per score on a fixed 0–100 scale (so two sparklines compare)."""
    return "".join(_SPARKS[min(int(s / 100 * len(_SPARKS)), len(_SPARKS) - 1)] for s in scores)


def daily_means(timeline: Sequence[ScorePoint]) -> list[tuple[date, float, int]]:
    """(day, mean score, attempts) per UTC day with attempts, oldest first."""
    days: dict[date, list[float]] = defaultdict(list)
    for point in timeline:
        days[point.at.date()].append(point.score)
    return [(day, sum(s) / len(s), len(s)) for day, s in sorted(days.items())]


def _score(value: float | None) -> Text:
    if value is None:
        return Text("–", style="dim")
    return Text(f"{value:.0f}", style=BAND_STYLE[band_for(value)])


def _trend(value: float | None) -> Text:
    if value is None:
        return Text("–", style="dim")
    if abs(value) < 1:
        return Text("→ 0", style="dim")
    return Text(f"↑ +{value:.0f}", "green") if value > 0 else Text(f"↓ {value:.0f}", "red")


def due_text(q: QuestionProgress, now: datetime) -> str:
    """When the question is next reviewed: "due now", "in 3 days (…)", or new."""
    if q.next_due is None:
        return "new (rubric changed)" if q.earlier_attempts else "new"
    return "due now" if q.due_now else when(q.next_due, now, "en")


def _due(q: QuestionProgress, now: datetime) -> Text:
    style = "yellow" if q.next_due is None else "bold" if q.due_now else ""
    return Text(due_text(q, now), style=style)


def terminal(progress: Progress, console: Console) -> None:
    if not progress.attempts:
        console.print(
            f"No practice yet in {progress.history}: start with `evaluator practice`.",
            soft_wrap=True,
        )
        return
    tried = sum(1 for q in progress.questions if q.attempts)
    console.print(
        f"{progress.attempts} attempt{'s' * (progress.attempts != 1)} on {tried} "
        f"question{'s' * (tried != 1)} · {progress.due_now} due now · "
        f"{progress.not_started} not started"
    )
    table = Table(title="Mastery", title_justify="left", box=None, padding=(0, 1))
    columns: list[tuple[str, JustifyMethod]] = [
        ("Q", "right"),
        ("question", "left"),
        ("tries", "right"),
        ("last", "right"),
        ("best", "right"),
        ("trend", "left"),
        ("next review", "left"),
    ]
    for name, justify in columns:
        table.add_column(name, justify=justify)
    for q in progress.questions:
        tries = str(q.attempts)
        if q.earlier_attempts:
            tries += f" (+{q.earlier_attempts} earlier rubric)"
        table.add_row(
            str(q.number) if q.number is not None else q.question_id,
            Text(q.title, overflow="ellipsis", no_wrap=True),
            tries,
            _score(q.last_score),
            _score(q.best_score),
            _trend(q.trend),
            _due(q, progress.generated_at),
        )
    console.print(table)

    if progress.weakest:
        console.print()
        console.print(Text("Weakest key points (most often missed)", style="bold"))
        grid = Table.grid(padding=(0, 1))
        grid.add_column(justify="right", no_wrap=True)
        grid.add_column(no_wrap=True)
        grid.add_column(ratio=1, overflow="fold")
        for w in progress.weakest:
            name = f"Q{w.number}" if w.number is not None else w.question_id
            wording = f"{w.label}：{w.text}" if w.label else w.text
            grid.add_row(f"{w.missed}/{w.graded}", name, wording)
        console.print(grid)

    console.print()
    console.print(Text("Scores over time", style="bold"))
    scores = [p.score for p in progress.timeline]
    console.print(f"every attempt, oldest first (0–100): {sparkline(scores)}")
    for day, mean, count in daily_means(progress.timeline)[-DAYS_SHOWN:]:
        filled = round(mean / 100 * BAR_WIDTH)
        bar = Text("█" * filled, style=BAND_STYLE[band_for(mean)])
        bar.append("░" * (BAR_WIDTH - filled), style="dim")
        console.print(
            Text.assemble(
                f"{day:%Y-%m-%d} ", bar, f" {mean:5.1f}  ({count} attempt{'s' * (count != 1)})"
            )
        )
