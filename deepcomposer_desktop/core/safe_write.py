"""Write a file so that a failure (full disk, unplugged drive, an error halfway) never leaves the old file
damaged or a half-written one in its place: the data goes to a temporary file beside the target, which takes the
target's name only once it is complete. A symlink is followed (its target is replaced, the link stays); a target
that is not a regular file (a FIFO, a device) is written in place, as there is nothing to keep. And read one
without hanging on a pipe or filling memory from a device or a huge file (``read_capped``)."""
from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path
from typing import BinaryIO, Callable


def write_atomically(path: str | os.PathLike, write: Callable[[BinaryIO], None]) -> None:
    """Call ``write(file)`` on a temporary file and move it over ``path``; raises OSError (then nothing changed,
    and no temporary file is left)."""
    target = Path(os.path.realpath(os.fspath(path)))
    if os.fspath(path) == "" or target.is_dir():
        raise IsADirectoryError(21, "Is a folder, not a file name", os.fspath(path))
    if target.exists() and not target.is_file():
        with open(target, "wb") as fh:
            write(fh)
        return
    # the temporary name is short: the target's own name may already be as long as the file system allows
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name[:40]}.", suffix=".part", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        if target.exists():
            os.chmod(tmp, target.stat().st_mode & 0o7777)
        else:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.remove(tmp)
        except OSError:
            pass
        raise


class FileRefused(ValueError):
    """A file that is not read: a device, a pipe, or larger than the caller takes; ``str(err)`` says which, without
    the file's name (e.g. "is a device or a pipe, not a MIDI file")."""


def read_capped(path: str | os.PathLike, max_bytes: int, what: str) -> bytes:
    """The bytes of the regular file ``path`` (``what`` it should be, for the message: "MIDI file"). Opened without
    waiting (a FIFO nobody writes into would block for ever), then refused unless it is a regular file of at most
    ``max_bytes``. Raises FileRefused, or OSError when it cannot be opened or read."""
    with open(path, "rb", opener=lambda p, flags: os.open(p, flags | getattr(os, "O_NONBLOCK", 0))) as fh:
        info = os.fstat(fh.fileno())
        if not stat.S_ISREG(info.st_mode):          # a device never ends (/dev/zero), a pipe may wait for ever
            raise FileRefused(f"is a device or a pipe, not a {what}")
        if info.st_size > max_bytes:
            raise FileRefused(f"is {info.st_size // 2**20} MB: too big to be a {what} we can open (at most "
                              f"{max_bytes // 2**20} MB)")
        return fh.read(max_bytes + 1)
