"""The `Grade`: what grading one answer produces, with the evidence behind every credit."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Flag(StrEnum):
    EMPTY = "empty"
    OFF_TOPIC = "off_topic"
    # Closer to another question of the rubric set than to its own (see Grade.answers_other).
    ANSWERS_OTHER_QUESTION = "answers_other_question"
    MISCONCEPTION = "misconception"
    # Embeddings measure coverage and topicality, not truth (docs/scoring.md, measured).
    EMBEDDING_ONLY = "embedding_only_cannot_verify_correctness"
    POSSIBLE_INJECTION = "possible_injection"
    JUDGE_UNSCORED = "judge_unscored"
    TRUNCATED = "truncated"  # a very long answer: only its first units were graded
    # Only terms, none explained, to a question that asks for more than a list (text.is_term_list).
    TERM_LIST = "term_list"


# What each flag tells a reader, in the languages feedback is written in: the one table that
# feedback, the terminal report and `evaluator check` all print from.
FLAG_NOTES: dict[Flag, dict[str, str]] = {
    Flag.EMPTY: {"en": "The answer is empty.", "zh": "答案为空。"},
    Flag.OFF_TOPIC: {
        "en": "The answer seems to address a different question; its score is capped.",
        "zh": "答案与本题关系不大，像是在回答别的问题。",
    },
    Flag.ANSWERS_OTHER_QUESTION: {
        "en": "The answer reads like an answer to another question; its score is capped.",
        "zh": "答案更像是在回答另一道题，分数已封顶。",
    },
    Flag.MISCONCEPTION: {
        "en": "The answer states a known misconception (points deducted).",
        "zh": "答案包含已知的错误说法（已扣分）。",
    },
    Flag.EMBEDDING_ONLY: {
        "en": "(Graded by embeddings alone: they measure coverage and topicality, not truth. A "
        "wrong claim in the right words can still score well.)",
        "zh": "（仅按语义相似度评分：能衡量覆盖面，不能核实说法是否正确。）",
    },
    Flag.POSSIBLE_INJECTION: {
        "en": "The answer contains text addressed to the grader; it was treated as content and "
        "did not change the rubric or raise the score.",
        "zh": "答案中有写给评分者的指令，已作为普通内容处理，不会改变评分标准或提高分数。",
    },
    Flag.JUDGE_UNSCORED: {
        "en": "The LLM judge gave no usable verdict; embeddings alone were used.",
        "zh": "LLM 评审没有给出可用的结论，仅按语义相似度评分。",
    },
    Flag.TRUNCATED: {
        "en": "The answer is very long; only its first part was graded.",
        "zh": "答案过长，只评了前面的部分。",
    },
    Flag.TERM_LIST: {
        "en": "The answer only names terms without explaining them: no point earns full credit.",
        "zh": "答案只罗列了术语，没有解释：要点都不能得满分。",
    },
}


def flag_note(flag: Flag, language: str = "en") -> str:
    notes = FLAG_NOTES[flag]
    return notes.get(language, notes["en"])


class Status(StrEnum):
    COVERED = "covered"
    PARTIAL = "partial"
    MISSED = "missed"
    CONTRADICTED = "contradicted"


class Verdict(StrEnum):
    """What the LLM judge says about one key point."""

    COVERED = "covered"
    PARTIAL = "partial"
    MISSING = "missing"
    CONTRADICTED = "contradicted"


Method = Literal["embedding", "embedding+judge"]
Band = Literal["excellent", "good", "fair", "weak", "none"]


def band_for(score: float) -> Band:
    if score >= 85:
        return "excellent"
    if score >= 70:
        return "good"
    if score >= 50:
        return "fair"
    if score > 0:
        return "weak"
    return "none"


class _Result(BaseModel):
    model_config = ConfigDict(extra="forbid")


class KeyPointResult(_Result):
    id: str
    label: str
    text: str
    weight: float
    credit: float = Field(ge=0, le=1)
    status: Status
    # Embedding side: best-matching answer unit (or window) and its cosine similarity.
    embedding_credit: float | None = Field(default=None, ge=0, le=1)
    similarity: float | None = None
    evidence: str | None = None
    # Judge side, when a judge scored this grade.
    judge_verdict: Verdict | None = None
    judge_evidence: str | None = None
    judge_reason: str | None = None
    # False for a member of a "pick k" group beyond its k best: not needed, not in the score.
    counted: bool = True


class MisconceptionHit(_Result):
    id: str
    text: str
    penalty: float
    source: Literal["embedding", "judge"]
    similarity: float | None = None
    evidence: str | None = None


class JudgeInfo(_Result):
    model: str
    base_url: str  # never carries credentials
    prompt_version: str
    latency_ms: float = 0.0
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cached: bool = False
    comment: str | None = None
    ignored_key_points: list[str] = Field(default_factory=list)
    # Key points asked about again in the consistency pass (judge_recheck); their verdict is
    # the lower of the two.
    rechecked: list[str] = Field(default_factory=list)


class OtherQuestion(_Result):
    """The question of the rubric set an answer matches clearly better than its own."""

    id: str
    number: int | None = None
    title: str
    margin: float  # how much closer the answer is to it than to its own question

    def sentence(self, language: str = "en") -> str:
        """ "这更像是对 Q23（权重初始化）的回答。" in the rubric's language."""
        name = f"Q{self.number}" if self.number is not None else self.id
        title = topic(self.title)
        title = title if len(title) <= 30 else title[:29] + "…"
        if language == "zh":
            return f"这更像是对 {name}（{title}）的回答。"
        return f"This reads like an answer to {name} ({title})."


# What a title asks about, for naming a question in one breath: its first question, without
# "什么是…" / "What is…" around it or a parenthesised gloss after a Chinese term.
_ASKING = re.compile(
    r"^(?:什么是|何为|请解释|请描述|请简要描述|请列举)|(?:是什么|是指什么|有哪些)$"
    r"|^(?:what|which)\s+(?:is|are)\s+(?:an?\s+|the\s+)?",
    re.IGNORECASE,
)
_GLOSS = re.compile(r"[（(][^（）()]*[)）]")


def topic(title: str) -> str:
    """ "什么是权重初始化（Weight Initialization）？请解释其作用。" -> "权重初始化";
    "What is dropout? Explain." -> "dropout". The title itself when nothing is left."""
    first = re.split(r"[？?。！!]", title.strip(), maxsplit=1)[0].strip()
    if re.search(r"[\u3400-\u9fff]", _GLOSS.sub("", first)):
        first = _GLOSS.sub("", first)
    short = _ASKING.sub("", first).strip(" ：:，,")
    return short or title.strip()


def to_study(key_points: list[KeyPointResult]) -> list[KeyPointResult]:
    """Counted key points not yet covered, weakest first (heaviest first among equals): what the
    feedback and the terminal tell a student to study next."""
    todo = [k for k in key_points if k.counted and k.status != Status.COVERED]
    return sorted(todo, key=lambda k: (k.credit, -k.weight))


class Grade(_Result):
    question_id: str
    question_number: int | None = None
    question_title: str
    score: float = Field(ge=0, le=100)
    band: Band
    method: Method
    method_reason: str  # why this method: "no judge configured", "judge unreachable: ..."
    key_points: list[KeyPointResult]
    misconceptions: list[MisconceptionHit] = Field(default_factory=list)
    flags: list[Flag] = Field(default_factory=list)
    feedback: str = ""
    embedder: str
    judge: JudgeInfo | None = None
    timings_ms: dict[str, float] = Field(default_factory=dict)
    # Whole-answer similarity to the question / reference (drives the off-topic gate).
    topicality: float | None = None
    answers_other: OtherQuestion | None = None

    def flag_text(self, flag: Flag, language: str = "en") -> str:
        """What `flag` tells a reader about this grade: its note, naming the other question
        when the grade answers one."""
        if flag == Flag.ANSWERS_OTHER_QUESTION and self.answers_other is not None:
            return self.answers_other.sentence(language) + (
                "分数已封顶。" if language == "zh" else " Its score is capped."
            )
        return flag_note(flag, language)

    @property
    def covered(self) -> list[KeyPointResult]:
        return [k for k in self.key_points if k.status == Status.COVERED]

    @property
    def missed(self) -> list[KeyPointResult]:
        return [
            k
            for k in self.key_points
            if k.counted and k.status in (Status.MISSED, Status.CONTRADICTED)
        ]

    @property
    def to_study(self) -> list[KeyPointResult]:
        return to_study(self.key_points)
