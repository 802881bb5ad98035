"""The practice screen: the question, what the grade says, when it comes back, and the few
sentences around them, in English or Chinese (`--lang`)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Literal

from rich.console import Console
from rich.panel import Panel
from rich.text import Text

from evaluator.present.grade_text import terminal
from evaluator.result import Grade
from evaluator.rubrics.model import Rubric

Lang = Literal["en", "zh"]

MESSAGES: dict[str, dict[Lang, str]] = {
    "header": {
        "en": "Practice: {due} due, {new} new this session; {total} in play.",
        "zh": "练习：本次 {due} 道到期复习，{new} 道新题；可练 {total} 道。",
    },
    "grading": {"en": "Graded by: {how}.", "zh": "评分方式：{how}。"},
    "judge": {
        "en": "the LLM judge ({model}) with embeddings",
        "zh": "LLM 评审（{model}）加语义相似度",
    },
    "embeddings": {
        "en": "embeddings alone ({why})",
        "zh": "仅语义相似度（{why}）",
    },
    "no_judge": {"en": "no judge configured", "zh": "未配置评审模型"},
    "judge_off": {"en": "judge turned off", "zh": "评审已关闭"},
    "history": {"en": "History: {path}", "zh": "历史记录：{path}"},
    "new": {"en": "new", "zh": "新题"},
    "due": {"en": "review, due {when}", "zh": "复习，{when}到期"},
    "changed": {
        "en": "rubric changed since your last attempt: its schedule starts afresh",
        "zh": "上次作答后评分标准有改动：重新安排复习",
    },
    "instructions": {
        "en": "Your answer (Enter: new line; an empty line ends it; s: skip, q: quit):",
        "zh": "请作答（回车换行；空行结束；s 跳过，q 退出）：",
    },
    "empty": {
        "en": "Empty answer: type your answer, or s to skip, q to quit.",
        "zh": "答案为空：请作答，或输入 s 跳过、q 退出。",
    },
    "skipped": {"en": "Skipped until the next session.", "zh": "已跳过，下次再练。"},
    "grading_now": {"en": "Grading…", "zh": "评分中……"},
    "next_review": {
        "en": "Next review of Q{number}: {when}.",
        "zh": "Q{number} 下次复习：{when}。",
    },
    "after": {
        "en": "Enter: next question · r: reference answer · q: quit",
        "zh": "回车：下一题 · r：参考答案 · q：退出",
    },
    "reference": {"en": "Reference answer", "zh": "参考答案"},
    "saved": {"en": "Saved {n} attempt{s} to {path}.", "zh": "已保存 {n} 次作答到 {path}。"},
    "done": {
        "en": "Nothing more to practise now.",
        "zh": "现在没有要练的题了。",
    },
    "upcoming": {"en": "Next review: Q{number} {when}.", "zh": "下一次复习：Q{number}，{when}。"},
    "reset": {
        "en": "The old history was moved to {path}.",
        "zh": "旧的历史记录已移到 {path}。",
    },
}


def say(key: str, lang: Lang, **values: object) -> str:
    # {s} is the plural ending of the count {n}: "1 attempt", "0 attempts".
    plural = "s" if values.get("n") != 1 else ""
    return MESSAGES[key][lang].format(s=plural, **values)


def tell(
    console: Console, key: str, lang: Lang, style: str | None = None, **values: object
) -> None:
    """One sentence of MESSAGES on its own line, never broken inside a path."""
    console.print(say(key, lang, **values), style=style, soft_wrap=True)


def when(moment: datetime, now: datetime, lang: Lang) -> str:
    """'in 10 min', 'in 3 days (2026-12-04)', '2 hours ago': how far `moment` is from `now`."""
    delta = moment - now
    ago = delta < timedelta(0)
    span = abs(delta)
    minutes = round(span.total_seconds() / 60)
    date = ""
    if minutes < 1:
        return "现在" if lang == "zh" else "now"
    if minutes < 90:
        amount = f"{minutes} 分钟" if lang == "zh" else f"{minutes} min"
    elif span < timedelta(hours=36):
        hours = round(minutes / 60)
        amount = f"{hours} 小时" if lang == "zh" else f"{hours} hour{'s' * (hours != 1)}"
    else:
        days = round(span / timedelta(days=1))
        amount = f"{days} 天" if lang == "zh" else f"{days} days"
        date = f"（{moment:%Y-%m-%d}）" if lang == "zh" else f" ({moment:%Y-%m-%d})"
    if lang == "zh":
        return f"{amount}{'前' if ago else '后'}{date}"
    return f"{amount} ago{date}" if ago else f"in {amount}{date}"


def question_panel(
    console: Console, rubric: Rubric, kind: str, due: datetime | None, now: datetime, lang: Lang
) -> None:
    """The question to answer and why it comes now (new, due since …, rubric changed)."""
    if kind == "due" and due is not None:
        why = say("due", lang, when=when(due, now, lang))
    else:
        why = say(kind, lang)
    name = f"Q{rubric.number}" if rubric.number is not None else rubric.id
    body = Text.assemble((rubric.title, "bold"), "\n\n", rubric.question)
    style = "yellow" if kind == "changed" else "cyan"
    console.print(Panel(body, title=f"{name} · {why}", title_align="left", border_style=style))


def result(console: Console, grade: Grade, next_due: datetime, now: datetime, lang: Lang) -> None:
    """The grade (the same panel as `evaluator grade`) and when the question comes back."""
    terminal(grade, console)
    number = grade.question_number if grade.question_number is not None else grade.question_id
    tell(console, "next_review", lang, number=number, when=when(next_due, now, lang))


def reference(console: Console, rubric: Rubric, lang: Lang) -> None:
    from rich.markdown import Markdown

    # Rendered as Markdown so bullets wrap under their text; a line that is not a bullet starts
    # a paragraph of its own (a plain line would be read as the bullet above continuing).
    text = re.sub(r"\n(?!\s*[-*•]\s)", "\n\n", rubric.reference_answer.strip())
    console.print(Panel(Markdown(text), title=say("reference", lang), title_align="left"))
