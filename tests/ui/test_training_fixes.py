"""Training studio window, QA findings: a folder picked during a scan, rows of an unusable folder, new genres."""
from __future__ import annotations

import os

import pytest

from deepcomposer_desktop.midi.io import write_midi
from tests.builders import song, track
from tests.test_training_process import write_songs


@pytest.fixture
def studio(training_studio):
    return training_studio


def _rows(studio) -> list[tuple[str, str]]:
    t = studio.data.files
    return [(t.item(r, 0).text(), t.item(r, 2).text()) for r in range(t.rowCount())]


def test_a_folder_picked_while_another_is_read_shows_its_own_files(qtbot, studio, tmp_path):
    first = write_songs(tmp_path / "first", n=3)
    second = write_songs(tmp_path / "second", n=3)           # as many files, other names
    for name in os.listdir(second):
        os.rename(second / name, second / f"b-{name}")
    studio.set_folder(str(first))
    studio.set_folder(str(second))                           # the right folder, before the first one is read
    qtbot.waitUntil(lambda: studio.scan is not None and not studio.data.busy(), timeout=60000)
    assert studio.scan.folder == str(second)
    assert sorted(name for name, _ in _rows(studio)) == ["b-song1.mid", "b-song2.mid", "b-song3.mid"]
    combo = studio.data.files.cellWidget(0, 1)
    combo.setCurrentIndex(1)                                 # a melody fix names a file of the folder shown
    assert set(studio.overrides) <= set(os.listdir(second)) and studio.overrides
    qtbot.waitUntil(lambda: not studio.data.busy(), timeout=60000)


def test_each_row_says_why_when_nothing_in_the_folder_is_usable(qtbot, studio, tmp_path):
    folder = tmp_path / "waltzes"
    folder.mkdir()
    for k in range(2):
        write_midi(song(track("Lead", [(60 + k, b * 1440, 480, 90) for b in range(16)]), meter=(3, 4)),
                   folder / f"waltz{k + 1}.mid")
    studio.set_folder(str(folder))
    qtbot.waitUntil(lambda: studio.scan is not None and not studio.data.busy(), timeout=60000)
    assert "Nothing to learn from yet" in studio.data.found.text() and not studio.train_btn.isEnabled()
    assert _rows(studio) == [("waltz1.mid", "skipped: not in 4/4 (only 3/4)"),
                             ("waltz2.mid", "skipped: not in 4/4 (only 3/4)")]


def test_a_genre_installed_later_can_be_started_from(qtbot, studio, tmp_path):
    from deepcomposer_desktop.training_process import Finished
    from tests.test_model_files import tiny_gan
    models = tmp_path / "models"
    models.mkdir(exist_ok=True)
    assert studio.start_from.findText("the 'new-band' genre") < 0
    tiny_gan(models / "gan-new-band.pt", name="new-band")
    studio.apply_event(Finished("done", "'new-band' is trained", str(models / "gan-new-band.pt"), "new-band", 4))
    k = studio.start_from.findText("the 'new-band' genre")
    assert k > 0
    studio.start_from.setCurrentIndex(k)
    tiny_gan(models / "gan-friend.pt", name="friend")        # imported elsewhere; the studio is shown again
    studio.show()
    qtbot.waitExposed(studio)
    assert studio.start_from.findText("the 'friend' genre") > 0
    assert studio.start_from.currentText() == "the 'new-band' genre"    # the choice is kept
