"""The consistency pass (settings.judge_recheck, #13 item 3): key points the judge credits while
the embeddings see much less are asked about again, alone, and the lower verdict stands. Real
`Judge` and `openai` client against the scripted server; hashing embedder (no quote check)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from evaluator.judge.client import Judge
from evaluator.result import Flag, Verdict
from evaluator.rubrics.model import Rubric
from evaluator.scoring.grader import Grader
from tests.fake_openai import FakeOpenAI, judge_json
from tests.judge.test_client import settings_for

pytest_plugins = ["tests.fake_openai"]

# States the transfer clearly, says nothing of soft labels or size.
ANSWER = "模型蒸馏是把教师模型的知识迁移到学生模型。"
TRANSFER = "把教师模型的知识迁移到学生模型"


@pytest.fixture
def rubric() -> Rubric:
    """Not test_client's rubric: here "smaller" must share no words with ANSWER, so that the
    embeddings see it much less than a judge that credits it (the case the pass re-asks)."""
    return Rubric(
        id="q11",
        number=11,
        title="模型蒸馏",
        question="什么是模型蒸馏？",
        reference_answer="模型蒸馏把教师模型的知识迁移到学生模型中，学生模型更小。",
        key_points=[
            {"id": "transfer", "text": "把教师模型的知识迁移到学生模型", "weight": 2},
            {"id": "smaller", "text": "参数更少、推理更快、便于部署"},
            {"id": "soft-labels", "text": "学生学习教师输出的软标签（概率分布）和温度"},
        ],
        misconceptions=[{"id": "student-bigger", "text": "学生模型比教师模型更大"}],
    )


def grader(fake: FakeOpenAI, tmp_path: Path, **overrides: Any) -> Grader:
    settings = settings_for(fake, tmp_path, judge_style="compact", **overrides)
    return Grader("hashing", judge=Judge(settings), settings=settings)


def key_point_schema(request_body: dict[str, Any]) -> list[str]:
    schema = request_body["response_format"]["json_schema"]["schema"]
    return list(schema["properties"]["key_points"]["properties"])


def all_covered() -> str:
    quotes = {k: TRANSFER for k in ("transfer", "smaller", "soft-labels")}
    return judge_json(dict.fromkeys(quotes, "covered"), evidence=quotes)


def test_credit_the_embeddings_do_not_see_is_asked_again_and_the_lower_verdict_stands(
    fake_openai: FakeOpenAI, tmp_path: Path, rubric: Rubric
) -> None:
    fake_openai.reply(all_covered())
    fake_openai.reply(judge_json({"smaller": "missing", "soft-labels": "partial"}))
    grade = grader(fake_openai, tmp_path, judge_recheck=True).grade(rubric, ANSWER)

    first, second = fake_openai.chat_requests
    assert key_point_schema(first.body) == ["transfer", "smaller", "soft-labels"]
    # Only the points in doubt, without misconceptions or groups.
    assert key_point_schema(second.body) == ["smaller", "soft-labels"]
    assert "student-bigger" not in json.dumps(second.body["messages"], ensure_ascii=False)
    verdicts = {k.id: k.judge_verdict for k in grade.key_points}
    assert verdicts == {
        "transfer": Verdict.COVERED,
        "smaller": Verdict.MISSING,
        "soft-labels": Verdict.PARTIAL,
    }
    assert grade.judge is not None and grade.judge.rechecked == ["smaller", "soft-labels"]
    assert Flag.JUDGE_UNSCORED not in grade.flags


def test_a_second_reading_never_raises_a_verdict(
    fake_openai: FakeOpenAI, tmp_path: Path, rubric: Rubric
) -> None:
    quotes = {"transfer": TRANSFER, "smaller": TRANSFER, "soft-labels": TRANSFER}
    fake_openai.reply(
        judge_json(
            {"transfer": "covered", "smaller": "partial", "soft-labels": "covered"},
            evidence=quotes,
        )
    )
    fake_openai.reply(judge_json({"smaller": "covered", "soft-labels": "covered"}))
    grade = grader(fake_openai, tmp_path, judge_recheck=True).grade(rubric, ANSWER)
    verdicts = {k.id: k.judge_verdict for k in grade.key_points}
    assert verdicts["smaller"] == Verdict.PARTIAL and verdicts["soft-labels"] == Verdict.COVERED


def test_a_failed_recheck_keeps_the_first_verdicts(
    fake_openai: FakeOpenAI, tmp_path: Path, rubric: Rubric
) -> None:
    fake_openai.reply(all_covered())
    fake_openai.error(500, "server down")
    grade = grader(fake_openai, tmp_path, judge_recheck=True).grade(rubric, ANSWER)
    assert len(fake_openai.chat_requests) == 2
    assert all(k.judge_verdict == Verdict.COVERED for k in grade.key_points)
    assert grade.method == "embedding+judge" and grade.judge is not None
    assert grade.judge.rechecked == []


def test_agreement_or_the_default_sends_one_request(
    fake_openai: FakeOpenAI, tmp_path: Path, rubric: Rubric
) -> None:
    # Off by default: one request even where judge and embeddings disagree.
    fake_openai.reply(all_covered())
    grader(fake_openai, tmp_path).grade(rubric, ANSWER)
    assert len(fake_openai.chat_requests) == 1
    # On, with a judge that credits only what the embeddings see: nothing to ask again.
    fake_openai.reply(
        judge_json(
            {"transfer": "covered", "smaller": "missing", "soft-labels": "missing"},
            evidence={"transfer": TRANSFER},
        )
    )
    grade = grader(fake_openai, tmp_path, judge_recheck=True).grade(rubric, ANSWER)
    assert len(fake_openai.chat_requests) == 2
    assert grade.judge is not None and grade.judge.rechecked == []
