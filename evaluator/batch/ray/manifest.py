"""The Ray engine's manifest, `_manifest.json` in the output folder: how the shards were made,
which shards hold the rows (in input order), and which Ray nodes graded how many rows.

The grading facts (columns, embedder, grading code, judge, rubric set) are the ones a local
batch's `OUT.run.json` records (batch/manifest.py), so the two can be compared. It never
holds an API key.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from evaluator.batch.manifest import ColumnMap, Grading

MANIFEST_VERSION = 1
NAME = "_manifest.json"  # Ray Data, Spark and Arrow skip files named "_…" when reading a folder


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ShardInfo(_Model):
    name: str
    rows: int


class RayRun(_Model):
    address: str  # "local" or the cluster's address as given
    actors: int
    batch_size: int
    jobs: int  # concurrent judge requests per actor
    nodes: dict[str, int]  # Ray node id -> rows its actors graded


class ShardManifest(_Model):
    version: int = MANIFEST_VERSION
    engine: Literal["ray"] = "ray"
    input: str
    format: Literal["csv", "jsonl", "parquet"]
    bom: bool
    columns: ColumnMap
    question: str | None
    grading: Grading
    rows: int
    errors: int  # rows with a message in the error column
    shards: list[ShardInfo]
    ray: RayRun
