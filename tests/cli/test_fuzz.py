"""Random bytes and random structure through the three readers users feed us: rubric files,
study notes (front matter and headings) and batch CSVs (#12 item 6). Whatever comes in, the
command ends without a traceback; when it refuses, it says so in one line (exit 1 or 2); and no
file it was not asked to write changes.

Hypothesis generates the cases (EXAMPLES per test, derandomized so CI runs the same cases)."""

from __future__ import annotations

import contextlib
import csv
import io
import tempfile
from pathlib import Path

import yaml
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evaluator.cli import main

EXAMPLES = 200
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
BYSTANDER = b"a file nobody asked to change\n"


def invoke(args: list[str], folder: Path) -> Result:
    """`evaluator ARGS` run in `folder`."""
    with contextlib.chdir(folder):
        return CliRunner().invoke(main, args)


def assert_clean_end(result: Result, allowed: set[int]) -> None:
    """No traceback; an exit code in `allowed`; a refusal (exit 1/2) said in one line."""
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"traceback: {result.exception!r}\n{result.output}")
    assert result.exit_code in allowed, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    if result.exit_code == 2 or errors:
        assert len(errors) == 1, result.output


def workspace() -> tuple[tempfile.TemporaryDirectory[str], Path]:
    holder = tempfile.TemporaryDirectory()
    folder = Path(holder.name)
    (folder / "bystander.txt").write_bytes(BYSTANDER)
    return holder, folder


def assert_untouched(folder: Path, inputs: dict[str, bytes]) -> None:
    assert (folder / "bystander.txt").read_bytes() == BYSTANDER
    for name, data in inputs.items():
        assert (folder / name).read_bytes() == data, f"{name} was changed"


# ---------------------------------------------------------------------------- rubric files

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
)
_keys = st.sampled_from(
    [
        "document", "title", "rubrics", "id", "number", "question", "reference_answer",
        "key_points", "text", "weight", "label", "misconceptions", "penalty", "groups", "pick",
        "duplicate_of", "language", "source", "file", "lines", "notes", "extra",
    ]
)  # fmt: skip
_yamlish = st.recursive(
    _scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(_keys, inner, max_size=6)),
    max_leaves=25,
)


def _rubric_like(data: object) -> bytes:
    return yaml.safe_dump(data, allow_unicode=True).encode("utf-8")


@FUZZ
@given(st.one_of(st.binary(max_size=400), _yamlish.map(_rubric_like)))
def test_any_rubric_file_is_read_or_refused_in_one_line(data: bytes) -> None:
    holder, folder = workspace()
    with holder:
        (folder / "rubrics").mkdir()
        (folder / "rubrics" / "r.yaml").write_bytes(data)
        assert_clean_end(invoke(["list", "--rubrics", "rubrics"], folder), {0, 1})
        assert_clean_end(invoke(["rubrics", "lint", "rubrics"], folder), {0, 1})
        assert_untouched(folder, {"rubrics/r.yaml": data})


# ---------------------------------------------------------------------------- study notes

_front = st.one_of(st.text(max_size=120), _yamlish.map(lambda d: yaml.safe_dump(d)))


@FUZZ
@given(
    front=_front,
    closed=st.booleans(),
    body=st.text(max_size=200),
    raw=st.binary(max_size=300),
    use_raw=st.booleans(),
)
def test_any_note_is_checked_or_refused_in_one_line(
    front: str, closed: bool, body: str, raw: bytes, use_raw: bool
) -> None:
    text = f"---\n{front}\n{'---' if closed else ''}\n## Q7\n{body}\n"
    data = raw if use_raw else text.encode("utf-8", "surrogatepass")
    holder, folder = workspace()
    with holder:
        (folder / "note.md").write_bytes(data)
        result = invoke(["check", "--embedder", "hashing", "--no-cache", "note.md"], folder)
        assert_clean_end(result, {0, 1})
        assert_untouched(folder, {"note.md": data})


# ---------------------------------------------------------------------------- batch CSVs

_cell = st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=12)
_rows = st.lists(st.lists(_cell, max_size=6), max_size=8)


def _csv_like(rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerows([["id", "question", "answer"], *rows])
    return buffer.getvalue().encode("utf-8")


@FUZZ
@given(st.one_of(st.binary(max_size=400), _rows.map(_csv_like)))
def test_any_csv_is_graded_or_refused_in_one_line(data: bytes) -> None:
    holder, folder = workspace()
    with holder:
        (folder / "in.csv").write_bytes(data)
        args = ["batch", "in.csv", "-o", "out.csv", "--embedder", "hashing", "--no-judge"]
        assert_clean_end(invoke([*args, "--quiet"], folder), {0, 1})
        assert_untouched(folder, {"in.csv": data})
