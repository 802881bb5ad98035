"""Where the Ray engine reads and writes: local paths or URIs Ray Data reads (s3://, gs://, …),
a file or a folder of shards, CSV, JSONL or Parquet.

- Input: a folder is read whole (files whose names start with "." or "_" are skipped, as Ray
  Data skips them). CSV cells are read as text, exactly as written, as `evaluator batch` reads
  them: no column is turned into numbers or nulls.
- Output: a folder of shards `part-00000.csv`, … of up to `shard_rows` rows each, plus
  `_manifest.json` (manifest.py). A shard is written under a hidden temporary name and renamed
  when complete. A local output folder is built beside its final place and renamed into it at
  the end, so a failed run leaves no half output and an existing one (replaced with --force)
  stays as it was until then.
"""

from __future__ import annotations

import csv
import io
import json
import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from evaluator.batch.table import sniff_delimiter
from evaluator.errors import InputError

if TYPE_CHECKING:
    import pyarrow
    import pyarrow.fs
    import ray.data

Kind = Literal["csv", "jsonl", "parquet"]
SUFFIXES: dict[str, Kind] = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".jsonl": "jsonl",
    ".json": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
}
SHARD_SUFFIX: dict[Kind, str] = {"csv": "csv", "jsonl": "jsonl", "parquet": "parquet"}
BOM = "\ufeff".encode()
# Arrow's CSV reader refuses a row wider or narrower than the header; local batch keeps it.
RAGGED_HINT = " (a row wider or narrower than the header? local batch keeps those: --engine local)"


def is_uri(location: str) -> bool:
    return "://" in location


def filesystem(location: str) -> tuple[pyarrow.fs.FileSystem, str]:
    """The filesystem holding `location` and the path inside it."""
    import pyarrow.fs as pafs

    if not is_uri(location):
        return pafs.LocalFileSystem(), str(Path(location).resolve())
    try:
        return pafs.FileSystem.from_uri(location)
    except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
        raise InputError(f"{location}: cannot open ({exc})") from None


def _hidden(path: str) -> bool:
    return path.rstrip("/").rsplit("/", 1)[-1].startswith((".", "_"))


@dataclass
class Source:
    """The input's files, their kind, and (CSV) how to read them."""

    location: str
    fs: pyarrow.fs.FileSystem
    paths: list[str]
    kind: Kind
    delimiter: str = ","
    encoding: str = "utf8"
    names: list[str] = field(default_factory=list)  # CSV: the first file's header

    def read(self) -> ray.data.Dataset:
        import pyarrow as pa
        import pyarrow.csv as pacsv
        import ray.data

        if self.kind == "parquet":
            return ray.data.read_parquet(self.paths, filesystem=self.fs)
        if self.kind == "jsonl":
            return ray.data.read_json(self.paths, filesystem=self.fs, lines=True)
        return ray.data.read_csv(
            self.paths,
            filesystem=self.fs,
            read_options=pacsv.ReadOptions(encoding=self.encoding),
            parse_options=pacsv.ParseOptions(delimiter=self.delimiter, newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.string() for name in self.names},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )


def open_source(location: str, delimiter: str | None = None, encoding: str | None = None) -> Source:
    """Check the input exists and holds files of one kind; for CSV, read its header now."""
    import pyarrow.fs as pafs

    fs, path = filesystem(location)
    info = fs.get_file_info(path)
    if info.type == pafs.FileType.NotFound:
        raise InputError(f"{location}: no such file or folder")
    if info.type == pafs.FileType.Directory:
        found = fs.get_file_info(pafs.FileSelector(path, recursive=True))
        paths = sorted(
            f.path
            for f in found
            if f.type == pafs.FileType.File
            and not any(_hidden(p) for p in f.path[len(path) :].split("/") if p)
        )
        if not paths:
            raise InputError(f"{location}: the folder holds no data files")
    else:
        paths = [path]
    kinds = {SUFFIXES.get(Path(p).suffix.lower()) for p in paths}
    if None in kinds or len(kinds) != 1:
        shown = ", ".join(sorted({Path(p).suffix or "(none)" for p in paths})[:5])
        raise InputError(
            f"{location}: give CSV (.csv, .tsv), JSONL (.jsonl, .json) or Parquet files of one "
            f"kind; found {shown}"
        )
    kind = kinds.pop()
    assert kind is not None
    source = Source(location, fs, paths, kind)
    if kind == "csv":
        source.encoding = encoding or "utf8"
        source.names, sniffed = _csv_header(fs, paths[0], delimiter, source.encoding)
        source.delimiter = delimiter or sniffed
    return source


def _csv_header(
    fs: pyarrow.fs.FileSystem, path: str, delimiter: str | None, encoding: str
) -> tuple[list[str], str]:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    if delimiter is not None and len(delimiter) != 1:
        raise InputError(f"delimiter must be one character, got {delimiter!r}")
    with fs.open_input_stream(path) as fh:
        head = fh.read(65536)
    try:
        text = head.decode("utf-8-sig" if encoding == "utf8" else encoding, errors="replace")
    except LookupError:
        raise InputError(f"unknown encoding '{encoding}' (try utf-8 or gb18030)") from None
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise InputError(f"{path}: the file is empty or its first row is blank")
    chosen = delimiter or sniff_delimiter(lines[0])
    try:
        with fs.open_input_stream(path) as fh:
            reader = pacsv.open_csv(
                fh,
                # The header and the first rows only: the rows are read by Ray.
                read_options=pacsv.ReadOptions(encoding=encoding, block_size=1 << 16),
                parse_options=pacsv.ParseOptions(delimiter=chosen, newlines_in_values=True),
            )
            names = [n.replace("\ufeff", "") for n in reader.schema.names]
    except pa.ArrowInvalid as exc:
        raise InputError(f"{path}: cannot read it as CSV ({exc}){RAGGED_HINT}") from None
    return names, chosen


# ---------------------------------------------------------------------------- output


@dataclass
class Shard:
    name: str
    rows: int


class ShardWriter:
    """Writes graded batches into shards of at most `shard_rows` rows, in the order given."""

    def __init__(
        self,
        fs: pyarrow.fs.FileSystem,
        folder: str,
        kind: Kind,
        *,
        bom: bool = False,
        shard_rows: int = 100_000,
    ) -> None:
        self.fs, self.folder, self.kind = fs, folder.rstrip("/"), kind
        self.bom = bom and kind == "csv"
        self.shard_rows = shard_rows
        self.shards: list[Shard] = []
        self._stream: Any = None
        self._parquet: Any = None
        self._schema: pyarrow.Schema | None = None
        self._rows = 0

    def _open(self, schema: pyarrow.Schema) -> None:
        name = f"part-{len(self.shards):05d}.{SHARD_SUFFIX[self.kind]}"
        self._name, self._rows = name, 0
        self._stream = self.fs.open_output_stream(f"{self.folder}/.{name}.tmp")
        if self.kind == "parquet":
            import pyarrow.parquet as pq

            self._parquet = pq.ParquetWriter(self._stream, schema)
        elif self.kind == "csv":
            self._stream.write((BOM if self.bom else b"") + _csv_bytes([schema.names]))

    def _close_shard(self) -> None:
        if self._stream is None:
            return
        if self._parquet is not None:
            self._parquet.close()
            self._parquet = None
        self._stream.close()
        self._stream = None
        self.fs.move(f"{self.folder}/.{self._name}.tmp", f"{self.folder}/{self._name}")
        self.shards.append(Shard(self._name, self._rows))

    def write(self, table: pyarrow.Table) -> None:
        if self._schema is None:
            self._schema = table.schema
        start = 0
        while start < table.num_rows:
            if self._stream is None:
                self._open(self._schema)
            take = min(self.shard_rows - self._rows, table.num_rows - start)
            self._write(table.slice(start, take))
            self._rows += take
            start += take
            if self._rows >= self.shard_rows:
                self._close_shard()

    def _write(self, table: pyarrow.Table) -> None:
        if self.kind == "parquet":
            assert self._schema is not None
            self._parquet.write_table(table.cast(self._schema))
            return
        rows = table.to_pylist()
        if self.kind == "csv":
            self._stream.write(_csv_bytes([[_text(v) for v in r.values()] for r in rows]))
        else:
            lines = (json.dumps(r, ensure_ascii=False, default=str) + "\n" for r in rows)
            self._stream.write("".join(lines).encode("utf-8"))

    def close(self) -> list[Shard]:
        """The last shard closed; the shards written, in order. An input without rows still
        gets one (empty) shard, so the output says it was graded."""
        if self._stream is None and not self.shards and self._schema is not None:
            self._open(self._schema)
        self._close_shard()
        return self.shards

    def abort(self) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None


def _text(value: Any) -> str:
    return "" if value is None else value if isinstance(value, str) else str(value)


def _csv_bytes(rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue().encode("utf-8")


# ---------------------------------------------------------------------------- the folder


@dataclass
class Destination:
    """The output folder: written in a hidden sibling (local) or in place (URI)."""

    location: str
    fs: pyarrow.fs.FileSystem
    final: str
    working: str  # where shards are written until `commit`

    def commit(self) -> None:
        if self.working == self.final:
            return
        final, old = Path(self.final), None
        if final.exists():
            old = final.with_name(f".{final.name}.old-{secrets.token_hex(4)}")
            final.rename(old)
        Path(self.working).rename(final)
        if old is not None:
            shutil.rmtree(old)

    def discard(self) -> None:
        if self.working != self.final:
            shutil.rmtree(self.working, ignore_errors=True)


def prepare_destination(location: str, source: Source, force: bool) -> Destination:
    """Check the output may be written (before any grading) and make its working folder."""
    import pyarrow.fs as pafs

    fs, path = filesystem(location)
    if any(path == p or path.startswith(p.rstrip("/") + "/") for p in source.paths):
        raise InputError(f"{location}: the output would overwrite the input")
    info = fs.get_file_info(path)
    if info.type == pafs.FileType.File:
        raise InputError(
            f"{location}: is a file; the ray engine writes a folder of shards: give a folder name"
        )
    held = info.type == pafs.FileType.Directory and bool(
        fs.get_file_info(pafs.FileSelector(path, recursive=False))
    )
    if held and not force:
        raise InputError(f"{location}: already exists; use --force to replace it, or another -o")
    if is_uri(location):
        if held:
            raise InputError(
                f"{location}: is not empty; the ray engine replaces only local folders"
            )
        fs.create_dir(path, recursive=True)
        return Destination(location, fs, path, path)
    final = Path(path)
    if not final.parent.is_dir():
        raise InputError(f"{final.parent}: no such folder for the output")
    working = final.with_name(f".{final.name}.tmp-{secrets.token_hex(4)}")
    try:
        working.mkdir()
    except OSError as exc:
        raise InputError(f"{final.parent}: cannot write the output ({exc.strerror})") from None
    return Destination(location, fs, str(final), str(working))


def batches(ds: ray.data.Dataset, batch_size: int) -> Iterator[pyarrow.Table]:
    """The dataset's rows as Arrow tables, in order, streamed to this process."""
    yield from ds.iter_batches(batch_format="pyarrow", batch_size=batch_size)
