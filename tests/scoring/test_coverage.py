"""Coverage scoring: matching, lexical features, verdicts, and the scorer's arithmetic through the
Grader (hashing embedder, hand-set calibrations so every number can be worked out)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from evaluator.result import Flag
from evaluator.rubrics.model import KeyPoint, Misconception, Rubric
from evaluator.scoring import coverage
from evaluator.scoring.calibration import Calibration
from evaluator.scoring.grader import Grader
from evaluator.settings import Settings
from evaluator.text import content_tokens


def unit(*values: float) -> np.ndarray:
    v = np.array(values, dtype=np.float32)
    return v / np.linalg.norm(v)


# ---------------------------------------------------------------------------- pure functions


PLAIN = Calibration(low=0.0, high=1.0, off_topic=0.1, misconception=0.8)  # similarity alone


def test_evidence_picks_the_most_similar_candidate() -> None:
    queries = np.stack([unit(1, 0, 0), unit(0, 1, 0)])
    candidates = np.stack([unit(0, 1, 0.1), unit(1, 0.2, 0), unit(0, 0, 1)])
    sims = coverage.similarity_matrix(queries, candidates)
    found = coverage.key_point_evidence(sims, np.zeros_like(sims), PLAIN)
    assert found.index.tolist() == [1, 0]
    assert found.strength[0] == pytest.approx(1 / math.sqrt(1.04), abs=1e-6)


def test_evidence_with_no_candidates_is_zero() -> None:
    sims = coverage.similarity_matrix(np.stack([unit(1, 0)]), np.zeros((0, 2), dtype=np.float32))
    assert coverage.key_point_evidence(sims, sims, PLAIN).strength.tolist() == [0.0]


def test_demote_removes_the_question_direction() -> None:
    question = unit(1, 0, 0)
    vectors = np.stack([unit(1, 1, 0), unit(1, 0, 1)])
    rest = coverage.demote(vectors, question)
    assert np.allclose(rest @ question, 0, atol=1e-6)
    assert np.allclose(np.linalg.norm(rest, axis=1), 1)
    # Both restate the question and differ otherwise: similar before, orthogonal after.
    assert float(vectors[0] @ vectors[1]) == pytest.approx(0.5)
    assert float(rest[0] @ rest[1]) == pytest.approx(0.0, abs=1e-6)


def test_similarities_are_compared_after_demotion() -> None:
    question = unit(1, 0, 0)
    key_point = np.stack([unit(1, 1, 0)])
    restates_question = unit(1, 0, 0.05)  # close to the key point only through the question
    says_the_point = unit(0.2, 1, 0)
    candidates = np.stack([restates_question, says_the_point])
    plain = coverage.similarity_matrix(key_point, candidates)[0]
    assert plain[0] > 0.7  # restating the question looks like the point...
    demoted = coverage.similarity_matrix(key_point, candidates, question=question)[0]
    assert demoted[0] == pytest.approx(0.0, abs=0.1)  # ...until the question is removed
    assert demoted[1] == pytest.approx(1.0, abs=1e-6)


def test_recall_leaves_question_words_out() -> None:
    q = content_tokens("什么是模型蒸馏")
    kp = content_tokens("模型蒸馏用教师模型训练学生模型")
    restating = content_tokens("模型蒸馏就是模型蒸馏")
    answering = content_tokens("用教师模型训练学生")
    # kp bigrams: 模型 型蒸 蒸馏 馏用 用教 教师 师模 型训 训练 练学 学生 生模 (12)
    assert coverage.recall(kp, restating, frozenset()) == pytest.approx(3 / 12)
    assert coverage.recall(kp, restating, q) == 0.0
    # Without 模型 型蒸 蒸馏 (question words), 7 of the remaining 9 (not 馏用, 生模).
    assert coverage.recall(kp, answering, q) == pytest.approx(7 / 9)
    # A key point made only of question words still counts them.
    assert coverage.recall(q, restating, q) == pytest.approx(4 / 6)  # not 什么, 么是
    assert coverage.recall(frozenset(), restating, q) == 0.0


def test_a_key_point_listing_alternatives_is_stated_by_any_one_of_them() -> None:
    point = "给出具体的增强方式，如图像旋转、缩放、随机裁剪，或文本的回译。"
    ways = coverage.wordings(point)
    assert len(ways) == 4  # one per alternative, each with the words outside the list
    assert all(content_tokens("增强方式") <= w for w in ways)
    assert content_tokens("缩放") <= ways[1] and not content_tokens("旋转") & ways[1]
    one_example = content_tokens("可以把图像旋转一下")
    q = content_tokens("请给出数据增强的例子")
    whole = coverage.recall(content_tokens(point), one_example, q)
    by_wordings = coverage.candidate_recall([ways], [one_example], q)[0, 0]
    # Naming one example no longer counts as missing the others.
    assert by_wordings == pytest.approx(coverage.recall(ways[0], one_example, q))
    assert by_wordings > 1.5 * whole
    # A key point without a list has one wording: its own tokens.
    assert coverage.wordings("用教师模型训练学生") == (content_tokens("用教师模型训练学生"),)


def test_length_ratio_only_penalises_shortness() -> None:
    assert coverage.length_ratio("模型" * 10, "模型" * 10) == 0.0
    assert coverage.length_ratio("模型" * 40, "模型" * 10) == 0.0
    assert coverage.length_ratio("模型" * 5, "模型" * 10) == pytest.approx(math.log(0.5))
    assert coverage.length_ratio("", "模型") == -10.0
    assert coverage.length_ratio("模型", "") == 0.0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("错误。栈中元素可以删除", False),
        ("错，栈底元素可以出栈", False),
        ("答：不正确，因为", False),
        ("这是错误的。", False),
        ("叙述正确，栈是后进先出", True),
        ("正确的，顺序栈", True),
        ("False, because the stack", False),
        ("True.", True),
        ("No, it is not", False),
        ("对于链表来说", None),
        ("正确答案是链表", None),
        ("No constructor is provided", None),
        ("Correctly sized arrays", None),
        ("模型蒸馏是", None),
    ],
)
def test_verdict(text: str, expected: bool | None) -> None:
    assert coverage.verdict(text) is expected


def test_lexical_features() -> None:
    features = coverage.lexical_features(
        ["错误。栈中元素可以一个一个删除", "栈底元素最后删除"],
        "判断：栈底元素是不能删除的元素",
        "正确，栈底元素不能删除",
    )
    assert features.contradicted.tolist() == [True, False]
    assert features.key_points.shape == (2,)
    assert features.length < 0  # shorter than the key points together
    agreeing = coverage.lexical_features(["错误。栈中元素可以删除"], "判断题", "错误，可以删除")
    assert agreeing.contradicted.tolist() == [False]


def test_misconception_needs_similarity_and_margin() -> None:
    cal = Calibration(low=0, high=1, off_topic=0, misconception=0.8, misconception_margin=0.1)
    mis = np.stack([unit(1, 0, 0)])
    kps = np.stack([unit(0, 1, 0)])
    states_it = unit(1, 0.1, 0)
    near_a_key_point = unit(1, 0.9, 0)  # similar to the misconception, but also to a key point
    hits = coverage.misconception_matches(mis, np.stack([near_a_key_point, states_it]), kps, cal)
    assert [(h.index, h.unit) for h in hits] == [(0, 1)]
    assert coverage.misconception_matches(mis, np.stack([near_a_key_point]), kps, cal) == []
    assert coverage.misconception_matches(np.zeros((0, 3)), np.stack([states_it]), kps, cal) == []


def test_a_clause_that_repeats_the_wrong_claims_words_needs_less_similarity() -> None:
    cal = Calibration(
        low=0, high=1, off_topic=0, misconception=0.7, misconception_clause_extra=0.1,
        misconception_margin=0.05, misconception_worded_margin=0.1, misconception_worded=0.65,
    )  # fmt: skip
    mis = np.stack([unit(1, 0, 0)])
    kps = np.stack([unit(0, 1, 0)])
    clause = unit(1, 0.5, 0.6)  # similarity 0.79 (< 0.7 + 0.1), margin 0.39 over the key point
    as_sentence = coverage.misconception_matches(mis, np.stack([clause]), kps, cal)
    as_clause = coverage.misconception_matches(mis, np.stack([clause]), kps, cal, clauses_from=0)
    topic_only = np.array([[False]])
    worded = np.array([[True]])
    assert [h.unit for h in as_sentence] == [0]
    assert as_clause == []
    assert (
        coverage.misconception_matches(mis, np.stack([clause]), kps, cal, 0, worded=topic_only)
        == []
    )
    hits = coverage.misconception_matches(mis, np.stack([clause]), kps, cal, 0, worded=worded)
    assert [h.unit for h in hits] == [0]
    denied = coverage.misconception_matches(
        mis, np.stack([clause]), kps, cal, 0, denied=worded, worded=worded
    )
    assert denied == []


def test_a_sentence_that_repeats_the_wrong_claims_words_needs_less_similarity_too() -> None:
    cal = Calibration(
        low=0, high=1, off_topic=0, misconception=0.7, misconception_margin=0.05,
        misconception_worded_margin=0.1, misconception_worded=0.65,
    )  # fmt: skip
    mis = np.stack([unit(1, 0, 0)])
    kps = np.stack([unit(0, 1, 0)])
    sentence = unit(0.67, 0.2, 0.72)  # similarity 0.67 to the misconception, 0.2 to the point
    assert mis[0] @ sentence == pytest.approx(0.67, abs=0.01)
    worded, topic_only = np.array([[True]]), np.array([[False]])
    hits = coverage.misconception_matches(mis, np.stack([sentence]), kps, cal, worded=worded)
    assert [h.unit for h in hits] == [0]
    assert coverage.misconception_matches(mis, np.stack([sentence]), kps, cal) == []
    assert (
        coverage.misconception_matches(mis, np.stack([sentence]), kps, cal, worded=topic_only) == []
    )
    # The wider margin is still needed: just as close to a key point, it asserts nothing.
    near_a_point = np.stack([unit(0, 0.6, 0.8)])  # 0.69 from the sentence
    kp_close = coverage.misconception_matches(
        mis, np.stack([sentence]), near_a_point, cal, worded=worded
    )
    assert kp_close == []
    # Without `misconception_worded`, a sentence needs `misconception` as before.
    plain = cal.model_copy(update={"misconception_worded": None})
    assert (
        coverage.misconception_matches(mis, np.stack([sentence]), kps, plain, worded=worded) == []
    )


def test_topicality_is_the_dot_product() -> None:
    assert coverage.topicality(unit(1, 1), unit(1, 0)) == pytest.approx(math.sqrt(0.5))


# ---------------------------------------------------------------------------- the scorer

# Similarity alone, ramp 0 -> 1: credit is the (question-demoted) similarity itself.
PLAIN = Calibration(low=0.0, high=1.0, off_topic=-1.0, misconception=0.9)

RUBRIC = Rubric(
    id="t-distil",
    title="模型蒸馏",
    question="请解释模型蒸馏。",
    reference_answer="用教师模型的软标签训练学生模型。学生模型更小推理更快。",
    key_points=[
        KeyPoint(id="k1", text="用教师模型的软标签训练学生模型", weight=3),
        KeyPoint(id="k2", text="学生模型更小推理更快", weight=1),
    ],
    misconceptions=[Misconception(id="m1", text="学生模型比教师模型更大参数更多", penalty=30)],
)


def grade(answer: str, calibration: Calibration = PLAIN, rubric: Rubric = RUBRIC):
    grader = Grader("hashing", calibration=calibration, settings=Settings(use_cache=False))
    return grader.grade(rubric, answer)


def test_score_is_the_weighted_mean_of_credits() -> None:
    g = grade("用教师模型的软标签训练学生模型。")
    k1, k2 = g.key_points
    assert k1.credit == pytest.approx(1.0, abs=1e-4)  # the key point verbatim
    assert 0 <= k2.credit < 0.6
    assert g.score == pytest.approx(round(100 * (3 * k1.credit + k2.credit) / 4, 1), abs=0.06)


def test_weights_decide_which_point_matters() -> None:
    first = grade("用教师模型的软标签训练学生模型。")
    second = grade("学生模型更小推理更快。")
    assert first.key_points[0].credit == pytest.approx(second.key_points[1].credit, abs=1e-4)
    assert first.score > second.score  # the same credit on the weight-3 point is worth more


def test_lexical_weight_adds_credit_for_the_right_terms() -> None:
    lexical = PLAIN.model_copy(update={"lexical": 0.5})
    answer = "学生模型更小，推理也更快一些，部署方便。"
    plain, boosted = grade(answer), grade(answer, lexical)
    assert boosted.key_points[1].credit > plain.key_points[1].credit


def test_ramp_endpoints_shape_the_credit() -> None:
    cal = Calibration(low=0.2, high=0.6, off_topic=-1, misconception=0.9)
    sims = np.array([0.1, 0.2, 0.4, 0.6, 0.9])
    assert cal.credit(sims).tolist() == pytest.approx([0, 0, 0.5, 1, 1])
    weighted = cal.model_copy(update={"lexical": 0.5, "length": 0.1})
    z = weighted.evidence(np.array([0.3]), np.array([0.4]), -1.0)
    assert z.tolist() == pytest.approx([0.3 + 0.2 - 0.1])
    credit = weighted.credit(np.array([0.3]), np.array([0.4]), -1.0)
    assert credit.tolist() == pytest.approx([(0.4 - 0.2) / (0.6 - 0.2)])


def test_misconception_costs_its_penalty() -> None:
    answer = "用教师模型的软标签训练学生模型。学生模型比教师模型更大参数更多。"
    g = grade(answer)
    assert [m.id for m in g.misconceptions] == ["m1"] and Flag.MISCONCEPTION in g.flags
    credit_score = 100 * sum(k.credit * k.weight for k in g.key_points) / 4
    assert g.score == pytest.approx(round(credit_score - 30, 1), abs=0.06)


def test_penalties_clip_at_zero() -> None:
    rubric = RUBRIC.model_copy(
        update={
            "misconceptions": [
                Misconception(id="m1", text="学生模型比教师模型更大参数更多", penalty=100)
            ]
        }
    )
    g = grade("学生模型比教师模型更大参数更多。", rubric=rubric)
    assert g.misconceptions and g.score == 0.0


def test_off_topic_answer_is_capped() -> None:
    strict = PLAIN.model_copy(update={"off_topic": 0.99, "off_topic_cap": 10.0})
    answer = "用教师模型的软标签训练学生模型。学生模型更小推理更快，部署方便。"
    g = grade(answer, strict)
    assert Flag.OFF_TOPIC in g.flags and g.score <= 10.0
    lenient = grade(answer)
    assert Flag.OFF_TOPIC not in lenient.flags and lenient.score > 90


def test_floor_credit_never_reaches_empty_answers() -> None:
    generous = Calibration(low=-1.0, high=1.0, off_topic=-1, misconception=0.9)
    for empty in ["", "   ", "\n\u3000", "。！？"]:
        g = grade(empty, generous)
        assert g.score == 0.0 and Flag.EMPTY in g.flags
    assert grade("无关的一句话。", generous).score > 0


def test_contradicted_verdict_earns_nothing() -> None:
    rubric = Rubric(
        id="t-stack",
        title="栈底元素",
        question="判断并解释：栈底元素是不能删除的元素",
        reference_answer="错误。栈中元素可以从栈顶逐个出栈，最后删除栈底元素。",
        key_points=[KeyPoint(id="k1", text="错误。栈中元素可以从栈顶逐个出栈，最后删除栈底元素。")],
    )
    right = grade("错误。栈中元素可以从栈顶逐个出栈，最后删除栈底元素。", rubric=rubric)
    wrong = grade("正确。栈中元素从栈顶逐个出栈，栈底元素不能删除。", rubric=rubric)
    assert right.score > 90
    assert wrong.score == 0.0 and wrong.key_points[0].credit == 0.0


# ---------------------------------------------------------------------------- key_point_evidence

EVIDENCE_CAL = Calibration(
    low=0.0, high=1.0, lexical=1.0, exclusivity=1.0, states=0.5, cross_language=2.0,
    cross_language_floor=0.1, off_topic=0.1, misconception=0.8,
)  # fmt: skip


def test_evidence_adds_recall_per_candidate_and_picks_the_best() -> None:
    sims = np.array([[0.6, 0.2], [0.1, 0.5]], dtype=np.float32)
    recall = np.array([[0.0, 0.5], [0.0, 0.4]], dtype=np.float32)
    plain = EVIDENCE_CAL.model_copy(update={"exclusivity": 0.0, "states": None})
    found = coverage.key_point_evidence(sims, recall, plain)
    assert found.index.tolist() == [1, 1]
    assert found.strength.tolist() == pytest.approx([0.7, 0.9])


def test_a_candidate_counts_less_for_a_point_another_states_better() -> None:
    # One sentence states key point 0 strongly (0.9) and looks a little like key point 1 (0.6).
    sims = np.array([[0.9], [0.6]], dtype=np.float32)
    found = coverage.key_point_evidence(sims, np.zeros((2, 1), np.float32), EVIDENCE_CAL)
    assert found.strength.tolist() == pytest.approx([0.9, 0.3])
    # Reference sentences (not distinct claims) do not compete.
    alike = coverage.key_point_evidence(
        sims, np.zeros((2, 1), np.float32), EVIDENCE_CAL, distinct=False
    )
    assert alike.strength.tolist() == pytest.approx([0.9, 0.6])


def test_filler_that_states_no_point_is_evidence_of_none() -> None:
    sims = np.array([[0.45, 0.8], [0.44, 0.1]], dtype=np.float32)
    found = coverage.key_point_evidence(sims, np.zeros((2, 2), np.float32), EVIDENCE_CAL)
    # Candidate 0 (best 0.45 < states 0.5) is filler: key point 1 gets nothing from it.
    assert found.strength[0] == pytest.approx(0.8)
    assert found.strength[1] <= 0


def test_ignored_candidates_are_evidence_of_nothing() -> None:
    sims = np.array([[0.9, 0.6]], dtype=np.float32)
    found = coverage.key_point_evidence(
        sims, np.zeros((1, 2), np.float32), EVIDENCE_CAL, ignore=[True, False]
    )
    assert found.index.tolist() == [1]
    assert found.strength.tolist() == pytest.approx([0.6])


def test_across_languages_similarity_alone_counts_above_its_floor() -> None:
    sims = np.array([[0.5]], dtype=np.float32)
    recall = np.ones((1, 1), dtype=np.float32)  # ignored: no word is shared across languages
    found = coverage.key_point_evidence(sims, recall, EVIDENCE_CAL, cross_language=True)
    assert found.strength.tolist() == pytest.approx([(0.5 - 0.1) * 2.0])


def test_across_languages_the_points_compete_with_their_own_exclusivity() -> None:
    # One sentence: key point 0 at e = 2·(0.6-0.1) = 1.0, key point 1 at 2·(0.5-0.1) = 0.8.
    sims = np.array([[0.6], [0.5]], dtype=np.float32)
    recall = np.zeros((2, 1), dtype=np.float32)
    strict = EVIDENCE_CAL.model_copy(update={"exclusivity": 2.0})
    same = coverage.key_point_evidence(sims, recall, strict, cross_language=True)
    assert same.strength.tolist() == pytest.approx([1.0, 0.4])
    own = strict.model_copy(update={"cross_language_exclusivity": 1.0})
    found = coverage.key_point_evidence(sims, recall, own, cross_language=True)
    assert found.strength.tolist() == pytest.approx([1.0, 0.6])
    # Within one language the rubric's exclusivity still holds.
    assert coverage.key_point_evidence(sims, recall, own).strength.tolist() == pytest.approx(
        [0.6, 0.3]
    )
