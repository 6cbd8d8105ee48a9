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


def test_a_built_in_name_is_refused_and_a_genre_of_yours_is_replaced_only_when_you_say_so(qtbot, studio, tmp_path,
                                                                                          monkeypatch):
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QMessageBox

    from deepcomposer_desktop.ml.registry import SHIPPED_DIR
    from deepcomposer_desktop.ui import training as ui_training
    from tests.test_model_files import tiny_gan
    studio.set_folder(str(write_songs(tmp_path / "songs", n=2)))
    qtbot.waitUntil(lambda: studio.scan is not None and not studio.data.busy(), timeout=60000)
    studio.preset.setCurrentIndex(studio.preset.findData("tiny"))
    shipped = sorted(SHIPPED_DIR.glob("gan-*.pt"))
    if shipped:
        name = shipped[0].stem.removeprefix("gan-")
        studio.name_edit.setText(name)
        assert "built-in genre: choose another name" in studio.name_note.text()
        qtbot.mouseClick(studio.train_btn, Qt.LeftButton)
        assert studio.job is None and studio.state == "idle"
        assert f"'{name}' is a built-in genre" in studio.status.text()
        assert not (tmp_path / "models" / f"gan-{name}.pt").exists()
    (tmp_path / "models").mkdir(exist_ok=True)
    tiny_gan(tmp_path / "models" / "gan-mine.pt")
    asked = []
    answer = [QMessageBox.No]
    monkeypatch.setattr(ui_training.QMessageBox, "question",
                        lambda *a, **k: asked.append(a[2]) or answer[0])
    studio.name_edit.setText("mine")
    qtbot.mouseClick(studio.train_btn, Qt.LeftButton)
    assert len(asked) == 1 and "already have a genre called 'mine'" in asked[0]
    assert studio.job is None and "your genre 'mine' is kept" in studio.status.text()
    answer[0] = QMessageBox.Yes
    qtbot.mouseClick(studio.train_btn, Qt.LeftButton)
    assert len(asked) == 2 and studio.state == "running"
    qtbot.mouseClick(studio.cancel_btn, Qt.LeftButton)
    qtbot.waitUntil(lambda: studio.state != "running", timeout=120000)


def test_melodies_alone_cannot_be_trained_and_a_drum_file_shows_no_melody(qtbot, studio, tmp_path):
    folder = tmp_path / "tunes"
    folder.mkdir()
    for k in range(2):
        write_midi(song(track("Lead", [(60 + k + b % 5, b * 480, 480, 90) for b in range(64)])), folder / f"t{k}.mid")
    studio.set_folder(str(folder))
    qtbot.waitUntil(lambda: studio.scan is not None and not studio.data.busy(), timeout=60000)
    assert "has a melody and other parts to learn from" in studio.data.found.text()
    assert not studio.train_btn.isEnabled() and studio.source() == ""
    assert {status for _, status in _rows(studio)} == {"skipped: it has only a melody: there are no other parts to "
                                                       "learn from"}
    band = write_songs(tmp_path / "band", n=2)
    write_midi(song(track("Kit", [(36, s, 120, 100) for s in range(0, 16 * 1920, 480)], is_drum=True, channel=9)),
               band / "drums.mid")
    studio.set_folder(str(band))
    qtbot.waitUntil(lambda: studio.scan is not None and not studio.data.busy(), timeout=60000)
    rows = {name: r for r, (name, _) in enumerate(_rows(studio))}
    assert _rows(studio)[rows["drums.mid"]][1] == "skipped: it has only drums: there is no melody to learn from"
    combo = studio.data.files.cellWidget(rows["drums.mid"], 1)
    assert combo.currentIndex() == -1 and "only drums" in combo.placeholderText()    # the kit is not "the melody"
    assert studio.data.files.cellWidget(rows["song1.mid"], 1).currentText().startswith("1. Lead")
    assert studio.train_btn.isEnabled() and not studio.overrides


def test_the_status_line_and_a_repeated_checkpoint(qtbot, studio):
    from deepcomposer_desktop.core.song import Song
    from deepcomposer_desktop.training_process import Checkpoint, DataReady
    studio.apply_event(DataReady(30, 4, 4, [], 1))
    assert studio.status.text() == ("34 8-bar pieces from 4 songs: training on 30, 4 (from 1 song) held out to "
                                    "measure the model.")
    first, final = Song(), Song(title="fitted")
    studio.apply_event(Checkpoint(16, 2.0, "m.pt", {"polyphony": 2.0}, first))
    studio.apply_event(Checkpoint(16, 2.0, "m.pt", {"polyphony": 3.0}, final, final=True))
    plot = studio.metrics.plots["polyphony"]
    assert plot.series["generated"] == [(16.0, 3.0)]           # the installed model's figure, once
    assert studio.sample_list.count() == 1 and studio.samples == [final]
    assert studio.sample_list.item(0).text() == "♪ Iteration 16 (epoch 2, final)"
