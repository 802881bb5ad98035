"""The batch report as one self-contained HTML page.

No scripts and no network assets: inline CSS and SVG charts drawn here, with every piece of
user text escaped (answers are untrusted), so the page renders offline and runs nothing.
"""

from __future__ import annotations

import html
import math
import unicodedata
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from evaluator.present.summary import BANDS, Summary, score_text

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI","Noto Sans CJK SC","Microsoft YaHei",sans-serif;
margin:2rem auto;max-width:1200px;padding:0 1rem;color:#1f2933;background:#fff}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #d9e2ec}
.meta{color:#52606d}.cards{display:flex;flex-wrap:wrap;gap:.8rem;margin:1rem 0}
.card{border:1px solid #d9e2ec;border-radius:6px;padding:.5rem .9rem;min-width:7rem}
.card b{display:block;font-size:1.3rem}.note{color:#8d2b0b;background:#fff4e5;padding:.4rem .7rem;border-radius:4px}
table{border-collapse:collapse;width:100%;font-size:13px}th,td{border:1px solid #d9e2ec;padding:4px 6px;
vertical-align:top;text-align:left}th{background:#f0f4f8;position:sticky;top:0}
td.num{text-align:right;white-space:nowrap}td.ans{max-width:28rem;white-space:pre-wrap;word-break:break-word}
td.fb{max-width:28rem;word-break:break-word}tr.err td{background:#fff0f0}
.band-excellent{color:#17663a}.band-good{color:#2f8132}.band-fair{color:#a66b00}.band-weak,.band-none{color:#ab091e}
svg text{font-family:inherit}svg{max-width:100%;height:auto}
"""
_BAND_COLOURS = {
    "excellent": "#17663a",
    "good": "#3f9142",
    "fair": "#e0a800",
    "weak": "#d64545",
    "none": "#ab091e",
}


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _clip(text: str, limit: int) -> str:
    """At most `limit` half-width columns (a CJK character takes two), for SVG labels."""
    used = 0
    for i, char in enumerate(text):
        used += 2 if unicodedata.east_asian_width(char) in "WF" else 1
        if used > limit:
            return text[: max(i - 1, 0)] + "…"
    return text


def histogram_svg(summary: Summary) -> str:
    bins = summary.histogram()
    width, height, left, bottom, top = 640, 260, 48, 36, 16
    plot_w, plot_h = width - left - 16, height - bottom - top
    step = max(1, math.ceil(max((c for _, _, c in bins), default=0) / 4))
    peak = step * 4  # whole-number gridlines
    bar_w = plot_w / len(bins)
    parts = [
        f'<svg id="score-histogram" class="chart" role="img" xmlns="http://www.w3.org/2000/svg" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}">',
        "<title>Score distribution</title>",
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" '
        'stroke="#52606d"/>',
    ]
    for tick in range(5):
        value = step * tick
        y = top + plot_h - plot_h * tick / 4
        parts.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" stroke="#eef2f6"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end">'
            f"{value:,}</text>"
        )
    for i, (lo, hi, count) in enumerate(bins):
        h = plot_h * count / peak
        x = left + i * bar_w
        band = "excellent" if lo >= 85 else "good" if lo >= 70 else "fair" if lo >= 50 else "weak"
        parts.append(
            f'<rect class="bar" x="{x + 2:.1f}" y="{top + plot_h - h:.1f}" width="{bar_w - 4:.1f}" '
            f'height="{h:.1f}" fill="{_BAND_COLOURS[band]}"><title>{lo:g}–{hi:g}: {count:,} rows'
            "</title></rect>"
        )
        if count:
            parts.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{top + plot_h - h - 4:.1f}" font-size="11" '
                f'text-anchor="middle">{count:,}</text>'
            )
        parts.append(
            f'<text x="{x + bar_w / 2:.1f}" y="{top + plot_h + 16}" font-size="11" '
            f'text-anchor="middle">{lo:g}–{hi:g}</text>'
        )
    parts.append(
        f'<text x="{left + plot_w / 2}" y="{height - 4}" font-size="12" text-anchor="middle">'
        "score</text></svg>"
    )
    return "".join(parts)


def svg_open(svg_id: str, title: str, width: int, height: int) -> str:
    return (
        f'<svg id="{svg_id}" class="chart" role="img" xmlns="http://www.w3.org/2000/svg" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}">'
        f"<title>{_e(title)}</title>"
    )


def score_gridlines(x: Callable[[float], float], top: float, bottom: float) -> str:
    """Vertical gridlines at scores 0, 20, …, 100, labelled above `top`."""
    return "".join(
        f'<line x1="{x(tick):.1f}" y1="{top - 6}" x2="{x(tick):.1f}" y2="{bottom}" '
        f'stroke="#eef2f6"/><text x="{x(tick):.1f}" y="{top - 10}" font-size="11" '
        f'text-anchor="middle">{tick}</text>'
        for tick in range(0, 101, 20)
    )


def questions_svg(summary: Summary, limit: int = 40) -> str:
    rows = summary.question_rows()[:limit]
    label_w, plot_w, row_h, top = 300, 420, 22, 28
    width = label_w + plot_w + 110
    height = top + row_h * max(len(rows), 1) + 30
    x0 = label_w

    def x(score: float) -> float:
        return x0 + plot_w * score / 100

    parts = [
        svg_open("question-means", "Mean score per question, with spread", width, height),
        score_gridlines(x, top, height - 24),
    ]
    for i, (qid, title, s) in enumerate(rows):
        y = top + i * row_h + row_h / 2
        label = _clip(title if title == qid else f"{title} [{qid}]", 44)
        lo_sd, hi_sd = max(s.mean - s.stdev, 0.0), min(s.mean + s.stdev, 100.0)
        parts.append(
            f'<g class="question"><title>{_e(title)} — n={s.count:,}, mean {s.mean:.1f}, '
            f"sd {s.stdev:.1f}, range {s.low:g}–{s.high:g}</title>"
            f'<text x="{x0 - 8}" y="{y + 4:.1f}" font-size="12" text-anchor="end">{_e(label)}</text>'
            f'<line x1="{x(s.low):.1f}" y1="{y:.1f}" x2="{x(s.high):.1f}" y2="{y:.1f}" '
            'stroke="#9aa5b1" stroke-width="1.5"/>'
            f'<rect x="{x(lo_sd):.1f}" y="{y - 6:.1f}" width="{max(x(hi_sd) - x(lo_sd), 1.5):.1f}" '
            'height="12" fill="#bcccdc" rx="2"/>'
            f'<circle class="mean" cx="{x(s.mean):.1f}" cy="{y:.1f}" r="4.5" fill="#243b53"/>'
            f'<text x="{x0 + plot_w + 8}" y="{y + 4:.1f}" font-size="11">{s.mean:.1f} '
            f"(n={s.count:,})</text></g>"
        )
    if not rows:
        parts.append(f'<text x="{x0}" y="{top + 14}" font-size="12">no graded rows</text>')
    parts.append(
        f'<text x="{x0 + plot_w / 2}" y="{height - 6}" font-size="11" text-anchor="middle">'
        "dot: mean · box: ±1 sd · line: min–max</text></svg>"
    )
    return "".join(parts)


def share_bars_svg(
    svg_id: str,
    title: str,
    rows: Sequence[tuple[str, str, float, str]],
    *,
    group: str,
    empty: str,
) -> str:
    """Horizontal bars of shares in [0, 1], one per (label, tooltip, share, value text) row."""
    label_w, plot_w, row_h, top = 460, 300, 22, 12
    width = label_w + plot_w + 110
    height = top + row_h * max(len(rows), 1) + 12
    parts = [
        f'<svg id="{svg_id}" class="chart" role="img" '
        f'xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}"><title>{_e(title)}</title>'
    ]
    for i, (label, tooltip, share, value) in enumerate(rows):
        y = top + i * row_h
        parts.append(
            f'<g class="{group}"><title>{_e(tooltip)}</title>'
            f'<text x="{label_w - 8}" y="{y + 15}" font-size="12" text-anchor="end">{_e(label)}'
            f'</text><rect x="{label_w}" y="{y + 4}" width="{max(plot_w * share, 1):.1f}" '
            f'height="14" fill="#d64545" rx="2"/><text x="{label_w + plot_w * share + 6:.1f}" '
            f'y="{y + 15}" font-size="11">{_e(value)}</text></g>'
        )
    if not rows:
        parts.append(f'<text x="{label_w}" y="{top + 14}" font-size="12">{_e(empty)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def missed_svg(summary: Summary, limit: int = 15) -> str:
    rows = [
        (
            _clip(f"{_clip(title, 24)} — {name}", 70),
            f"{title} — {name}: missed by {count:,} ({share:.0%} of its graded answers)",
            share,
            f"{share:.0%} ({count:,})",
        )
        for title, name, count, share in summary.top_missed(limit)
    ]
    return share_bars_svg(
        "missed-key-points", "Most-missed key points", rows, group="missed", empty="nothing missed"
    )


def page_head(title: str) -> str:
    """The start of a self-contained page, down to its <h1>: no scripts and no fetches, so it
    renders offline and cannot run the answer text it shows."""
    return "".join(
        [
            "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>",
            '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
            "style-src 'unsafe-inline'; img-src data:\">",
            '<meta name=viewport content="width=device-width, initial-scale=1">',
            f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>",
            f"<h1>{_e(title)}</h1>",
        ]
    )


def _rows_table(summary: Summary) -> str:
    head = (
        "<tr><th>row</th><th>id</th><th>question</th><th>score</th><th>band</th><th>method</th>"
        "<th>answer</th><th>feedback</th><th>missed</th><th>flags / error</th></tr>"
    )
    body = []
    for v in summary.table:
        cls = ' class="err"' if v.error else ""
        flags = _e(v.error) if v.error else "<br>".join(_e(f) for f in v.flags)
        body.append(
            f"<tr{cls}><td class=num>{v.row}</td><td>{_e(v.id)}</td>"
            f"<td>{_e(_clip(v.question_title or v.question_id, 60))}</td>"
            f"<td class=num>{score_text(v.score) if v.score is not None else ''}</td>"
            f'<td class="band-{_e(v.band)}">{_e(v.band)}</td><td>{_e(v.method)}</td>'
            f'<td class="ans">{_e(v.answer)}</td><td class="fb">{_e(v.feedback)}</td>'
            f"<td>{'<br>'.join(_e(m) for m in v.missed)}</td><td>{flags}</td></tr>"
        )
    return f'<table id="rows"><thead>{head}</thead><tbody>{"".join(body)}</tbody></table>'


def render_html(summary: Summary, title: str = "Batch grading report", source: str = "") -> str:
    cards = [
        ("rows", f"{summary.rows:,}"),
        ("graded", f"{summary.graded:,}"),
        ("errors", f"{summary.errors:,}"),
        ("mean", score_text(summary.mean)),
        ("median", score_text(summary.median)),
        *((b, f"{summary.bands.get(b, 0):,}") for b in BANDS),
    ]
    methods = ", ".join(f"{m}: {c:,}" for m, c in summary.methods.most_common()) or "–"
    notes = []
    if "embedding" in summary.methods:
        notes.append(
            "Rows graded by embeddings alone measure key-point coverage and topicality, not "
            "whether the claims are correct."
        )
    if summary.rows > len(summary.table):
        notes.append(
            f"The table shows the first {len(summary.table):,} of {summary.rows:,} rows; "
            "every row is in the output file."
        )
    if summary.missed_pruned:
        notes.append("Miss counts are approximate: rare key points were dropped to bound memory.")
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return "".join(
        [
            page_head(title),
            f"<p class=meta>{_e(source)}{' · ' if source else ''}{when} · method: {_e(methods)}</p>",
            '<div class="cards">',
            *(f'<div class="card">{_e(k)}<b>{_e(v)}</b></div>' for k, v in cards),
            "</div>",
            *(f'<p class="note">{_e(n)}</p>' for n in notes),
            "<h2>Score distribution</h2>",
            histogram_svg(summary),
            "<h2>Per question: mean and spread</h2>",
            questions_svg(summary),
            "<h2>Most-missed key points</h2>",
            missed_svg(summary),
            "<h2>Rows</h2>",
            _rows_table(summary),
            "</body></html>\n",
        ]
    )
