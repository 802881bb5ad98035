"""On a real two-node Ray cluster (127.0.0.1, cluster.py): `grade_dataset` and `batch --engine
ray` grade on both nodes and give mohler.csv the grades local batch gives it, row by row; an
actor killed mid-job is restarted, its batches retried, and no row is lost or graded twice.

One cluster for the module; every Ray process it started is ended at the end, pass or fail.
The hashing embedder keeps grading fast; what is tested is the distribution, not the model.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from evaluator.batch import BatchOptions, run_batch
from evaluator.batch.cells import GRADE_COLUMNS
from evaluator.settings import Settings
from tests.batch.ray.cluster import Cluster, new_cluster
from tests.helpers import REPO, require

try:
    import ray
except ImportError:  # the ray extra: required in CI (require() below), skipped elsewhere
    ray = None

pytestmark = pytest.mark.ray_cluster

MOHLER = REPO.parent / "shared" / "benchmarks" / "mohler.csv"
# Scores are compared within this many points (0-100 scale): the same code grades both ways,
# but an embedding batch may sum floating-point numbers in another order.
TOLERANCE = 0.05
ONE_ACTOR_PER_NODE = {"grader_slot": 1}  # each node of the cluster has one


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    require(ray is not None, "the ray extra is not installed (pip install -e '.[ray]')")
    require(MOHLER.is_file(), f"{MOHLER} is missing (the shared benchmark data)")
    running = new_cluster()
    try:
        running.start()
        yield running
    finally:
        running.stop()
    assert running.our_pids() == [], "a Ray process of the test cluster outlived it"


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(embedder="hashing", cache_dir=tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="module")
def local(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    """mohler.csv through local batch: id -> grade cells."""
    out = tmp_path_factory.mktemp("local") / "graded.csv"
    options = BatchOptions(
        input=MOHLER, output=out, reference_col="reference_answer", question_col="question"
    )
    result = run_batch(options, settings)
    assert result.rows > 2000 and result.summary.errors == 0
    with out.open(encoding="utf-8", newline="") as fh:
        return {row["id"]: [row[c] for c in GRADE_COLUMNS] for row in csv.DictReader(fh)}


def assert_same_grades(theirs: dict[str, list[str]], local: dict[str, list[str]]) -> None:
    assert sorted(theirs) == sorted(local)  # every row, once
    for row_id, cells in local.items():
        other = dict(zip(GRADE_COLUMNS, theirs[row_id], strict=True))
        mine = dict(zip(GRADE_COLUMNS, cells, strict=True))
        assert abs(float(other.pop("score")) - float(mine.pop("score"))) <= TOLERANCE, row_id
        assert other == mine, row_id


def test_grade_dataset_grades_on_both_nodes_with_the_grades_of_local_batch(
    cluster: Cluster, settings: Settings, local: dict[str, list[str]]
) -> None:
    from evaluator.batch.ray import grade_dataset

    ds = ray.data.read_csv(str(MOHLER))
    graded = grade_dataset(
        ds,
        reference_col="reference_answer",
        question_col="question",
        settings=settings,
        batch_size=64,
        worker_column="worker",
        resources=ONE_ACTOR_PER_NODE,
    )
    rows = graded.take_all()
    assert_same_grades({r["id"]: [r[c] for c in GRADE_COLUMNS] for r in rows}, local)
    by_node = Counter(cluster.nodes[r["worker"].split(":")[0]] for r in rows)
    assert set(by_node) == {"head", "worker"}, by_node
    assert sum(by_node.values()) == len(local)
    # The input's own columns pass through with their values.
    assert {"human_score", "grader_a", "answer"} <= set(rows[0])


def test_batch_engine_ray_joins_the_cluster_and_writes_shards_and_a_manifest(
    cluster: Cluster, settings: Settings, local: dict[str, list[str]], tmp_path: Path
) -> None:
    out = tmp_path / "graded"
    cmd = [
        sys.executable, "-m", "evaluator.cli", "batch", str(MOHLER), "-o", str(out),
        "--engine", "ray", "--ray-address", cluster.address, "--actors", "2",
        "--actor-resources", json.dumps(ONE_ACTOR_PER_NODE), "--chunk-size", "100",
        "--reference-col", "reference_answer", "--question-col", "question",
        "--embedder", "hashing", "--cache-dir", str(settings.cache_dir),
    ]  # fmt: skip
    done = subprocess.run(cmd, env=cluster.env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Batch summary" in done.stderr and "2,273" in done.stderr  # the summary, as local
    manifest = json.loads((out / "_manifest.json").read_text(encoding="utf-8"))
    assert manifest["rows"] == len(local) and manifest["errors"] == 0
    assert manifest["ray"]["address"] == cluster.address
    nodes = manifest["ray"]["nodes"]
    assert {cluster.nodes[n] for n in nodes} == {"head", "worker"}, nodes
    assert sum(nodes.values()) == len(local)
    graded: dict[str, list[str]] = {}
    ids: list[str] = []
    for shard in manifest["shards"]:
        with (out / shard["name"]).open(encoding="utf-8", newline="") as fh:
            rows = list(csv.DictReader(fh))
        assert len(rows) == shard["rows"]
        ids += [r["id"] for r in rows]
        graded.update({r["id"]: [r[c] for c in GRADE_COLUMNS] for r in rows})
    assert ids == list(local)  # input order
    assert_same_grades(graded, local)
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["_manifest.json", *(s["name"] for s in manifest["shards"])]
    )


def test_a_killed_actor_is_restarted_and_no_row_is_lost_or_graded_twice(
    cluster: Cluster, settings: Settings
) -> None:
    from evaluator.batch.ray import grade_dataset

    # 4 x mohler, each copy's answers made distinct so no grade is remembered: enough work
    # that the job is still running when the actor dies.
    with MOHLER.open(encoding="utf-8", newline="") as fh:
        base = list(csv.DictReader(fh))
    items: list[dict[str, Any]] = [
        {**row, "id": f"{row['id']}#{copy}", "answer": f"{row['answer']} ({copy})"}
        for copy in range(4)
        for row in base
    ]
    ds = ray.data.from_items(items, override_num_blocks=40)
    graded = grade_dataset(
        ds,
        reference_col="reference_answer",
        question_col="question",
        settings=settings,
        batch_size=20,
        worker_column="worker",
        resources=ONE_ACTOR_PER_NODE,
    )
    seen: list[str] = []
    workers: Counter[str] = Counter()
    killed, after = None, 0
    for batch in graded.iter_batches(batch_format="pyarrow", batch_size=None):
        seen += batch.column("id").to_pylist()
        workers.update(batch.column("worker").to_pylist())
        errors = [e for e in batch.column("error").to_pylist() if e]
        assert errors == []
        if killed is None:
            # The first batch back: kill the actor process that graded it, while the job runs.
            killed = batch.column("worker")[0].as_py()
            os.kill(int(killed.split(":")[1]), signal.SIGKILL)
            after = len(seen)
    assert killed is not None and len(seen) > after  # the job went on after the kill
    assert len(seen) == len(items)
    assert Counter(seen) == Counter(item["id"] for item in items)  # none lost, none twice
    # A new actor process took over: more workers graded rows than the two the pool holds.
    assert len(workers) >= 3, workers


def test_engine_reads_a_folder_of_csv_shards_and_keeps_every_cell_as_written(
    cluster: Cluster, settings: Settings, tmp_path: Path
) -> None:
    from evaluator.batch import prepare_batch

    header = ["id", "question", "reference_answer", "answer", "given"]
    ref = "A stack is a last-in first-out data structure."
    first = [
        ["007", "What is a stack?", ref, "A stack is last in,\nfirst out.", "1.50"],
        ["008", "What is a stack?", "", "no reference to grade against", ""],
    ]
    second = [["009", "What is a stack?", ref, "", "0"], ["010", "x", ref, ref, "5"]]
    folder = tmp_path / "in"
    folder.mkdir()
    write_rows(folder / "a.csv", [header, *first])
    write_rows(folder / "b.csv", [header, *second])
    write_rows(folder / "_notes.csv", [header])  # skipped, as Ray Data skips "_…" files
    out = tmp_path / "graded"
    options = BatchOptions(
        engine="ray", input=str(folder), output=str(out), format="jsonl", chunk_size=2
    )
    result = prepare_batch(options, settings).run()
    manifest = json.loads((out / "_manifest.json").read_text(encoding="utf-8"))
    rows = [
        json.loads(line)
        for shard in manifest["shards"]
        for line in (out / shard["name"]).read_text(encoding="utf-8").splitlines()
    ]
    assert [[r[h] for h in header] for r in rows] == [*first, *second]  # text, as written
    assert rows[1]["error"] == "the reference answer cell is empty; not graded"
    assert rows[2]["score"] == "0" and rows[3]["score"] and not rows[3]["error"]
    assert manifest["rows"] == result.summary.rows == 4
    assert manifest["errors"] == result.summary.errors == 1
    # The same cells as local batch on the two files joined.
    joined = write_rows(tmp_path / "joined.csv", [header, *first, *second])
    local_out = tmp_path / "local.csv"
    run_batch(BatchOptions(input=joined, output=local_out), settings)
    with local_out.open(encoding="utf-8", newline="") as fh:
        local_rows = list(csv.DictReader(fh))
    assert [[r[c] for c in GRADE_COLUMNS] for r in rows] == [
        [r[c] for c in GRADE_COLUMNS] for r in local_rows
    ]


def test_engine_writes_parquet_from_parquet_keeping_the_column_types(
    cluster: Cluster, settings: Settings, tmp_path: Path
) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from evaluator.batch import prepare_batch

    ref = "A queue is first-in first-out."
    table = pa.table(
        {
            "id": pa.array([1, 2, 3], pa.int64()),
            "question": ["What is a queue?"] * 3,
            "reference_answer": [ref] * 3,
            "answer": ["first in, first out", None, ref],
        }
    )
    src = tmp_path / "answers.parquet"
    pq.write_table(table, src)
    out = tmp_path / "graded"
    options = BatchOptions(engine="ray", input=str(src), output=str(out), format="parquet")
    prepare_batch(options, settings).run()
    graded = pq.read_table(out / "part-00000.parquet")
    assert graded.column_names == [*table.column_names, *GRADE_COLUMNS]
    assert graded.column("id").to_pylist() == [1, 2, 3]  # still integers
    assert graded.column("answer").to_pylist() == ["first in, first out", None, ref]
    scores = graded.column("score").to_pylist()
    assert scores[1] == "0"  # a null answer reads as an empty one
    assert float(scores[2]) == 100 and graded.column("error").to_pylist() == ["", "", ""]


def write_rows(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(rows)
    return path


def test_a_csv_row_the_reader_rejects_stops_the_run_in_one_line_with_nothing_written(
    cluster: Cluster, settings: Settings, tmp_path: Path
) -> None:
    from evaluator.batch import prepare_batch
    from evaluator.errors import InputError

    ref = "A stack is last in, first out."
    good = [[str(i), "q", ref, f"{ref} {'and more ' * 50}{i}"] for i in range(300)]
    src = write_rows(  # the bad row lies beyond what is read before Ray starts
        tmp_path / "ragged.csv",
        [["id", "question", "reference_answer", "answer"], *good, ["x", "q", ref, ref, "extra"]],
    )
    out = tmp_path / "graded"
    job = prepare_batch(BatchOptions(engine="ray", input=str(src), output=str(out)), settings)
    with pytest.raises(InputError) as caught:
        job.run()
    message = str(caught.value)
    assert "\n" not in message and "--engine local" in message, message
    assert not out.exists() and list(tmp_path.glob(".graded*")) == []


def test_engine_grades_named_questions_as_local_batch_does(
    cluster: Cluster, tmp_path: Path
) -> None:
    from evaluator.batch import prepare_batch

    # The bundled rubrics, each row naming its question: rows are compared with the other
    # questions of the set (answers_other_question), on the actors as in local batch.
    settings = Settings(embedder="hashing", cache_dir=tmp_path / "cache")
    src = REPO / "examples" / "answers.csv"
    out = tmp_path / "graded"
    prepare_batch(BatchOptions(engine="ray", input=str(src), output=str(out)), settings).run()
    local_out = tmp_path / "local.csv"
    run_batch(BatchOptions(input=src, output=local_out), settings)
    assert (out / "part-00000.csv").read_bytes() == local_out.read_bytes()
