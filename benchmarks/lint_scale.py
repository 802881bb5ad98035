"""How does `evaluator rubrics lint` scale with the number of questions?

Generates study documents of 100, 300 and 1,000 questions in the seed's format (`#### N. 标题`,
**题目：**, **答案：** with bold-labelled bullets, **解析：**), compiles each with the real
`rubrics build`, then times the real `rubrics lint` on it in a child process and reads the
child's peak RSS from the kernel (`os.wait4` rusage).

The documents are templated the way interview collections are: six question templates, topics
made of a modifier and a core term (so related questions share words), key points written from
shared phrases, and, as in the seed (4 duplicates in 30), some questions asked twice: about 5 %
re-ask an earlier topic with another template and a key point copied from it, 3 % copy a
labelled key point of a question on the same core term. The same `--seed` gives the same
documents.

    .venv/bin/python benchmarks/lint_scale.py                      # 100, 300, 1,000 questions
    .venv/bin/python benchmarks/lint_scale.py --sizes 100 200 300 --timeout 120
    .venv/bin/python benchmarks/lint_scale.py --write-doc 1000 /tmp/q1000.md   # the document only

Exits 1 when a run fails, times out, or the largest run takes longer than `--budget` seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]

MODIFIERS = (
    "分布式", "稀疏", "低秩", "自适应", "多头", "层级", "对比", "增量", "联邦", "量化",
    "因果", "双向", "残差", "动态", "离线", "在线", "半监督", "自监督", "多模态", "跨语言",
    "图", "序列", "混合专家", "检索增强", "长上下文", "参数高效", "端到端", "多任务", "元",
    "贝叶斯", "变分", "强化", "课程", "主动", "鲁棒", "可解释", "轻量级", "并行", "异步",
    "分组",
)  # fmt: skip
CORES = (
    "注意力", "优化器", "正则化", "归一化", "采样", "蒸馏", "剪枝", "编码器", "检索", "嵌入",
    "微调", "预训练", "解码", "损失函数", "激活函数", "初始化", "学习率调度", "数据增强",
    "梯度裁剪", "位置编码", "分词", "聚类", "标注", "评估指标", "缓存", "调度", "混合精度",
    "检查点", "路由", "对齐", "奖励模型", "特征选择", "降维", "去噪", "生成", "推理加速",
    "知识图谱", "负采样", "批处理", "记忆机制",
)  # fmt: skip
TEMPLATES = (
    ("什么是{t}？请解释其作用。", "请解释{t}的概念，并阐述其作用。",
     ("概念", "作用", "优点", "应用场景", "实现方式")),
    ("如何优化{t}？", "请列举三种优化{t}的方法。",
     ("减少计算量", "提高并行度", "改进数据", "调整超参数", "使用缓存")),
    ("{t}的优势和挑战是什么？", "请简要描述{t}的优势和面临的挑战。",
     ("提高效率", "增强泛化", "通信开销", "稳定性问题", "实现复杂度")),
    ("如何评估{t}的效果？", "请描述评估{t}效果的方法。",
     ("离线指标", "在线实验", "消融实验", "人工评估", "鲁棒性测试")),
    ("{t}与传统方法有什么区别？", "请比较{t}与传统方法的区别。",
     ("原理不同", "计算代价", "数据需求", "适用范围", "可解释性")),
    ("在大模型训练中如何使用{t}？", "请说明在大模型训练中使用{t}的步骤和注意事项。",
     ("准备数据", "选择配置", "监控训练", "排查问题", "部署上线")),
)  # fmt: skip
METHODS = (
    "对输入做标准化处理", "在每个训练步动态调整参数", "把计算拆分到多个设备上",
    "引入额外的约束项", "复用已经计算过的中间结果", "只更新一小部分参数",
    "对样本重新加权", "结合教师模型的软标签", "在验证集上搜索超参数", "对梯度做平滑处理",
    "使用低精度的数值格式", "按重要性筛选候选", "分阶段逐步增加难度", "在不同层之间共享权重",
)  # fmt: skip
EFFECTS = (
    "提高模型的泛化能力", "降低显存占用", "缩短训练时间", "减少通信量", "让训练更加稳定",
    "提升推理速度", "缓解过拟合", "更好地利用未标注数据", "降低部署成本", "提高结果的可解释性",
    "减轻类别不平衡的影响", "加快模型收敛",
)  # fmt: skip
CAVEATS = (
    "但需要额外的调参", "在数据量较小时效果有限", "但会增加实现的复杂度", "通常需要更多的显存",
    "需要结合具体任务选择", "在大规模场景下尤其明显",
)  # fmt: skip


def _sentence(rng: random.Random, topic: str) -> str:
    return f"{topic}通过{rng.choice(METHODS)}来{rng.choice(EFFECTS)}，{rng.choice(CAVEATS)}。"


def generate_markdown(n: int, seed: int = 1) -> str:
    """A study document of `n` questions (see the module docstring)."""
    rng = random.Random(seed)
    topics = [m + c for m in MODIFIERS for c in CORES]
    if n > len(topics):  # past 1,600 questions: three-part topics
        topics += [f"{a}{b}" for a in MODIFIERS for b in topics][: n - len(topics)]
    rng.shuffle(topics)
    asked: list[tuple[str, int, list[tuple[str, str]]]] = []  # (topic, template, key points)
    parts = [
        "### 生成的大模型面试题（基准测试用）",
        "",
        "以下题目由 benchmarks/lint_scale.py 生成。",
        "",
    ]
    for number in range(1, n + 1):
        roll = rng.random()
        topic, template = topics[number - 1], rng.randrange(len(TEMPLATES))
        copied: tuple[str, str] | None = None
        if asked and roll < 0.05:  # the same topic asked again, one key point copied over
            topic, first, points = rng.choice(asked)
            template = (first + rng.randrange(1, len(TEMPLATES))) % len(TEMPLATES)
            copied = rng.choice(points)
        elif asked and roll < 0.08:  # a related question borrowing a labelled key point
            core = next(c for c in CORES if topic.endswith(c))
            related = [a for a in asked if a[0].endswith(core)]
            if related:
                copied = rng.choice(rng.choice(related)[2])
        title, question, labels = TEMPLATES[template]
        chosen = rng.sample(labels, k=rng.randint(3, len(labels)))
        points = [(label, _sentence(rng, topic)) for label in chosen]
        if copied is not None:
            points[rng.randrange(len(points))] = copied
        asked.append((topic, template, points))
        parts += [f"#### {number}. {title.format(t=topic)}", "",
                  f"**题目：** {question.format(t=topic)}", "", "**答案：**", ""]  # fmt: skip
        parts += [f"- **{label}：** {text}" for label, text in points]
        parts += ["", f"**解析：** {_sentence(rng, topic)}", ""]
    return "\n".join(parts)


def _run(command: list[str], timeout: float, stdout: Path) -> tuple[int | None, float, float, str]:
    """Run `command` in a child with the project on its path: (exit code, or None when it ran
    out of time and was killed; seconds; the child's peak RSS in MB; stderr's last line)."""
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    with stdout.open("wb") as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        child = subprocess.Popen(command, env=env, stdout=out, stderr=err)
        code: int | None = None
        while True:
            pid, status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                code = os.waitstatus_to_exitcode(status)
                break
            if time.perf_counter() - started > timeout:
                child.kill()
                _, _, usage = os.wait4(child.pid, 0)
                break
            time.sleep(0.02)
        elapsed = time.perf_counter() - started
        child.returncode = -9 if code is None else code  # reaped by wait4 above
        err.seek(0)
        lines = err.read().decode(errors="replace").strip().splitlines()
    return code, elapsed, usage.ru_maxrss / 1024, lines[-1] if lines else ""


def measure(n: int, workdir: Path, seed: int, timeout: float) -> tuple[float | None, float, int]:
    """(seconds or None when out of time, peak RSS in MB, findings) of `rubrics lint --json` on
    a built n-question document."""
    doc = workdir / f"q{n}.md"
    doc.write_text(generate_markdown(n, seed), encoding="utf-8")
    out = workdir / f"rubrics-{n}"
    cli = [sys.executable, "-m", "evaluator.cli", "rubrics"]
    code, _, _, err = _run([*cli, "build", str(doc), "--out", str(out)], timeout, workdir / "log")
    if code != 0:
        sys.exit(f"build of {n} questions failed ({code}): {err}")
    listing = workdir / f"lint-{n}.json"
    code, elapsed, peak, err = _run([*cli, "lint", str(out), "--json"], timeout, listing)
    if code is None:
        return None, peak, 0
    if code not in (0, 1):  # 1: lint found errors
        sys.exit(f"lint of {n} questions failed ({code}): {err}")
    return elapsed, peak, len(json.loads(listing.read_text(encoding="utf-8")))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 300, 1000])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per lint run")
    parser.add_argument("--budget", type=float, default=30.0, help="seconds, largest size")
    parser.add_argument("--write-doc", nargs=2, metavar=("N", "PATH"), help="only write it")
    args = parser.parse_args()
    if args.write_doc:
        n, path = int(args.write_doc[0]), Path(args.write_doc[1])
        path.write_text(generate_markdown(n, args.seed), encoding="utf-8")
        return 0
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"{os.cpu_count()} cores, load average {load}; seed {args.seed}")
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            elapsed, peak, findings = measure(n, Path(tmp), args.seed, args.timeout)
            if elapsed is None:
                print(f"{n:>6,} questions: no result after {args.timeout:.0f} s, {peak:.0f} MB")
                ok = False
                continue
            print(f"{n:>6,} questions: {elapsed:6.2f} s, peak RSS {peak:5.0f} MB, "
                  f"{findings:,} findings")  # fmt: skip
            if n == max(args.sizes):
                ok &= elapsed < args.budget
    print(f"budget {args.budget:g} s at {max(args.sizes):,} questions: {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
