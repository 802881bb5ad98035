"""The real embedding models on examples/answers.csv (hand-written answers to the seed's 30
questions: a good paraphrase, a partial answer, a wrong answer that reuses the right words, and an
answer to a different question).

For every question, the good answer must score above the partial one, which must score above the
off-topic one, and an empty answer scores 0. The wrong answers are not ordered here: embeddings
measure coverage and topicality, not truth (docs/scoring.md); misconceptions and the judge catch them.

- use-multilingual (the default) against the curated rubrics, Chinese and English answers alike
  (the model is cross-lingual);
- sentence-transformers all-MiniLM-L6-v2 on the English answers only: the model has no Chinese,
  so it grades them against English renderings of the same curated rubrics (same ids, weights
  and key points, translated), defined below.
"""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from evaluator.rubrics.io import load_rubrics
from evaluator.rubrics.lookup import RubricSet
from evaluator.rubrics.model import KeyPoint, Misconception, Rubric
from evaluator.scoring.embedding.backends import get_embedder
from evaluator.scoring.grader import Grader
from evaluator.settings import load_settings

pytestmark = pytest.mark.real_model

REPO = Path(__file__).resolve().parents[2]
RUBRICS = REPO / "rubrics" / "llm-training.yaml"
EXAMPLES = REPO / "examples" / "answers.csv"
MINILM = "sentence-transformers:all-MiniLM-L6-v2"
CJK = re.compile(r"[\u3400-\u9fff]")


@pytest.fixture(scope="module")
def rubrics() -> RubricSet:
    return load_rubrics(RUBRICS)


def examples(english_only: bool = False) -> list[dict[str, str]]:
    with EXAMPLES.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    return [r for r in rows if not (english_only and CJK.search(r["answer"]))]


def grader(embedder: str) -> Grader:
    return Grader(embedder, settings=load_settings({"embedder": embedder, "judge": False}))


def check_order(scores: dict[int, dict[str, list[float]]]) -> list[str]:
    """Questions where good > partial >= off_topic does not hold, described.

    A vague partial answer ("把数据分成很多小批次") may earn nothing, as an answer to another
    question does: teachers band a bare keyword at 0-10 (cases-dev.jsonl)."""
    failures = []
    for q, by_kind in sorted(scores.items()):
        good, partial, off = (by_kind.get(k, []) for k in ("good", "partial", "off_topic"))
        assert good and partial and off, f"Q{q}: examples need good, partial and off_topic"
        if not min(good) > max(partial) >= max(off):
            failures.append(f"Q{q}: good {good} partial {partial} off_topic {off}")
    return failures


def test_examples_file_covers_every_question() -> None:
    rows = examples()
    assert {r["expected"] for r in rows} == {"good", "partial", "wrong", "off_topic"}
    per_question = defaultdict(set)
    for r in rows:
        per_question[int(r["question"])].add(r["expected"])
    assert sorted(per_question) == list(range(1, 31))
    assert all({"good", "partial", "off_topic"} <= kinds for kinds in per_question.values())
    english = [r for r in rows if not CJK.search(r["answer"])]
    assert 0 < len(english) < len(rows) / 2  # mostly Chinese, some English


def test_default_embedder_orders_good_partial_off_topic(rubrics: RubricSet) -> None:
    rows = examples()
    g = grader("use-multilingual")
    grades = g.grade_many([(rubrics.find(r["question"]), r["answer"]) for r in rows])
    scores: dict[int, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r, grade in zip(rows, grades, strict=True):
        scores[int(r["question"])][r["expected"]].append(grade.score)
    assert check_order(scores) == []
    empties = g.grade_many([(rubrics.find(str(q)), "") for q in range(1, 31)])
    assert [e.score for e in empties] == [0.0] * 30


# English renderings of the curated rubrics the English examples answer (ids and weights as in
# rubrics/llm-training.yaml), for the English-only model.
ENGLISH = {
    2: (
        "List three ways to optimize the computational performance of large model training.",
        [
            "Use GPUs or other accelerators, whose massive parallel computing speeds up training.",
            "Mixed precision: do most computation in FP16/BF16 (keeping FP32 master weights and "
            "loss scaling for numerical stability), which lowers memory use and bandwidth "
            "pressure and uses low-precision Tensor Cores for higher throughput; the number of "
            "FLOPs does not shrink.",
            "Pruning removes unimportant weights, neurons or channels to cut computation, but the "
            "gain is mainly at inference and needs structured pruning for real speedups.",
            "Data, tensor and pipeline parallelism, ZeRO, operator fusion such as FlashAttention "
            "and gradient checkpointing raise hardware utilization.",
        ],
        [
            "Mixed precision speeds up training by reducing the number of operations.",
            "Mixed precision converts all parameters and computations to float16 with no float32 "
            "copy.",
            "Model pruning directly makes large model training much faster.",
        ],
    ),
    5: (
        "Describe methods for evaluating how well a large model has been trained.",
        [
            "Accuracy is the proportion of samples the model predicts correctly.",
            "Recall = TP/(TP+FN): the share of actual positives that the model predicts positive.",
            "Precision = TP/(TP+FP): the share of predicted positives that are actually positive.",
            "The F1 score is the harmonic mean of precision and recall, 2PR/(P+R).",
            "For large models also track training and validation loss and perplexity, and "
            "evaluate on downstream benchmarks or with human evaluation.",
        ],
        [
            "Recall is the proportion of predicted positive samples that are truly positive.",
            "Precision and recall have the same definition.",
            "High accuracy means the model is good even when classes are heavily imbalanced.",
        ],
    ),
    8: (
        "List three methods for dealing with model overfitting.",
        [
            "Regularization: add an L1 or L2 penalty (weight decay) to the loss to penalize model "
            "complexity.",
            "Dropout: randomly drop neuron outputs during training to reduce co-adaptation.",
            "Data augmentation: make the training data more diverse to generalize to unseen data.",
            "Early stopping: stop training when the validation loss no longer decreases.",
        ],
        [
            "Increasing model capacity with more layers and parameters reduces overfitting.",
            "Dropout also randomly drops neurons at inference time.",
        ],
    ),
    9: (
        "Explain what an optimizer is and list several commonly used optimizers.",
        [
            "An optimizer updates model parameters from the gradients of the loss to minimize it.",
            "SGD estimates the gradient on a mini-batch and steps along the negative gradient "
            "scaled by the learning rate.",
            "Adam combines momentum (first moment of the gradient) with RMSProp-style adaptive "
            "learning rates (second moment) and bias correction, per parameter.",
            "RMSprop scales each parameter's learning rate by a moving average of squared "
            "gradients.",
            "AdaGrad accumulates past squared gradients per parameter, so its learning rate keeps "
            "decreasing.",
            "Large models are commonly trained with AdamW, Adam with decoupled weight decay.",
        ],
        [
            "Adam is simply SGD combined with momentum.",
            "With an adaptive optimizer such as Adam you no longer need to tune the learning rate.",
        ],
    ),
    13: (
        "Describe methods for evaluating a model's generalization ability.",
        [
            "Use a validation set that is not used in training to measure performance on unseen "
            "data and to select models and hyperparameters.",
            "Cross-validation: split the data into k folds, train on k-1 and validate on the "
            "remaining fold in turn, and average the results.",
            "After training and tuning, evaluate once on an independent test set as the final "
            "unbiased estimate.",
            "A large gap between training and validation performance means overfitting.",
        ],
        [
            "Training-set accuracy can be used to evaluate generalization.",
            "The test set can be used repeatedly for tuning and model selection.",
        ],
    ),
    29: (
        "Explain the concept of the attention mechanism and describe its role.",
        [
            "Attention computes softmax-normalized weights from the relevance of a query to the "
            "keys and takes a weighted sum of the values, focusing on the most relevant inputs.",
            "Focusing on important input information improves prediction accuracy.",
            "Self-attention lets any two positions interact directly, capturing long-range "
            "dependencies, and processes the whole sequence in parallel.",
            "Attention does not reduce computation: self-attention cost grows quadratically with "
            "sequence length, so long sequences need FlashAttention or sparse attention.",
            "Focusing on important inputs helps the model learn more general representations.",
        ],
        [
            "Attention reduces the amount of computation and the computational complexity.",
            "The cost of self-attention grows linearly with sequence length.",
        ],
    ),
}


def english_rubric(curated: Rubric) -> Rubric:
    question, points, wrong = ENGLISH[curated.number or 0]
    assert len(points) == len(curated.key_points) and len(wrong) == len(curated.misconceptions)
    return curated.model_copy(
        update={
            "question": question,
            "reference_answer": " ".join(points),
            "language": "en",
            "key_points": [
                KeyPoint(id=k.id, label="", text=t, weight=k.weight)
                for k, t in zip(curated.key_points, points, strict=True)
            ],
            "misconceptions": [
                Misconception(id=m.id, text=t, penalty=m.penalty)
                for m, t in zip(curated.misconceptions, wrong, strict=True)
            ],
        }
    )


def test_minilm_orders_the_english_answers(rubrics: RubricSet) -> None:
    rows = examples(english_only=True)
    assert {int(r["question"]) for r in rows} == set(ENGLISH)
    english = {q: english_rubric(rubrics.find(str(q))) for q in ENGLISH}
    g = grader(MINILM)
    grades = g.grade_many([(english[int(r["question"])], r["answer"]) for r in rows])
    scores: dict[int, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r, grade in zip(rows, grades, strict=True):
        scores[int(r["question"])][r["expected"]].append(grade.score)
    assert check_order(scores) == []
    empties = g.grade_many([(english[q], "  ") for q in ENGLISH])
    assert [e.score for e in empties] == [0.0] * len(ENGLISH)


@pytest.mark.parametrize(
    ("name", "pair", "unrelated"),
    [
        (
            "use-multilingual",
            ("模型蒸馏把教师模型的知识迁移给学生模型", "蒸馏让小模型学习大模型"),
            "今天天气很好",
        ),
        (
            "use-multilingual",
            ("Dropout reduces overfitting", "dropout 可以减少过拟合"),
            "今天天气很好",
        ),
        (
            MINILM,
            ("Dropout reduces overfitting", "Randomly dropping neurons prevents overfitting"),
            "The weather is nice today",
        ),
    ],
)
def test_encode_smoke(name: str, pair: tuple[str, str], unrelated: str) -> None:
    embedder = get_embedder(name)
    vectors = embedder.encode([pair[0], pair[1], unrelated])
    assert vectors.shape[0] == 3 and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert float(vectors[0] @ vectors[1]) > float(vectors[0] @ vectors[2]) + 0.1
    assert embedder.encode([]).shape[0] == 0
