"""`deepcomposer-desktop --screenshot`: a one-line reason for every refusal, and a picture of the size asked."""
import re

from deepcomposer_desktop import app


def test_screenshot_refusals_say_why(qapp, tmp_path, capsys):
    shot = tmp_path / "sh.png"
    assert app.main(["--screenshot", str(shot), "--open", "nosuch.mid"]) == 2
    assert re.fullmatch(r"deepcomposer-desktop: Cannot open: nosuch\.mid: no such file or sample melody\n",
                        capsys.readouterr().err)
    for size in ("banana", "800", "0x600", "800x-5", "99999x600"):
        assert app.main(["--screenshot", str(shot), "--size", size]) == 2
        err = capsys.readouterr().err
        assert err.startswith("deepcomposer-desktop: --size takes WIDTHxHEIGHT") and repr(size) in err, err
    assert app.main(["--screenshot", str(shot), "--size", "300x200"]) == 2
    assert re.search(r"--size 300x200 is smaller than the window can be: it needs at least \d+x\d+",
                     capsys.readouterr().err)
    assert not shot.exists()


def test_screenshot_is_the_size_asked(qapp, tmp_path, capsys):
    from PySide6.QtGui import QImage
    shot = tmp_path / "sh.png"
    assert app.main(["--screenshot", str(shot), "--size", "1100x600"]) == 0
    img = QImage(str(shot))
    assert (img.width(), img.height()) == (1100, 600)
    assert "Note:" not in capsys.readouterr().err
