"""How a question number is written: one grammar for compiled headings (`## 12. Title`), study
notes' headings (`## Q7`) and rubric lookup (`evaluator grade 第5题`).

Three forms, each read from the start of the text:

- a prefix and a number: `Q7`, `Question 7`, `问题 7`, `题目7`, `#7` (any case, spaces allowed),
  then white space, a separator or the end: `Q7 标题`, `Q7: 标题`, `Q7`;
- an ordinal: `第7题` / `第 7 題`, then optionally a separator: `第7题 标题`, `第7题：标题`;
- a bare number and a separator, or a bare number alone: `7. 标题`, `7、标题`, `7) 标题`, `7`.

Separators are `. ． 、 : ： ) ）`, and after a prefix or ordinal also `, ， - – —`. A separator
followed by a digit belongs to a number ("1.2 背景", "7:30", "Q7-2"), and a bare number followed
by a space and words is a count ("7 个技巧"), so neither names a question; nor do "Q7a",
"Qwen 7B", "第7章" or "2024年回顾".
"""

from __future__ import annotations

import re

_SEP = r"[.．、:：)）]"
_WIDE_SEP = r"[.．、:：)）,，\-–—]"
_NUMBER_RE = re.compile(
    rf"(?:(?:question|q|问题|問題|题目|題目|\#)\s*(?P<prefixed>\d+)(?:\s*{_WIDE_SEP}(?!\d)|\s+|$)"
    rf"|第\s*(?P<ordinal>\d+)\s*[题題](?:\s*{_WIDE_SEP}(?!\d))?"
    rf"|(?P<bare>\d+)\s*(?:{_SEP}(?!\d)|$))"
    r"\s*(?P<rest>.*)",
    re.IGNORECASE | re.DOTALL,
)


def question_number(text: str) -> tuple[int, str] | None:
    """(number, the text after it) when `text` starts by naming a question number, else None.

    `question_number("Q7: 批量归一化")` is (7, "批量归一化"); `question_number("7 个技巧")` is None.
    """
    m = _NUMBER_RE.match(text.strip())
    if not m:
        return None
    digits = m.group("prefixed") or m.group("ordinal") or m.group("bare")
    return int(digits), m.group("rest").strip()
