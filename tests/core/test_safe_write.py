"""Writing files atomically: a failed write leaves the old file and no litter; links and special files."""
import os
import stat

import pytest

from deepcomposer_desktop.core.safe_write import write_atomically


def test_a_failed_write_leaves_the_old_file_and_nothing_else(tmp_path):
    target = tmp_path / "song.mid"
    target.write_bytes(b"old")

    def half_then_fail(fh):
        fh.write(b"new but not all of it")
        raise OSError(28, "No space left on device")
    with pytest.raises(OSError, match="No space"):
        write_atomically(target, half_then_fail)
    assert target.read_bytes() == b"old" and os.listdir(tmp_path) == ["song.mid"]
    write_atomically(target, lambda fh: fh.write(b"new"))
    assert target.read_bytes() == b"new" and os.listdir(tmp_path) == ["song.mid"]


def test_a_link_is_followed_and_kept_and_a_fifo_written_in_place(tmp_path):
    real = tmp_path / "real.wav"
    real.write_bytes(b"old")
    os.chmod(real, 0o640)
    link = tmp_path / "link.wav"
    link.symlink_to(real)
    write_atomically(link, lambda fh: fh.write(b"new"))
    assert link.is_symlink() and real.read_bytes() == b"new"
    assert stat.S_IMODE(real.stat().st_mode) == 0o640                # the file keeps its permissions
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    r = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        write_atomically(fifo, lambda fh: fh.write(b"through"))
        assert os.read(r, 100) == b"through" and stat.S_ISFIFO(os.stat(fifo).st_mode)
    finally:
        os.close(r)


def test_no_name_or_a_folder_is_refused(tmp_path):
    for bad in ("", tmp_path):
        with pytest.raises(IsADirectoryError):
            write_atomically(bad, lambda fh: fh.write(b"x"))
