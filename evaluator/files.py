"""Files users give and get. Writing: a temporary file beside the target, then a rename over it
(atomic on POSIX), so a crash leaves the old file whole. Reading: a text file in whatever
encoding an editor saved it in. Locking: one writer at a time for an output (`OutputLock`).
Interrupting: a Ctrl-C that comes while a short write is under way waits for it
(`interrupts_deferred`), so what the user is told the file holds is what it holds."""

from __future__ import annotations

import codecs
import os
import signal
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

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
        raise InputError(f"{path}: is a directory, not {_a(what)}") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    return decode_text_as(data, str(path), what)


def _a(noun: str) -> str:
    """`noun` with its indefinite article: "a notes file", "an answer"."""
    return f"{'an' if noun[:1].lower() in 'aeiou' else 'a'} {noun}"


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
        raise InputError(f"{where}: looks like a binary file, not {_a(what)}")
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


# ---------------------------------------------------------------------------- output locks

LOCK_SUFFIX = ".lock"


class LockOwner(BaseModel):
    """What a lock file says about the run holding it: enough to find that run."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    locked_by: str  # the command, e.g. "evaluator batch"
    pid: int
    host: str
    started: str  # local time with its offset, ISO 8601
    output: str  # the path it writes, resolved

    def describe(self) -> str:
        return f"pid {self.pid} on {self.host}, started {self.started}"


class OutputLock:
    """An exclusive OS lock (flock) on `OUT.lock`, beside an output, for one writer at a time.

    The kernel drops a flock when its holder exits, even by kill -9, so a lock file left by a
    dead run never blocks the next one: the next run simply takes the lock and rewrites the
    details. A release removes the file while still holding the lock; a run that opened it just
    before then finds the inode it locked is no longer at the path, and tries again.
    """

    def __init__(self, output: Path, locked_by: str) -> None:
        self.output = output
        self.path = lock_path(output)
        self.locked_by = locked_by
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock, or raise InputError naming the run that holds it. A refusal changes
        nothing on disk (the lock file, if any, is only read)."""
        import fcntl  # POSIX; imported here so that the rest of this module needs none of it

        for _ in range(100):  # each retry means another run released the lock meanwhile
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                raise InputError(
                    f"{self.path}: cannot create the lock file for {self.output} "
                    f"({exc.strerror or exc})"
                ) from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _read_owner(fd)
                os.close(fd)
                raise InputError(self._held_message(holder)) from None
            except OSError as exc:  # a file system without locks: say so, do not run unlocked
                os.close(fd)
                raise InputError(
                    f"{self.path}: cannot lock {self.output} ({exc.strerror or exc})"
                ) from None
            if _same_file(fd, self.path):
                self._fd = fd
                self._write_owner(fd)
                return
            os.close(fd)  # released and removed while we opened it: take the new file
        raise InputError(f"{self.path}: could not take the lock for {self.output}")

    def _held_message(self, holder: LockOwner | None) -> str:
        who = f"another {self.locked_by}" if holder is None else holder.locked_by
        details = f" ({holder.describe()})" if holder is not None else ""
        return (
            f"{self.output}: {who}{details} is writing it (lock {self.path.name}); wait for it "
            "to finish, or give another -o"
        )

    def _write_owner(self, fd: int) -> None:
        owner = LockOwner(
            locked_by=self.locked_by,
            pid=os.getpid(),
            host=socket.gethostname(),
            started=datetime.now().astimezone().isoformat(timespec="seconds"),
            output=str(self.output.resolve()),
        )
        data = (owner.model_dump_json() + "\n").encode()
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, data, 0)
        except OSError:
            pass  # the details only inform a refused run; the lock itself is held

    def release(self) -> None:
        """Remove the lock file and drop the lock (in that order: see the class docstring)."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            if _same_file(fd, self.path):
                self.path.unlink(missing_ok=True)
        finally:
            os.close(fd)  # closing drops the flock

    def __enter__(self) -> OutputLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def lock_path(output: Path) -> Path:
    """The lock file of an output: `OUT.csv.lock` beside `OUT.csv`."""
    return output.with_name(output.name + LOCK_SUFFIX)


def _same_file(fd: int, path: Path) -> bool:
    try:
        here, there = os.fstat(fd), os.stat(path)
    except OSError:
        return False
    return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)


def _read_owner(fd: int) -> LockOwner | None:
    """The holder's details; None when unreadable (it may not have written them yet)."""
    for _ in range(20):  # the holder writes them just after it takes the lock
        try:
            data = os.pread(fd, 4096, 0)
            return LockOwner.model_validate_json(data)
        except (OSError, ValidationError):
            time.sleep(0.01)
    return None


@contextmanager
def interrupts_deferred() -> Iterator[None]:
    """Hold a Ctrl-C (SIGINT) that arrives inside the block until the block is done (main
    thread only: signals are delivered there). Each block is a short file operation."""
    previous = signal.getsignal(signal.SIGINT)
    if threading.current_thread() is not threading.main_thread() or previous is None:
        yield  # None: a handler installed outside Python, which could not be put back
        return
    caught: list[object] = []
    signal.signal(signal.SIGINT, lambda *args: caught.append(args))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught:
        raise KeyboardInterrupt
