"""A short, human feedback paragraph for a grade, in the rubric's language."""

from __future__ import annotations

from evaluator.grade import Flag, KeyPointResult, MisconceptionHit, Status

_WORDS = {
    "zh": {
        "covered": "已答到",
        "partial": "部分答到",
        "missed": "遗漏",
        "contradicted": "与要点相悖",
        "misconception": "错误说法",
        "study": "建议复习",
        "empty": "答案为空。",
        "off_topic": "答案与本题关系不大，像是在回答别的问题。",
        "embedding_only": "（仅按语义相似度评分：能衡量覆盖面，不能核实说法是否正确。）",
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
        "empty": "The answer is empty.",
        "off_topic": "The answer does not address this question.",
        "embedding_only": "(Scored by semantic similarity only: it measures coverage, "
        "not whether the claims are correct.)",
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
) -> str:
    w = _WORDS.get(language, _WORDS["en"])
    if Flag.EMPTY in flags:
        return w["empty"]
    parts: list[str] = []
    if Flag.OFF_TOPIC in flags:
        parts.append(w["off_topic"])
    for status in (Status.COVERED, Status.PARTIAL, Status.MISSED, Status.CONTRADICTED):
        names = [_name(k) for k in key_points if k.status == status]
        if names:
            parts.append(f"{w[status.value]}{w['colon']}{w['list'].join(names)}")
    if misconceptions:
        parts.append(
            f"{w['misconception']}{w['colon']}{w['list'].join(m.text for m in misconceptions)}"
        )
    todo = sorted(
        (k for k in key_points if k.status != Status.COVERED), key=lambda k: (k.credit, -k.weight)
    )
    if todo:
        parts.append(f"{w['study']}{w['colon']}{w['list'].join(_name(k) for k in todo[:3])}")
    text = w["sep"].join(parts)
    if Flag.EMBEDDING_ONLY in flags:
        text += " " + w["embedding_only"]
    return text
