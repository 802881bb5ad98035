"""Whether one sentence says the opposite of another (polarity.py): negations and their scope,
opposite words, "cannot" against "can"."""

from __future__ import annotations

import pytest

from evaluator.polarity import denies, reverses


@pytest.mark.parametrize(
    ("claim", "statement", "expected"),
    [
        # States what the statement negates, or negates what it states.
        ("用 float16 计算、保留 float32 主权重", "混合精度不需要保留 float32 副本", True),
        ("它并不减少运算次数，而是提高吞吐", "混合精度通过减少运算次数来加快训练", True),
        ("学生模型不一定超过教师模型", "蒸馏后学生模型一定会超过教师模型", True),
        ("差别再大也没关系", "源任务和目标任务差别再大也没有关系", False),
        ("Mixed precision keeps an FP32 master copy.", "It does not need an FP32 copy.", True),
        ("Dropout is not used at inference.", "Dropout is used at inference too.", True),
        # The same polarity, or no shared word under a negation: not a denial.
        ("全部换成 float16，不需要保留 float32", "混合精度不需要保留 float32 副本", False),
        ("蒸馏后学生模型性能一定超过教师模型", "蒸馏后学生模型一定会超过教师模型", False),
        ("去除不重要的神经元，主要加快推理", "剪枝能够直接大幅加快训练速度", False),
        ("不同的优化器效果不同", "Adam 就是 SGD 加上 Momentum", False),
        # A denial of what something is governs the rest of its clause; "并不是" is one word.
        ("提高可解释性并不是模型压缩的目的", "模型压缩的主要作用之一是提高模型的可解释性", True),
        ("学习率调整并不是专门防止过拟合的手段", "学习率调整的主要作用是防止过拟合", True),
        ("它不同于把文本映射为向量的嵌入模型", "嵌入式模型就是把词映射为向量的嵌入模型", True),
        (
            "It uses running averages rather than the batch statistics.",
            "It uses batch statistics.",
            True,
        ),
        (
            "推理时用当前批次的统计量，而不是滑动平均",
            "推理时使用滑动平均，而不是当前批次的统计量",
            True,
        ),
        (
            "推理时用滑动平均，而不是当前批次的统计量",
            "推理时使用滑动平均，而不是当前批次的统计量",
            False,
        ),
        # Opposite words about the same thing.
        ("各节点同时处理不同的数据分片", "数据并行时每个节点都使用完全相同的训练数据", True),
        ("差异过大时可能出现负迁移，反而降低效果", "在任何情况下都能提升新任务的效果", True),
        ("压缩后推理更快，降低延迟", "压缩能降低延迟、提高吞吐", False),
        # "Cannot" against "can".
        ("普通的随机采样会保留原有的倾斜，不能解决问题", "通过随机采样就可以平衡数据倾斜", True),
        ("随机采样就能解决数据倾斜", "通过随机采样就可以平衡数据倾斜", False),
    ],
)
def test_denies(claim: str, statement: str, expected: bool) -> None:
    assert denies(claim, statement) is expected


def test_reverses_needs_both_directions() -> None:
    point = "推理时使用滑动平均，而不是当前批次的统计量"
    assert reverses("推理时使用当前批次的统计量，而不是滑动平均", point)
    assert not reverses("推理时用当前批次的统计量", point)  # denies, but does not turn around
    assert denies("推理时用当前批次的统计量", point)
