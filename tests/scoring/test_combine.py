"""Step 5, combine.py: the judge's verdicts with the embeddings' credit, the verdicts the
answer's words do not support turned to missing, and the misconceptions of both sides."""

from __future__ import annotations

import numpy as np
import pytest

from evaluator.judge.outcome import JudgeOutcome
from evaluator.result import KeyPointResult, MisconceptionHit, Status, Verdict
from evaluator.rubrics.model import Misconception
from evaluator.scoring.calibration import Calibration
from evaluator.scoring.combine import OVERRULED, UNSUPPORTED, WRONG_QUOTE, combine, supported
from evaluator.scoring.evidence import status
from evaluator.scoring.grader import Grader
from tests.scoring.step_fixtures import RUBRIC, grader, outcome

G: Grader = grader()
RV = G.encoder.rubric(RUBRIC)
PLAIN: Calibration = G.calibration  # the hashing calibration: no quote check
QUOTING = PLAIN.model_copy(update={"judge_quote": 0.5})
K1_QUOTE = "用教师模型的软标签训练学生模型"  # states k1, word for word
K2_QUOTE = "学生模型更小，推理更快"  # states k2, not k1
WRONG = "学生模型比教师模型更大。"


def result(kp_id: str, embedding_credit: float) -> KeyPointResult:
    k = next(k for k in RUBRIC.key_points if k.id == kp_id)
    return KeyPointResult(
        id=k.id, label=k.label, text=k.text, weight=k.weight, credit=embedding_credit,
        status=status(embedding_credit, PLAIN), embedding_credit=embedding_credit,
        evidence="e",
    )  # fmt: skip


def quotes(*texts: str) -> dict[str, np.ndarray]:
    return G.encoder.texts(texts)


def combined(
    results: list[KeyPointResult],
    judged: JudgeOutcome,
    *,
    cal: Calibration = PLAIN,
    quoted: dict[str, np.ndarray] | None = None,
    wrong: tuple[str, ...] = (),
    hits: list[MisconceptionHit] | None = None,
    w: float = 0.7,
) -> tuple[list[KeyPointResult], list[MisconceptionHit]]:
    return combine(RUBRIC, RV, results, hits or [], judged, quoted or {}, wrong, cal, w)


# ---------------------------------------------------------------------------- verdicts


def test_a_point_the_judge_did_not_judge_keeps_its_embedding_result() -> None:
    k2 = result("k2", 0.4)
    [_, after], _ = combined([result("k1", 0.2), k2], outcome({"k1": Verdict.COVERED}))
    assert after is k2


@pytest.mark.parametrize(("verdict", "value"), [(Verdict.COVERED, 1.0), (Verdict.PARTIAL, 0.5)])
def test_a_verdict_mixes_with_the_embedding_credit_by_judge_weight(
    verdict: Verdict, value: float
) -> None:
    [k1], _ = combined(
        [result("k1", 0.4)], outcome({"k1": verdict}, {"k1": K1_QUOTE}, reason="ok"), w=0.7
    )
    assert k1.credit == pytest.approx(0.7 * value + 0.3 * 0.4)
    assert k1.status == status(k1.credit, PLAIN)
    assert k1.embedding_credit == 0.4
    assert (k1.judge_verdict, k1.judge_evidence, k1.judge_reason) == (verdict, K1_QUOTE, "ok")


def test_a_contradicted_point_earns_nothing_from_either_side() -> None:
    [k1], _ = combined([result("k1", 0.9)], outcome({"k1": Verdict.CONTRADICTED}))
    assert (k1.credit, k1.status, k1.judge_verdict) == (0.0, Status.CONTRADICTED, "contradicted")
    assert k1.embedding_credit == 0.9


def test_a_missing_verdict_zeroes_the_embedding_credit_and_says_so() -> None:
    [k1], _ = combined([result("k1", 0.8)], outcome({"k1": Verdict.MISSING}, reason="not said"))
    assert (k1.credit, k1.status) == (0.0, Status.MISSED)
    assert k1.judge_reason == f"{OVERRULED}: not said"
    assert k1.embedding_credit == 0.8  # what the embeddings saw is still shown
    [bare], _ = combined([result("k1", 0.8)], outcome({"k1": Verdict.MISSING}, reason=None))
    assert bare.judge_reason == OVERRULED


def test_a_missing_verdict_where_the_embeddings_saw_nothing_overrules_nothing() -> None:
    [k1], _ = combined([result("k1", 0.0)], outcome({"k1": Verdict.MISSING}, reason="absent"))
    assert k1.credit == 0.0 and k1.judge_reason == "absent"


# ---------------------------------------------------------------------------- support


def test_an_unsupported_covered_verdict_becomes_missing() -> None:
    weak = result("k1", 0.1)  # below QUOTING.partial: the embeddings do not see it
    [k1], _ = combined(
        [weak], outcome({"k1": Verdict.COVERED}, {"k1": "不知道"}), cal=QUOTING, w=0.7
    )
    assert k1.judge_verdict == Verdict.MISSING
    assert k1.judge_reason == f"{UNSUPPORTED} (covered)"
    # Our own downgrade: the embeddings' credit stands for its share.
    assert k1.credit == pytest.approx(0.3 * 0.1)
    assert k1.status == status(k1.credit, QUOTING)


def test_a_verdict_without_a_quote_needs_the_embeddings() -> None:
    judged = outcome({"k1": Verdict.PARTIAL, "k2": Verdict.PARTIAL})
    [k1, k2], _ = combined([result("k1", 0.1), result("k2", QUOTING.partial)], judged, cal=QUOTING)
    assert k1.judge_verdict == Verdict.MISSING and k1.judge_reason == f"{UNSUPPORTED} (partial)"
    assert k2.judge_verdict == Verdict.PARTIAL  # the embeddings see it themselves


def test_a_quote_that_states_the_point_supports_the_verdict() -> None:
    judged = outcome({"k1": Verdict.COVERED}, {"k1": K1_QUOTE})
    [k1], _ = combined([result("k1", 0.0)], judged, cal=QUOTING, quoted=quotes(K1_QUOTE))
    assert k1.judge_verdict == Verdict.COVERED


def test_a_quote_of_another_point_does_not_support_this_one() -> None:
    q = quotes(K1_QUOTE, K2_QUOTE)
    assert supported(RUBRIC, RV, result("k1", 0.0), K1_QUOTE, q, QUOTING)
    assert not supported(RUBRIC, RV, result("k1", 0.0), K2_QUOTE, q, QUOTING)
    assert supported(RUBRIC, RV, result("k2", 0.0), K2_QUOTE, q, QUOTING)


def test_a_quote_that_was_never_encoded_supports_nothing() -> None:
    assert not supported(RUBRIC, RV, result("k1", 0.0), K1_QUOTE, {}, QUOTING)
    assert not supported(RUBRIC, RV, result("k1", 0.0), None, quotes(K1_QUOTE), QUOTING)


def test_without_a_quote_check_every_verdict_is_supported() -> None:
    assert PLAIN.judge_quote is None
    assert supported(RUBRIC, RV, result("k1", 0.0), None, {}, PLAIN)
    [k1], _ = combined([result("k1", 0.0)], outcome({"k1": Verdict.COVERED}))
    assert k1.judge_verdict == Verdict.COVERED and k1.credit == pytest.approx(0.7)


def test_a_quote_from_a_misconception_sentence_is_a_wrong_quote() -> None:
    judged = outcome({"k1": Verdict.COVERED}, {"k1": "学生模型比教师模型"})
    # However well the embeddings see the point: the quote is a wrong claim.
    [k1], _ = combined([result("k1", 0.9)], judged, wrong=(WRONG,), w=0.7)
    assert k1.judge_verdict == Verdict.MISSING
    assert k1.judge_reason == f"{WRONG_QUOTE} (covered)"
    assert k1.credit == pytest.approx(0.3 * 0.9)
    right = outcome({"k1": Verdict.COVERED}, {"k1": K1_QUOTE})
    [kept], _ = combined([result("k1", 0.9)], right, wrong=(WRONG,))
    assert kept.judge_verdict == Verdict.COVERED


def test_a_wrong_quote_is_caught_before_the_support_check() -> None:
    judged = outcome({"k1": Verdict.PARTIAL}, {"k1": WRONG})
    [k1], _ = combined([result("k1", 0.0)], judged, cal=QUOTING, wrong=(WRONG,))
    assert k1.judge_reason == f"{WRONG_QUOTE} (partial)"


# ---------------------------------------------------------------------------- misconceptions

RUBRIC_2M = RUBRIC.model_copy(
    update={
        "misconceptions": [
            *RUBRIC.misconceptions,
            Misconception(id="m2", text="蒸馏不需要教师模型", penalty=15),
        ]
    }
)


def embedding_hit(m_id: str) -> MisconceptionHit:
    m = next(m for m in RUBRIC_2M.misconceptions if m.id == m_id)
    return MisconceptionHit(
        id=m.id, text=m.text, penalty=m.penalty, source="embedding", similarity=0.9, evidence="e"
    )


def hits_of(judge_ids: list[str], embedding: list[MisconceptionHit]) -> list[MisconceptionHit]:
    judged = outcome({}, misconceptions=judge_ids)
    _, hits = combine(RUBRIC_2M, RV, [result("k1", 0.0)], embedding, judged, {}, (), PLAIN, 0.5)
    return hits


def test_the_judges_misconceptions_come_with_the_rubrics_text_and_penalty() -> None:
    hits = hits_of(["m2", "m1", "m2"], [])
    assert [(h.id, h.source, h.penalty, h.text) for h in hits] == [
        ("m2", "judge", 15, "蒸馏不需要教师模型"),
        ("m1", "judge", 20, "学生模型比教师模型更大"),
    ]


def test_unknown_misconception_ids_from_the_judge_are_dropped() -> None:
    assert [h.id for h in hits_of(["m9", "m1"], [])] == ["m1"]


def test_embedding_misconceptions_are_added_without_duplicates() -> None:
    hits = hits_of(["m1"], [embedding_hit("m1"), embedding_hit("m2")])
    assert [(h.id, h.source) for h in hits] == [("m1", "judge"), ("m2", "embedding")]
    alone = hits_of([], [embedding_hit("m2")])
    assert [(h.id, h.source, h.evidence) for h in alone] == [("m2", "embedding", "e")]
