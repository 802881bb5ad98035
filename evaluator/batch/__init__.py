"""`evaluator batch`: many answers graded into one output, by one of two engines behind one
interface (`job`: `BatchOptions`, `prepare_batch`, the `BatchJob` protocol, `BatchResult`).

- `local`: one CSV file in, one CSV or JSONL file out, streamed in fsynced chunks so that
  `--resume` continues after a crash, one writer per output (a lock);
- `ray/`: files, folders of shards or URIs in, shards plus a manifest out, on a Ray cluster.

Both read rows the same way (`table`: encodings, delimiters, columns), grade them with the same
row code (`rows`: repeated answers graded once), give a row the same cells (`cells`) and
describe the run the same way (`manifest`); `sinks` writes the local engine's output.
"""

from evaluator.batch.job import (
    BatchJob,
    BatchOptions,
    BatchResult,
    Engine,
    ErrorLimit,
    Format,
    prepare_batch,
    run_batch,
)

__all__ = [
    "BatchJob",
    "BatchOptions",
    "BatchResult",
    "Engine",
    "ErrorLimit",
    "Format",
    "prepare_batch",
    "run_batch",
]
