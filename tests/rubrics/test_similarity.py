"""Question and key point similarity (evaluator/rubrics/similarity.py): the related pairs and
best matches its shortcuts give are those of comparing every pair."""

from __future__ import annotations

import itertools
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evaluator.rubrics.model import KeyPoint, Rubric
from evaluator.rubrics.similarity import KeyPointText, QuestionSimilarity, best_match, ratio


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_related_pairs_are_every_pair_that_reaches_the_floor(seed: int) -> None:
    rng = random.Random(seed)
    # Few distinct words, so that many pairs are related and some sit near the floor.
    words = ["分布式", "训练", "优化器", "数据", "增强", "模型", "蒸馏", "剪枝", "注意力", "学习率"]
    rubrics = [
        Rubric(
            id=f"r-q{i}",
            title="".join(rng.sample(words, 2)),
            question=f"请解释{''.join(rng.sample(words, rng.randint(1, 3)))}的概念。",
            reference_answer="答。",
            key_points=[KeyPoint(id="k1", text="答案。")],
        )
        for i in range(80)
    ]
    similarity = QuestionSimilarity(rubrics)
    first, second = similarity.related(rubrics, 0.2)
    found = list(zip(first.tolist(), second.tolist(), strict=True))
    assert found == sorted(found) and all(i < j for i, j in found)  # combinations' order
    expected = {
        (i, j)
        for i, j in itertools.combinations(range(len(rubrics)), 2)
        if similarity(rubrics[i], rubrics[j]) >= 0.2
    }
    assert expected <= set(found)
    assert 0 < len(expected) < len(rubrics) * (len(rubrics) - 1) // 2


_TEXT = st.text(alphabet="abcde的是了，。 ", max_size=12)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(_TEXT, _TEXT), max_size=6),
    st.sampled_from([0.0, 0.5, 0.6, 0.9, 1.0]),
)
def test_best_match_is_the_first_highest_ratio_of_all_pairs(
    pairs: list[tuple[str, str]], floor: float
) -> None:
    points = [
        (
            KeyPointText.of(KeyPoint.model_construct(id=f"a{i}", label="", text=a)),
            KeyPointText.of(KeyPoint.model_construct(id=f"b{i}", label="", text=b)),
        )
        for i, (a, b) in enumerate(pairs)
    ]
    scored = [(ratio(a, b), i) for i, (a, b) in enumerate(pairs)]
    best = max(scored, key=lambda s: s[0], default=None)  # max() keeps the first of equals
    got = best_match(points, floor)
    if best is None or best[0] < floor:
        assert got is None
    else:
        assert got is not None
        assert (got[0], got[1].id, got[2].id) == (best[0], f"a{best[1]}", f"b{best[1]}")
