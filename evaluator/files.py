"""Files users give and get. Writing: a temporary file beside the target, then a rename over it
(atomic on POSIX), so a crash leaves the old file whole. Reading: a text file in whatever
encoding an editor saved it in."""

from __future__ import annotations

import codecs
import os
import tempfile
from pathlib import Path

from evaluator.errors import InputError


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


def read_text(path: Path, what: str = "text file") -> str:
    """A user's text file as str (see `decode_text`); one-line InputError when it is missing,
    a directory, or unreadable. `what` names it in messages."""
    return read_text_as(path, what)[0]


def read_text_as(path: Path, what: str = "text file") -> tuple[str, str]:
    """`read_text`, and the encoding it was read in ("UTF-8", "UTF-16", "GB18030"), for
    commands that tell the user when a file was not UTF-8."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, not a {what}") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    return decode_text_as(data, str(path), what)


def decode_text(data: bytes, where: str, what: str = "text") -> str:
    """Bytes as str, whatever Windows or an old editor saved them as: UTF-8 (with or without
    BOM), UTF-16 with BOM (Notepad's "Unicode"), else GB18030 (a superset of GBK, what Chinese
    Windows editors save as "ANSI"). One-line InputError, naming `where`, for binary data or
    none of these."""
    return decode_text_as(data, where, what)[0]


def decode_text_as(data: bytes, where: str, what: str = "text") -> tuple[str, str]:
    """`decode_text`, and the encoding that decoded it. UTF-8 is tried before GB18030 and
    wins: Chinese text in GBK is, in practice, never also valid UTF-8."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16"), "UTF-16"
        except UnicodeDecodeError:
            raise InputError(f"{where}: starts like UTF-16 but is not valid UTF-16") from None
    if b"\x00" in data[:8192]:
        raise InputError(f"{where}: looks like a binary file, not a {what}")
    try:
        return data.decode("utf-8-sig"), "UTF-8"
    except UnicodeDecodeError as exc:
        first_bad = exc.start
    try:
        return data.decode("gb18030"), "GB18030"
    except UnicodeDecodeError:
        line = data[:first_bad].count(b"\n") + 1
        raise InputError(
            f"{where}:{line}: not UTF-8 (invalid byte at offset {first_bad}), UTF-16 or GB18030 "
            "text"
        ) from None


def check_can_write(path: Path, what: str) -> None:
    """Fail now, with one line, when a file cannot be created at `path` (its folder is missing,
    read-only or not a real folder), rather than after the grading."""
    folder = path.parent
    if not folder.exists():
        raise InputError(f"{folder}: no such directory for {what}")
    if not folder.is_dir():
        raise InputError(f"{folder}: not a directory, so it cannot hold {what}")
    try:
        fd, probe = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".probe")
    except OSError as exc:
        raise InputError(
            f"{path}: cannot create {what} in {folder} ({exc.strerror or exc})"
        ) from None
    os.close(fd)
    Path(probe).unlink(missing_ok=True)
