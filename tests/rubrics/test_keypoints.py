"""An answer's key points (evaluator/rubrics/keypoints.py)."""

from __future__ import annotations

from evaluator.rubrics.compile import compile_markdown
from evaluator.rubrics.keypoints import key_points_of


def test_key_points_of_an_answer_body() -> None:
    body = [
        "数据增强是指对训练样本做变换，以提高模型的泛化能力。常见的例子包括：",
        "- **旋转：** 将图像旋转一定角度。",
        "- 缩放：改变图像大小",
        "",
        "```python",
        "x = 1",
        "```",
    ]
    # The lead-in ("…包括：") and the code are not key points; bold and plain labels are split off.
    assert key_points_of(body) == [
        ("", "数据增强是指对训练样本做变换，以提高模型的泛化能力。"),
        ("旋转", "将图像旋转一定角度。"),
        ("缩放", "改变图像大小"),
    ]


def test_code_blocks_belong_to_the_reference_but_are_never_key_points() -> None:
    text = """\
## 1. Softmax

**答案：**

- **数值稳定：** 先减去最大值再取指数。

```python
# 1. not a heading, and not a key point
def softmax(x):
    e = np.exp(x - x.max())
    return e / e.sum()
```

## 2. 打印

**答案：**

```python
print("hello")
```

**解析：** 这段代码在屏幕上打印一行问候语。
"""
    q1, q2 = compile_markdown(text, "x.md", "x").rubrics
    assert [(k.label, k.text) for k in q1.key_points] == [("数值稳定", "先减去最大值再取指数。")]
    assert "def softmax(x):" in q1.reference_answer
    # A code-only answer: the explanation's words stand in for key points, with a note.
    assert [k.text for k in q2.key_points] == ["这段代码在屏幕上打印一行问候语。"]
    assert q2.key_points[0].note and "code only" in q2.key_points[0].note
    assert q2.reference_answer.startswith("```python")
    assert q2.language == "zh"  # code does not vote for English


def test_nested_list_items_inherit_the_heading_items_label() -> None:
    text = "## 1. 优缺点\n\n**答案：**\n- **优点：**\n  - 训练速度快\n  - 成本低廉\n- 缺点：占用内存多\n"
    (q,) = compile_markdown(text, "x.md", "x").rubrics
    assert [(k.label, k.text) for k in q.key_points] == [
        ("优点", "训练速度快"),
        ("优点", "成本低廉"),
        ("缺点", "占用内存多"),
    ]


def test_short_chinese_sentences_merge_with_a_neighbour() -> None:
    text = "## 1. 问\n\n**答案：** 是的。过拟合是模型记住了训练数据中的噪声。它很常见。\n"
    (q,) = compile_markdown(text, "x.md", "x").rubrics
    assert [k.text for k in q.key_points] == [
        "是的。过拟合是模型记住了训练数据中的噪声。它很常见。"
    ]
