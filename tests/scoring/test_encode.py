"""Step 2, encode.py: rubric and answer vectors, each distinct text through the embedder once.
A counting wrapper around the hashing stub records every encode call."""

from __future__ import annotations

import numpy as np
import pytest

from evaluator.rubrics.model import KeyPoint, Rubric
from evaluator.scoring import encode
from evaluator.scoring.encode import TOPIC_CHARS, Encoder
from evaluator.scoring.prepare import prepare
from evaluator.text import embedding_text
from tests.scoring.step_fixtures import GOOD, RUBRIC, CountingEmbedder

OTHER = RUBRIC.model_copy(update={"id": "t-q12", "question": "什么是知识迁移？"})
# A key point that lists alternatives: each is matched (and encoded) on its own.
AUGMENT = Rubric(
    id="q3",
    title="什么是数据增强？",
    question="请解释数据增强，并给出一个例子。",
    reference_answer="数据增强对训练样本做变换。例如图像旋转、缩放、随机裁剪、添加噪声。",
    key_points=[
        KeyPoint(id="k1", label="概念", text="数据增强对原始样本做变换，生成新的训练样本。"),
        KeyPoint(
            id="k2", label="例子", text="给出具体的增强方式，如图像旋转、缩放、随机裁剪、添加噪声。"
        ),
    ],
)


def rubric_texts(r: Rubric) -> list[str]:
    return [
        *(k.text for k in r.key_points),
        *(m.text for m in r.misconceptions),
        r.question,
        r.reference_answer,
    ]


def test_a_rubric_is_encoded_in_one_call_and_then_reused() -> None:
    counting = CountingEmbedder()
    encoder = Encoder(counting)
    first = encoder.rubric(RUBRIC)
    assert counting.calls == [rubric_texts(RUBRIC)]
    again = encoder.rubric(RUBRIC.model_copy())  # equal content, another object
    assert again is first and len(counting.calls) == 1
    encoder.answers([prepare(RUBRIC, GOOD)])
    assert len(counting.calls) == 2  # the answer's texts only


def test_rubric_vectors_have_one_row_per_text() -> None:
    counting = CountingEmbedder()
    rv = Encoder(counting).rubric(RUBRIC)
    direct = counting.inner.encode(rubric_texts(RUBRIC))
    assert np.allclose(rv.key_points, direct[:2]) and np.allclose(rv.misconceptions, direct[2:3])
    assert np.allclose(rv.topic, direct[3:5])  # question, then reference answer
    assert rv.examples.shape == (0, counting.inner.dim) and rv.example_of == []


def test_a_key_points_listed_alternatives_are_encoded_and_owned_by_it() -> None:
    counting = CountingEmbedder()
    rv = Encoder(counting).rubric(AUGMENT)
    assert counting.calls[0][-4:] == ["图像旋转", "缩放", "随机裁剪", "添加噪声"]
    assert rv.example_of == [1, 1, 1, 1]
    assert np.allclose(rv.examples[0], counting.inner.encode(["图像旋转"])[0])


def test_rubrics_not_seen_yet_are_encoded_together() -> None:
    counting = CountingEmbedder()
    encoder = Encoder(counting)
    encoder.rubric(AUGMENT)
    encoder.add_rubrics([AUGMENT, RUBRIC, OTHER, RUBRIC])
    assert len(counting.calls) == 2
    # AUGMENT is not encoded again; OTHER repeats all of RUBRIC but its question.
    assert counting.calls[1] == [*rubric_texts(RUBRIC), OTHER.question]
    assert np.allclose(encoder.rubric(OTHER).topic[0], counting.inner.encode([OTHER.question]))
    assert np.allclose(encoder.rubric(OTHER).topic[1], encoder.rubric(RUBRIC).topic[1])


def test_a_batch_of_answers_is_one_call_with_repeated_texts_taken_out() -> None:
    counting = CountingEmbedder()
    encoder = Encoder(counting)
    encoder.rubric(RUBRIC)
    batch = [prepare(RUBRIC, a) for a in (GOOD, "学生模型更小，推理更快。", GOOD)]
    vectors = encoder.answers(batch)
    assert len(counting.calls) == 2
    sent = counting.calls[1]
    assert len(sent) == len(set(sent))
    # Every candidate, whole answer and clause of the batch, once.
    wanted = {embedding_text(t) for p in batch for t in [*p.candidates, p.answer, *p.clauses]}
    assert set(sent) == wanted
    assert np.array_equal(vectors[0].candidates, vectors[2].candidates)  # type: ignore[union-attr]


def test_each_answer_gets_its_own_rows_back() -> None:
    counting = CountingEmbedder()
    encoder = Encoder(counting)
    batch = [
        prepare(RUBRIC, a) for a in ("学生模型更小，推理更快。", GOOD, "学生模型更小，推理更快。")
    ]
    for p, v in zip(batch, encoder.answers(batch), strict=True):
        assert v is not None
        assert np.allclose(v.candidates, counting.inner.encode(p.candidates))
        assert np.allclose(v.whole, counting.inner.encode([p.answer])[0])
        clauses = counting.inner.encode(p.clauses) if p.clauses else np.zeros((0, 1024))
        assert np.allclose(v.clauses, clauses)


def test_an_empty_answer_gets_none_and_sends_no_text() -> None:
    counting = CountingEmbedder()
    encoder = Encoder(counting)
    encoder.rubric(RUBRIC)
    assert encoder.answers([prepare(RUBRIC, "  "), prepare(RUBRIC, "")]) == [None, None]
    assert len(counting.calls) == 1  # the rubric's
    mixed = encoder.answers([prepare(RUBRIC, ""), prepare(RUBRIC, GOOD)])
    assert mixed[0] is None and mixed[1] is not None


def test_a_batchs_rubrics_are_encoded_in_one_call_before_its_answers() -> None:
    counting = CountingEmbedder()
    Encoder(counting).answers([prepare(RUBRIC, GOOD), prepare(OTHER, GOOD)])
    assert len(counting.calls) == 2
    assert RUBRIC.question in counting.calls[0] and OTHER.question in counting.calls[0]
    assert GOOD in counting.calls[1]


def test_the_whole_answer_is_encoded_from_its_first_topic_chars() -> None:
    counting = CountingEmbedder()
    p = prepare(RUBRIC, "学生模型更小，推理更快。" * 400)
    assert len(p.answer) > TOPIC_CHARS
    Encoder(counting).answers([p])
    assert p.answer[:TOPIC_CHARS] in counting.calls[1] and p.answer not in counting.calls[1]


def test_texts_are_encoded_as_embedding_text() -> None:
    counting = CountingEmbedder()
    Encoder(counting).answers([prepare(RUBRIC, "训练时间缩短.难点在于通信")])
    assert "训练时间缩短。难点在于通信" in counting.calls[1]
    assert "训练时间缩短.难点在于通信" not in counting.texts


def test_loose_texts_are_deduplicated_into_one_call() -> None:
    counting = CountingEmbedder()
    encoder = Encoder(counting)
    found = encoder.texts(["学生模型更小", "用教师模型训练", "学生模型更小"])
    assert counting.calls == [["学生模型更小", "用教师模型训练"]]
    assert set(found) == {"学生模型更小", "用教师模型训练"}
    assert np.allclose(found["用教师模型训练"], counting.inner.encode(["用教师模型训练"])[0])
    assert encoder.texts([]) == {} and len(counting.calls) == 1


def test_topics_are_each_rubrics_question_and_reference_in_one_call() -> None:
    counting = CountingEmbedder()
    encoder = Encoder(counting)
    encoder.rubric(RUBRIC)
    topics = encoder.topics([RUBRIC, OTHER])
    assert [r.id for r, _ in topics] == ["t-q11", "t-q12"]
    assert len(counting.calls) == 2 and RUBRIC.question not in counting.calls[1]
    assert np.array_equal(topics[0][1], encoder.rubric(RUBRIC).topic)
    assert encoder.topics([]) == [] and len(counting.calls) == 2


def test_rubric_vectors_kept_in_memory_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(encode, "MAX_RUBRICS", 2)
    counting = CountingEmbedder()
    encoder = Encoder(counting)
    for r in (RUBRIC, OTHER, AUGMENT):
        encoder.rubric(r)
    assert len(counting.calls) == 3
    encoder.rubric(AUGMENT)
    encoder.rubric(OTHER)
    assert len(counting.calls) == 3  # the two newest are kept
    encoder.rubric(RUBRIC)  # the oldest was dropped: encoded again
    assert len(counting.calls) == 4 and counting.calls[3] == rubric_texts(RUBRIC)
