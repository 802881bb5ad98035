"""One interface for both batch engines: the options, the job and its result.

    job = prepare_batch(BatchOptions(input="answers.csv", output="graded.csv"), settings)
    try:
        result = job.run(on_rows=progress.advance)
    finally:
        job.close()

`prepare_batch` checks everything that can fail for the whole input before any grading, then
hands back a `BatchJob` of the engine the options name: `local` (local.py: one file in, one file
out, resumable) or `ray` (ray/engine.py: files, folders of shards or URIs on a Ray cluster).
Which options go with which engine is checked here, once (`BatchOptions.check`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

from evaluator.errors import InputError
from evaluator.settings import Settings

if TYPE_CHECKING:
    from evaluator.present.summary import Summary
    from evaluator.rubrics.lookup import RubricSet
    from evaluator.scoring.grader import Grader

Engine = Literal["local", "ray"]
Format = Literal["csv", "jsonl", "parquet"]
# Rows per grading call, judge requests at a time (per actor with Ray), and Ray actors.
CHUNK_SIZE = 256
JOBS = 1
ACTORS = 2
SHARD_ROWS = 100_000


@dataclass(frozen=True)
class ErrorLimit:
    """How many errored rows a run may have: a count, or a fraction of the rows it graded."""

    text: str  # as given, for messages
    count: int | None = None
    fraction: float | None = None

    @classmethod
    def parse(cls, text: str) -> ErrorLimit:
        given = text.strip()
        if re.fullmatch(r"\d+", given):
            return cls(given, count=int(given))
        if re.fullmatch(r"\d*\.\d+", given) and float(given) <= 1:
            return cls(given, fraction=float(given))
        raise InputError(
            f"--max-errors {text!r}: give a number of rows (e.g. 50) or a fraction of the rows "
            "graded (e.g. 0.1)"
        )

    def exceeded(self, errors: int, rows: int) -> bool:
        if self.count is not None:
            return errors > self.count
        return self.fraction is not None and errors > self.fraction * rows


@dataclass
class BatchOptions:
    """Every option of a batch, for either engine. `input` and `output` are paths, or with Ray
    also folders and URIs (s3://…), kept as the text given."""

    input: str | os.PathLike[str]
    output: str | os.PathLike[str]
    engine: Engine = "local"
    format: Format = "csv"
    answer_col: str | None = None
    id_col: str | None = None
    question_col: str | None = None
    reference_col: str | None = None
    question: str | None = None  # every row answers this question (no question column needed)
    encoding: str | None = None
    delimiter: str | None = None
    bom: bool = False  # UTF-8 with BOM, so Excel reads the output as UTF-8
    force: bool = False
    chunk_size: int = CHUNK_SIZE  # rows graded together (with Ray: per actor call)
    jobs: int = JOBS  # concurrent judge requests (with Ray: per actor)
    # The local engine only: continue an interrupted run, stop after too many errors.
    resume: bool = False
    max_errors: ErrorLimit | None = None
    # The Ray engine only.
    address: str | None = None  # None: a local Ray on this machine, for the run
    actors: int = ACTORS
    resources: dict[str, float] | None = None  # custom Ray resources each actor needs
    shard_rows: int = SHARD_ROWS

    def check(self) -> None:
        """The options that go with one engine only, given with the other, and the values no
        engine takes: one line each, before anything is read."""
        if self.engine not in ("local", "ray"):
            raise InputError(f"unknown engine '{self.engine}' (local or ray)")
        if self.format not in ("csv", "jsonl", "parquet"):
            raise InputError(f"unknown output format '{self.format}' (csv, jsonl or parquet)")
        if self.bom and self.format != "csv":
            raise InputError("a BOM (--bom/--excel) is for CSV output; JSONL is plain UTF-8")
        if min(self.chunk_size, self.jobs, self.actors, self.shard_rows) < 1:
            raise InputError("chunk size, jobs, actors and shard rows must be at least 1")
        if self.resume and self.force:
            raise InputError("--resume and --force contradict each other: pick one")
        if self.engine == "ray":
            if self.resume or self.max_errors is not None:
                flag = "--resume" if self.resume else "--max-errors"
                raise InputError(f"{flag} is for the local engine; --engine ray starts over")
            return
        if self.address is not None or self.resources is not None:
            raise InputError("--ray-address and --actor-resources go with --engine ray")
        if self.format == "parquet":
            raise InputError("--format parquet is for --engine ray; use csv or jsonl")

    @property
    def input_text(self) -> str:
        return os.fspath(self.input)

    @property
    def output_text(self) -> str:
        return os.fspath(self.output)


@dataclass
class BatchResult:
    output: str
    rows: int  # rows in the output now
    resumed: int  # rows that were already there (local engine, --resume)
    summary: Summary
    columns: str  # how columns were mapped, for the user
    stopped: str | None = None  # why the run stopped before the end of the input (--max-errors)


class BatchJob(Protocol):
    """A checked batch, ready to run; what both engines give back from `prepare_batch`."""

    @property
    def mapping(self) -> str:
        """How the input's columns were read, for the user."""
        ...

    def total_rows(self) -> int:
        """Rows in the input (a progress bar's total)."""
        ...

    def run(
        self,
        *,
        on_resumed: Callable[[int], None] | None = None,
        on_rows: Callable[[int], None] | None = None,
    ) -> BatchResult:
        """Grade the whole input; `on_rows(n)` after each n rows, `on_resumed(n)` once with the
        rows already in the output."""
        ...

    def interrupted(self) -> str:
        """What to tell a user who stopped the run (Ctrl-C), true of the output as it is now."""
        ...

    def close(self) -> None:
        """Release what `prepare_batch` took (the output's lock), if `run` did not."""
        ...


def prepare_batch(
    options: BatchOptions,
    settings: Settings | None = None,
    rubrics: RubricSet | None = None,
    grader: Grader | None = None,
) -> BatchJob:
    """Check the options, the input, the column mapping, the rubrics and the output, then hand
    back the engine's job; nothing is graded yet. `grader`: grade with this one (the local
    engine; Ray's actors each build their own from `settings`)."""
    options.check()
    settings = settings or Settings()
    if options.engine == "ray":
        if grader is not None:
            raise InputError("the ray engine's actors build their own grader: pass settings")
        from evaluator.batch.ray.engine import prepare_ray

        return prepare_ray(options, settings, rubrics)
    from evaluator.batch.local import prepare_local

    return prepare_local(options, settings, rubrics, grader)


def run_batch(
    options: BatchOptions,
    settings: Settings | None = None,
    *,
    grader: Grader | None = None,
    rubrics: RubricSet | None = None,
    on_rows: Callable[[int], None] | None = None,
) -> BatchResult:
    """Check everything, then grade the whole input into `options.output`."""
    job = prepare_batch(options, settings, rubrics, grader)
    try:
        return job.run(on_rows=on_rows)
    finally:
        job.close()
