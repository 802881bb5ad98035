"""Helpers shared by test modules (test files never import each other)."""

from __future__ import annotations

import csv
import importlib.machinery
import importlib.util
import io
import os
import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from evaluator.result import Grade
    from evaluator.rubrics.model import Rubric

REPO = Path(__file__).resolve().parent.parent


def in_ci() -> bool:
    """CI=true: tests that need a real component fail instead of skipping."""
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require(ready: bool, message: str) -> None:
    """Skip a test whose real component is missing, except in CI, where that is a failure."""
    import pytest

    if ready:
        return
    if in_ci():
        pytest.fail(f"{message} (required in CI)")
    pytest.skip(message)


def load_judge_server_script() -> ModuleType:
    """scripts/judge-server has no .py suffix: load it by path."""
    name = "judge_server_script"
    if name in sys.modules:
        return sys.modules[name]
    loader = importlib.machinery.SourceFileLoader(name, str(REPO / "scripts" / "judge-server"))
    spec = importlib.util.spec_from_loader(name, loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the file executes
    loader.exec_module(module)
    return module


# ---------------------------------------------------------------------------- rubric files

# Two questions, one Chinese (t-q7) and one English (t-q11): for batch, CLI and report tests.
TWO_QUESTION_RUBRICS = """\
document: t
rubrics:
- id: t-q7
  number: 7
  title: 什么是批量归一化（Batch Normalization）？
  question: 请解释批量归一化的概念和作用。
  reference_answer: 批量归一化对每一层的输入按批次做标准化，然后缩放平移。它能加速训练。
  key_points:
  - {id: k1, label: 标准化, text: 对每一层的输入按小批量计算均值和方差做标准化, weight: 2}
  - {id: k2, label: 加速训练, text: 可以使用更大的学习率，加速训练收敛}
- id: t-q11
  number: 11
  title: What is knowledge distillation?
  question: Explain knowledge distillation.
  reference_answer: A small student model is trained to imitate a large teacher model's outputs.
  language: en
  key_points:
  - {id: k1, label: student and teacher, text: a small student model learns from a large teacher model}
  - {id: k2, label: soft targets, text: the student is trained on the teacher's soft probability outputs}
"""

# A few of the seed's questions (seeds/000_7ace44ecab84a0b1.txt), with key points written from
# its reference answers. For notes, check and pre-commit
# tests.
SEED_SUBSET_RUBRICS = """\
document: llm-training
title: 大模型训练（测试用小集）
rubrics:
  - id: llm-training-q3
    number: 3
    title: 什么是数据增强？请给出一个数据增强的例子。
    question: 请解释数据增强的概念，并给出一个数据增强的例子。
    reference_answer: 数据增强是在训练时通过变换原始数据生成更多训练样本，以提高模型的泛化能力。例如旋转、缩放、裁剪图像，或添加噪声。
    key_points:
      - {id: definition, label: 定义, text: 数据增强是通过对原始数据做变换来生成更多的训练样本}
      - {id: examples, label: 例子, text: 例如对图像进行旋转、缩放、随机裁剪、翻转或添加噪声}
      - {id: generalisation, label: 作用, text: 增加样本多样性，提高模型的泛化能力，减少过拟合}
  - id: llm-training-q7
    number: 7
    title: 什么是批量归一化（Batch Normalization）？请解释其作用。
    question: 请解释批量归一化的概念，并阐述其作用。
    reference_answer: 批量归一化在训练中对神经网络中间层的激活值按小批量做归一化（减均值、除以标准差，再做可学习的缩放和平移）。它能稳定训练、缓解梯度消失和梯度爆炸，允许更大的学习率从而加速收敛，并带来轻微的正则化效果。
    key_points:
      - {id: definition, label: 定义, text: 批量归一化对神经网络中间层的激活值按小批量计算均值和方差进行归一化, weight: 2}
      - {id: scale-shift, label: 缩放平移, text: 归一化之后再用可学习的缩放参数和平移参数恢复表达能力}
      - {id: stability, label: 稳定训练, text: 稳定各层输入的分布，缓解梯度消失和梯度爆炸，提高训练稳定性, weight: 2}
      - {id: convergence, label: 加速收敛, text: 允许使用更大的学习率，加速模型收敛}
      - {id: regularisation, label: 正则化, text: 小批量统计带来的噪声有轻微的正则化效果，有助于减少过拟合}
  - id: llm-training-q8
    number: 8
    title: 如何处理模型过拟合？
    question: 请列举三种处理模型过拟合的方法。
    reference_answer: 正则化（在损失函数中加入L1或L2惩罚项）、dropout（训练时随机丢弃部分神经元）、数据增强和增加训练数据、早停。
    key_points:
      - {id: regularisation, label: 正则化, text: 在损失函数中加入L1或L2正则化项，惩罚模型复杂度}
      - {id: dropout, label: dropout, text: 使用dropout，在训练过程中随机丢弃部分神经元}
      - {id: more-data, label: 数据增强, text: 通过数据增强或收集更多训练数据来提高泛化能力}
      - {id: early-stopping, label: 早停, text: 使用早停，在验证集损失不再下降时停止训练}
  - id: llm-training-q11
    number: 11
    title: 什么是模型蒸馏（Model Distillation）？请解释其作用。
    question: 请解释模型蒸馏的概念，并阐述其作用。
    reference_answer: 模型蒸馏把大的教师模型的知识迁移到小的学生模型中：学生模型学习教师模型输出的软标签（带温度的概率分布）。作用是在尽量保持性能的同时减小模型大小和计算量。
    key_points:
      - {id: teacher-student, label: 教师学生, text: 将复杂的教师模型的知识迁移到简单的学生模型中}
      - {id: soft-labels, label: 软标签, text: 学生模型学习教师模型输出的软标签，即带温度的概率分布}
      - {id: smaller, label: 压缩, text: 减小模型大小和计算量，便于部署}
      - {id: performance, label: 保持性能, text: 学生模型在变小的同时尽量保持教师模型的性能}
"""


def write_rubrics(folder: Path, text: str = TWO_QUESTION_RUBRICS) -> Path:
    """A rubric file `<document>.yaml` in `folder` (created); returns the folder."""
    document = re.search(r"^document: (\S+)", text, re.MULTILINE)
    assert document is not None
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{document.group(1)}.yaml").write_text(text, encoding="utf-8")
    return folder


# ---------------------------------------------------------------------------- answers and CSVs

ZH_GOOD = (
    "批量归一化对每一层的输入按小批量计算均值和方差做标准化。可以使用更大的学习率，加速训练收敛。"
)
EN_GOOD = (
    "A small student model learns from a large teacher model, using its soft probability outputs."
)


GOOD_BN = """\
# 批量归一化

## Q7 批量归一化

批量归一化（Batch Normalization）在训练时对神经网络中间层的激活值做归一化：对每个小批量计算均值和方差，减去均值、除以标准差。

归一化之后再乘以可学习的缩放参数 γ、加上平移参数 β，让网络恢复表达能力。

作用：
- 稳定各层输入的分布，缓解梯度消失和梯度爆炸，训练更稳定。
- 允许使用更大的学习率，加速模型收敛。
- 小批量统计带来的噪声有轻微的正则化效果，可以减少过拟合。
"""

WEAK_BN = """\
## Q7

批量归一化就是把数据标准化一下，让训练更快一些。
"""


def write_csv(path: Path, rows: list[list[str]], encoding: str = "utf-8", **fmt: Any) -> Path:
    buffer = io.StringIO()
    csv.writer(buffer, **fmt).writerows(rows)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


# ---------------------------------------------------------------------------- browser


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    require(found is not None, "chromium is not installed (make browser)")
    assert found is not None
    return found


def run_chromium(binary: str, page: Path, profile: Path, *extra: str) -> tuple[str, list[str]]:
    """(stdout, console messages) of one headless chromium run on a local file."""
    proc = subprocess.run(
        [
            binary,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            "--enable-logging=stderr",
            "--v=0",
            *extra,
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    console = [line for line in proc.stderr.splitlines() if ":CONSOLE" in line]
    return proc.stdout, console


# ---------------------------------------------------------------------------- practice

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


class Clock:
    """Time that moves only when a test says so."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def step(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def fake_grade(rubric: Rubric, score: float, missed: tuple[str, ...] = ()) -> Grade:
    """A Grade of `score` whose key points in `missed` (ids) were missed, the rest covered."""
    from evaluator.result import Grade, KeyPointResult, Status, band_for

    points = [
        KeyPointResult(
            id=k.id,
            label=k.label,
            text=k.text,
            weight=k.weight,
            credit=0.0 if k.id in missed else 1.0,
            status=Status.MISSED if k.id in missed else Status.COVERED,
        )
        for k in rubric.key_points
    ]
    return Grade(
        question_id=rubric.id,
        question_number=rubric.number,
        question_title=rubric.title,
        score=score,
        band=band_for(score),
        method="embedding",
        method_reason="no judge configured",
        key_points=points,
        embedder="hashing",
    )
