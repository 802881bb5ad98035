"""`evaluator batch --engine ray`: read with Ray Data, grade on an actor pool, write shards.

    job = prepare_ray_batch(RayBatchOptions(input="answers/", output="graded/"), settings)
    result = job.run(on_rows=progress.advance)

- Everything that can fail for the whole input fails in `prepare_ray_batch`, before Ray starts:
  the input's files and kind, the column mapping, the rubrics, the output folder.
- Without an address, a local Ray starts on this machine and stops at the end; `auto` or
  `ray://…` (or host:port) joins a running cluster. Ray schedules, retries and moves the data:
  there is no queue of our own.
- The graded rows stream back to this process in input order, where the summary (and the
  progress bar) count them as local batch does, and the shards are written (shards.py). The
  manifest (manifest.py) is written last; a local output folder appears only once complete.
"""

from __future__ import annotations

import logging
import os
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from evaluator.batch.manifest import make_manifest
from evaluator.batch.ray.dataset import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_CONCURRENCY,
    DEFAULT_JOBS,
    GradeSpec,
    map_grades,
    require_ray,
    resolve_spec,
)
from evaluator.batch.ray.manifest import NAME, RayRun, ShardInfo, ShardManifest
from evaluator.batch.ray.shards import (
    RAGGED_HINT,
    Destination,
    Kind,
    ShardWriter,
    Source,
    batches,
    is_uri,
    open_source,
    prepare_destination,
)
from evaluator.batch.sinks import row_view
from evaluator.errors import EvaluatorError, InputError
from evaluator.files import atomic_write
from evaluator.present.summary import Summary
from evaluator.rubrics.lookup import RubricSet
from evaluator.settings import Settings
from evaluator.text import one_line

TITLE = "_evaluator_title"  # internal columns: read here, never written
WORKER = "_evaluator_worker"


@dataclass
class RayBatchOptions:
    input: str  # a file, a folder of shards, or a URI Ray Data reads
    output: str  # a folder (local or URI) for the shards and the manifest
    format: Kind = "csv"
    answer_col: str | None = None
    id_col: str | None = None
    question_col: str | None = None
    reference_col: str | None = None
    question: str | None = None
    encoding: str | None = None
    delimiter: str | None = None
    bom: bool = False
    force: bool = False
    address: str | None = None  # None: a local Ray on this machine
    actors: int = DEFAULT_CONCURRENCY
    batch_size: int = DEFAULT_BATCH_SIZE
    jobs: int = DEFAULT_JOBS
    shard_rows: int = 100_000
    resources: dict[str, float] | None = None  # custom Ray resources each actor needs


@dataclass
class RayBatchResult:
    output: str
    rows: int
    summary: Summary
    columns: str
    manifest: ShardManifest
    resumed: int = 0  # the CLI's summary reads these as for a local batch
    stopped: str | None = None


@dataclass
class RayBatchJob:
    options: RayBatchOptions
    source: Source
    spec: GradeSpec
    destination: Destination
    manifest: ShardManifest  # without rows, shards and nodes yet
    session: RaySession
    summary: Summary = field(default_factory=Summary)
    _total: int | None = None

    @property
    def mapping(self) -> str:
        return self.spec.columns.describe(self.spec.names)

    def total_rows(self) -> int:
        """Rows in the input (the progress bar's total): one pass of Ray reading it."""
        if self._total is None:
            self.session.open()
            self._total = self.source.read().count()
        return self._total

    def run(
        self,
        on_resumed: Callable[[int], None] | None = None,
        on_rows: Callable[[int], None] | None = None,
    ) -> RayBatchResult:
        o, spec = self.options, self.spec
        writer = ShardWriter(
            self.destination.fs,
            self.destination.working,
            o.format,
            bom=o.bom,
            shard_rows=o.shard_rows,
        )
        nodes: Counter[str] = Counter()
        done = False
        try:
            self.session.open()
            if on_resumed:
                on_resumed(0)
            graded = map_grades(
                self.source.read(),
                spec,
                concurrency=o.actors,
                batch_size=o.batch_size,
                resources=o.resources,
            )
            try:
                for table in batches(graded, o.batch_size):
                    self._count(table, nodes)
                    writer.write(table.drop_columns([TITLE, WORKER]))
                    if on_rows:
                        on_rows(table.num_rows)
            except (EvaluatorError, KeyboardInterrupt):
                raise
            except Exception as exc:  # Ray's errors wrap the cause: say it in one line
                raise InputError(_failure(o.input, exc)) from None
            shards = writer.close()
            manifest = self.manifest.model_copy(
                update={
                    "rows": self.summary.rows,
                    "errors": self.summary.errors,
                    "shards": [ShardInfo(name=s.name, rows=s.rows) for s in shards],
                    "ray": self.manifest.ray.model_copy(update={"nodes": dict(nodes)}),
                }
            )
            self._save(manifest)
            self.destination.commit()
            done = True
        finally:
            self.session.close()
            if not done:
                writer.abort()
                self.destination.discard()
        return RayBatchResult(o.output, self.summary.rows, self.summary, self.mapping, manifest)

    def _count(self, table: object, nodes: Counter[str]) -> None:
        """Each row into the summary, as local batch counts it; rows per node."""
        import pyarrow as pa

        assert isinstance(table, pa.Table)
        spec = self.spec
        names = spec.names
        data = table.to_pydict()
        inputs = [[_text(v) for v in data[n]] for n in names]
        grades = [data[n] for n in spec.grade_names]
        for r in range(table.num_rows):
            cells = [col[r] for col in inputs]
            added = [col[r] or "" for col in grades]
            q = spec.columns.question  # not graded: the question as the input names it
            title = data[TITLE][r] or (cells[q] if q is not None else "")
            view = row_view(self.summary.rows + 1, cells, added, spec.columns, title)
            self.summary.add(view)
            nodes[str(data[WORKER][r]).split(":")[0]] += 1

    def _save(self, manifest: ShardManifest) -> None:
        text = manifest.model_dump_json(indent=2) + "\n"
        path = f"{self.destination.working}/{NAME}"
        if is_uri(self.options.output):
            with self.destination.fs.open_output_stream(path) as fh:
                fh.write(text.encode("utf-8"))
        else:
            atomic_write(Path(path), text)


def _failure(source: str, exc: BaseException) -> str:
    """One line for a run Ray could not finish: the error its task raised, first sentence."""
    raised = [
        line.split(": ", 1)[1]
        for line in str(exc).splitlines()
        if re.match(r"^\w+(Error|Exception): ", line.strip())
    ]
    cause = raised[-1].split(". ")[0] if raised else f"{type(exc).__name__}: {exc}"
    hint = RAGGED_HINT if "CSV" in cause else ""
    return one_line(f"{source}: the ray engine stopped: {cause}{hint}; nothing was written", 1000)


def _text(value: object) -> str:
    return "" if value is None else value if isinstance(value, str) else str(value)


class RaySession:
    """Ray for this run: joined or started on first use (and then stopped by `close`), or the
    one this process already runs (left running)."""

    def __init__(self, options: RayBatchOptions) -> None:
        self.options = options
        self.started = False

    def open(self) -> None:
        import ray

        if ray.is_initialized():
            _quiet_ray_data()
            return
        address = self.options.address
        extra: dict[str, object] = {}
        if address is None:
            # A CPU beyond the actors', so Ray Data's read tasks can run beside them.
            extra["num_cpus"] = max(os.cpu_count() or 1, self.options.actors + 1)
        try:
            ray.init(
                address=address or "local",  # never an unrelated cluster found on the machine
                include_dashboard=False,
                logging_level=logging.ERROR,  # Ray's chatter would bury the progress bar
                log_to_driver=False,
                **extra,  # type: ignore[arg-type]
            )
        except (ConnectionError, ValueError, RuntimeError) as exc:
            raise InputError(f"cannot start or join Ray at {address or 'local'}: {exc}") from None
        self.started = True
        _quiet_ray_data()

    def close(self) -> None:
        import ray

        if self.started:
            ray.shutdown()
            self.started = False


def _quiet_ray_data() -> None:
    """Our progress bar and summary replace Ray Data's; order is the input's."""
    import ray.data

    logging.getLogger("ray.data").setLevel(logging.ERROR)
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.execution_options.preserve_order = True


def prepare_ray_batch(
    options: RayBatchOptions,
    settings: Settings | None = None,
    rubrics: RubricSet | None = None,
) -> RayBatchJob:
    """Check the input, the column mapping, the rubrics and the output before any grading."""
    require_ray()
    settings = settings or Settings()
    o = options
    if o.format not in ("csv", "jsonl", "parquet"):
        raise InputError(f"unknown output format '{o.format}' (csv, jsonl or parquet)")
    if o.bom and o.format != "csv":
        raise InputError("a BOM (--bom/--excel) is for CSV output")
    if o.actors < 1 or o.batch_size < 1 or o.jobs < 1 or o.shard_rows < 1:
        raise InputError("actors, batch size, jobs and shard rows must be at least 1")
    source = open_source(o.input, o.delimiter, o.encoding)
    session = RaySession(o)
    names = source.names or _names(source, session)
    spec = resolve_spec(
        names,
        rubrics=rubrics,
        answer_col=o.answer_col,
        id_col=o.id_col,
        question_col=o.question_col,
        reference_col=o.reference_col,
        question=o.question,
        settings=settings,
        jobs=o.jobs,
        source=o.input,
    )
    spec = replace(spec, worker_column=WORKER, title_column=TITLE)
    run = make_manifest(
        input=Path(o.input),
        format="csv",
        bom=o.bom,
        header=names,
        columns=spec.columns,
        question=o.question,
        extra_cells=False,
        settings=settings,
        rubrics=spec.rubrics,
    )
    destination = prepare_destination(o.output, source, o.force)
    manifest = ShardManifest(
        input=o.input,
        format=o.format,
        bom=o.bom,
        columns=run.columns,
        question=o.question,
        grading=run.grading,
        rows=0,
        errors=0,
        shards=[],
        ray=RayRun(
            address=o.address or "local",
            actors=o.actors,
            batch_size=o.batch_size,
            jobs=o.jobs,
            nodes={},
        ),
    )
    return RayBatchJob(o, source, spec, destination, manifest, session)


def _names(source: Source, session: RaySession) -> list[str]:
    """Column names of a JSONL or Parquet input (Ray reads its schema)."""
    session.open()
    schema = source.read().schema()
    if schema is None:
        raise InputError(f"{source.location}: holds no rows to read columns from")
    return list(schema.names)
