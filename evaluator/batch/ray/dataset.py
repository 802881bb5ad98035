"""`grade_dataset`: grade a Ray Dataset of answers with `map_batches` over a pool of actors.

    import ray
    from evaluator.batch.ray import grade_dataset

    ds = ray.data.read_parquet("s3://bucket/run-17/")
    graded = grade_dataset(ds, reference_col="reference_answer", question_col="question")
    graded.write_parquet("s3://bucket/run-17-graded/")

Each actor loads the embedder (and the judge client) once and grades its batches with the same
code as `evaluator batch` (batch/rows.py), so a row gets the same cells either way: the
dataset's columns unchanged, then `rubric_id, score, band, method, covered, missed, flags,
feedback, error` (prefixed `eval_` when the input already has such a column). Repeated answers
are graded once per actor. A row that cannot be graded carries the reason in `error`; a batch
that fails as a whole gives each of its rows the error: the job never stops for a row.

Ray retries the batches of an actor that dies (`max_restarts` and `max_task_retries`, both
unlimited by default), so no row is lost or graded into the output twice.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evaluator.batch.cells import EXTRA_COLUMN, grade_cells, output_header
from evaluator.batch.rows import RowGrader, RubricResolver
from evaluator.batch.table import Columns, Record, Table, resolve_columns, shown_header
from evaluator.errors import InputError
from evaluator.rubrics.io import load_rubrics
from evaluator.rubrics.lookup import RubricSet
from evaluator.rubrics.model import Rubric
from evaluator.settings import Settings
from evaluator.text import one_line

if TYPE_CHECKING:
    import pyarrow
    import ray.data

INSTALL_HINT = "the ray engine needs Ray: pip install 'answer-evaluator[ray]'"
DEFAULT_CONCURRENCY = 2  # actors; each grades on one CPU
DEFAULT_BATCH_SIZE = 256  # rows per actor call: one embedding call, as a local chunk
DEFAULT_JOBS = 4  # concurrent judge requests per actor


def require_ray() -> None:
    """Raise a one-line InputError naming the extra when Ray is not installed."""
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise InputError(INSTALL_HINT) from None


@dataclass(frozen=True)
class GradeSpec:
    """Everything an actor needs, sent to it once: which cells to read, how to grade them."""

    names: list[str]  # the dataset's column names
    columns: Columns  # positions in `names` of the cells grading reads
    grade_names: list[str]  # the added columns' names, in GRADE_COLUMNS order
    settings: Settings
    rubrics: RubricSet | None  # None: inline reference answers
    fixed: Rubric | None  # every row answers this question
    jobs: int
    worker_column: str | None = None  # "node id:pid" of the actor that graded the row
    title_column: str | None = None  # the question's title, for a summary

    @property
    def needed(self) -> list[int]:
        """Positions of the cells grading reads, answer first."""
        c = self.columns
        return [i for i in (c.answer, c.id, c.question, c.reference) if i is not None]


def resolve_spec(
    names: list[str],
    *,
    rubrics: RubricSet | str | Path | None = None,
    answer_col: str | None = None,
    id_col: str | None = None,
    question_col: str | None = None,
    reference_col: str | None = None,
    question: str | None = None,
    settings: Settings | None = None,
    jobs: int = DEFAULT_JOBS,
    source: str = "the dataset",
) -> GradeSpec:
    """Columns found as `evaluator batch` finds them; rubrics loaded and checked now, on the
    driver, so no actor starts on a batch that cannot be graded."""
    settings = settings or Settings()
    if jobs < 1:
        raise InputError("jobs must be at least 1")
    header = Table(Path(source), "utf-8", ",", list(names))  # only its names are read
    columns = resolve_columns(
        header,
        answer_col=answer_col,
        id_col=id_col,
        question_col=question_col,
        reference_col=reference_col,
    )
    if columns.reference is None and columns.question is None and question is None:
        raise InputError(
            f"{source}: no question column found (the columns are: {shown_header(names)}); "
            "name it with question_col, give one question for all rows, or grade against "
            "inline reference answers with reference_col"
        )
    if question is not None and (columns.question is not None or columns.reference is not None):
        raise InputError(
            "question grades every row against one question; the input also has a question or "
            "reference column"
        )
    rubric_set: RubricSet | None = None
    fixed = None
    if columns.reference is None:
        if isinstance(rubrics, RubricSet):
            rubric_set = rubrics
        else:
            rubric_set = load_rubrics(rubrics if rubrics is not None else settings.rubrics)
        if question is not None:
            fixed = rubric_set.find(question)
    added = output_header(list(names))[len(names) :]
    return GradeSpec(list(names), columns, added, settings, rubric_set, fixed, jobs)


class GradeBatch:
    """The actor: one grader for its whole life, a batch of rows in, the batch plus grades out."""

    def __init__(self, spec: GradeSpec) -> None:
        import ray

        from evaluator.scoring.grader import Grader

        self.spec = spec
        # As local batch: rows named by question are compared with the set's other questions;
        # rows with inline references have no set to compare with.
        others = list(spec.rubrics) if spec.rubrics is not None else []
        self.grader = Grader.from_settings(spec.settings, compare_with=others)
        rubric_set = spec.rubrics

        def rubrics() -> RubricSet:
            assert rubric_set is not None  # named questions only
            return rubric_set

        # The record's cells are the needed ones only, in `needed` order.
        at = {i: n for n, i in enumerate(spec.needed)}
        c = spec.columns

        def local(i: int | None) -> int | None:
            return None if i is None else at[i]

        columns = Columns(
            answer=at[c.answer],
            id=local(c.id),
            question=local(c.question),
            reference=local(c.reference),
        )
        resolver = RubricResolver(columns, rubrics, spec.fixed)
        self.rows = RowGrader(len(at), columns, resolver, EXTRA_COLUMN, jobs=spec.jobs)
        self.worker = f"{ray.get_runtime_context().get_node_id()}:{os.getpid()}"

    def __call__(self, batch: pyarrow.Table) -> pyarrow.Table:
        import pyarrow as pa

        spec = self.spec
        cells = [[_cell(v) for v in batch.column(i).to_pylist()] for i in spec.needed]
        n = batch.num_rows
        titles = [""] * n
        try:
            records = [Record(r + 1, r + 1, [col[r] for col in cells]) for r in range(n)]
            graded = self.rows.grade(self.grader, records)
            added = [r.grade_cells() for r in graded]
            titles = [r.rubric.title if r.rubric is not None else "" for r in graded]
        except Exception as exc:  # a bug: the rows keep their place, with what happened
            error = one_line(f"internal error: {type(exc).__name__}: {exc}", 500)
            added = [grade_cells("", None, error)] * n
        for k, name in enumerate(spec.grade_names):
            batch = batch.append_column(name, pa.array([a[k] for a in added], pa.string()))
        if spec.title_column is not None:
            batch = batch.append_column(spec.title_column, pa.array(titles, pa.string()))
        if spec.worker_column is not None:
            batch = batch.append_column(spec.worker_column, pa.array([self.worker] * n))
        return batch


def _cell(value: Any) -> str:
    """A dataset value as the text cell `evaluator batch` would have read (null: empty)."""
    return "" if value is None else value if isinstance(value, str) else str(value)


def map_grades(
    ds: ray.data.Dataset,
    spec: GradeSpec,
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    batch_size: int = DEFAULT_BATCH_SIZE,
    resources: dict[str, float] | None = None,
) -> ray.data.Dataset:
    """`ds` with the grade columns, graded by `concurrency` actors of `GradeBatch`."""
    import ray.data

    if concurrency < 1 or batch_size < 1:
        raise InputError("concurrency and batch_size must be at least 1")
    # An actor that dies (node lost, OOM-killed) is restarted and its batches retried: Ray
    # Data's actor pools default to max_restarts=-1 and max_task_retries=-1.
    return ds.map_batches(
        GradeBatch,
        fn_constructor_args=(spec,),
        batch_format="pyarrow",
        batch_size=batch_size,
        compute=ray.data.ActorPoolStrategy(size=concurrency),
        zero_copy_batch=False,
        num_cpus=1,
        resources=resources,
    )


def grade_dataset(
    ds: ray.data.Dataset,
    *,
    rubrics: RubricSet | str | Path | None = None,
    answer_col: str | None = None,
    id_col: str | None = None,
    question_col: str | None = None,
    reference_col: str | None = None,
    question: str | None = None,
    settings: Settings | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    batch_size: int = DEFAULT_BATCH_SIZE,
    jobs: int = DEFAULT_JOBS,
    worker_column: str | None = None,
    resources: dict[str, float] | None = None,
) -> ray.data.Dataset:
    """`ds` with the columns `evaluator batch` adds, graded on the Ray cluster.

    Columns are found as `evaluator batch` finds them (answer, question, reference_answer, …)
    or named. `rubrics` (a RubricSet or a path; default: `settings.rubrics`) is read here and
    shipped to the actors, so workers need no rubric files. `concurrency` actors each grade
    `batch_size` rows per call with up to `jobs` concurrent judge requests. `worker_column`
    names an added column holding "node id:pid" of the actor that graded each row.
    Each actor takes one CPU and `resources` (custom Ray resources, to place actors on chosen
    nodes); leave the cluster a CPU for reading. Lazy, like every Ray Dataset: nothing is graded until
    the result is consumed or written.
    """
    require_ray()
    schema = ds.schema()
    if schema is None:
        raise InputError("the dataset has no columns (is it empty?)")
    spec = resolve_spec(
        list(schema.names),
        rubrics=rubrics,
        answer_col=answer_col,
        id_col=id_col,
        question_col=question_col,
        reference_col=reference_col,
        question=question,
        settings=settings,
        jobs=jobs,
    )
    if worker_column is not None:
        spec = _with(spec, worker_column=worker_column)
    return map_grades(
        ds,
        spec,
        concurrency=concurrency,
        batch_size=batch_size,
        resources=resources,
    )


def _with(spec: GradeSpec, **changes: Any) -> GradeSpec:
    from dataclasses import replace

    return replace(spec, **changes)
