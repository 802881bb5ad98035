"""One `Grade` as a terminal report (rich): score, key points, misconceptions, what to study."""

from __future__ import annotations

from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from evaluator.result import Grade, Status
from evaluator.text import one_line

_STATUS_STYLE = {
    Status.COVERED: ("✔", "green"),
    Status.PARTIAL: ("◐", "yellow"),
    Status.MISSED: ("✘", "red"),
    Status.CONTRADICTED: ("⚠", "bold red"),
}
BAND_STYLE = {
    "excellent": "bold green",
    "good": "green",
    "fair": "yellow",
    "weak": "red",
    "none": "red",
}


def _clip(text: str | None, width: int) -> str:
    return one_line(text, width) if text else ""


def terminal(grade: Grade, console: Console, *, verbose: bool = False) -> None:
    title = (
        f"Q{grade.question_number}. {grade.question_title}"
        if grade.question_number
        else grade.question_title
    )
    head = Text.assemble(
        (f"{grade.score:.0f}", BAND_STYLE[grade.band]),
        ("/100  ", "dim"),
        (grade.band, BAND_STYLE[grade.band]),
        ("   method: ", "dim"),
        grade.method,
        (f" ({grade.method_reason})", "dim"),
    )
    table = Table(show_header=True, header_style="bold", expand=True, box=None, padding=(0, 1))
    table.add_column("", width=2)
    table.add_column("key point", ratio=3)
    table.add_column("weight", justify="right", width=6)
    table.add_column("credit", justify="right", width=6)
    if verbose:  # its own column: appended to the evidence it was clipped away on narrow screens
        table.add_column("sim", justify="right", width=5)
    table.add_column("evidence from the answer", ratio=4)
    for k in grade.key_points:
        mark, style = _STATUS_STYLE[k.status]
        # A missed point shows no evidence (whichever side found it) unless asked: the words
        # closest to it, or a quote whose verdict was not kept, are not evidence of it.
        shown = k.status != Status.MISSED or verbose
        evidence = (k.judge_evidence or k.evidence or "") if shown else ""
        detail = _clip(evidence, 120)
        if k.judge_reason and verbose:
            detail += f"\n[judge] {_clip(k.judge_reason, 120)}"
        name = k.label or _clip(k.text, 60)
        if not k.counted:  # a pick-k group's item beyond the k asked for
            mark, style, name = "·", "dim", f"{name} (not needed)"
        table.add_row(
            Text(mark, style=style),
            Text(name, style=style if k.status != Status.COVERED else ""),
            f"{k.weight:g}",
            f"{k.credit:.2f}",
            *([f"{k.similarity:.2f}" if k.similarity is not None else "–"] if verbose else []),
            detail,
        )
    parts: list[RenderableType] = [head, Text(""), table]
    if grade.misconceptions:
        parts.append(Text(""))
        for m in grade.misconceptions:
            where = f" — “{_clip(m.evidence, 80)}”" if m.evidence else ""
            parts.append(
                Text(f"⚠ misconception (-{m.penalty:g}): {m.text}{where}", style="bold red")
            )
    study = grade.to_study
    if study:
        parts.append(Text(""))
        parts.append(Text("What to study next:", style="bold"))
        # A grid, not "• text" lines: rich wraps at spaces, and Chinese has none, so a long
        # Chinese line would leave its bullet alone on the line above.
        todo = Table.grid(padding=(0, 1))
        todo.add_column(width=3, justify="right")
        todo.add_column(ratio=1, overflow="fold")
        for k in study[:5]:
            todo.add_row("•", f"{k.label + '：' if k.label else ''}{k.text}")
        parts.append(todo)
    notes = [grade.flag_text(f) for f in grade.flags]
    if grade.judge and grade.judge.comment:
        notes.insert(0, f"Judge ({grade.judge.model}): {grade.judge.comment}")
    if notes:
        parts.append(Text(""))
        parts.extend(Text(f"note: {n}", style="dim") for n in notes)
    console.print(Panel(Group(*parts), title=title, title_align="left"))
