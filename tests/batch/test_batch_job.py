"""One interface for both engines (batch/job.py): the options say which engine runs, every
option that goes with one engine only is checked in one place, and `prepare_batch` hands back a
job of that engine behind the `BatchJob` protocol."""

from __future__ import annotations

from pathlib import Path

import pytest

from evaluator.batch import BatchJob, BatchOptions, ErrorLimit, prepare_batch
from evaluator.batch.local import LocalJob
from evaluator.errors import InputError
from evaluator.settings import Settings
from tests.helpers import write_csv


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"engine": "ray", "resume": True}, "--resume is for the local engine"),
        ({"engine": "ray", "max_errors": ErrorLimit.parse("5")}, "--max-errors is for the local"),
        ({"address": "auto"}, "--ray-address and --actor-resources go with --engine ray"),
        ({"resources": {"grader": 1.0}}, "go with --engine ray"),
        ({"format": "parquet"}, "--format parquet is for --engine ray"),
        ({"format": "jsonl", "bom": True}, r"a BOM \(--bom/--excel\) is for CSV output"),
        ({"resume": True, "force": True}, "--resume and --force contradict each other"),
        ({"chunk_size": 0}, "must be at least 1"),
        ({"engine": "spark"}, "unknown engine 'spark'"),
    ],
)
def test_options_that_do_not_go_together_are_refused_in_one_place(
    options: dict[str, object], message: str
) -> None:
    with pytest.raises(InputError, match=message):
        BatchOptions(input="in.csv", output="out.csv", **options).check()  # type: ignore[arg-type]


def test_uris_stay_as_given(tmp_path: Path) -> None:
    options = BatchOptions(input="s3://bucket/run/", output=tmp_path / "out", engine="ray")
    assert options.input_text == "s3://bucket/run/"  # a Path would make it s3:/bucket/run
    assert options.output_text == str(tmp_path / "out")


def test_the_local_engine_is_a_batch_job(tmp_path: Path, settings: Settings) -> None:
    src = write_csv(tmp_path / "in.csv", [["question", "answer"], ["7", "批量归一化"]])
    job = prepare_batch(BatchOptions(input=src, output=tmp_path / "out.csv"), settings)
    try:
        assert isinstance(job, LocalJob)
        protocol: BatchJob = job  # what the CLI and run_batch rely on, nothing more
        assert protocol.total_rows() == 1
        assert "answer" in protocol.mapping, protocol.mapping
        result = protocol.run()
        assert result.rows == 1 and result.output == str(tmp_path / "out.csv")
    finally:
        job.close()
