"""Reading a study document into questions and sections (evaluator/rubrics/studydoc.py)."""

from __future__ import annotations

import pytest

from evaluator.errors import InputError
from evaluator.rubrics.compile import compile_markdown
from evaluator.rubrics.studydoc import parse_questions

NOTES = """\
# 笔记

## 1. 过拟合

**题目：** 什么是过拟合？

**答案：**
- 模型记住了噪声。

**解析：** 训练误差低、验证误差高。

## 2. 欠拟合

答案：模型太简单。
"""


def test_questions_keep_their_sections_lines_as_written() -> None:
    questions, title = parse_questions(NOTES.splitlines(), "n.md")
    assert title == "笔记"
    one, two = questions
    assert (one.number, one.title, one.line, one.end) == (1, "过拟合", 3, 10)
    assert [(s.kind, s.line) for s in one.sections] == [
        ("question", 5),
        ("answer", 7),
        ("explanation", 10),
    ]
    answer = one.section("answer")
    assert answer is not None and answer.lines == [(7, ""), (8, "- 模型记住了噪声。"), (9, "")]
    assert (two.number, two.end, two.section("question")) == (2, 14, None)
    assert [s.lines for s in two.sections] == [[(14, "模型太简单。")]]


@pytest.mark.parametrize(
    ("heading", "number", "title"),
    [
        ("#### 12. Title here", 12, "Title here"),
        ("## 12、如何训练？", 12, "如何训练？"),
        ("### Q12. Title here", 12, "Title here"),
        ("# Q12: Title here", 12, "Title here"),
        ("## 第12题 如何训练？", 12, "如何训练？"),
        ("##### **12. Bold title**", 12, "Bold title"),
        ("## 问题 12：如何训练？", 12, "如何训练？"),
    ],
)
def test_numbered_heading_styles(heading: str, number: int, title: str) -> None:
    doc = compile_markdown(f"{heading}\n\n**答案：** 这是答案的内容，足够长。\n", "x.md", "x")
    assert [(r.number, r.title, r.id) for r in doc.rubrics] == [(number, title, f"x-q{number}")]


def test_a_bare_number_heading_takes_its_title_from_the_question() -> None:
    text = "## 12\n\n**题目：** 如何训练？\n\n**答案：** 这是答案的内容，足够长。\n"
    (q,) = compile_markdown(text, "x.md", "x").rubrics
    assert (q.number, q.title, q.question) == (12, "如何训练？", "如何训练？")


def test_section_label_styles() -> None:
    text = """\
## 1. One
题目：第一题的题目是什么？
答案：第一题的答案在这里写明。
## 2. Two
**问题**：第二题的题目是什么？
**答案**：
第二题的答案在这里写明。
**解析**：解析的文字。
## 3. Three
#### Answer
The third answer is written here.
"""
    one, two, three = compile_markdown(text, "x.md", "x").rubrics
    assert one.question == "第一题的题目是什么？"
    assert one.key_points[0].text == "第一题的答案在这里写明。"
    assert two.question == "第二题的题目是什么？"
    assert two.key_points[0].text == "第二题的答案在这里写明。"
    assert two.explanation == "解析的文字。"
    assert three.question == "Three"  # no question section: the title stands in
    assert three.key_points[0].text == "The third answer is written here."


def test_a_fence_closes_only_with_a_bare_run_of_its_character_at_least_as_long() -> None:
    text = """\
## 1. 示例

**答案：**

真正的答案在这里写明。

````markdown
```python
x = 1
```
**解析：** 这一行在代码块里，不是解析。
````
"""
    (q,) = compile_markdown(text, "x.md", "x").rubrics
    assert [k.text for k in q.key_points] == ["真正的答案在这里写明。"]
    assert q.explanation == "" and q.reference_answer.endswith("````")


def test_heading_without_number_is_an_error_only_when_it_holds_a_question() -> None:
    text = "## 1. A\n\n**答案：** 一的答案。\n\n## Another question\n\n**答案：** 二的答案。\n"
    with pytest.raises(InputError, match=r"^notes\.md:5: heading 'Another question' has no "):
        compile_markdown(text, "notes.md", "x")
    # An unnumbered heading without sections (a summary, say) just ends the previous question.
    ok = "## 1. A\n\n**答案：** 一的答案。\n\n## Summary\n\nClosing words.\n"
    (q,) = compile_markdown(ok, "notes.md", "x").rubrics
    assert q.source is not None and q.source.lines == (1, 3)
    assert "Closing" not in q.reference_answer
