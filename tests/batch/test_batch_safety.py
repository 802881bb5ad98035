"""`evaluator batch` never mixes or loses work (issue #12 items 1-4 and 13): the run manifest and
what --resume refuses, an output replaced only once its first chunk is written, output paths
checked before any grading, ragged rows keeping their cells, and --max-errors. Hashing embedder
and no judge throughout."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from evaluator.batch import BatchOptions, ErrorLimit, run_batch
from evaluator.batch import manifest as manifest_module
from evaluator.cli import main
from evaluator.errors import InputError
from evaluator.notes.check import CACHE_FORMAT
from evaluator.scoring.fingerprint import grading_code_digest, grading_context
from evaluator.scoring.grader import Grader
from evaluator.settings import Settings
from tests.helpers import EN_GOOD, TWO_QUESTION_RUBRICS, ZH_GOOD, write_csv

HEADER = ["id", "question", "answer", "cohort"]


@pytest.fixture
def cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The CLI reads [tool.evaluator] from the working folder: use an empty one."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EVALUATOR_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path


def rows(n: int, edit: dict[int, str] | None = None) -> list[list[str]]:
    """A header and `n` answer rows; `edit` replaces the answer of some rows (1-based)."""
    out = [HEADER]
    for i in range(1, n + 1):
        q, text = ("7", ZH_GOOD) if i % 2 else ("11", EN_GOOD)
        out.append([f"s{i}", q, (edit or {}).get(i, f"{text} {i}"), "A,B" if i % 3 else 'C"D'])
    return out


def batch(
    settings: Settings, grader: Grader, src: Path, out: Path, **opts: Any
) -> Any:  # BatchResult
    return run_batch(BatchOptions(input=src, output=out, **opts), settings, grader=grader)


def manifest_of(out: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(out.with_name(out.name + ".run.json").read_text("utf-8"))
    return data


def files(folder: Path) -> dict[str, bytes]:
    """Every file in `folder` (hidden ones too), by name: to show a refusal touched nothing."""
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def cli(*args: str) -> Result:
    return CliRunner().invoke(main, ["batch", *args])


def one_line_error(result: Result) -> str:
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1, result.output
    return lines[0]


def base_args(rubrics_dir: Path) -> list[str]:
    return ["--embedder", "hashing", "--no-judge", "--rubrics", str(rubrics_dir), "--quiet"]


def read_csv(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.reader(fh))


def cut_last_row(out: Path) -> bytes:
    """Drop the output's last row and cut into the one before, as a crash would."""
    data = out.read_bytes()
    body = data[: data.rstrip().rfind(b"\n") + 1]
    cut = body[: len(body) - 7]
    out.write_bytes(cut)
    return cut


# ---------------------------------------------------------------------------- the manifest


def test_every_output_gets_a_manifest_of_how_it_was_graded(
    tmp_path: Path, rubrics_dir: Path, grader: Grader
) -> None:
    src = write_csv(tmp_path / "in.csv", rows(3))
    with_judge = Settings(
        embedder="hashing",
        rubrics=rubrics_dir,
        cache_dir=tmp_path / "cache",
        judge_model="qwen-small",
        judge_base_url="https://user:s3cret-pass@judge.example:8443/v1?api-key=s3cret-query",
        judge_api_key="sk-s3cret-key",
    )
    out = tmp_path / "out.csv"
    batch(with_judge, grader, src, out, chunk_size=2)  # the grader given runs without a judge
    m = manifest_of(out)
    assert m["version"] == 1 and m["input"] == str(src)
    assert (m["format"], m["bom"], m["question"], m["extra_cells"]) == ("csv", False, None, False)
    assert m["columns"] == {
        "answer": {"name": "answer", "position": 3},
        "id": {"name": "id", "position": 1},
        "question": {"name": "question", "position": 2},
        "reference": None,
    }
    g = m["grading"]
    assert g["embedder"] == "hashing" and g["code"] == grading_code_digest()
    assert g["judge"]["model"] == "qwen-small" and g["judge"]["temperature"] == 0.0
    assert g["judge"]["base_url"] == "https://judge.example:8443/v1"
    assert {"weight", "prompt_version", "prompt_digest"} <= set(g["judge"])
    assert len(g["rubrics"]) == 16
    text = out.with_name("out.csv.run.json").read_text("utf-8")
    assert "s3cret" not in text  # no key, password or query

    # Inline references: no rubric set; JSONL: its own format.
    ref_src = write_csv(
        tmp_path / "ref.csv",
        [["question", "reference_answer", "answer"], ["Q?", "a small student model", "student"]],
    )
    jsonl = tmp_path / "ref.jsonl"
    batch(with_judge.model_copy(update={"judge": False}), grader, ref_src, jsonl, format="jsonl")
    m = manifest_of(jsonl)
    assert m["format"] == "jsonl" and m["grading"]["rubrics"] is None
    assert m["grading"]["judge"] is None
    assert m["columns"]["reference"] == {"name": "reference_answer", "position": 2}


def test_the_rubric_hash_covers_every_rubric_of_the_set(
    tmp_path: Path, settings: Settings, grader: Grader, rubrics_dir: Path
) -> None:
    src = write_csv(tmp_path / "in.csv", rows(2))
    batch(settings, grader, src, tmp_path / "a.csv")
    rubric_file = rubrics_dir / "t.yaml"
    rubric_file.write_text(TWO_QUESTION_RUBRICS.replace("imitate", "copy"), encoding="utf-8")
    batch(settings, grader, src, tmp_path / "b.csv")
    assert (
        manifest_of(tmp_path / "a.csv")["grading"]["rubrics"]
        != manifest_of(tmp_path / "b.csv")["grading"]["rubrics"]
    )


def test_resume_refuses_an_output_without_a_manifest(cwd: Path, rubrics_dir: Path) -> None:
    src = write_csv(cwd / "base.csv", rows(2))
    payroll = cwd / "payroll.csv"
    payroll.write_bytes(b"name,salary\nalice,100\n")
    before = files(cwd)
    line = one_line_error(cli(str(src), "-o", str(payroll), "--resume", *base_args(rubrics_dir)))
    assert "payroll.csv: has no run manifest" in line and "--force" in line
    assert files(cwd) == before


def test_resume_refuses_another_output_format(cwd: Path, rubrics_dir: Path) -> None:
    src = write_csv(cwd / "base.csv", rows(4))
    out = cwd / "out.csv"
    assert cli(str(src), "-o", str(out), *base_args(rubrics_dir)).exit_code == 0
    cut_last_row(out)
    before = files(cwd)
    line = one_line_error(
        cli(str(src), "-o", str(out), "--resume", "--format", "jsonl", *base_args(rubrics_dir))
    )
    assert line == (
        f"Error: {out} was graded with output format 'csv'; this run uses 'jsonl': use the same "
        "options, or --force to start over"
    )
    assert files(cwd) == before  # the cut row included: nothing is cut before the checks pass


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"embedder": "use-multilingual"}, "embedder 'hashing'; this run uses 'use-multilingual'"),
        ({"bom": True}, "a BOM (--bom/--excel) no; this run uses yes"),
        ({"answer_col": "cohort"}, "answer column 'answer' (column 3); this run uses 'cohort'"),
        ({"judge_model": "qwen-small"}, "judge off; this run uses on"),
        ({"rubric_edit": True}, "rubric set '"),
        ({"code": "another-version"}, "grading code '"),
    ],
)
def test_resume_refuses_a_run_graded_another_way(
    change: dict[str, Any],
    words: str,
    tmp_path: Path,
    settings: Settings,
    grader: Grader,
    rubrics_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    src = write_csv(tmp_path / "in.csv", rows(5))
    out = tmp_path / "out" / "out.csv"
    out.parent.mkdir()
    batch(settings, grader, src, out, chunk_size=2)
    cut_last_row(out)
    before = files(out.parent)
    options: dict[str, Any] = {"resume": True}
    if "embedder" in change or "judge_model" in change:
        settings = settings.model_copy(update=change)
    elif "rubric_edit" in change:
        text = TWO_QUESTION_RUBRICS.replace("加速训练收敛", "加快训练收敛")
        (rubrics_dir / "t.yaml").write_text(text, encoding="utf-8")
    elif "code" in change:
        monkeypatch.setattr(manifest_module, "grading_code_digest", lambda: change["code"])
    else:
        options.update(change)
    with pytest.raises(InputError) as caught:
        batch(settings, grader, src, out, **options)
    assert str(caught.value).startswith(f"{out} was graded with ")
    assert words in str(caught.value) and "or --force to start over" in str(caught.value)
    assert files(out.parent) == before


def test_resume_refuses_an_unreadable_manifest(
    tmp_path: Path, settings: Settings, grader: Grader
) -> None:
    src = write_csv(tmp_path / "in.csv", rows(3))
    out = tmp_path / "out.csv"
    batch(settings, grader, src, out)
    out.with_name("out.csv.run.json").write_text("{not json", encoding="utf-8")
    before = files(tmp_path)
    with pytest.raises(InputError, match="not a run manifest this version can read"):
        batch(settings, grader, src, out, resume=True)
    assert files(tmp_path) == before


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_resume_refuses_an_edited_input_row(
    fmt: str, tmp_path: Path, settings: Settings, grader: Grader
) -> None:
    src = write_csv(tmp_path / "base.csv", rows(8))
    out = tmp_path / f"out.{fmt}"
    batch(settings, grader, src, out, format=fmt, chunk_size=3)
    cut_last_row(out)  # rows 1-6 whole, row 7 cut
    write_csv(src, rows(8, edit={3: "an answer edited after grading"}))
    before = files(tmp_path)
    with pytest.raises(InputError) as caught:
        batch(settings, grader, src, out, format=fmt, resume=True)
    assert str(caught.value) == (
        f"row 3 of {src} differs from the row graded in {out}; use --force to regrade everything"
    )
    assert files(tmp_path) == before
    # An edit after the kept rows is simply graded.
    write_csv(src, rows(8, edit={8: "an answer edited after grading"}))
    result = batch(settings, grader, src, out, format=fmt, resume=True)
    assert result.resumed == 6 and result.rows == 8


def test_resume_still_continues_a_matching_run(
    tmp_path: Path, settings: Settings, grader: Grader
) -> None:
    src = write_csv(tmp_path / "in.csv", rows(7))
    clean, out = tmp_path / "clean.csv", tmp_path / "out.csv"
    batch(settings, grader, src, clean, chunk_size=2)
    batch(settings, grader, src, out, chunk_size=2)
    cut_last_row(out)
    manifest = out.with_name("out.csv.run.json").read_bytes()
    result = batch(settings, grader, src, out, resume=True, chunk_size=2)
    assert result.resumed == 5 and result.rows == 7
    assert out.read_bytes() == clean.read_bytes()
    assert out.with_name("out.csv.run.json").read_bytes() == manifest


# ---------------------------------------------------------------------------- writing


class _Interrupted(Grader):
    """A grader stopped (Ctrl-C) before it returns its first grade."""

    def grade_many(self, *args: Any, **kwargs: Any) -> Any:
        raise KeyboardInterrupt


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_force_keeps_the_old_output_until_the_first_chunk_is_written(
    fmt: str, tmp_path: Path, settings: Settings, grader: Grader
) -> None:
    src = write_csv(tmp_path / "in.csv", rows(5))
    out = tmp_path / f"out.{fmt}"
    batch(settings, grader, src, out, format=fmt, chunk_size=2)
    before = files(tmp_path)
    stopped = _Interrupted("hashing", settings=settings)
    with pytest.raises(KeyboardInterrupt):
        batch(settings, stopped, src, out, format=fmt, force=True)
    assert files(tmp_path) == before  # old output and manifest whole, no temporary file left
    # A fresh run stopped before its first chunk leaves nothing behind either.
    with pytest.raises(KeyboardInterrupt):
        batch(settings, stopped, src, tmp_path / "new.csv")
    assert files(tmp_path) == before


def test_force_replaces_the_output_and_its_manifest(
    tmp_path: Path, settings: Settings, grader: Grader
) -> None:
    src = write_csv(tmp_path / "in.csv", rows(3))
    out = tmp_path / "out.csv"
    batch(settings, grader, src, out)
    batch(settings, grader, src, out, force=True, bom=True)
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")
    assert manifest_of(out)["bom"] is True
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == [
        "in.csv",
        "out.csv",
        "out.csv.run.json",
    ]


def test_an_input_without_data_rows_gets_a_header_and_a_manifest(
    tmp_path: Path, settings: Settings, grader: Grader
) -> None:
    src = write_csv(tmp_path / "in.csv", [HEADER])
    out = tmp_path / "out.csv"
    result = batch(settings, grader, src, out)
    assert result.rows == 0 and read_csv(out) == [[*HEADER, *read_csv(out)[0][4:]]]
    assert manifest_of(out)["format"] == "csv"


EXPECTED = {
    "proc": "cannot create the output in /proc",
    "file-as-folder": "not a directory",
    "report-folder-missing": "missing-dir: no such directory for the report",
}


@pytest.mark.parametrize("where", list(EXPECTED))
def test_unwritable_paths_fail_before_any_grading(where: str, cwd: Path, rubrics_dir: Path) -> None:
    src = write_csv(cwd / "in.csv", rows(2))
    out, extra = cwd / "out.csv", []
    if where == "proc":
        out = Path("/proc/x.csv")
    elif where == "file-as-folder":
        out = src / "x.csv"
    else:
        extra = ["--report", "missing-dir/r.html"]
    before = files(cwd)
    line = one_line_error(cli(str(src), "-o", str(out), *extra, *base_args(rubrics_dir)))
    assert EXPECTED[where] in line
    assert files(cwd) == before and not (cwd / "missing-dir").exists()
    assert not Path("/proc/x.csv").exists()


def test_a_read_only_output_folder_fails_before_any_grading(cwd: Path, rubrics_dir: Path) -> None:
    src = write_csv(cwd / "in.csv", rows(2))
    locked = cwd / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        if os.access(locked, os.W_OK):
            pytest.skip("this user (root) can write into a 0o555 folder")
        line = one_line_error(cli(str(src), "-o", str(locked / "out.csv"), *base_args(rubrics_dir)))
        assert "cannot create the output in" in line
        assert list(locked.iterdir()) == []
    finally:
        locked.chmod(0o755)


# ---------------------------------------------------------------------------- ragged rows


RAGGED = (
    "id,question,answer\r\n"
    f"1,7,{ZH_GOOD}\r\n"
    "3,7,a,b,c,d\r\n"  # wider: an unquoted comma, most likely
    "4,11\r\n"  # no answer cell
    f"5,7,{ZH_GOOD},,\r\n"  # wider, but only by empty cells (Excel)
)


def test_wider_rows_keep_their_cells_in_extra_cells(
    tmp_path: Path, settings: Settings, grader: Grader
) -> None:
    src = tmp_path / "in.csv"
    src.write_text(RAGGED, encoding="utf-8")
    out = tmp_path / "out.csv"
    batch(settings, grader, src, out)
    table = read_csv(out)
    assert table[0][:4] == ["id", "question", "answer", "extra_cells"]
    extra = {r[0]: r[3] for r in table[1:]}
    assert extra == {"1": "", "3": '["b", "c", "d"]', "4": "", "5": '["", ""]'}
    error = {r[0]: r[-1] for r in table[1:]}
    assert "row has 6 fields but the header has 3" in error["3"]
    assert "no answer cell" in error["4"]
    assert error["1"] == error["5"] == ""
    assert manifest_of(out)["extra_cells"] is True

    jsonl = tmp_path / "out.jsonl"
    batch(settings, grader, src, jsonl, format="jsonl")
    objs = [json.loads(line) for line in jsonl.read_text("utf-8").splitlines()]
    assert [o["extra_cells"] for o in objs] == [[], ["b", "c", "d"], [], ["", ""]]
    assert objs[1]["input"] == {"id": "3", "question": "7", "answer": "a"}


def test_extra_cells_column_is_prefixed_when_the_input_has_one(
    tmp_path: Path, settings: Settings, grader: Grader
) -> None:
    src = write_csv(
        tmp_path / "in.csv",
        [["id", "question", "answer", "extra_cells"], ["1", "7", ZH_GOOD, "x", "more"]],
    )
    out = tmp_path / "out.csv"
    batch(settings, grader, src, out)
    header, row = read_csv(out)
    assert header[3:5] == ["extra_cells", "eval_extra_cells"] and row[3:5] == ["x", '["more"]']


def test_a_short_row_is_graded_when_its_answer_is_there(
    tmp_path: Path, settings: Settings, grader: Grader
) -> None:
    src = tmp_path / "in.csv"
    src.write_text(f"id,question,answer,cohort\r\n1,7,{ZH_GOOD}\r\n2,7\r\n", encoding="utf-8")
    out = tmp_path / "out.csv"
    result = batch(settings, grader, src, out)
    first, second = read_csv(out)[1:]
    assert first[3] == "" and first[-1] == "" and float(first[5]) > 0  # graded, cohort empty
    assert second[-1] == (
        "row has 2 fields but the header has 4, so it has no answer cell (line 3); not graded"
    )
    assert result.summary.errors == 1


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_resume_keeps_extra_cells(
    fmt: str, tmp_path: Path, settings: Settings, grader: Grader
) -> None:
    src = tmp_path / "in.csv"
    src.write_text(RAGGED + f'6,11,"{EN_GOOD}",x\r\n7,7,{ZH_GOOD}\r\n', encoding="utf-8")
    clean, out = tmp_path / f"clean.{fmt}", tmp_path / f"out.{fmt}"
    batch(settings, grader, src, clean, format=fmt, chunk_size=2)
    batch(settings, grader, src, out, format=fmt, chunk_size=2)
    cut_last_row(out)
    result = batch(settings, grader, src, out, format=fmt, chunk_size=2, resume=True)
    assert result.resumed == 4 and result.rows == 6
    got, want = out.read_text("utf-8"), clean.read_text("utf-8")
    if fmt == "jsonl":  # wall-clock timings differ
        strip = [
            {k: v for k, v in json.loads(line).items() if k != "timings_ms"}
            for text in (got, want)
            for line in text.splitlines()
        ]
        assert strip[:6] == strip[6:]
        assert json.loads(got.splitlines()[4])["extra_cells"] == ["x"]
    else:
        assert got == want and '"[""x""]"' in got


# ---------------------------------------------------------------------------- --max-errors


def test_max_errors_stops_after_the_chunk_and_resume_continues(
    cwd: Path, rubrics_dir: Path
) -> None:
    table = rows(10)
    for i in (3, 4, 5, 9):
        table[i][1] = "404"  # no such question
    src = write_csv(cwd / "in.csv", table)
    out = cwd / "out.csv"
    args = [str(src), "-o", str(out), "--chunk-size", "2", *base_args(rubrics_dir)]
    line = one_line_error(cli(*args, "--max-errors", "1"))
    assert line == (
        f"Error: stopped: 2 of the 4 rows graded in this run had errors, more than "
        f"--max-errors 1 allows; {out} holds the 4 rows so far and --resume continues"
    )
    assert len(read_csv(out)) == 1 + 4
    line = one_line_error(cli(*args, "--resume", "--max-errors", "0.2"))
    assert "stopped: 1 of the 2 rows graded in this run had errors" in line  # row 5
    assert len(read_csv(out)) == 1 + 6
    result = cli(*args, "--resume")  # no limit by default
    assert result.exit_code == 0, result.output
    assert len(read_csv(out)) == 1 + 10


def test_max_errors_is_a_count_or_a_fraction(cwd: Path, rubrics_dir: Path) -> None:
    assert ErrorLimit.parse("3").exceeded(4, 10) and not ErrorLimit.parse("3").exceeded(3, 3)
    assert ErrorLimit.parse("0.25").exceeded(3, 10) and not ErrorLimit.parse(".3").exceeded(3, 10)
    assert not ErrorLimit.parse("1.0").exceeded(10, 10)
    for bad in ("-1", "1.5", "ten", "10%"):
        with pytest.raises(InputError, match="--max-errors"):
            ErrorLimit.parse(bad)
    src = write_csv(cwd / "in.csv", rows(2))
    line = one_line_error(
        cli(str(src), "-o", "out.csv", "--max-errors", "lots", *base_args(rubrics_dir))
    )
    assert "--max-errors 'lots'" in line and not (cwd / "out.csv").exists()


# ---------------------------------------------------------------------------- identity


def test_the_check_cache_context_is_unchanged_by_the_move(settings: Settings) -> None:
    # check's cached grades stay valid: the same string as before the functions moved.
    context = grading_context(settings, CACHE_FORMAT)
    assert context == json.dumps(
        {"code": grading_code_digest(), "embedder": "hashing", "format": 1, "judge": None}
    )
