"""Progress as one self-contained HTML page: scores over time, mastery per question and the
weakest key points as inline SVG charts, like the batch report (`present.html`): no scripts, no
network, every piece of text escaped."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from statistics import fmean

from evaluator.present.html import (
    _BAND_COLOURS,
    _clip,
    _e,
    page_head,
    score_gridlines,
    share_bars_svg,
    svg_open,
)
from evaluator.present.progress import Progress
from evaluator.present.progress_text import due_text
from evaluator.result import band_for


def timeline_svg(progress: Progress) -> str:
    """Every attempt as a dot (hollow: graded on an earlier rubric version), the mean of each
    day as a line, on 0–100 with the band floors marked."""
    width, height, left, right, top, bottom = 760, 300, 44, 16, 14, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    points = progress.timeline
    start = points[0].at if points else progress.generated_at
    span = max(((points[-1].at - start).total_seconds() if points else 0.0), 1.0)

    def x(seconds: float) -> float:
        return left + (plot_w * seconds / span if len(points) > 1 else plot_w / 2)

    def y(score: float) -> float:
        return top + plot_h - plot_h * score / 100

    parts = [svg_open("score-timeline", "Scores over time", width, height)]
    for floor in (0, 50, 70, 85, 100):
        parts.append(
            f'<line x1="{left}" y1="{y(floor):.1f}" x2="{left + plot_w}" y2="{y(floor):.1f}" '
            f'stroke="#eef2f6"/><text x="{left - 6}" y="{y(floor) + 4:.1f}" font-size="11" '
            f'text-anchor="end">{floor}</text>'
        )
    by_day: dict[date, list[tuple[float, float]]] = defaultdict(list)
    for p in points:
        by_day[p.at.date()].append(((p.at - start).total_seconds(), p.score))
    if len(by_day) > 1:  # each day's mean, placed at the mean time of its attempts
        coords = " ".join(
            f"{x(fmean(t for t, _ in day)):.1f},{y(fmean(s for _, s in day)):.1f}"
            for _, day in sorted(by_day.items())
        )
        parts.append(
            f'<polyline class="daily-mean" points="{coords}" fill="none" stroke="#243b53" '
            'stroke-width="1.5"><title>mean score of each day</title></polyline>'
        )
    for p in points:
        colour = _BAND_COLOURS[band_for(p.score)]
        fill = colour if p.current else "#fff"
        name = f"Q{p.number}" if p.number is not None else p.question_id
        version = "" if p.current else ", earlier rubric version"
        parts.append(
            f'<circle class="attempt" cx="{x((p.at - start).total_seconds()):.1f}" '
            f'cy="{y(p.score):.1f}" r="4.5" fill="{fill}" stroke="{colour}" stroke-width="1.5">'
            f"<title>{_e(name)} · {p.at:%Y-%m-%d %H:%M} UTC · {p.score:.0f} "
            f"({_e(p.method)}{version})</title></circle>"
        )
    if points:
        parts.append(
            f'<text x="{left}" y="{height - 18}" font-size="11">{start:%Y-%m-%d}</text>'
            f'<text x="{left + plot_w}" y="{height - 18}" font-size="11" text-anchor="end">'
            f"{points[-1].at:%Y-%m-%d}</text>"
        )
    else:
        parts.append(f'<text x="{left + 8}" y="{top + 20}" font-size="12">no attempts yet</text>')
    parts.append(
        f'<text x="{left + plot_w / 2}" y="{height - 4}" font-size="11" text-anchor="middle">'
        "dot: an attempt (hollow: earlier rubric version) · line: mean of each day</text></svg>"
    )
    return "".join(parts)


def mastery_svg(progress: Progress) -> str:
    """Per question: best score as a bar, last score as a dot."""
    rows = [q for q in progress.questions if q.attempts]
    label_w, plot_w, row_h, top = 300, 400, 22, 28
    width, height = label_w + plot_w + 120, top + row_h * max(len(rows), 1) + 30

    def x(score: float) -> float:
        return label_w + plot_w * score / 100

    parts = [
        svg_open("mastery", "Mastery per question", width, height),
        score_gridlines(x, top, height - 24),
    ]
    for i, q in enumerate(rows):
        best, last = q.best_score or 0.0, q.last_score or 0.0
        yc = top + i * row_h + row_h / 2
        name = f"Q{q.number}" if q.number is not None else q.question_id
        label = _clip(f"{name} {q.title}", 44)
        parts.append(
            f'<g class="question"><title>{_e(name)} {_e(q.title)} — {q.attempts} attempt{"s" * (q.attempts != 1)}, last '
            f"{last:.0f}, best {best:.0f}</title>"
            f'<text x="{label_w - 8}" y="{yc + 4:.1f}" font-size="12" text-anchor="end">'
            f'{_e(label)}</text><rect class="best" x="{label_w}" y="{yc - 6:.1f}" '
            f'width="{max(x(best) - label_w, 1.5):.1f}" height="12" rx="2" '
            f'fill="{_BAND_COLOURS[band_for(best)]}" opacity="0.35"/>'
            f'<circle class="last" cx="{x(last):.1f}" cy="{yc:.1f}" r="4.5" '
            f'fill="{_BAND_COLOURS[band_for(last)]}"/>'
            f'<text x="{label_w + plot_w + 8}" y="{yc + 4:.1f}" font-size="11">last {last:.0f} · '
            f"best {best:.0f}</text></g>"
        )
    if not rows:
        parts.append(f'<text x="{label_w}" y="{top + 14}" font-size="12">no attempts yet</text>')
    parts.append(
        f'<text x="{label_w + plot_w / 2}" y="{height - 6}" font-size="11" '
        'text-anchor="middle">bar: best score · dot: last score</text></svg>'
    )
    return "".join(parts)


def weakest_svg(progress: Progress) -> str:
    """The most-missed key points: the share of attempts that missed each."""
    rows = []
    for w in progress.weakest:
        name = f"Q{w.number}" if w.number is not None else w.question_id
        rows.append(
            (
                _clip(f"{name} — {w.label or w.text}", 70),
                f"{name} {w.title} — {w.text}: missed {w.missed} of {w.graded}",
                w.share,
                f"{w.missed} of {w.graded}",
            )
        )
    return share_bars_svg(
        "weakest-key-points", "Weakest key points", rows, group="weak", empty="nothing missed"
    )


def _questions_table(progress: Progress) -> str:
    head = (
        "<tr><th>Q</th><th>question</th><th>attempts</th><th>last</th><th>best</th>"
        "<th>trend</th><th>next review</th></tr>"
    )
    body = []
    for q in progress.questions:
        tries = f"{q.attempts}" + (
            f" (+{q.earlier_attempts} on an earlier rubric)" if q.earlier_attempts else ""
        )
        cells = [
            f"{q.number}" if q.number is not None else q.question_id,
            q.title,
            tries,
            "–" if q.last_score is None else f"{q.last_score:.0f}",
            "–" if q.best_score is None else f"{q.best_score:.0f}",
            "–" if q.trend is None else f"{q.trend:+.0f}",
            due_text(q, progress.generated_at),
        ]
        body.append("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in cells) + "</tr>")
    return f'<table id="questions"><thead>{head}</thead><tbody>{"".join(body)}</tbody></table>'


def _weakest_list(progress: Progress) -> str:
    items = "".join(
        f"<li><b>Q{_e(w.number if w.number is not None else w.question_id)} "
        f"{_e(w.label)}</b> — {_e(w.text)} <span class=meta>(missed {w.missed} of "
        f"{w.graded})</span></li>"
        for w in progress.weakest
    )
    return f'<ol id="weakest">{items}</ol>' if items else ""


def render_progress_html(progress: Progress, title: str = "Practice progress") -> str:
    practised = sum(1 for q in progress.questions if q.attempts)
    cards = [
        ("attempts", f"{progress.attempts:,}"),
        ("questions practised", f"{practised:,}"),
        ("due now", f"{progress.due_now:,}"),
        ("not started", f"{progress.not_started:,}"),
    ]
    notes = []
    if any(p.method == "embedding" for p in progress.timeline):
        notes.append(
            "Attempts graded by embeddings alone measure key-point coverage and topicality, "
            "not whether the claims are correct."
        )
    if any(q.earlier_attempts for q in progress.questions):
        notes.append(
            "Some attempts were graded against an earlier version of their rubric: they are "
            "drawn hollow and left out of last, best and trend."
        )
    return "".join(
        [
            page_head(title),
            f"<p class=meta>{_e(progress.history)} · "
            f"{progress.generated_at:%Y-%m-%d %H:%M} UTC</p>",
            '<div class="cards">',
            *(f'<div class="card">{_e(k)}<b>{_e(v)}</b></div>' for k, v in cards),
            "</div>",
            *(f'<p class="note">{_e(n)}</p>' for n in notes),
            "<h2>Scores over time</h2>",
            timeline_svg(progress),
            "<h2>Mastery per question</h2>",
            mastery_svg(progress),
            _questions_table(progress),
            "<h2>Weakest key points</h2>",
            weakest_svg(progress),
            _weakest_list(progress),
            "</body></html>\n",
        ]
    )
