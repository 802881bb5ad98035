"""The Ray batch engine (`evaluator batch --engine ray`): read with Ray Data, grade on an actor
pool, write shards.

    job = prepare_batch(BatchOptions(input="answers/", output="graded/", engine="ray"), settings)
    result = job.run(on_rows=progress.advance)

- Everything that can fail for the whole input fails in `prepare_ray`, before Ray starts: the
  input's files and kind, the column mapping, the rubrics, the output folder. A local output
  folder is locked for the run (files.OutputLock, `OUT.lock` beside it), as the local engine
  locks its file: two runs would each rename their result over the other's.
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

from evaluator.batch.cells import row_view
from evaluator.batch.job import BatchOptions, BatchResult
from evaluator.batch.manifest import make_manifest
from evaluator.batch.ray.dataset import (
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
from evaluator.errors import EvaluatorError, InputError
from evaluator.files import OutputLock, atomic_write
from evaluator.present.summary import Summary
from evaluator.rubrics.lookup import RubricSet
from evaluator.settings import Settings
from evaluator.text import one_line

TITLE = "_evaluator_title"  # internal columns: read here, never written
WORKER = "_evaluator_worker"


@dataclass(frozen=True)
class RayOptions:
    """The options the Ray engine reads."""

    input: str  # a file, a folder of shards, or a URI Ray Data reads
    output: str  # a folder (local or URI) for the shards and the manifest
    format: Kind
    answer_col: str | None
    id_col: str | None
    question_col: str | None
    reference_col: str | None
    question: str | None
    encoding: str | None
    delimiter: str | None
    bom: bool
    force: bool
    address: str | None  # None: a local Ray on this machine
    actors: int
    batch_size: int
    jobs: int
    shard_rows: int
    resources: dict[str, float] | None  # custom Ray resources each actor needs

    @classmethod
    def of(cls, o: BatchOptions) -> RayOptions:
        return cls(
            o.input_text, o.output_text, o.format, o.answer_col, o.id_col, o.question_col,
            o.reference_col, o.question, o.encoding, o.delimiter, o.bom, o.force, o.address,
            o.actors, o.chunk_size, o.jobs, o.shard_rows, o.resources,
        )  # fmt: skip


@dataclass
class RayJob:
    """A checked Ray batch, ready to run (job.BatchJob)."""

    options: RayOptions
    source: Source
    spec: GradeSpec
    destination: Destination
    manifest: ShardManifest  # without rows, shards and nodes yet
    session: RaySession
    lock: OutputLock | None  # a local output folder's, held to the end of `run` (or `close`)
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

    def interrupted(self) -> str:
        out = self.options.output
        return f"stopped; nothing was written to {out}: the run starts over when rerun"

    def close(self) -> None:
        if self.lock is not None:
            self.lock.release()

    def run(
        self,
        *,
        on_resumed: Callable[[int], None] | None = None,
        on_rows: Callable[[int], None] | None = None,
    ) -> BatchResult:
        try:
            return self._run(on_resumed, on_rows)
        finally:
            self.close()

    def _run(
        self, on_resumed: Callable[[int], None] | None, on_rows: Callable[[int], None] | None
    ) -> BatchResult:
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
        return BatchResult(o.output, self.summary.rows, 0, self.summary, self.mapping)

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

    def __init__(self, options: RayOptions) -> None:
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


def prepare_ray(
    batch: BatchOptions, settings: Settings, rubrics: RubricSet | None = None
) -> RayJob:
    """Check the input, the column mapping, the rubrics and the output before any grading
    (job.prepare_batch has checked the options)."""
    require_ray()
    o = RayOptions.of(batch)
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
    # A local output folder is locked before it is looked at; a URI's store has no such lock.
    lock = None if is_uri(o.output) else OutputLock(Path(o.output), "evaluator batch --engine ray")
    if lock is not None:
        lock.acquire()
    try:
        destination = prepare_destination(o.output, source, o.force)
    except BaseException:
        if lock is not None:
            lock.release()
        raise
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
    return RayJob(o, source, spec, destination, manifest, session, lock)


def _names(source: Source, session: RaySession) -> list[str]:
    """Column names of a JSONL or Parquet input (Ray reads its schema)."""
    session.open()
    schema = source.read().schema()
    if schema is None:
        raise InputError(f"{source.location}: holds no rows to read columns from")
    return list(schema.names)
