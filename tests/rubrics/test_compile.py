"""The Markdown Q&A compiler and `evaluator rubrics build` (no-clobber rule included)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from evaluator.cli import main
from evaluator.errors import InputError, RubricError
from evaluator.rubrics.compile import build, compile_markdown, slugify
from evaluator.rubrics.io import dump_document, load_document
from evaluator.rubrics.model import RubricDocument
from tests.helpers import REPO

SEED = REPO / "seeds" / "000_7ace44ecab84a0b1.txt"
SEED_SOURCE = "seeds/000_7ace44ecab84a0b1.txt"


@pytest.fixture(scope="module")
def seed_doc() -> RubricDocument:
    return compile_markdown(SEED.read_text(encoding="utf-8"), SEED_SOURCE, "llm-training")


def _q(doc: RubricDocument, number: int):
    return next(r for r in doc.rubrics if r.number == number)


# ---------------------------------------------------------------------------- the seed


def test_seed_has_thirty_questions_numbered_in_order(seed_doc: RubricDocument) -> None:
    assert [r.number for r in seed_doc.rubrics] == list(range(1, 31))
    assert [r.id for r in seed_doc.rubrics] == [f"llm-training-q{n}" for n in range(1, 31)]
    assert seed_doc.document == "llm-training"
    assert seed_doc.title == "大模型训练的技术挑战：基础设施、算法与数据处理"
    assert seed_doc.source == SEED_SOURCE
    assert seed_doc.build_hash == seed_doc.rubrics_hash()


def test_seed_question_one_lead_ins_are_context_not_key_points(seed_doc: RubricDocument) -> None:
    q1 = _q(seed_doc, 1)
    assert q1.title == "分布式训练的优势和挑战是什么？"
    assert q1.question == "请简要描述分布式训练的优势和面临的挑战。"
    assert [k.label for k in q1.key_points] == [
        "提高计算能力",
        "加速迭代",
        "通信开销",
        "同步问题",
        "数据一致性问题",
    ]
    assert [k.id for k in q1.key_points] == ["k1", "k2", "k3", "k4", "k5"]
    assert q1.key_points[0].text == "通过将模型训练任务分布到多个节点上，可以显著提高计算速度。"
    # The lead-ins stay in the reference answer but are not key points.
    assert "分布式训练的优势包括：" in q1.reference_answer
    assert "分布式训练面临的挑战有：" in q1.reference_answer
    assert not any("包括" in k.text or "挑战有" in k.text for k in q1.key_points)
    assert q1.explanation.startswith("分布式训练通过利用多个节点的计算资源")
    assert q1.source is not None
    assert q1.source.file == SEED_SOURCE
    assert q1.source.lines == (7, 22)


def test_seed_definition_sentence_before_list_is_a_key_point(seed_doc: RubricDocument) -> None:
    q3 = _q(seed_doc, 3)
    assert [k.label for k in q3.key_points] == ["", "旋转", "缩放", "裁剪", "噪声添加"]
    assert q3.key_points[0].text.startswith("数据增强是指在训练模型时")
    assert q3.key_points[0].text.endswith("以提高模型的泛化能力。")  # "…例子包括：" is dropped
    q19 = _q(seed_doc, 19)
    assert [k.label for k in q19.key_points] == [
        "",
        "数据清洗",
        "特征选择",
        "特征转换",
        "特征归一化",
    ]


def test_seed_labels_keep_their_glosses_and_texts(seed_doc: RubricDocument) -> None:
    q5 = _q(seed_doc, 5)
    assert [k.label for k in q5.key_points] == [
        "准确率（accuracy）",
        "召回率（recall）",
        "精确率（precision）",
        "F1分数（F1 score）",
    ]
    # The seed gives recall and precision the same wording; the compiler keeps it (lint flags it).
    assert q5.key_points[1].text == q5.key_points[2].text
    q12 = _q(seed_doc, 12)
    assert (q12.key_points[0].label, q12.key_points[0].text) == (
        "过采样（Oversampling）",
        "通过复制少数类样本来增加其数量，使得数据分布更加均匀。",
    )
    assert q12.key_points[2].label == "合成少数类样本（Synthetic Minority Class Sampling）"
    assert [len(_q(seed_doc, n).key_points) for n in (2, 7, 9, 21, 30)] == [3, 4, 5, 3, 4]


def test_seed_compiled_fields(seed_doc: RubricDocument) -> None:
    assert all(r.language == "zh" for r in seed_doc.rubrics)
    assert all(k.weight == 1.0 for r in seed_doc.rubrics for k in r.key_points)
    assert all(r.misconceptions == [] and r.duplicate_of is None for r in seed_doc.rubrics)
    last = _q(seed_doc, 30)
    assert last.source is not None and last.source.lines == (386, 397)
    assert "**数据去噪：**" in last.reference_answer  # the reference keeps the Markdown


# ---------------------------------------------------------------------------- other documents

ENGLISH = """\
# Machine learning basics

Some introduction that is not a question.

## 1. Overfitting

Question: What is overfitting, and how can it be reduced?

Answer: Overfitting is when a model fits noise in the training data, e.g. rare examples,
so it generalises poorly. Yes. Regularization, dropout and more training data reduce it!
Early stopping also helps because it halts training before the model memorises the data.

Explanation: The gap between training and validation loss shows overfitting.

## 2. Learning rate

**Question:** What does the learning rate control?

**Answer:**

The learning rate scales each gradient step of version 2.5 of the optimiser.
A rate that is too high makes training diverge.
"""


def test_english_document_with_plain_paragraph_answers() -> None:
    doc = compile_markdown(ENGLISH, "notes/ml.md", "ml")
    assert doc.title == "Machine learning basics"
    q1, q2 = doc.rubrics
    assert (q1.id, q1.title, q1.language) == ("ml-q1", "Overfitting", "en")
    assert q1.question == "What is overfitting, and how can it be reduced?"
    assert [k.text for k in q1.key_points] == [
        # "e.g." does not end a sentence; "Yes." is too short to stand alone.
        "Overfitting is when a model fits noise in the training data, e.g. rare examples, "
        "so it generalises poorly. Yes.",
        "Regularization, dropout and more training data reduce it!",
        "Early stopping also helps because it halts training before the model memorises the data.",
    ]
    assert all(k.label == "" for k in q1.key_points)
    assert q1.explanation == "The gap between training and validation loss shows overfitting."
    assert q1.source is not None and q1.source.lines == (5, 13)
    assert [k.text for k in q2.key_points] == [
        "The learning rate scales each gradient step of version 2.5 of the optimiser.",
        "A rate that is too high makes training diverge.",
    ]
    assert q2.explanation == ""


def test_slugify() -> None:
    assert slugify("000_7ace44ecab84a0b1") == "000_7ace44ecab84a0b1"
    assert slugify("LLM Training Notes") == "llm-training-notes"
    assert slugify("笔记") == ""


# ---------------------------------------------------------------------------- malformed input


def test_question_without_answer_section_names_question_and_line() -> None:
    text = "## 1. A\n\n**题目：** 一？\n\n**答案：** 一的答案。\n\n## 2. B\n\n**题目：** 二？\n"
    with pytest.raises(InputError) as err:
        compile_markdown(text, "notes.md", "x")
    message = str(err.value)
    assert message == (
        "notes.md:7: question 2 'B' has no answer section (expected '**答案：**' or 'Answer:')"
    )
    assert "\n" not in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("# Notes\n\nNo questions here.\n", r"^n\.md:1: no questions found"),
        ("## What is X?\n\nAnswer: X is y.\n", r"^n\.md:1: heading 'What is X\?' has no question"),
        ("## 1. Intro\n\ntext\n\n## 2. More\n\ntext\n", r"^n\.md:1: no questions found"),
        (
            "## 1. A\n\n答案：一。\n\n## 1. B\n\n答案：二。\n",
            r"^n\.md:5: question number 1 already",
        ),
        ("## 1. A\n\n**答案：**\n\n**解析：** 无。\n", r"^n\.md:3: question 1 has an empty answer"),
    ],
)
def test_malformed_documents_give_one_line_errors(text: str, expected: str) -> None:
    with pytest.raises(InputError, match=expected) as err:
        compile_markdown(text, "n.md", "x")
    assert "\n" not in str(err.value)


def test_bad_document_slug_is_refused() -> None:
    with pytest.raises(InputError, match="document slug 'LLM Training'"):
        compile_markdown("## 1. A\n\n答案：一。\n", "n.md", "LLM Training")


# ---------------------------------------------------------------------------- build + no-clobber


def test_build_writes_a_file_that_loads_and_matches_its_build_hash(tmp_path: Path) -> None:
    (path,) = build([SEED], tmp_path / "out", document="llm-training")
    assert path == tmp_path / "out" / "llm-training.yaml"
    doc = load_document(path)
    assert len(doc.rubrics) == 30
    assert doc.build_hash == doc.rubrics_hash()


def test_build_default_slug_is_the_file_stem(tmp_path: Path) -> None:
    seed = tmp_path / "ML Notes.md"
    seed.write_text(ENGLISH, encoding="utf-8")
    (path,) = build([seed], tmp_path)
    assert path.name == "ml-notes.yaml"
    assert load_document(path).rubrics[0].id == "ml-notes-q1"


def test_build_refuses_to_overwrite_edited_rubrics(tmp_path: Path) -> None:
    (path,) = build([SEED], tmp_path, document="llm-training")
    build([SEED], tmp_path, document="llm-training")  # unedited: rebuilding is fine

    doc = load_document(path)
    doc.rubrics[4].key_points[2].text = "模型预测为正类的样本中真正为正类的比例。"
    path.write_text(dump_document(doc), encoding="utf-8")
    edited = path.read_text(encoding="utf-8")

    with pytest.raises(RubricError) as err:
        build([SEED], tmp_path, document="llm-training")
    assert str(err.value).startswith(f"{path} has been edited since it was built")
    assert "--force" in str(err.value)
    assert path.read_text(encoding="utf-8") == edited  # nothing was written

    notes: list[str] = []
    build([SEED], tmp_path, document="llm-training", force=True, report=notes.append)
    assert any("--force" in n for n in notes)
    assert (
        load_document(path).rubrics[4].key_points[2].text
        == "衡量模型预测为正类的实际正类样本的比例。"
    )


def test_build_refuses_an_unparsable_existing_file_unless_forced(tmp_path: Path) -> None:
    target = tmp_path / "llm-training.yaml"
    target.write_text("rubrics: [\n", encoding="utf-8")
    with pytest.raises(RubricError, match="not a valid rubric file"):
        build([SEED], tmp_path, document="llm-training")
    build([SEED], tmp_path, document="llm-training", force=True)
    assert len(load_document(target).rubrics) == 30


def test_build_treats_a_file_without_build_hash_as_edited(tmp_path: Path) -> None:
    (path,) = build([SEED], tmp_path, document="llm-training")
    doc = load_document(path)
    path.write_text(dump_document(doc.model_copy(update={"build_hash": None})), encoding="utf-8")
    with pytest.raises(RubricError, match="edited since it was built"):
        build([SEED], tmp_path, document="llm-training")


def test_build_checks_every_seed_before_writing(tmp_path: Path) -> None:
    good = tmp_path / "good.md"
    good.write_text(ENGLISH, encoding="utf-8")
    bad = tmp_path / "bad.md"
    bad.write_text("# nothing\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"bad\.md:1: no questions found"):
        build([good, bad], tmp_path / "out")
    assert not (tmp_path / "out" / "good.yaml").exists()
    with pytest.raises(InputError, match="--document names one document"):
        build([good, good], tmp_path / "out", document="x")


# ---------------------------------------------------------------------------- CLI


def test_cli_build_then_refuse_then_force(tmp_path: Path) -> None:
    runner = CliRunner()
    args = ["rubrics", "build", str(SEED), "--document", "llm-training", "--out", str(tmp_path)]
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "(30 questions)" in result.output

    path = tmp_path / "llm-training.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("同步问题", "同步"), encoding="utf-8")
    refused = runner.invoke(main, args)
    assert refused.exit_code == 1
    assert refused.stderr.startswith("Error: ") and refused.stderr.count("\n") == 1
    assert str(path) in refused.stderr and "--force" in refused.stderr
    assert "Traceback" not in refused.output

    forced = runner.invoke(main, [*args, "--force"])
    assert forced.exit_code == 0, forced.output
    assert "--force" in forced.output


def test_cli_build_reports_malformed_and_missing_seeds_without_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.md"
    bad.write_text("## 1. A\n\n**题目：** 一？\n", encoding="utf-8")
    runner = CliRunner()
    for seed in (bad, tmp_path / "missing.md"):
        result = runner.invoke(main, ["rubrics", "build", str(seed), "--out", str(tmp_path)])
        assert result.exit_code == 1
        assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1
        assert str(seed) in result.stderr
        assert result.exception is None or isinstance(result.exception, SystemExit)
