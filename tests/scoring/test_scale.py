"""Scores that mean what they say, with the default embedder on the bundled rubrics (issue #11's
table): nothing stated earns nothing, a terse list earns what it names, a misconception earns
no credit for the words it shares with the point it gets wrong, and content in English scores
about what it scores in the rubric's Chinese."""

from __future__ import annotations

import pytest

from evaluator.rubrics.lookup import RubricSet
from evaluator.scoring.grader import Grader

pytestmark = pytest.mark.real_model

# The same content in the rubric's Chinese and in English (written for these tests).
PARITY = {
    "7": (
        "批量归一化在训练时对每个小批量计算激活值的均值和方差，做标准化，再用可学习的缩放参数γ和"
        "平移参数β恢复表达能力。它缓解内部协变量偏移，使各层输入分布更稳定，允许使用更大的学习率，"
        "加速收敛，并带来一定的正则化效果。推理时使用训练中累积的滑动平均均值和方差。",
        "Batch normalization normalizes each layer's activations over the mini-batch during "
        "training: it computes the batch mean and variance, standardizes, then applies a "
        "learnable scale gamma and shift beta to restore expressiveness. It reduces internal "
        "covariate shift so each layer's input distribution is more stable, allows larger "
        "learning rates, speeds up convergence, and has a mild regularizing effect. At inference "
        "it uses running averages of the mean and variance accumulated during training.",
    ),
    "11": (
        "模型蒸馏是用一个大的教师模型指导一个小的学生模型训练：学生模型拟合教师模型在温度T下软化的"
        "输出概率分布（软标签），通常与真实标签的损失结合。作用是在保持接近教师性能的同时，大幅减少"
        "模型大小、计算量和推理延迟，便于部署。",
        "Model distillation trains a small student model under the guidance of a large teacher "
        "model: the student fits the teacher's output probability distribution softened at "
        "temperature T (soft labels), usually combined with the loss on the true labels. It keeps "
        "performance close to the teacher while greatly reducing model size, compute and "
        "inference latency, which makes deployment easier.",
    ),
}


def test_the_question_or_its_title_restated_earns_nothing(
    bundled_rubrics: RubricSet, bundled_grader: Grader
) -> None:
    every = list(bundled_rubrics)
    grades = bundled_grader.grade_many(
        [(r, r.title) for r in every] + [(r, r.question) for r in every]
    )
    assert [g.score for g in grades] == [0.0] * len(grades)


def test_a_terse_correct_list_earns_the_points_it_names(
    bundled_rubrics: RubricSet, bundled_grader: Grader
) -> None:
    grade = bundled_grader.grade(bundled_rubrics.find("8"), "正则化、dropout、数据增强、早停。")
    assert grade.score >= 80


def test_misconceptions_in_the_right_words_earn_nothing(
    bundled_rubrics: RubricSet, bundled_grader: Grader
) -> None:
    grade = bundled_grader.grade(
        bundled_rubrics.find("11"), "学生模型比教师模型大，蒸馏后学生模型性能一定超过教师模型。"
    )
    assert grade.score <= 10
    assert all(k.credit == 0 for k in grade.key_points)


def test_a_sentence_that_denies_a_misconception_is_not_taken_for_it(
    bundled_rubrics: RubricSet, bundled_grader: Grader
) -> None:
    # Shares its words with Q2's m2 ("…不需要保留 float32 副本") but says the opposite.
    right = "使用混合精度训练，用 float16 计算、保留 float32 主权重，降低显存占用。"
    grade = bundled_grader.grade(bundled_rubrics.find("2"), right)
    assert not grade.misconceptions
    assert next(k for k in grade.key_points if k.label == "混合精度训练").credit > 0.5
    wrong = "混合精度训练就是全部换成 float16 计算，不需要保留 float32 的副本。"
    assert [
        m.id for m in bundled_grader.grade(bundled_rubrics.find("2"), wrong).misconceptions
    ] == ["m2"]


def test_ascii_punctuation_in_a_chinese_answer_grades_as_full_width(
    bundled_rubrics: RubricSet, bundled_grader: Grader
) -> None:
    # The sentence encoder reads "," and "，" differently; a misconception found in one typing
    # was missed in the other (benchmarks/judge_stability.py).
    wide = "优势：速度和节点数严格成正比，用 N 台机器训练时间就是原来的 1/N。挑战其实不大，节点间通信量很小，可以忽略。"
    ascii_typed = wide.replace("，", ",").replace("。", ".").replace("：", ":")
    a, b = bundled_grader.grade_many(
        [(bundled_rubrics.find("1"), wide), (bundled_rubrics.find("1"), ascii_typed)]
    )
    assert abs(a.score - b.score) <= 1
    assert [m.id for m in a.misconceptions] == [m.id for m in b.misconceptions]


@pytest.mark.parametrize("question", sorted(PARITY))
def test_english_content_scores_within_ten_points_of_the_chinese(
    bundled_rubrics: RubricSet, bundled_grader: Grader, question: str
) -> None:
    chinese, english = PARITY[question]
    zh, en = bundled_grader.grade_many(
        [(bundled_rubrics.find(question), chinese), (bundled_rubrics.find(question), english)]
    )
    assert zh.score >= 80
    assert abs(zh.score - en.score) <= 10
