"""`evaluator batch --engine ray` before any Ray starts: help without importing Ray, the install
hint when Ray is missing, flags that belong to one engine, and outputs that must not be
overwritten. (Grading on Ray is in test_cluster.py.)"""

from __future__ import annotations

import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path

import pytest
from click.testing import CliRunner

from evaluator.cli import main
from tests.helpers import REPO, require, write_csv


def batch(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["batch", *args])
    return result.exit_code, result.stderr


@pytest.fixture
def answers(tmp_path: Path) -> Path:
    return write_csv(
        tmp_path / "in.csv",
        [["id", "question", "reference_answer", "answer"], ["1", "q", "a reference", "x"]],
    )


@pytest.mark.parametrize("args", [["--help"], ["batch", "--help"]])
def test_help_does_not_import_ray(args: list[str]) -> None:
    code = (
        "import sys, runpy\n"
        f"sys.argv = ['evaluator', *{args!r}]\n"
        "try:\n"
        "    runpy.run_module('evaluator.cli', run_name='__main__')\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('RAY' if 'ray' in sys.modules or 'pyarrow' in sys.modules else 'NO RAY')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True
    )
    assert out.stdout.strip().endswith("NO RAY")
    if args == ["batch", "--help"]:
        assert "--engine [local|ray]" in out.stdout and "--ray-address" in out.stdout


def test_without_ray_installed_the_engine_says_how_to_install_it(
    answers: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    monkeypatch.setitem(sys.modules, "ray.data", None)
    code, err = batch(str(answers), "-o", str(tmp_path / "out"), "--engine", "ray")
    assert code == 1
    assert err.strip() == "Error: the ray engine needs Ray: pip install 'answer-evaluator[ray]'"


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--engine", "ray", "--resume"], "--resume is for the local engine"),
        (["--engine", "ray", "--max-errors", "5"], "--max-errors is for the local engine"),
        (["--ray-address", "auto"], "go with --engine ray"),
        (["--actor-resources", '{"a": 1}'], "go with --engine ray"),
        (["--format", "parquet"], "--format parquet is for --engine ray"),
        (["--engine", "ray", "--actor-resources", "[1]"], "a JSON object of names"),
        (["--engine", "ray", "--actor-resources", '{"a": -1}'], "positive amounts"),
    ],
)
def test_flags_of_the_other_engine_are_usage_errors(
    answers: Path, tmp_path: Path, flags: list[str], message: str
) -> None:
    code, err = batch(str(answers), "-o", str(tmp_path / "out"), *flags)
    assert code == 2 and message in err


def test_an_existing_output_is_refused_before_ray_starts(answers: Path, tmp_path: Path) -> None:
    require(find_spec("ray") is not None, "the ray extra is not installed")
    out = tmp_path / "graded"
    out.mkdir()
    (out / "part-00000.csv").write_text("kept", encoding="utf-8")
    code, err = batch(str(answers), "-o", str(out), "--engine", "ray", "--embedder", "hashing")
    assert code == 1 and "already exists; use --force" in err
    assert (out / "part-00000.csv").read_text(encoding="utf-8") == "kept"
    code, err = batch(str(answers), "-o", str(answers), "--engine", "ray")
    assert code == 1 and "the output would overwrite the input" in err
    code, err = batch(str(tmp_path / "missing"), "-o", str(out), "--engine", "ray")
    assert code == 1 and "no such file or folder" in err
