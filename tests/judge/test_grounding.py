"""Which answer sentence a judge's quote cites (grounding.quotes_claim)."""

from __future__ import annotations

import pytest

from evaluator.judge.grounding import quotes_claim

WRONG = "看训练集上的准确率就能知道泛化能力，训练集准确率越高，泛化能力越强。"


@pytest.mark.parametrize(
    ("quote", "cites"),
    [
        ("训练集准确率越高", True),  # part of the sentence
        (WRONG + "如果想更准一些，", True),  # holds it whole
        (
            "训练集准确率越高，泛化能力越强。如果想更准一些，可以把测试集",
            True,
        ),  # spans it and the next
        ("如果想更准一些，可以把测试集", False),  # another sentence
        ("训练集 准确率越高", True),  # white space does not count
        ("", False),
    ],
)
def test_a_quote_cites_a_sentence_it_is_part_of_or_holds(quote: str, cites: bool) -> None:
    assert quotes_claim(quote, WRONG) is cites


def test_an_empty_claim_is_cited_by_nothing() -> None:
    assert not quotes_claim("训练集准确率越高", "")
