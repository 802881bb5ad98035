"""A short, human feedback paragraph for a grade, in the rubric's language."""

from __future__ import annotations

from evaluator.result import (
    Flag,
    KeyPointResult,
    MisconceptionHit,
    OtherQuestion,
    Status,
    flag_note,
    to_study,
)

_WORDS = {
    "zh": {
        "covered": "已答到",
        "partial": "部分答到",
        "missed": "遗漏",
        "contradicted": "与要点相悖",
        "misconception": "错误说法",
        "study": "建议复习",
        "sep": "；",
        "list": "、",
        "colon": "：",
    },
    "en": {
        "covered": "Covered",
        "partial": "Partly covered",
        "missed": "Missed",
        "contradicted": "Contradicted",
        "misconception": "Wrong claim",
        "study": "Study next",
        "sep": "; ",
        "list": ", ",
        "colon": ": ",
    },
}


def _name(k: KeyPointResult) -> str:
    return k.label or (k.text if len(k.text) <= 40 else k.text[:38] + "…")


def compose(
    language: str,
    key_points: list[KeyPointResult],
    misconceptions: list[MisconceptionHit],
    flags: list[Flag],
    answers_other: OtherQuestion | None = None,
) -> str:
    w = _WORDS.get(language, _WORDS["en"])
    if Flag.EMPTY in flags:
        return flag_note(Flag.EMPTY, language)
    parts: list[str] = []
    if answers_other is not None:
        parts.append(answers_other.sentence(language))
    elif Flag.OFF_TOPIC in flags:
        parts.append(flag_note(Flag.OFF_TOPIC, language))
    key_points = [k for k in key_points if k.counted]  # a pick-k group's surplus is not news
    for status in (Status.COVERED, Status.PARTIAL, Status.MISSED, Status.CONTRADICTED):
        names = [_name(k) for k in key_points if k.status == status]
        if names:
            parts.append(f"{w[status.value]}{w['colon']}{w['list'].join(names)}")
    if misconceptions:
        parts.append(
            f"{w['misconception']}{w['colon']}{w['list'].join(m.text for m in misconceptions)}"
        )
    todo = to_study(key_points)
    if todo:
        parts.append(f"{w['study']}{w['colon']}{w['list'].join(_name(k) for k in todo[:3])}")
    text = w["sep"].join(parts)
    if Flag.EMBEDDING_ONLY in flags:
        text += " " + flag_note(Flag.EMBEDDING_ONLY, language)
    return text
