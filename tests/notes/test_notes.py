"""Finding answers in Markdown study notes: every way of naming a question, and the edges."""

from __future__ import annotations

from pathlib import Path

import pytest

from evaluator.errors import InputError
from evaluator.notes.notes import Note, explicit_number, load_note, parse_note, read_note
from evaluator.rubrics.io import load_rubrics
from evaluator.rubrics.lookup import RubricSet
from tests.helpers import SEED_SUBSET_RUBRICS, write_rubrics

BN_ANSWER = "批量归一化对每个小批量计算均值和方差，再做缩放和平移。"


@pytest.fixture(scope="module")
def rubrics(tmp_path_factory: pytest.TempPathFactory) -> RubricSet:
    return load_rubrics(write_rubrics(tmp_path_factory.mktemp("rubrics"), SEED_SUBSET_RUBRICS))


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
        ("## Q7\n批量归一化\n".encode() + b"\x80\x80\n", "not UTF-8"),
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
