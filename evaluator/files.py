"""Writing files so that a reader never sees half of one: write a temporary file beside the
target, then rename it over the target (atomic on POSIX). A crash leaves the old file whole."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def atomic_write(path: Path, data: str | bytes, *, mode: int = 0o644) -> None:
    """Replace `path` with `data` (str is written as UTF-8) in one rename.

    `mode` is set explicitly because mkstemp creates 0600 files, which would make shared rubric
    files and reports unreadable to others.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.encode("utf-8") if isinstance(data, str) else data)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
