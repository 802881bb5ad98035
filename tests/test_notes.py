"""Finding answers in Markdown study notes: every way of naming a question, and the edges."""

from __future__ import annotations

from pathlib import Path

import pytest

from evaluator.errors import InputError
from evaluator.rubrics.model import RubricSet, load_rubrics
from evaluator.runs.check.notes import Note, explicit_number, load_note, parse_note, read_note

# A few of the seed's questions (seeds/000_7ace44ecab84a0b1.txt), with key points written from
# its reference answers. Shared with test_check.py and test_precommit_e2e.py.
RUBRICS_YAML = """\
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

BN_ANSWER = "批量归一化对每个小批量计算均值和方差，再做缩放和平移。"


def write_rubrics(folder: Path) -> Path:
    """The test rubrics as `folder/llm-training.yaml`; returns the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "llm-training.yaml").write_text(RUBRICS_YAML, encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def rubrics(tmp_path_factory: pytest.TempPathFactory) -> RubricSet:
    return load_rubrics(write_rubrics(tmp_path_factory.mktemp("rubrics")))


def parse(text: str, rubrics: RubricSet) -> Note:
    return parse_note(text, rubrics, Path("note.md"))


# ---------------------------------------------------------------------------- front matter


def test_front_matter_question_answers_with_the_whole_body(rubrics: RubricSet) -> None:
    note = parse(f"---\ntitle: BN\nquestion: 7\n---\n\n{BN_ANSWER}\n\n更多说明。\n", rubrics)
    assert [(a.rubric.id, a.matched_by, a.line) for a in note.answers] == [
        ("llm-training-q7", "front matter", 1)
    ]
    assert note.answers[0].text == f"{BN_ANSWER}\n\n更多说明。"
    assert "title" not in note.answers[0].text
    assert note.min_score is None and not note.problems and not note.remarks


def test_front_matter_list_grades_the_body_against_each_question(rubrics: RubricSet) -> None:
    note = parse("---\nquestion: [3, 模型蒸馏]\n---\n把教师模型的知识迁移给学生模型。\n", rubrics)
    assert [a.rubric.id for a in note.answers] == ["llm-training-q3", "llm-training-q11"]
    assert {a.text for a in note.answers} == {"把教师模型的知识迁移给学生模型。"}


def test_front_matter_questions_key_and_id_are_accepted(rubrics: RubricSet) -> None:
    note = parse("---\nquestions:\n  - llm-training-q8\n---\n早停。\n", rubrics)
    assert [a.rubric.number for a in note.answers] == [8]


def test_front_matter_headings_are_part_of_the_answer_when_none_names_a_question(
    rubrics: RubricSet,
) -> None:
    # "数据增强" alone would match question 3 by title; under `question: 8` it is a sub-topic.
    note = parse("---\nquestion: 8\n---\n## 正则化\nL2 惩罚。\n## 数据增强\n翻转图像。\n", rubrics)
    assert [a.rubric.number for a in note.answers] == [8]
    assert "## 数据增强" in note.answers[0].text and "L2 惩罚" in note.answers[0].text


def test_headings_that_name_questions_win_over_front_matter(rubrics: RubricSet) -> None:
    note = parse("---\nquestion: 3\n---\n## Q7\n" + BN_ANSWER + "\n", rubrics)
    assert [a.rubric.number for a in note.answers] == [7]
    assert any("front matter 'question' ignored" in r for r in note.remarks)


def test_front_matter_unknown_question_is_a_problem(rubrics: RubricSet) -> None:
    note = parse("---\nquestion: 99\n---\n随便写点。\n", rubrics)
    assert note.answers == []
    assert len(note.problems) == 1 and "'99' matches no question" in note.problems[0]


def test_front_matter_min_score_is_read(rubrics: RubricSet) -> None:
    assert parse("---\nquestion: 7\nmin_score: 75\n---\nx\n", rubrics).min_score == 75.0


@pytest.mark.parametrize(
    ("front", "message"),
    [
        ("question: [7\n", "front matter is not valid YAML"),
        ("- 7\n", "front matter must be a mapping"),
        ("question: {a: 1}\n", "front matter 'question' must be"),
        ("question: 7\nmin_score: high\n", "'min_score' must be a number from 0 to 100"),
        ("question: 7\nmin_score: 120\n", "'min_score' must be a number from 0 to 100"),
    ],
)
def test_broken_front_matter_is_an_input_error(
    rubrics: RubricSet, front: str, message: str
) -> None:
    with pytest.raises(InputError, match=message) as caught:
        parse(f"---\n{front}---\nbody\n", rubrics)
    assert str(caught.value).startswith("note.md") and "\n" not in str(caught.value)


def test_a_lone_rule_is_not_front_matter(rubrics: RubricSet) -> None:
    note = parse("---\n## Q7\n" + BN_ANSWER + "\n", rubrics)
    assert [a.rubric.number for a in note.answers] == [7]


# ---------------------------------------------------------------------------- headings


@pytest.mark.parametrize(
    "heading",
    [
        "Q7",
        "q7",
        "Q 7",
        "Q7 批量归一化",
        "Q7: 批量归一化",
        "Q7. 什么是批量归一化",
        "Question 7",
        "7. 什么是批量归一化",
        "7、什么是批量归一化",
        "7) BN",
        "7：批量归一化",
        "7",
        "问题 7",
        "问题7：批量归一化",
        "题目 7",
        "第7题",
        "第 7 题：BN",
        "**Q7** 批量归一化",
        "#7",
    ],
)
def test_every_way_of_naming_a_question_in_a_heading(rubrics: RubricSet, heading: str) -> None:
    assert explicit_number(heading.replace("**", "")) == 7
    note = parse(f"# 笔记\n\n## {heading}\n\n{BN_ANSWER}\n", rubrics)
    assert [(a.rubric.id, a.matched_by, a.line) for a in note.answers] == [
        ("llm-training-q7", "heading", 3)
    ]
    assert note.answers[0].text == BN_ANSWER
    assert not note.remarks and not note.problems


@pytest.mark.parametrize(
    "heading", ["7 个技巧", "1.2 背景", "Q7a", "第7章 总结", "2024年回顾", "Qwen 7B", "3D 卷积"]
)
def test_headings_that_only_start_with_a_number_are_free_text(heading: str) -> None:
    assert explicit_number(heading) is None


def test_free_text_heading_is_matched_to_the_closest_title(rubrics: RubricSet) -> None:
    note = parse("## 批量归一化\n\n" + BN_ANSWER + "\n", rubrics)
    assert [(a.rubric.id, a.matched_by, a.label) for a in note.answers] == [
        ("llm-training-q7", "title", "批量归一化")
    ]


def test_free_text_heading_with_no_close_question_is_skipped_with_a_message(
    rubrics: RubricSet,
) -> None:
    note = parse("## 今天的午饭\n\n吃了面条。\n", rubrics)
    assert note.answers == [] and not note.problems
    assert note.remarks == [
        "note.md:1: heading '今天的午饭' skipped: '今天的午饭' matches no question"
        " — run `evaluator list` to see them"
    ]


def test_ambiguous_heading_names_the_candidates(rubrics: RubricSet) -> None:
    note = parse("## 作用\n\n很多作用。\n", rubrics)
    assert note.answers == []
    assert "matches several questions" in note.remarks[0] and "模型蒸馏" in note.remarks[0]


def test_explicit_heading_for_a_missing_question_is_a_problem(rubrics: RubricSet) -> None:
    note = parse("## Q7\n" + BN_ANSWER + "\n## Q99\n不存在的题。\n", rubrics)
    assert [a.rubric.number for a in note.answers] == [7]
    assert note.problems == ["note.md:3: heading 'Q99': '99' matches no question" + _LIST_HINT]


_LIST_HINT = " — run `evaluator list` to see them"


def test_several_answers_in_one_file(rubrics: RubricSet) -> None:
    text = (
        "# 第二周复习\n\n前言不属于任何答案。\n\n"
        "## 问题 8：如何处理模型过拟合？\n- 正则化\n- dropout\n\n"
        "## 模型蒸馏\n教师模型教学生模型。\n\n"
        "## Q7\n" + BN_ANSWER + "\n\n"
        "## 总结\n复习完了。\n"
    )
    note = parse(text, rubrics)
    assert [(a.rubric.number, a.matched_by) for a in note.answers] == [
        (8, "heading"),
        (11, "title"),
        (7, "heading"),
    ]
    assert [a.text for a in note.answers] == [
        "- 正则化\n- dropout",
        "教师模型教学生模型。",
        BN_ANSWER,
    ]
    # The title heading contains the answers and stays quiet; the stray section is reported.
    assert len(note.remarks) == 1 and "'总结'" in note.remarks[0]


def test_section_runs_to_the_next_heading_of_the_same_or_higher_level(rubrics: RubricSet) -> None:
    text = (
        "# 笔记\n## Q7\n开头。\n### 作用\n稳定训练。\n#### 细节\n梯度。\n"
        "## Q8\n正则化。\n# 附录\n参考资料。\n"
    )
    note = parse(text, rubrics)
    assert [a.text for a in note.answers] == [
        "开头。\n### 作用\n稳定训练。\n#### 细节\n梯度。",
        "正则化。",
    ]


def test_sub_headings_of_an_answer_are_not_answers_themselves(rubrics: RubricSet) -> None:
    note = parse("## 批量归一化\n### Q8\n过拟合也提一下。\n", rubrics)
    # Q8 is explicit, so the free-text heading above it is a container, not an answer.
    assert [a.rubric.number for a in note.answers] == [8]
    note = parse("## Q7\n### 模型蒸馏\n顺带一提。\n", rubrics)
    assert [a.rubric.number for a in note.answers] == [7]


def test_free_text_container_of_matching_headings_is_not_an_answer(rubrics: RubricSet) -> None:
    note = parse("# 批量归一化和过拟合\n## 批量归一化\n归一化。\n## 过拟合\n早停。\n", rubrics)
    assert [a.rubric.number for a in note.answers] == [7, 8]


def test_headings_inside_code_fences_are_code(rubrics: RubricSet) -> None:
    text = "## Q7\n```python\n# Q8 is a comment\nx = bn(x)\n```\n~~~\n## Q3\n~~~\n结束。\n"
    note = parse(text, rubrics)
    assert [a.rubric.number for a in note.answers] == [7]
    assert "# Q8 is a comment" in note.answers[0].text and note.answers[0].text.endswith("结束。")


def test_underlined_headings_name_questions_like_hash_headings(rubrics: RubricSet) -> None:
    text = (
        "第二周复习\n=========\n\n"
        "Q7 批量归一化\n-----------\n" + BN_ANSWER + "\n\n"
        "模型蒸馏\n---\n教师模型教学生模型。\n"
    )
    note = parse(text, rubrics)
    assert [(a.rubric.number, a.matched_by, a.line) for a in note.answers] == [
        (7, "heading", 4),
        (11, "title", 8),
    ]
    assert [a.text for a in note.answers] == [BN_ANSWER, "教师模型教学生模型。"]


def test_a_paragraph_of_several_lines_can_be_underlined(rubrics: RubricSet) -> None:
    note = parse("问题 8：\n如何处理模型过拟合？\n===\n早停。\n", rubrics)
    assert [(a.rubric.number, a.line, a.text) for a in note.answers] == [(8, 1, "早停。")]


@pytest.mark.parametrize(
    "text",
    [
        "## Q7\n开头。\n\n---\n\nQ8\n",  # a rule after a blank line
        "## Q7\n- 列表项 Q8\n---\n",  # a list item is not a paragraph
        "## Q7\n> 引用 Q8\n---\n",  # nor is a quote
        "## Q7\n    Q8 缩进代码\n---\n",  # nor indented code
        "## Q7\n```\nQ8\n---\n```\n",  # nor a fenced block
    ],
)
def test_rules_that_underline_no_paragraph_are_not_headings(rubrics: RubricSet, text: str) -> None:
    note = parse(text, rubrics)
    assert [a.rubric.number for a in note.answers] == [7]
    assert "---" in note.answers[0].text


def test_empty_section_is_an_empty_answer(rubrics: RubricSet) -> None:
    note = parse("## Q7\n\n## Q8\n早停。\n", rubrics)
    assert [(a.rubric.number, a.text) for a in note.answers] == [(7, ""), (8, "早停。")]


def test_crlf_line_endings(rubrics: RubricSet) -> None:
    note = parse("---\r\nmin_score: 70\r\n---\r\n## Q7\r\n" + BN_ANSWER + "\r\n", rubrics)
    assert note.min_score == 70 and [a.text for a in note.answers] == [BN_ANSWER]


def test_a_note_without_any_question_has_no_answers(rubrics: RubricSet) -> None:
    note = parse("只是一些随手记下的文字，没有标题。\n", rubrics)
    assert note.answers == [] and note.remarks == [] and note.problems == []


# ---------------------------------------------------------------------------- reading


def test_reading_utf8_with_bom(tmp_path: Path, rubrics: RubricSet) -> None:
    path = tmp_path / "bom.md"
    path.write_bytes(b"\xef\xbb\xbf---\nquestion: 7\n---\n" + BN_ANSWER.encode())
    note = load_note(path, rubrics)
    assert [a.rubric.number for a in note.answers] == [7]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary file"),
        ("## Q7\n批量归一化\n".encode("gb18030"), "not UTF-8 text"),
    ],
)
def test_unreadable_notes_raise_one_line_input_errors(
    tmp_path: Path, content: bytes | None, message: str
) -> None:
    path = tmp_path / "note.md"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(InputError, match=message) as caught:
        read_note(path)
    assert str(caught.value).startswith(str(path)) and "\n" not in str(caught.value)


def test_a_directory_is_not_a_note(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="is a directory"):
        read_note(tmp_path)
