"""`evaluator batch`: column mapping, real-world CSV encodings, error rows, order under
concurrency, JSONL, and bad files failing before any work. Hashing embedder throughout."""

from __future__ import annotations

import codecs
import csv
import json
import random
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from evaluator.batch import BatchOptions, prepare_batch, run_batch
from evaluator.batch import rows as rows_module
from evaluator.batch.table import open_table, resolve_columns
from evaluator.cli import main
from evaluator.errors import EvaluatorError, InputError, JudgeError
from evaluator.judge.outcome import JudgeOutcome
from evaluator.judge.reply import KeyPointJudgement
from evaluator.result import Grade, JudgeInfo, Verdict
from evaluator.rubrics.io import load_rubrics
from evaluator.rubrics.model import Rubric
from evaluator.scoring.grader import Grader
from evaluator.settings import Settings
from tests.helpers import EN_GOOD, ZH_GOOD, write_csv


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def run(
    tmp_path: Path,
    settings: Settings,
    grader: Grader | None,
    source: Path,
    name: str = "out.csv",
    **opts: Any,
) -> tuple[Path, Any]:
    out = tmp_path / name
    result = run_batch(
        BatchOptions(input=source, output=out, **opts), settings, grader=grader, rubrics=None
    )
    return out, result


def cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["batch", *args])
    return result.exit_code, result.stdout, result.stderr


# ---------------------------------------------------------------------------- columns


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (["id", "question", "answer", "expected"], (0, 1, None, 2)),
        ([" ID ", " Question ", "  Answer", "note"], (0, 1, None, 2)),
        (["编号", "题号", "回答"], (0, 1, None, 2)),
        (["row_id", "question_id", "student_answer", "score"], (0, 1, None, 2)),
        (
            ["id", "dataset", "question_id", "question", "reference_answer", "answer"],
            (0, 3, 4, 5),
        ),
        (["qid", "My Answer Text", "grade"], (None, 0, None, 1)),
    ],
)
def test_columns_are_detected_from_common_names(
    tmp_path: Path, header: list[str], expected: tuple[int | None, ...]
) -> None:
    table = open_table(write_csv(tmp_path / "in.csv", [header, ["x"] * len(header)]))
    c = resolve_columns(table)
    assert (c.id, c.question, c.reference, c.answer) == expected


def test_flags_override_detection_and_match_loosely(tmp_path: Path) -> None:
    header = ["id", "question", "Student Reply", "answer", "ref text"]
    table = open_table(write_csv(tmp_path / "in.csv", [header, ["x"] * 5]))
    c = resolve_columns(table, answer_col="student reply", reference_col=" Ref Text ")
    assert (c.answer, c.reference, c.question) == (2, 4, 1)


def test_missing_flag_column_names_the_header(tmp_path: Path) -> None:
    table = open_table(write_csv(tmp_path / "in.csv", [["id", "text"], ["1", "a"]]))
    with pytest.raises(InputError, match=r"no column 'reply' for --answer-col .*id, text"):
        resolve_columns(table, answer_col="reply")


def test_same_column_twice_is_refused_when_it_matters(tmp_path: Path) -> None:
    table = open_table(
        write_csv(tmp_path / "in.csv", [["id", "answer", "answer"], ["1", "a", "b"]])
    )
    with pytest.raises(InputError, match=r"'answer' \(answer\) appears twice .*columns 2 and 3"):
        resolve_columns(table)


def test_duplicate_passthrough_columns_are_kept(
    tmp_path: Path, settings: Settings, grader: Grader
) -> None:
    src = write_csv(
        tmp_path / "in.csv",
        [["id", "question", "answer", "note", "note"], ["1", "7", ZH_GOOD, "a", "b"]],
    )
    out, _ = run(tmp_path, settings, grader, src)
    with out.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0][:5] == ["id", "question", "answer", "note", "note"]
    assert rows[1][3:5] == ["a", "b"]
    jsonl, _ = run(tmp_path, settings, grader, src, "out.jsonl", format="jsonl")
    line = json.loads(jsonl.read_text(encoding="utf-8"))
    assert line["input"]["note"] == "a" and line["input"]["note_2"] == "b"


def test_one_column_in_two_roles_is_refused(tmp_path: Path) -> None:
    table = open_table(write_csv(tmp_path / "in.csv", [["id", "answer"], ["1", "a"]]))
    with pytest.raises(InputError, match="cannot be both"):
        resolve_columns(table, question_col="answer")


def test_examples_layout_grades_by_question_number(
    tmp_path: Path, settings: Settings, grader: Grader
) -> None:
    src = write_csv(
        tmp_path / "in.csv",
        [
            ["id", "question", "answer", "expected"],
            ["a1", "7", ZH_GOOD, "good"],
            ["a2", "11", EN_GOOD, "good"],
            ["a3", "What is knowledge distillation", "unrelated text about cooking pasta", "weak"],
        ],
    )
    out, result = run(tmp_path, settings, grader, src)
    rows = read_csv(out)
    assert [r["id"] for r in rows] == ["a1", "a2", "a3"]
    assert [r["rubric_id"] for r in rows] == ["t-q7", "t-q11", "t-q11"]
    assert [r["expected"] for r in rows] == ["good", "good", "weak"]  # passthrough
    assert all(r["error"] == "" and r["method"] == "embedding" for r in rows)
    assert float(rows[0]["score"]) > float(rows[2]["score"])
    assert float(rows[1]["score"]) > float(rows[2]["score"])
    assert rows[0]["band"] and rows[0]["feedback"]
    assert "标准化" in rows[0]["covered"]
    assert "embedding_only_cannot_verify_correctness" in rows[0]["flags"]
    assert result.summary.rows == 3 and result.summary.errors == 0


def test_inline_reference_builds_one_rubric_per_distinct_reference(
    tmp_path: Path, settings: Settings, grader: Grader, monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[str] = []
    real = rows_module.adhoc_rubric

    def counting(question: str, reference: str) -> Rubric:
        built.append(reference)
        return real(question, reference)

    monkeypatch.setattr(rows_module, "adhoc_rubric", counting)
    ref_a = "To simulate the behaviour of portions of the desired software product."
    ref_b = "A stack is a last-in first-out data structure."
    rows = [["id", "question_id", "question", "reference_answer", "answer", "human_score"]]
    for i in range(12):
        ref, q = (ref_a, "Role of a prototype?") if i % 3 else (ref_b, "What is a stack?")
        answer = f"answer {i}: it simulates the behaviour of portions of the software product"
        rows.append([f"r{i}", "1.1", q, ref, answer, "3"])
    rows.append(["r12", "1.2", "What is a stack?", "", "lifo", "1"])  # no reference: error row
    src = write_csv(tmp_path / "in.csv", rows)
    out, _ = run(
        tmp_path,
        Settings(embedder="hashing", rubrics=tmp_path / "nowhere", cache_dir=tmp_path / "c"),
        grader,
        src,
        reference_col="reference_answer",
        question_col="question",
    )
    assert sorted(built) == sorted([ref_a, ref_b])  # no rubric files needed, each built once
    result = read_csv(out)
    assert [r["id"] for r in result] == [f"r{i}" for i in range(13)]
    assert result[1]["rubric_id"].startswith("adhoc-")
    assert result[1]["rubric_id"] == result[2]["rubric_id"] != result[0]["rubric_id"]
    assert float(result[1]["score"]) > 0
    assert "reference answer cell is empty" in result[12]["error"]


def test_no_question_column_fails_fast(tmp_path: Path, settings: Settings) -> None:
    src = write_csv(tmp_path / "in.csv", [["id", "answer"], ["1", "x"]])
    with pytest.raises(InputError, match=r"no question column found.*--question-col"):
        prepare_batch(BatchOptions(input=src, output=tmp_path / "o.csv"), settings)
    assert not (tmp_path / "o.csv").exists()


def test_fixed_question_for_every_row(tmp_path: Path, settings: Settings, grader: Grader) -> None:
    src = write_csv(tmp_path / "in.csv", [["answer"], [ZH_GOOD], ["别的"]])
    out, _ = run(tmp_path, settings, grader, src, question="7")
    assert [r["rubric_id"] for r in read_csv(out)] == ["t-q7", "t-q7"]
    with pytest.raises(EvaluatorError, match="matches no question"):
        run(tmp_path, settings, grader, src, "o2.csv", question="999")
    assert not (tmp_path / "o2.csv").exists()


# ---------------------------------------------------------------------------- encodings


def sample_rows() -> list[list[str]]:
    return [
        ["id", "question", "answer"],
        ["1", "7", ZH_GOOD],
        ["2", "7", "第一行：批量归一化\n第二行：加速训练，“引号”和,逗号"],
        ["3", "11", EN_GOOD],
    ]


@pytest.mark.parametrize(
    ("encoding", "extra"),
    [
        ("utf-8", {}),
        ("utf-8-sig", {}),
        ("gbk", {}),
        ("gb18030", {}),
        ("utf-16", {"delimiter": "\t"}),  # Excel "Unicode text"
        ("utf-8", {"lineterminator": "\r\n"}),
        ("gbk", {"lineterminator": "\r\n"}),
    ],
)
def test_encodings_are_detected_and_cells_survive(
    tmp_path: Path, settings: Settings, grader: Grader, encoding: str, extra: dict[str, str]
) -> None:
    src = write_csv(tmp_path / "in.csv", sample_rows(), encoding=encoding, **extra)
    out, _ = run(tmp_path, settings, grader, src)
    rows = read_csv(out)
    assert [[r["id"], r["question"], r["answer"]] for r in rows] == sample_rows()[1:]
    assert all(r["error"] == "" for r in rows)
    assert rows[0]["rubric_id"] == "t-q7"


def test_gb18030_only_characters(tmp_path: Path, settings: Settings, grader: Grader) -> None:
    answer = "批量归一化 𠀀 € 标准化"  # U+20000 and € are not in GBK
    src = write_csv(
        tmp_path / "in.csv", [["id", "question", "answer"], ["1", "7", answer]], "gb18030"
    )
    assert open_table(src).encoding == "gb18030"
    out, _ = run(tmp_path, settings, grader, src)
    assert read_csv(out)[0]["answer"] == answer


def test_explicit_encoding_is_checked(tmp_path: Path, settings: Settings, grader: Grader) -> None:
    src = write_csv(tmp_path / "in.csv", sample_rows(), "gbk")
    out, _ = run(tmp_path, settings, grader, src, encoding="gbk")
    assert read_csv(out)[0]["answer"] == ZH_GOOD
    with pytest.raises(InputError, match="not valid utf-8"):
        open_table(src, encoding="utf-8")
    with pytest.raises(InputError, match="unknown encoding 'klingon'"):
        open_table(src, encoding="klingon")


def test_header_with_stray_spaces_passes_through_unchanged(
    tmp_path: Path, settings: Settings, grader: Grader
) -> None:
    src = write_csv(tmp_path / "in.csv", [[" id", "question ", " answer "], ["1", "7", ZH_GOOD]])
    out, _ = run(tmp_path, settings, grader, src)
    with out.open(encoding="utf-8", newline="") as fh:
        header = next(csv.reader(fh))
    assert header[:3] == [" id", "question ", " answer "]
    assert read_csv(out)[0]["rubric_id"] == "t-q7"


@pytest.mark.parametrize("delimiter", [";", "\t", "|"])
def test_delimiter_is_detected(
    tmp_path: Path, settings: Settings, grader: Grader, delimiter: str
) -> None:
    src = write_csv(tmp_path / "in.csv", sample_rows(), delimiter=delimiter)
    out, _ = run(tmp_path, settings, grader, src)
    assert [r["answer"] for r in read_csv(out)] == [r[2] for r in sample_rows()[1:]]


def test_excel_output_has_a_bom_and_crlf(
    tmp_path: Path, settings: Settings, grader: Grader
) -> None:
    src = write_csv(tmp_path / "in.csv", sample_rows())
    out, _ = run(tmp_path, settings, grader, src, bom=True)
    data = out.read_bytes()
    assert data.startswith(codecs.BOM_UTF8)
    assert data.count(codecs.BOM_UTF8) == 1
    assert b"\r\n" in data and data.endswith(b"\r\n")
    assert [r["id"] for r in read_csv(out)] == ["1", "2", "3"]
    plain, _ = run(tmp_path, settings, grader, src, "plain.csv")
    assert not plain.read_bytes().startswith(codecs.BOM_UTF8)


def test_megabyte_answer_is_graded_and_passed_through(
    tmp_path: Path, settings: Settings, grader: Grader
) -> None:
    big = (ZH_GOOD + "\n") * (1_048_576 // len((ZH_GOOD + "\n").encode()) + 1)
    assert len(big.encode()) > 1_000_000
    src = write_csv(
        tmp_path / "in.csv", [["id", "question", "answer"], ["1", "7", big], ["2", "7", "短"]]
    )
    out, _ = run(tmp_path, settings, grader, src)
    rows = read_csv(out)
    assert rows[0]["answer"] == big
    assert rows[0]["error"] == "" and "truncated" in rows[0]["flags"]
    assert rows[1]["id"] == "2"


# ---------------------------------------------------------------------------- error rows


def test_every_row_appears_once_in_order_with_errors(
    tmp_path: Path, settings: Settings, grader: Grader
) -> None:
    src = tmp_path / "in.csv"
    src.write_text(
        "id,question,answer,note\r\n"
        f"1,7,{ZH_GOOD},a\r\n"
        "2,99,whatever,b\r\n"  # unknown question
        "3,7,,c\r\n"  # empty answer: a grade of 0, not an error
        "4,7,too,many,fields\r\n"
        "5,7\r\n"  # too few
        "\r\n"  # blank line: not a row
        f'6,11,"{EN_GOOD}\r\nsecond line",f\r\n'
        "7,,no question,g\r\n",
        encoding="utf-8",
    )
    out, result = run(tmp_path, settings, grader, src, chunk_size=2)
    rows = read_csv(out)
    assert [r["id"] for r in rows] == ["1", "2", "3", "4", "5", "6", "7"]
    errors = {r["id"]: r["error"] for r in rows}
    assert errors["1"] == errors["3"] == errors["6"] == ""
    assert errors["2"].startswith("unknown question: '99'")
    assert errors["4"] == (
        "row has 5 fields but the header has 4 (line 5); the cells beyond the header are in "
        "extra_cells; not graded"
    )
    assert errors["5"] == (
        "row has 2 fields but the header has 4, so it has no answer cell (line 6); not graded"
    )
    assert "question cell is empty" in errors["7"]
    assert rows[2]["score"] == "0" and "empty" in rows[2]["flags"] and rows[2]["band"] == "none"
    assert rows[3]["note"] == "many" and rows[4]["note"] == ""  # ragged rows keep every cell
    assert rows[3]["extra_cells"] == '["fields"]' and rows[4]["extra_cells"] == ""
    assert all(r["score"] == "" for r in rows if r["error"])
    assert result.summary.rows == 7 and result.summary.errors == 4


class _ScriptedJudge:
    """Fails or answers per row (decided by the row number inside the answer), after a random
    sleep, so threads finish out of order."""

    def __init__(self, fail_every: int = 3, seed: int = 7) -> None:
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.fail_every = fail_every
        self.calls = 0

    def decides_to_fail(self, answer: str) -> bool:
        return int(answer.split("#")[1].split()[0]) % self.fail_every == 0

    def assess(self, rubric: Rubric, answer: str) -> JudgeOutcome:
        with self.lock:
            self.calls += 1
            delay = self.rng.uniform(0, 0.02)
        time.sleep(delay)
        if self.decides_to_fail(answer):
            raise JudgeError("scripted failure")
        return JudgeOutcome(
            judgements={
                k.id: KeyPointJudgement(id=k.id, verdict=Verdict.COVERED) for k in rubric.key_points
            },
            info=JudgeInfo(model="stub", base_url="stub", prompt_version="t"),
        )


def _numbered_rows(n: int) -> list[list[str]]:
    rows = [["id", "question", "answer"]]
    for i in range(1, n + 1):
        q, text = ("7", ZH_GOOD) if i % 2 else ("11", EN_GOOD)
        rows.append([f"id{i}", q, f"#{i} {text}"])
    return rows


def test_order_and_row_identity_survive_concurrent_judging(
    tmp_path: Path, settings: Settings
) -> None:
    judge = _ScriptedJudge()
    grader = Grader("hashing", judge=judge, settings=settings)  # type: ignore[arg-type]  # duck-typed Judge
    src = write_csv(tmp_path / "in.csv", _numbered_rows(60))
    out, result = run(tmp_path, settings, grader, src, jobs=8, chunk_size=25)
    rows = read_csv(out)
    assert judge.calls == 60
    assert [r["id"] for r in rows] == [f"id{i}" for i in range(1, 61)]
    for r in rows:
        failed = judge.decides_to_fail(r["answer"])
        assert r["method"] == ("embedding" if failed else "embedding+judge"), r["id"]
        assert ("judge_unscored" in r["flags"]) == failed
        assert r["error"] == ""
    assert result.summary.methods == {"embedding": 20, "embedding+judge": 40}


def test_judge_failure_with_require_judge_is_an_error_row(
    tmp_path: Path, settings: Settings
) -> None:
    strict = settings.model_copy(update={"require_judge": True})
    judge = _ScriptedJudge(fail_every=4)
    grader = Grader("hashing", judge=judge, settings=strict)  # type: ignore[arg-type]  # duck-typed Judge
    src = write_csv(tmp_path / "in.csv", _numbered_rows(12))
    out, _ = run(tmp_path, strict, grader, src, jobs=4)
    rows = read_csv(out)
    assert [r["id"] for r in rows] == [f"id{i}" for i in range(1, 13)]
    for i, r in enumerate(rows, 1):
        if i % 4 == 0:
            assert r["error"] == "scripted failure" and r["score"] == ""
            assert r["rubric_id"]  # the question was known; only grading failed
        else:
            assert r["error"] == "" and r["method"] == "embedding+judge"


# ---------------------------------------------------------------------------- JSONL


def test_jsonl_has_the_full_grade_row_id_and_passthrough(
    tmp_path: Path, settings: Settings, grader: Grader
) -> None:
    src = write_csv(
        tmp_path / "in.csv",
        [["id", "question", "answer", "cohort"], ["s1", "7", ZH_GOOD, "A"], ["s2", "42", "x", "B"]],
    )
    out, _ = run(tmp_path, settings, grader, src, "out.jsonl", format="jsonl")
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [(d["row"], d["id"]) for d in lines] == [(1, "s1"), (2, "s2")]
    assert lines[0]["input"] == {"id": "s1", "question": "7", "answer": ZH_GOOD, "cohort": "A"}
    grade_fields = {k: v for k, v in lines[0].items() if k not in ("row", "id", "input", "error")}
    grade = Grade.model_validate(grade_fields)
    assert grade.question_id == "t-q7" and len(grade.key_points) == 2
    assert lines[0]["error"] is None
    assert lines[1]["error"].startswith("unknown question") and "score" not in lines[1]


# ---------------------------------------------------------------------------- bad files


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the file is empty"),
        (b"\xef\xbb\xbf\r\n  \r\n", "the file is empty"),
        (
            b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4,
            "looks like a binary file",
        ),
        (random.Random(3).randbytes(5000).replace(b"\x00", b"\x01"), "binary|encoding"),
        (
            "1,7,批量归一化是一种在深度网络中对每一层输入按小批量做标准化的方法，它让训练更稳定，"
            "也能使用更大的学习率，从而加速收敛并带来一定的正则化效果。\n".encode(),
            "does not look like a header",
        ),
        (b"id,question,text_body\n1,7,x\n", "no answer column found"),
        (b"student,comment\nx,y\n", "no answer column found .*student, comment"),
    ],
)
def test_bad_files_fail_fast_with_one_line(
    tmp_path: Path, settings: Settings, content: bytes, message: str
) -> None:
    src = tmp_path / "in.csv"
    src.write_bytes(content)
    with pytest.raises(InputError, match=message) as info:
        prepare_batch(BatchOptions(input=src, output=tmp_path / "out.csv"), settings)
    assert "\n" not in str(info.value)
    assert not (tmp_path / "out.csv").exists()


def test_cli_bad_file_exits_1_with_one_line(tmp_path: Path, rubrics_dir: Path) -> None:
    src = tmp_path / "in.csv"
    src.write_bytes(b"id,question,reply_text\n1,7,x\n")
    code, _, err = cli(str(src), "-o", str(tmp_path / "o.csv"), "--rubrics", str(rubrics_dir),
                         "--embedder", "hashing", "--answer-col", "answer")  # fmt: skip
    assert code == 1
    assert err.strip().startswith("Error: ") and len(err.strip().splitlines()) == 1
    assert "no column 'answer' for --answer-col" in err
    code, _, err = cli(str(tmp_path / "missing.csv"), "-o", str(tmp_path / "o.csv"))
    assert code == 1 and "no such file" in err


def test_existing_output_needs_resume_or_force(
    tmp_path: Path, settings: Settings, grader: Grader
) -> None:
    src = write_csv(tmp_path / "in.csv", sample_rows())
    out = tmp_path / "out.csv"
    out.write_text("precious", encoding="utf-8")
    with pytest.raises(InputError, match=r"already exists; use --resume .* or --force"):
        run(tmp_path, settings, grader, src)
    assert out.read_text(encoding="utf-8") == "precious"
    run(tmp_path, settings, grader, src, force=True)
    assert len(read_csv(out)) == 3
    with pytest.raises(InputError, match="overwrite the input"):
        run(tmp_path, settings, grader, src, "in.csv", force=True)


def test_rubric_errors_fail_before_work(tmp_path: Path, settings: Settings) -> None:
    src = write_csv(tmp_path / "in.csv", sample_rows())
    bad = settings.model_copy(update={"rubrics": tmp_path / "no-rubrics-here"})
    with pytest.raises(Exception, match="no such rubric file or directory"):
        prepare_batch(BatchOptions(input=src, output=tmp_path / "o.csv"), bad)
    assert not (tmp_path / "o.csv").exists()


# ---------------------------------------------------------------------------- CLI


def test_cli_batch_writes_output_report_and_summary(tmp_path: Path, rubrics_dir: Path) -> None:
    src = write_csv(tmp_path / "in.csv", sample_rows())
    out, report = tmp_path / "out.csv", tmp_path / "r.html"
    code, stdout, err = cli(str(src), "-o", str(out), "--report", str(report), "--rubrics",
                            str(rubrics_dir), "--embedder", "hashing")  # fmt: skip
    assert code == 0, err
    assert stdout == ""  # everything for people goes to stderr
    assert "columns: id='id' question='question' answer='answer'" in err
    assert "Batch summary" in err and "median score" in err and "Per question" in err
    assert [r["id"] for r in read_csv(out)] == ["1", "2", "3"]
    page = report.read_text(encoding="utf-8")
    assert 'id="score-histogram"' in page and "<script" not in page
    code, _, err = cli(str(src), "-o", str(out), "--rubrics", str(rubrics_dir), "--embedder",
                       "hashing", "--quiet", "--force", "--format", "jsonl")  # fmt: skip
    assert code == 0 and err == ""


def test_examples_answers_csv_runs_end_to_end(repo_root: Path, tmp_path: Path) -> None:
    src = repo_root / "examples" / "answers.csv"
    out, report = tmp_path / "out.csv", tmp_path / "r.html"
    code, _, err = cli(str(src), "-o", str(out), "--report", str(report), "--embedder", "hashing",
                       "--rubrics", str(repo_root / "rubrics"))  # fmt: skip
    assert code == 0, err
    table = open_table(src)
    columns = resolve_columns(table)
    assert table.header[columns.question or 0].strip() == "question"
    assert table.header[columns.answer].strip() == "answer"
    rows = read_csv(out)
    assert len(rows) == table.count()
    assert sum(1 for r in rows if r["error"]) == 0
    assert load_rubrics(repo_root / "rubrics").get(rows[0]["rubric_id"]) is not None
    assert report.stat().st_size > 0
