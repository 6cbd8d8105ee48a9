"""Opening never throws work away unasked and never opens something else than what was named: the sample menu asks
about unsaved changes, a missing file is an error (not a sample whose title starts alike), and a MIDI file dropped
on the window opens after the same question."""
from __future__ import annotations

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QMessageBox

from deepcomposer_desktop.midi.io import write_midi
from deepcomposer_desktop.samples import find_sample, load_sample


def _sample_action(window, title):
    menu = next(a.menu() for a in window.menuBar().actions()[0].menu().actions()
                if a.menu() is not None and "sample" in a.text().lower())
    return next(a for a in menu.actions() if a.text() == title)


def test_opening_a_sample_melody_asks_about_unsaved_work(make_window, monkeypatch):
    w = make_window()
    w.transport.tempo.setValue(97.0)
    edited = w.song
    answers = [QMessageBox.Cancel, QMessageBox.Discard]
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: answers.pop(0))
    _sample_action(w, "Greensleeves").trigger()
    assert w.song is edited and w.isWindowModified()             # Cancel: the work stays, still unsaved
    _sample_action(w, "Greensleeves").trigger()
    assert w.song.title == "Greensleeves" and not answers


@pytest.mark.parametrize("name", ["a.mid", "mary.mid", "Twinkle.mid", "greens.dcproj", "songs/ode", "", "od"])
def test_a_name_that_looks_like_a_file_or_is_too_short_is_no_sample(name):
    with pytest.raises(KeyError):
        find_sample(name)


def test_sample_names_still_work():
    assert find_sample("ode_to_joy.mid").slug == "ode_to_joy"
    assert find_sample("greens").slug == "greensleeves" and find_sample("Amazing Grace").slug == "amazing_grace"


def test_a_missing_file_is_an_error_not_a_sample(make_window, tmp_path, monkeypatch):
    w = make_window()
    before = w.song
    monkeypatch.chdir(tmp_path)
    assert w.open_path("mary.mid") is False
    assert w.song is before and "no such file" in w.statusBar().currentMessage()


def _drop(window, path, qtbot):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    e = QDropEvent(QPointF(20, 20), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    window.dropEvent(e)
    qtbot.wait(20)
    return e


def test_a_midi_file_dropped_on_the_window_opens_after_asking(make_window, tmp_path, qtbot, monkeypatch):
    path = tmp_path / "dropped.mid"
    write_midi(load_sample("jingle_bells").replace(title=""), path)
    w = make_window()
    w.transport.tempo.setValue(97.0)
    edited = w.song
    answers = [QMessageBox.Cancel, QMessageBox.Discard]
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: answers.pop(0))
    assert _drop(w, path, qtbot).isAccepted()
    assert w.song is edited                                      # Cancel
    _drop(w, path, qtbot)
    assert w.song.title == "dropped" and not answers
    assert len(w.song.tracks[w.song.melody_index].notes) == len(load_sample("jingle_bells").tracks[0].notes)


def test_other_files_are_not_taken(make_window, tmp_path, qtbot):
    w = make_window()
    before = w.song
    (tmp_path / "notes.txt").write_text("hello")
    assert not _drop(w, tmp_path / "notes.txt", qtbot).isAccepted()
    assert w.song is before


def test_a_pipe_or_an_oversized_file_named_like_a_project_is_refused_at_once(make_window, tmp_path):
    import os
    w = make_window()
    before = w.song
    os.mkfifo(tmp_path / "pipe.dcproj")                  # nobody writes into it: reading it would wait for ever
    assert w.open_path(str(tmp_path / "pipe.dcproj")) is False
    assert "pipe" in w.statusBar().currentMessage()
    with open(tmp_path / "huge.dcproj", "wb") as fh:
        fh.truncate(40 * 2**20)                          # sparse: 40 MB on paper, nothing read or parsed
    assert w.open_path(str(tmp_path / "huge.dcproj")) is False
    assert "too big" in w.statusBar().currentMessage() and w.song is before


def test_a_project_saved_under_a_name_that_is_not_utf8_keeps_that_name(tmp_path):
    import os
    from deepcomposer_desktop.ui.project_io import load_project, save_project
    song = load_sample("ode_to_joy")
    name = os.fsdecode(b"caf\xe9.dcproj")                 # a latin-1 name, as from an old zip file
    save_project(tmp_path / name, song)
    assert os.listdir(os.fsencode(tmp_path)) == [b"caf\xe9.dcproj"]
    save_project(tmp_path / name, song.replace(title="again"))                   # over it, with a backup
    assert load_project(tmp_path / name)[0].title == "again"
    assert sorted(os.listdir(os.fsencode(tmp_path))) == [b"caf\xe9.dcproj", b"caf\xe9.dcproj.bak"]


def test_a_take_played_while_a_big_file_loads_is_asked_about_before_the_file_replaces_it(
        window, spy_engine, qtbot, tmp_path, monkeypatch):
    import threading

    from deepcomposer_desktop import workers
    from deepcomposer_desktop.ui import files
    from tests.ui.test_recording import begin_take
    path = tmp_path / "big.mid"
    write_midi(load_sample("jingle_bells"), path)
    monkeypatch.setattr(files, "BIG_MIDI_BYTES", 10)                  # it loads on a worker
    gate, load = threading.Event(), workers.load_song_file
    monkeypatch.setattr(workers, "load_song_file", lambda *a, **k: gate.wait(10) and load(*a, **k))
    window.new_project()
    assert window.open_path(str(path))
    begin_take(window, spy_engine, qtbot, [(0, "hardware_note_on", 60, 100), (480, "hardware_note_off", 60)])
    spy_engine.forced_position = 960
    asked = []
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: asked.append(a[2]) or QMessageBox.Cancel)
    gate.set()
    qtbot.waitUntil(lambda: not window._workers, timeout=10_000)
    qtbot.wait(20)
    assert asked and "big.mid" in asked[0]                             # asked, and Cancel kept the take
    assert [n.pitch for n in window.song.melody.notes] == [60] and window.playback.recording is None


def test_a_project_opened_by_a_relative_path_saves_back_where_it_is(make_window, tmp_path, monkeypatch):
    from deepcomposer_desktop.ui.project_io import save_project
    (tmp_path / "music").mkdir()
    (tmp_path / "elsewhere").mkdir()
    save_project(tmp_path / "music" / "song.dcproj", load_sample("ode_to_joy"))
    monkeypatch.chdir(tmp_path / "music")
    w = make_window()
    assert w.open_path("song.dcproj")
    monkeypatch.chdir(tmp_path / "elsewhere")                           # a launcher starts the app elsewhere
    assert w.project_path == tmp_path / "music" / "song.dcproj"
    assert w.project_extra()["source_path"] == str(tmp_path / "music" / "song.dcproj")


def test_the_loop_is_saved_with_the_project_and_cleared_by_another_song(make_window, tmp_path):
    w = make_window()
    bar = w.song.bar_ticks
    w.apply_loop((2 * bar, 4 * bar), True)
    assert w.playback.looping and w.playback.loop_range == (2 * bar, 4 * bar)
    assert w.save_to(tmp_path / "looped.dcproj")
    path = tmp_path / "other.mid"
    write_midi(load_sample("jingle_bells"), path)
    assert w.open_path(str(path))
    assert w.playback.loop_range is None and not w.playback.looping            # bars of another song
    assert not w.transport.loop_btn.isChecked()
    assert w.open_path(str(tmp_path / "looped.dcproj"))
    assert w.playback.loop_range == (2 * bar, 4 * bar) and w.playback.looping


def test_a_damaged_project_points_to_its_backup_which_opens(make_window, tmp_path):
    from deepcomposer_desktop.ui.project_io import save_project
    path = tmp_path / "song.dcproj"
    save_project(path, load_sample("ode_to_joy"))
    save_project(path, load_sample("jingle_bells"))            # the first version is now song.dcproj.bak
    path.write_text('{bad json')
    w = make_window()
    assert w.open_path(str(path)) is False
    message = w.statusBar().currentMessage()
    assert "damaged: it is not readable JSON (line 1, column 2)" in message and "song.dcproj.bak" in message
    assert w.open_path(str(tmp_path / "song.dcproj.bak"))
    assert w.song.title == load_sample("ode_to_joy").title and w.project_path is None
