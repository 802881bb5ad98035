"""Properties every bundled rubric must have under the default embedder, whatever its wording:

- its own reference answer is a complete answer: it scores at least 90 and asserts none of the
  rubric's misconceptions (a correct sentence that denies a wrong claim is not that claim);
- each listed misconception is caught, stated alone or inside the reference answer, and costs
  the penalty the rubric gives it.

Grades as `evaluator rubrics test` does: each answer is compared with the whole rubric set.
"""

from __future__ import annotations

import pytest

from evaluator.result import Status
from evaluator.rubrics.lookup import RubricSet
from evaluator.rubrics.model import Misconception, Rubric
from evaluator.scoring.grader import Grader

pytestmark = pytest.mark.real_model

# A misconception added to the reference answer may also move key-point credit a little.
PENALTY_SLACK = 1.0
# Reference answers the default embedder does not yet credit in full, and why. Each is a known
# failure: the test fails when one of them starts to pass, so the list stays true.
UNDER_CREDITED = {
    # "合适的初始化使训练更快收敛" states k3 ("适当的权重初始化可以加速模型收敛") in other words:
    # character bigrams share only 收敛, so the sentence reads as filler (evidence 0.38 < 0.5).
    23: "synonyms (合适/适当, 更快/加速) are not seen by word recall",
}


def misconceptions(rubrics: RubricSet) -> list[tuple[Rubric, Misconception]]:
    return [(r, m) for r in rubrics for m in r.misconceptions]


def test_every_reference_answer_is_a_complete_answer(
    bundled_rubrics: RubricSet, bundled_grader: Grader
) -> None:
    rubrics = list(bundled_rubrics)
    grades = bundled_grader.grade_many([(r, r.reference_answer) for r in rubrics])
    wrong = {
        r.number: f"Q{r.number}: {g.score}"
        + "".join(f", {h.id} matched {h.evidence!r}" for h in g.misconceptions)
        for r, g in zip(rubrics, grades, strict=True)
        if g.score < 90 or g.misconceptions
    }
    assert set(wrong) == set(UNDER_CREDITED), wrong


def test_every_misconception_is_caught_alone(
    bundled_rubrics: RubricSet, bundled_grader: Grader
) -> None:
    pairs = misconceptions(bundled_rubrics)
    grades = bundled_grader.grade_many([(r, m.text) for r, m in pairs])
    missed = [
        f"Q{r.number} {m.id}"
        for (r, m), g in zip(pairs, grades, strict=True)
        if m.id not in {h.id for h in g.misconceptions}
    ]
    assert not missed, missed


def test_a_misconception_inside_the_reference_costs_its_penalty(
    bundled_rubrics: RubricSet, bundled_grader: Grader
) -> None:
    pairs = misconceptions(bundled_rubrics)
    references = {
        r.id: g
        for r, g in zip(
            bundled_rubrics,
            bundled_grader.grade_many([(r, r.reference_answer) for r in bundled_rubrics]),
            strict=True,
        )
    }
    grades = bundled_grader.grade_many([(r, f"{r.reference_answer}\n{m.text}") for r, m in pairs])
    wrong = []
    for (r, m), g in zip(pairs, grades, strict=True):
        hit = next((h for h in g.misconceptions if h.id == m.id), None)
        expected = max(0.0, references[r.id].score - m.penalty)
        if hit is None or hit.penalty != m.penalty or g.score > expected + PENALTY_SLACK:
            wrong.append(f"Q{r.number} {m.id}: {g.score} (reference {references[r.id].score})")
    assert not wrong, wrong


def test_a_key_point_turned_around_in_its_own_words_is_contradicted(
    bundled_rubrics: RubricSet, bundled_grader: Grader
) -> None:
    """Q7's reference with the inference sentence reversed: the embeddings put it at 0.98 to
    the key point it reverses, yet it states the opposite and earns nothing for it."""
    q7 = bundled_rubrics.find(7)
    right = "推理时使用训练期间累积的滑动平均均值和方差，而不是当前批次的统计量"
    assert right in q7.reference_answer
    turned = q7.reference_answer.replace(
        right, "推理时使用当前批次的统计量，而不是训练期间累积的滑动平均均值和方差"
    )
    reference, wrong = bundled_grader.grade_many([(q7, q7.reference_answer), (q7, turned)])
    inference = next(k for k in wrong.key_points if k.id == "k5")
    assert inference.status == Status.CONTRADICTED and inference.credit == 0
    assert wrong.score <= reference.score - 10
