"""Step 7, assemble.py: the Grade from one answer's evidence and its judge outcome: method and
why, flags, the judge's part, a "pick k" group's surplus, the score and the feedback."""

from __future__ import annotations

import dataclasses

from evaluator.errors import JudgeError
from evaluator.judge.outcome import JudgeOutcome
from evaluator.result import Flag, Grade, Status, Verdict, band_for
from evaluator.rubrics.model import KeyPoint, KeyPointGroup, Rubric
from evaluator.scoring.assemble import assemble
from evaluator.scoring.combine import WRONG_QUOTE
from evaluator.scoring.evidence import Evidence
from evaluator.scoring.prepare import Prepared
from tests.scoring.step_fixtures import GOOD, RUBRIC, WRONG_FIRST, grader, outcome, seen

G = grader()


def assembled(
    answer: str,
    judged: JudgeOutcome | JudgeError | None = None,
    *,
    has_judge: bool = False,
    rubric: Rubric = RUBRIC,
    injected: bool = False,
    embed_ms: float = 1.234,
) -> Grade:
    p, ev = seen(G, rubric, answer)
    if injected:
        p = dataclasses.replace(p, injected=True)
    return assemble_prepared(p, ev, judged, has_judge=has_judge or judged is not None, ms=embed_ms)


def assemble_prepared(
    p: Prepared,
    ev: Evidence,
    judged: JudgeOutcome | JudgeError | None,
    *,
    has_judge: bool,
    ms: float,
) -> Grade:
    return assemble(
        p,
        ev,
        judged,
        rv=G.encoder.rubric(p.rubric),
        cal=G.calibration,
        judge_weight=0.5,
        quotes={},
        embedder=G.embedder.name,
        has_judge=has_judge,
        embed_ms=ms,
    )


# ---------------------------------------------------------------------------- method


def test_without_a_judge_the_grade_says_embeddings_alone() -> None:
    grade = assembled(GOOD)
    assert (grade.method, grade.method_reason) == ("embedding", "no judge configured")
    assert grade.flags == [Flag.EMBEDDING_ONLY] and grade.judge is None
    assert grade.embedder == "hashing"
    assert grade.timings_ms["embed_ms"] == 1.23 and "score_ms" in grade.timings_ms
    assert "judge_ms" not in grade.timings_ms


def test_an_empty_answer_with_a_judge_says_it_was_empty() -> None:
    grade = assembled("", None, has_judge=True)
    assert (grade.method, grade.method_reason) == ("embedding", "answer is empty")
    assert grade.score == 0.0 and grade.band == "none"
    assert Flag.EMPTY in grade.flags and Flag.EMBEDDING_ONLY in grade.flags
    assert Flag.JUDGE_UNSCORED not in grade.flags


def test_an_unscored_judge_falls_back_to_the_embeddings_and_says_why() -> None:
    grade = assembled(GOOD, JudgeError("judge unreachable at http://127.0.0.1:9/v1"))
    assert grade.method == "embedding"
    assert grade.method_reason == (
        "judge unscored (judge unreachable at http://127.0.0.1:9/v1); graded by embeddings alone"
    )
    assert Flag.JUDGE_UNSCORED in grade.flags and Flag.EMBEDDING_ONLY in grade.flags
    assert grade.score == assembled(GOOD).score and grade.judge is None


def test_a_judged_answer_combines_both() -> None:
    judged = outcome({"k1": Verdict.COVERED, "k2": Verdict.PARTIAL}, latency_ms=42.0)
    grade = assembled(GOOD, judged)
    assert (grade.method, grade.method_reason) == (
        "embedding+judge",
        "judge and embeddings combined",
    )
    assert Flag.EMBEDDING_ONLY not in grade.flags and Flag.JUDGE_UNSCORED not in grade.flags
    assert grade.judge == judged.info and grade.timings_ms["judge_ms"] == 42.0
    assert [k.judge_verdict for k in grade.key_points] == [Verdict.COVERED, Verdict.PARTIAL]


def test_the_judges_missing_verdict_lowers_the_score() -> None:
    alone = assembled(GOOD)
    grade = assembled(GOOD, outcome({"k1": Verdict.MISSING, "k2": Verdict.MISSING}))
    assert alone.score > 90 and grade.score == 0.0
    assert all(k.status == Status.MISSED for k in grade.key_points)


def test_a_verdict_quoted_from_a_misconception_sentence_is_not_kept() -> None:
    judged = outcome({"k1": Verdict.COVERED}, {"k1": "学生模型比教师模型更大"})
    k1 = assembled(WRONG_FIRST, judged).key_points[0]
    assert k1.judge_verdict == Verdict.MISSING
    assert k1.judge_reason is not None and k1.judge_reason.startswith(WRONG_QUOTE)


# ---------------------------------------------------------------------------- flags


def test_the_judges_injection_suspicion_is_flagged() -> None:
    judged = outcome({"k1": Verdict.COVERED}).model_copy(update={"injection_suspected": True})
    assert Flag.POSSIBLE_INJECTION in assembled(GOOD, judged).flags
    assert Flag.POSSIBLE_INJECTION not in assembled(GOOD, outcome({"k1": Verdict.COVERED})).flags


def test_an_injected_answer_is_flagged_once() -> None:
    assert Flag.POSSIBLE_INJECTION in assembled(GOOD, injected=True).flags
    judged = outcome({"k1": Verdict.COVERED}).model_copy(update={"injection_suspected": True})
    flags = assembled(GOOD, judged, injected=True).flags
    assert flags.count(Flag.POSSIBLE_INJECTION) == 1


def test_a_misconception_found_by_either_side_is_flagged() -> None:
    by_embeddings = assembled(WRONG_FIRST)
    assert [m.id for m in by_embeddings.misconceptions] == ["m1"]
    assert Flag.MISCONCEPTION in by_embeddings.flags
    by_judge = assembled(GOOD, outcome({"k1": Verdict.COVERED}, misconceptions=["m1"]))
    assert [(m.id, m.source) for m in by_judge.misconceptions] == [("m1", "judge")]
    assert Flag.MISCONCEPTION in by_judge.flags
    assert Flag.MISCONCEPTION not in assembled(GOOD).flags


def test_the_evidences_flags_are_kept() -> None:
    grade = assembled("Photosynthesis converts light into chemical energy in plants.")
    assert Flag.OFF_TOPIC in grade.flags and grade.score <= 10


# ---------------------------------------------------------------------------- pick k

PICK_TWO = Rubric(
    id="q8",
    title="如何处理模型过拟合？",
    question="请列举两种处理模型过拟合的方法。",
    reference_answer="正则化；dropout；早停。",
    key_points=[
        KeyPoint(id="regularisation", text="在损失函数中加入L1或L2正则化项，惩罚模型复杂度"),
        KeyPoint(id="dropout", text="使用dropout，在训练过程中随机丢弃部分神经元"),
        KeyPoint(id="early-stopping", text="使用早停，在验证集损失不再下降时停止训练"),
    ],
    groups=[
        KeyPointGroup(id="ways", key_points=["regularisation", "dropout", "early-stopping"], pick=2)
    ],
)
THREE_WAYS = (
    "在损失函数中加入L1或L2正则化项，惩罚模型复杂度。"
    "使用dropout，在训练过程中随机丢弃部分神经元。"
    "可以在验证集损失不再下降时停止。"
)


def test_a_pick_k_groups_surplus_is_not_counted() -> None:
    grade = assembled(THREE_WAYS, rubric=PICK_TWO)
    assert [k.credit for k in grade.key_points] == [1.0, 1.0, 1.0]  # three ways, two asked
    # Ties: the later in rubric order is the one not needed.
    counted = {k.id: k.counted for k in grade.key_points}
    assert counted == {"regularisation": True, "dropout": True, "early-stopping": False}
    assert grade.score == 100.0


def test_an_unneeded_member_missed_costs_nothing_and_is_not_to_study() -> None:
    two_ways = THREE_WAYS[: THREE_WAYS.index("可以")]
    grade = assembled(two_ways, rubric=PICK_TWO)
    stop = next(k for k in grade.key_points if k.id == "early-stopping")
    assert stop.status != Status.COVERED and not stop.counted
    assert grade.score == 100.0 and grade.to_study == [] and grade.missed == []


def test_without_a_surplus_every_point_counts() -> None:
    assert all(k.counted for k in assembled(GOOD).key_points)


# ---------------------------------------------------------------------------- the grade


def test_the_grade_names_its_question_and_its_band() -> None:
    grade = assembled("学生模型更小，推理更快。")
    assert (grade.question_id, grade.question_number, grade.question_title) == (
        "t-q11",
        11,
        "什么是模型蒸馏",
    )
    assert 0 < grade.score < 100 and grade.band == band_for(grade.score)
    assert grade.topicality is not None and 0 < grade.topicality <= 1


def test_feedback_is_written_in_the_rubrics_language() -> None:
    partial = "学生模型更小，推理更快。"
    assert "建议复习" in assembled(partial).feedback
    english = RUBRIC.model_copy(update={"language": "en"})
    assert "Study next" in assembled(partial, rubric=english).feedback
