"""Step 3, evidence.py: what the embeddings see in one answer (hashing stub, so every similarity
is shared characters), and how key_point_results turns it into credit."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from evaluator.polarity import denies
from evaluator.result import Flag, Status
from evaluator.rubrics.io import load_rubrics
from evaluator.rubrics.lookup import RubricSet
from evaluator.rubrics.model import KeyPoint, Rubric
from evaluator.scoring.evidence import (
    answers_other,
    asserts,
    candidate_features,
    find_evidence,
    key_point_results,
    misconception_hits,
    opposes,
    status,
)
from evaluator.scoring.prepare import prepare
from tests.helpers import SEED_SUBSET_RUBRICS, write_rubrics
from tests.scoring.step_fixtures import GOOD, RUBRIC, WRONG_FIRST, grader, seen

NO_MISCONCEPTIONS = RUBRIC.model_copy(update={"misconceptions": []})
# Asserts m1 ("学生模型比教师模型更大") in the words of k2 ("学生模型更小，推理更快").
WRONG_AND_FAST = "学生模型比教师模型更大，推理更快。"
DISTILLATION = (
    "模型蒸馏把复杂的教师模型的知识迁移到简单的学生模型中：学生模型学习教师模型输出的软标签，"
    "即带温度的概率分布。"
)


@pytest.fixture(scope="module")
def rubrics(tmp_path_factory: pytest.TempPathFactory) -> RubricSet:
    return load_rubrics(write_rubrics(tmp_path_factory.mktemp("r"), SEED_SUBSET_RUBRICS))


def unit(*values: float) -> np.ndarray:
    v = np.array(values, dtype=np.float32)
    return v / np.linalg.norm(v)


# ---------------------------------------------------------------------------- find_evidence


def test_each_key_point_gets_its_best_candidate() -> None:
    _, ev = seen(grader(), RUBRIC, GOOD)
    assert ev.evidence == [
        "模型蒸馏就是用教师模型的软标签训练学生模型。",
        "学生模型更小，推理更快。",
    ]
    assert ev.similarity.shape == ev.strength.shape == (2,)
    assert ev.flags == [] and ev.misconceptions == [] and ev.answers_other is None


def test_an_empty_answer_is_flagged_empty_with_zero_evidence() -> None:
    g = grader()
    p = prepare(RUBRIC, " ")
    ev = find_evidence(p, None, g.encoder.rubric(RUBRIC), g.calibration)
    assert ev.flags == [Flag.EMPTY] and ev.lexical is None and ev.topicality == 0.0
    assert ev.evidence == [None, None] and ev.strength.tolist() == [0.0, 0.0]


def test_an_answer_left_empty_by_its_injection_is_not_flagged_empty() -> None:
    g = grader()
    p = dataclasses.replace(prepare(RUBRIC, ""), injected=True)
    assert find_evidence(p, None, g.encoder.rubric(RUBRIC), g.calibration).flags == []


def test_a_truncated_answer_is_flagged() -> None:
    _, ev = seen(grader(), RUBRIC, "学生模型更小，推理更快。" * 300)
    assert Flag.TRUNCATED in ev.flags


def test_a_sentence_asserting_a_listed_misconception_earns_no_credit() -> None:
    g = grader()
    p, ev = seen(g, RUBRIC, WRONG_AND_FAST)
    assert [m.id for m in ev.misconceptions] == ["m1"]
    assert [r.credit for r in key_point_results(p, ev, g.calibration)] == [0.0, 0.0]
    # Without the misconception listed, the same sentence is full evidence for k2.
    p, ev = seen(g, NO_MISCONCEPTIONS, WRONG_AND_FAST)
    assert key_point_results(p, ev, g.calibration)[1].credit == 1.0


def test_a_key_points_evidence_skips_the_sentence_that_asserts_a_misconception() -> None:
    g = grader()
    answer = "学生模型比教师模型更大。学生模型更小，推理更快。"
    _, plain = seen(g, NO_MISCONCEPTIONS, answer)
    _, ev = seen(g, RUBRIC, answer)
    assert plain.evidence[0] == "学生模型比教师模型更大。"
    assert ev.evidence[0] != "学生模型比教师模型更大。"
    assert ev.strength[0] < plain.strength[0]


def test_a_reversed_key_point_is_contradicted() -> None:
    g = grader()
    rubric = Rubric(
        id="bn",
        title="BN 推理",
        question="批量归一化在推理时如何计算？",
        reference_answer="推理时使用滑动平均，而不是当前批次的统计量。",
        key_points=[
            KeyPoint(id="k1", text="推理时使用训练中累计的滑动平均，而不是当前批次的统计量")
        ],
    )
    p, right = seen(g, rubric, "推理时使用训练中累计的滑动平均，而不是当前批次的统计量。")
    [kept] = key_point_results(p, right, g.calibration)
    assert not right.turned[0] and kept.status == Status.COVERED
    p, wrong = seen(g, rubric, "推理时使用当前批次的统计量，而不是训练中累计的滑动平均。")
    [lost] = key_point_results(p, wrong, g.calibration)
    assert wrong.turned[0] and lost.status == Status.CONTRADICTED and lost.credit == 0.0


def test_a_term_list_to_a_question_asking_for_more_is_flagged_and_capped(
    rubrics: RubricSet,
) -> None:
    g = grader()
    generous = g.calibration.model_copy(update={"high": 0.2})  # easy full credit
    p, ev = seen(g, rubrics.find(7), "均值方差标准化、缩放平移、训练更稳定", generous)
    assert Flag.TERM_LIST in ev.flags
    capped = [r.credit for r in key_point_results(p, ev, generous)]
    free = [r.credit for r in key_point_results(p, dataclasses.replace(ev, flags=[]), generous)]
    assert max(free) == 1.0 and max(capped) == generous.knee_credit
    assert capped == [min(c, generous.knee_credit) for c in free]


def test_a_term_list_to_a_list_question_is_not_flagged_and_earns_what_it_names(
    rubrics: RubricSet,
) -> None:
    g = grader()
    p, ev = seen(g, rubrics.find(8), "正则化、dropout、数据增强、早停。")
    assert Flag.TERM_LIST not in ev.flags
    assert ev.named == [0, 0, 0, 0]
    assert [r.credit for r in key_point_results(p, ev, g.calibration)] == [1.0] * 4


def test_off_topic_is_flagged_below_the_threshold_only() -> None:
    g = grader()
    _, ev = seen(g, RUBRIC, GOOD)
    t = ev.topicality
    above = g.calibration.model_copy(update={"off_topic": t + 1e-3})
    below = g.calibration.model_copy(update={"off_topic": t - 1e-3})
    assert Flag.OFF_TOPIC in seen(g, RUBRIC, GOOD, above)[1].flags
    assert Flag.OFF_TOPIC not in seen(g, RUBRIC, GOOD, below)[1].flags


def test_topicality_is_the_closer_of_question_and_reference() -> None:
    g = grader()
    p, ev = seen(g, RUBRIC, GOOD)
    [vectors] = g.encoder.answers([p])
    assert vectors is not None
    rv = g.encoder.rubric(RUBRIC)
    assert ev.topicality == pytest.approx(float(max(rv.topic @ vectors.whole)))


def test_a_terse_list_naming_the_items_is_never_off_topic(rubrics: RubricSet) -> None:
    g = grader()
    strict = g.calibration.model_copy(update={"off_topic": 0.99})
    _, ev = seen(g, rubrics.find(8), "正则化、dropout、数据增强、早停。", strict)
    assert ev.topicality < 0.99 and Flag.OFF_TOPIC not in ev.flags


def test_an_answer_to_another_question_of_the_set_names_it(rubrics: RubricSet) -> None:
    g = grader(compare_with=list(rubrics))
    _, ev = seen(g, rubrics.find(7), DISTILLATION)
    assert Flag.ANSWERS_OTHER_QUESTION in ev.flags
    assert ev.answers_other is not None and ev.answers_other.id == "llm-training-q11"
    assert ev.answers_other.number == 11
    # With no margin set in the calibration, nothing is measured.
    unset = g.calibration.model_copy(update={"other_question_margin": None})
    _, off = seen(g, rubrics.find(7), DISTILLATION, unset)
    assert off.answers_other is None and Flag.ANSWERS_OTHER_QUESTION not in off.flags


# ---------------------------------------------------------------------------- answers_other

MARGIN = grader().calibration.model_copy(update={"other_question_margin": 0.1})


def other(rubric_id: str, **update: object) -> Rubric:
    return RUBRIC.model_copy(update={"id": rubric_id, **update})


def test_answers_other_needs_the_margin() -> None:
    whole = unit(1, 0)
    near = (other("q2", number=2), np.stack([unit(1, 0)]))  # closeness 1.0
    assert answers_other(RUBRIC, whole, 0.89, [near], MARGIN) is not None
    assert answers_other(RUBRIC, whole, 0.91, [near], MARGIN) is None


def test_answers_other_names_the_closest_other_question() -> None:
    whole = unit(1, 0)
    topics = [
        (other("q2", number=2), np.stack([unit(1, 1), unit(0, 1)])),  # 0.71
        (other("q3", number=3, title="第三题"), np.stack([unit(0, 1), unit(1, 0.1)])),  # 0.995
        (RUBRIC, np.stack([unit(1, 0)])),  # its own question never counts
    ]
    found = answers_other(RUBRIC, whole, 0.5, topics, MARGIN)
    assert found is not None and (found.id, found.number, found.title) == ("q3", 3, "第三题")
    assert found.margin == pytest.approx(1 / math.sqrt(1.01) - 0.5, abs=1e-4)


def test_answers_other_never_counts_duplicates_either_way() -> None:
    whole = unit(1, 0)
    twin = (other("q2", duplicate_of=RUBRIC.id), np.stack([unit(1, 0)]))
    assert answers_other(RUBRIC, whole, 0.0, [twin], MARGIN) is None
    copy = RUBRIC.model_copy(update={"id": "q3", "duplicate_of": "q2"})
    original = (other("q2"), np.stack([unit(1, 0)]))
    assert answers_other(copy, whole, 0.0, [original], MARGIN) is None


def test_answers_other_is_off_without_a_margin_or_others() -> None:
    whole = unit(1, 0)
    near = (other("q2"), np.stack([unit(1, 0)]))
    unset = MARGIN.model_copy(update={"other_question_margin": None})
    assert answers_other(RUBRIC, whole, 0.0, [near], unset) is None
    assert answers_other(RUBRIC, whole, 0.0, [], MARGIN) is None


# ---------------------------------------------------------------------------- the parts


def test_a_misconception_hit_names_its_sentence_or_clause() -> None:
    g = grader()
    p = prepare(RUBRIC, WRONG_FIRST)
    [v] = g.encoder.answers([p])
    assert v is not None
    [hit] = misconception_hits(p, v, g.encoder.rubric(RUBRIC), g.calibration)
    assert (hit.id, hit.source, hit.penalty) == ("m1", "embedding", 20)
    assert hit.evidence == "学生模型比教师模型更大。"
    long = "模型蒸馏就是用教师模型的软标签训练学生模型，而且学生模型比教师模型更大，推理更快"
    _, ev = seen(g, RUBRIC, long)
    assert [m.evidence for m in ev.misconceptions] == ["而且学生模型比教师模型更大，"]


def test_a_sentence_that_denies_a_misconception_does_not_assert_it() -> None:
    g = grader()
    answer = "学生模型并不比教师模型更大。"
    p = prepare(RUBRIC, answer)
    [v] = g.encoder.answers([p])
    assert v is not None
    rv = g.encoder.rubric(RUBRIC)
    # Close enough in characters to count, were it not a denial.
    assert float(rv.misconceptions[0] @ v.candidates[0]) > g.calibration.misconception
    assert denies(answer, RUBRIC.misconceptions[0].text)
    assert misconception_hits(p, v, rv, g.calibration) == []


def test_asserts_marks_the_texts_that_hold_a_hits_evidence() -> None:
    _, ev = seen(grader(), RUBRIC, WRONG_FIRST)
    texts = ["学生模型比教师模型更大。", "用教师模型的软标签训练学生模型。", WRONG_FIRST]
    assert asserts(texts, ev.misconceptions) == [True, False, True]
    assert asserts(texts, []) == [False, False, False]


def test_opposes_is_statements_by_texts_even_when_empty() -> None:
    found = opposes(["a", "b"], ["xa", "y", "b"], lambda text, s: s in text)
    assert found.tolist() == [[True, False, False], [False, False, True]]
    assert opposes([], ["x"], lambda t, s: True).shape == (0, 1)
    assert opposes(["a"], [], lambda t, s: True).shape == (1, 0)


def test_candidate_features_are_key_points_by_candidates() -> None:
    g = grader()
    p, ev = seen(g, RUBRIC, GOOD)
    [v] = g.encoder.answers([p])
    assert v is not None and ev.lexical is not None
    rv = g.encoder.rubric(RUBRIC)
    sims, recall = candidate_features(p, v.candidates, rv, g.calibration, ev.lexical)
    assert sims.shape == (2, len(p.candidates))
    # The hashing calibration has no local recall: one column, the whole answer's.
    assert not g.calibration.local_recall and recall.shape == (2, 1)
    local = g.calibration.model_copy(update={"local_recall": True})
    _, per_candidate = candidate_features(p, v.candidates, rv, local, ev.lexical)
    assert per_candidate.shape == (2, len(p.candidates))
    assert per_candidate[0, 0] > per_candidate[0, 1]  # k1's words are in the first sentence


def test_a_listed_alternative_raises_its_key_points_similarity() -> None:
    rubric = Rubric(
        id="q3",
        title="什么是数据增强？",
        question="请解释数据增强，并给出一个例子。",
        reference_answer="数据增强对训练样本做变换。例如图像旋转、缩放、随机裁剪、添加噪声。",
        key_points=[
            KeyPoint(id="k1", label="概念", text="数据增强对原始样本做变换，生成新的训练样本。"),
            KeyPoint(
                id="k2",
                label="例子",
                text="给出具体的增强方式，如图像旋转、缩放、随机裁剪、添加噪声。",
            ),
        ],
    )
    g = grader()
    p, ev = seen(g, rubric, "比如对图片做随机裁剪。")
    [v] = g.encoder.answers([p])
    assert v is not None and ev.lexical is not None
    rv = g.encoder.rubric(rubric)
    with_examples, _ = candidate_features(p, v.candidates, rv, g.calibration, ev.lexical)
    bare = dataclasses.replace(rv, examples=rv.examples[:0], example_of=[])
    without, _ = candidate_features(p, v.candidates, bare, g.calibration, ev.lexical)
    assert with_examples[1, 0] > without[1, 0]
    assert with_examples[0, 0] == pytest.approx(without[0, 0])  # k1 lists none


# ---------------------------------------------------------------------------- credit


def test_an_empty_answers_results_are_missed_without_similarity() -> None:
    g = grader()
    p = prepare(RUBRIC, "")
    ev = find_evidence(p, None, g.encoder.rubric(RUBRIC), g.calibration)
    results = key_point_results(p, ev, g.calibration)
    assert [(r.credit, r.status, r.similarity, r.evidence) for r in results] == [
        (0.0, Status.MISSED, None, None)
    ] * 2


def test_results_carry_the_rubrics_key_points_and_the_evidence() -> None:
    g = grader()
    p, ev = seen(g, RUBRIC, GOOD)
    results = key_point_results(p, ev, g.calibration)
    assert [(r.id, r.label, r.weight) for r in results] == [("k1", "定义", 3), ("k2", "压缩", 1)]
    assert [r.evidence for r in results] == ev.evidence
    assert all(r.embedding_credit == r.credit for r in results)
    assert results[0].similarity == pytest.approx(float(ev.similarity[0]), abs=1e-4)


def test_credit_follows_the_calibrations_ramp() -> None:
    g = grader()
    slow = g.calibration.model_copy(update={"low": 0.0, "high": 5.0})  # no point reaches 1
    p, ev = seen(g, RUBRIC, GOOD, slow)
    assert ev.lexical is not None
    credits = [r.credit for r in key_point_results(p, ev, slow)]
    assert all(0 < c < 1 for c in credits)
    z = ev.strength + slow.length * ev.lexical.length
    assert credits == pytest.approx((z / 5.0).tolist(), abs=1e-6)


@pytest.mark.parametrize(
    ("credit", "expected"),
    [(1.0, Status.COVERED), (0.75, Status.COVERED), (0.7499, Status.PARTIAL),
     (0.3, Status.PARTIAL), (0.2999, Status.MISSED), (0.0, Status.MISSED)],
)  # fmt: skip
def test_status_boundaries_are_inclusive(credit: float, expected: Status) -> None:
    cal = grader().calibration.model_copy(update={"covered": 0.75, "partial": 0.3})
    assert status(credit, cal) == expected
