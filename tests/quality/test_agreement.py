"""Agreement statistics (hand-computed values), the CSV reader, rubric mapping and the
`evaluator agreement` command (hashing embedder)."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest
from click.testing import CliRunner

from evaluator.cli import main
from evaluator.errors import InputError
from evaluator.quality.agreement import (
    AgreementRow,
    compare,
    kappa_levels,
    pearson,
    quadratic_weighted_kappa,
    rank,
    read_rows,
    rmse,
    rubrics_for,
    spearman,
    to_levels,
)
from evaluator.rubrics.io import load_rubrics

COLUMNS = ["id", "dataset", "question_id", "question", "reference_answer", "answer"]
COLUMNS += ["human_score", "max_score", "grader_a", "grader_b"]

# ---------------------------------------------------------------------------- statistics


def test_pearson_hand_computed() -> None:
    assert pearson([1, 2, 3], [2, 4, 6]) == pytest.approx(1.0)
    assert pearson([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    # deviations (-1.5, -.5, .5, 1.5) and (-1.5, .5, -.5, 1.5): 4 / sqrt(5 * 5)
    assert pearson([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(0.8)
    assert math.isnan(pearson([1, 1, 1], [1, 2, 3]))  # constant side
    assert math.isnan(pearson([1], [2]))
    with pytest.raises(ValueError):
        pearson([1, 2], [1])


def test_ranks_share_ties() -> None:
    assert rank([10, 20, 20, 30]).tolist() == [1, 2.5, 2.5, 4]
    assert rank([3, 1, 2]).tolist() == [3, 1, 2]
    assert rank([5, 5, 5]).tolist() == [2, 2, 2]


def test_spearman_hand_computed() -> None:
    assert spearman([1, 2, 3, 4], [10, 100, 1000, 10**4]) == pytest.approx(1.0)
    # ranks (1, 2.5, 2.5, 4) vs (1, 3, 2, 4): 4.5 / sqrt(4.5 * 5) = 3 / sqrt(10)
    assert spearman([1, 2, 2, 3], [1, 3, 2, 4]) == pytest.approx(3 / math.sqrt(10))


def test_rmse_hand_computed() -> None:
    assert rmse([0, 1], [1, 1]) == pytest.approx(math.sqrt(0.5))
    assert rmse([0.2, 0.4], [0.2, 0.4]) == 0.0
    assert math.isnan(rmse([], []))


def test_quadratic_weighted_kappa_hand_computed() -> None:
    assert quadratic_weighted_kappa([0, 1, 2], [0, 1, 2], 3) == pytest.approx(1.0)
    # Independent raters: observed disagreement equals the expected one.
    assert quadratic_weighted_kappa([0, 0, 1, 1], [0, 1, 0, 1], 2) == pytest.approx(0.0)
    # Observed weighted disagreement 0.25 (one 2-vs-1 pair, weight 1/4); expected 1.25.
    assert quadratic_weighted_kappa([0, 1, 2, 2], [0, 1, 1, 2], 3) == pytest.approx(0.8)
    assert quadratic_weighted_kappa([0, 2], [2, 0], 3) == pytest.approx(-1.0)
    assert math.isnan(quadratic_weighted_kappa([1, 1], [1, 1], 3))  # no spread at all


def test_levels() -> None:
    assert to_levels([0, 0.5, 0.94, 0.96, 1, 1.2, -0.1], 11).tolist() == [0, 5, 9, 10, 10, 10, 0]
    assert to_levels([0, 0.5, 0.7, 1], 6).tolist() == [0, 3, 4, 5]  # halves round up


def row(human: float, top: float = 5, qid: str = "q1", **extra: str) -> AgreementRow:
    base = dict(
        line=2,
        id="r",
        question_id=qid,
        question="What is a stack?",
        reference_answer="A last-in first-out list.",
        answer="LIFO list",
        human_score=human,
        max_score=top,
    )
    return AgreementRow(**(base | extra))


def test_kappa_levels() -> None:
    assert kappa_levels([row(3), row(5)]) == 6  # whole points out of 5
    assert kappa_levels([row(3.5), row(5)]) == 11  # half points: tenths
    assert kappa_levels([row(3, 10), row(5, 10)]) == 11
    assert kappa_levels([row(3, 5), row(5, 10)]) == 11  # mixed scales
    assert kappa_levels([row(30, 100)]) == 11


def test_compare_overall_and_per_question() -> None:
    rows = [row(5), row(0), row(2.5), row(4, qid="q2"), row(1, qid="q2")]
    scores = [100, 0, 50, 80, 20]  # exactly the human fractions
    report = compare(rows, scores, embedder="hashing", method="embedding")
    assert report.n == 5 and report.pearson == pytest.approx(1.0) and report.rmse == 0.0
    assert report.qwk == pytest.approx(1.0) and report.levels == 11
    assert [q.question_id for q in report.per_question] == ["q1", "q2"]
    q2 = report.per_question[1]
    assert q2.n == 2 and q2.human_mean == pytest.approx(0.5) and q2.score_mean == pytest.approx(0.5)


def test_compare_reports_undefined_statistics_as_none() -> None:
    report = compare([row(5), row(5)], [50, 60], embedder="hashing", method="embedding")
    assert report.pearson is None and report.spearman is None
    assert report.rmse == pytest.approx(math.sqrt((0.25 + 0.16) / 2))


# ---------------------------------------------------------------------------- input


def write_csv(path: Path, rows: list[dict[str, object]], columns: list[str] = COLUMNS) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def sample_rows() -> list[dict[str, object]]:
    stack = ("s1", "What is a stack?", "A stack is a last-in first-out list of elements.")
    queue = ("s2", "What is a queue?", "A queue is a first-in first-out list of elements.")
    answers = [
        (stack, "A stack is a list where the last element in is the first out.", 5),
        (stack, "A list of elements, last in first out.", 4),
        (stack, "It stores elements.", 2),
        (stack, "", 0),
        (queue, "A queue is a first in first out list of elements.", 5),
        (queue, "Elements leave in the order they arrive.", 4),
        (queue, "A kind of tree.", 0),
    ]
    return [
        {
            "id": f"r{i}",
            "dataset": "toy",
            "question_id": qid,
            "question": question,
            "reference_answer": reference,
            "answer": answer,
            "human_score": score,
            "max_score": 5,
        }
        for i, ((qid, question, reference), answer, score) in enumerate(answers)
    ]


def test_read_rows(tmp_path: Path) -> None:
    rows = read_rows(write_csv(tmp_path / "a.csv", sample_rows()))
    assert len(rows) == 7 and rows[0].line == 2 and rows[0].question_id == "s1"
    assert rows[0].human_fraction == 1.0 and rows[3].answer == ""


def test_optional_columns_may_be_missing(tmp_path: Path) -> None:
    columns = ["question", "reference_answer", "answer", "human_score", "max_score"]
    rows = read_rows(write_csv(tmp_path / "a.csv", sample_rows(), columns))
    assert rows[0].question_id == "" and rows[0].id == "row2"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "empty file"),
        ("question,answer\nq,a\n", "missing column(s) reference_answer, human_score, max_score"),
        ("question,reference_answer,answer,human_score,max_score\n", "no data rows"),
        ("question,reference_answer,answer,human_score,max_score\nq,r,a,x,5\n", ":2: human_score"),
        ("question,reference_answer,answer,human_score,max_score\nq,r,a,6,5\n", "outside 0..5"),
        ("question,reference_answer,answer,human_score,max_score\nq,r,a,1,0\n", "positive"),
        ("question,reference_answer,answer,human_score,max_score\nq,,a,1,5\n", "reference_answer"),
    ],
)
def test_bad_csv_is_one_clear_error(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError) as err:
        read_rows(path)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read"):
        read_rows(tmp_path / "nope.csv")


def test_one_adhoc_rubric_per_question_and_known_ids_use_the_rubric_set(
    tmp_path: Path, repo_root: Path
) -> None:
    rows = read_rows(write_csv(tmp_path / "a.csv", sample_rows()))
    rubrics = rubrics_for(rows)
    assert [r.id for r in rubrics] == ["s1"] * 4 + ["s2"] * 3
    assert rubrics[0] is rubrics[3] and rubrics[0].key_points[0].text.startswith("A stack")
    known = load_rubrics(repo_root / "rubrics")
    named = row(3, qid="llm-training-q11", question="x", reference_answer="y")
    assert rubrics_for([named], known)[0].id == "llm-training-q11"
    odd = row(3, qid="Q 1/A")
    assert rubrics_for([odd])[0].id == "q-1-a"


# ---------------------------------------------------------------------------- command


def invoke(*args: str):
    return CliRunner().invoke(main, ["agreement", *args])


def test_agreement_command_text(tmp_path: Path, repo_root: Path) -> None:
    path = write_csv(tmp_path / "toy.csv", sample_rows())
    result = invoke(str(path), "--embedder", "hashing", "--rubrics", str(repo_root / "rubrics"))
    assert result.exit_code == 0, result.output
    assert "n=7" in result.stdout and "Pearson" in result.stdout and "QWK" in result.stdout
    assert "s1" in result.stdout and "s2" in result.stdout
    assert "graded 7/7 answers" in result.stderr and "graded" not in result.stdout


def test_agreement_command_json(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "toy.csv", sample_rows())
    result = invoke(str(path), "--embedder", "hashing", "--json", "--quiet")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert {"n", "pearson", "spearman", "rmse", "qwk", "per_question"} <= set(data)
    assert data["n"] == 7 and data["embedder"] == "hashing" and data["method"] == "embedding"
    assert [q["question_id"] for q in data["per_question"]] == ["s1", "s2"]
    assert data["pearson"] > 0.5  # the toy answers are easy to order
    assert result.stderr == ""


def test_agreement_command_bad_csv(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("question,answer\nq,a\n", encoding="utf-8")
    result = invoke(str(path), "--embedder", "hashing")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ") and "missing column(s)" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.output


def test_the_metrics_agree_with_scipy_and_scikit_learn() -> None:
    """The command's own Pearson, Spearman and QWK (numpy only, so the core install needs no
    scipy) give what the well-kept libraries give."""
    import numpy as np
    from scipy.stats import pearsonr, spearmanr
    from sklearn.metrics import cohen_kappa_score

    from evaluator.quality.agreement import pearson, quadratic_weighted_kappa, spearman

    rng = np.random.default_rng(7)
    for _ in range(20):
        x = rng.integers(0, 6, 80).astype(float)  # ties, as grades have
        y = np.clip(x + rng.integers(-2, 3, 80), 0, 5)
        assert pearson(x, y) == pytest.approx(pearsonr(x, y)[0], abs=1e-9)
        assert spearman(x, y) == pytest.approx(spearmanr(x, y)[0], abs=1e-9)
        qwk = cohen_kappa_score(x.astype(int), y.astype(int), weights="quadratic", labels=range(6))
        assert quadratic_weighted_kappa(x, y, 6) == pytest.approx(qwk, abs=1e-9)
