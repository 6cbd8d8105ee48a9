"""Projects on disk: save -> open round trip, atomic writes with a backup, autosave and crash recovery,
drag-out .mid files, MIDI import/export, settings."""
from __future__ import annotations

from PySide6.QtCore import QSettings, Qt

from deepcomposer_desktop.core.project import ProjectError
from deepcomposer_desktop.midi.io import read_midi, write_midi
from deepcomposer_desktop.ui.dragout import make_mime, single_track_song
from deepcomposer_desktop.ui.project_io import find_recoveries, load_project, save_project, write_atomic
from deepcomposer_desktop.ui.settings import AppSettings


def test_save_then_open_round_trip(make_window, tmp_path, qtbot):
    w = make_window()
    qtbot.mouseClick(w.tracks.rows[0].mute_btn, Qt.LeftButton)
    w.transport.tempo.setValue(133.0)
    qtbot.mouseClick(w.tracks.add_button, Qt.LeftButton)
    path = tmp_path / "song.dcproj"
    assert w.save_to(path)
    assert not w.isWindowModified() and w.windowTitle().startswith("song.dcproj")
    assert str(path.resolve()) in w.settings.recent_files()
    w2 = make_window()
    assert w2.open_path(str(path))
    assert w2.song == w.song
    assert w2.song.tracks[0].mute and w2.song.tempos[0].bpm == 133.0
    assert w2.doc.undo_stack.isClean() and w2.project_path == path


def test_atomic_save_keeps_the_previous_file_as_backup(tmp_path, window):
    tmp_path = tmp_path / "projects"
    tmp_path.mkdir()
    path = tmp_path / "a.dcproj"
    save_project(path, window.song)
    first = path.read_bytes()
    save_project(path, window.song.replace(title="Second"))
    assert (tmp_path / "a.dcproj.bak").read_bytes() == first
    assert load_project(path)[0].title == "Second"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.dcproj", "a.dcproj.bak"]   # no temp left


def test_failed_write_leaves_the_old_file_intact(tmp_path):
    import pytest
    from deepcomposer_desktop.ui.project_io import SaveError
    path = tmp_path / "x.dcproj"
    path.write_bytes(b"old")
    with pytest.raises(SaveError):
        write_atomic(tmp_path / "missing-dir" / "x.dcproj", b"new")
    assert path.read_bytes() == b"old"


def test_open_damaged_project_is_a_clear_error(tmp_path, window):
    bad = tmp_path / "bad.dcproj"
    bad.write_bytes(b"\0" * 64)                           # what a zero-filled save looks like
    import pytest
    with pytest.raises(ProjectError):
        load_project(bad)
    before = window.song
    assert not window.open_path(str(bad))
    assert window.song is before and "Cannot open" in window.statusBar().currentMessage()


def test_crash_recovery_offers_the_autosave(make_window, tmp_path, qtbot):
    data = tmp_path / "data"
    w1 = make_window(data_dir=data)
    qtbot.mouseClick(w1.tracks.add_button, Qt.LeftButton)
    w1.transport.tempo.setValue(97.0)
    assert w1.autosaver.save_now() and w1.autosaver.path.exists()
    crashed_song = w1.song
    w1.autosaver.abandon()                               # the process "dies": its lock is gone, the file stays
    w1.close()
    assert w1.autosaver.path.exists()
    w2 = make_window(data_dir=data)
    qtbot.waitUntil(lambda: w2.banner.isVisible())
    assert "Recover" in w2.banner.accept_btn.text()
    qtbot.mouseClick(w2.banner.accept_btn, Qt.LeftButton)
    assert w2.song == crashed_song
    assert w2.isWindowModified()                          # recovered work still needs saving
    assert not find_recoveries(data / "autosave")         # offered once


def test_recovering_asks_about_new_work_and_a_second_crash_loses_nothing(make_window, tmp_path, qtbot,
                                                                          monkeypatch):
    from PySide6.QtWidgets import QMessageBox
    data = tmp_path / "data"
    w1 = make_window(data_dir=data)
    w1.transport.tempo.setValue(97.0)
    assert w1.autosaver.save_now()
    crashed_song = w1.song
    w1.autosaver.abandon()
    w1.close()
    w2 = make_window(data_dir=data)
    qtbot.waitUntil(lambda: w2.banner.isVisible())
    w2.transport.tempo.setValue(140.0)                   # work done while the offer waits
    new_work = w2.song
    answers = [QMessageBox.Cancel, QMessageBox.Discard]
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: answers.pop(0))
    qtbot.mouseClick(w2.banner.accept_btn, Qt.LeftButton)
    assert w2.song is new_work and w2.banner.isVisible()   # Cancel: nothing replaced, the offer still stands
    qtbot.mouseClick(w2.banner.accept_btn, Qt.LeftButton)
    assert w2.song == crashed_song and not answers
    w2.autosaver.abandon()                               # crashes again at once, before its timer ran
    w2.close()
    found = find_recoveries(data / "autosave")
    assert len(found) == 1 and found[0].song == crashed_song


def test_clean_exit_leaves_no_autosave_and_running_windows_are_not_offered(make_window, tmp_path, qtbot):
    data = tmp_path / "data"
    w1 = make_window(data_dir=data)
    w1.transport.tempo.setValue(99.0)
    assert w1.autosaver.save_now()
    assert find_recoveries(data / "autosave") == []       # w1 is alive: its autosave is not an orphan
    w1.close()
    assert not list((data / "autosave").glob("*.dcproj"))


def test_autosave_interval_is_at_most_30_seconds(window):
    assert 0 < window.autosaver.timer.interval() <= 30_000 and window.autosaver.timer.isActive()


def test_drag_out_mime_holds_a_readable_midi_file(window):
    mime = make_mime(single_track_song(window.song, 0), "Melody / lead?")
    (url,) = mime.urls()
    assert url.isLocalFile() and url.toLocalFile().endswith("Melody lead.mid")
    song = read_midi(url.toLocalFile())
    assert len(song.tracks) == 1 and len(song.tracks[0].notes) == len(window.song.tracks[0].notes)


def test_import_midi_and_export_midi(window, tmp_path):
    src = tmp_path / "two.mid"
    song2 = window.song.with_tracks(window.song.tracks * 2)
    write_midi(song2, src)
    assert window.open_path(str(src), ask_melody=False)
    assert len(window.song.tracks) == 2 and window.project_path is None
    out = tmp_path / "out.mid"
    assert window.export_midi(str(out))
    assert read_midi(out).note_count == window.song.note_count


def test_opening_a_song_with_more_tracks_than_can_sound_says_so(window, tmp_path):
    from deepcomposer_desktop.audio.scheduler import MAX_TRACKS
    src = tmp_path / "many.mid"
    melody = window.song.tracks[0]
    write_midi(window.song.with_tracks((melody,) * (MAX_TRACKS + 2)), src)
    assert window.open_path(str(src), ask_melody=False) and len(window.song.tracks) == MAX_TRACKS + 2
    assert f"only the first {MAX_TRACKS} of its {MAX_TRACKS + 2} tracks sound" in window.statusBar().currentMessage()
    assert window.open_path("ode_to_joy") and "sound" not in window.statusBar().currentMessage()


def test_projects_damaged_in_any_way_are_a_message_not_a_crash(tmp_path, window):
    import json
    deep = tmp_path / "deep.dcproj"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    huge = tmp_path / "huge.dcproj"
    huge.write_text('{"version": 1' + "0" * 5000 + "}")          # an integer of 5 000 digits
    before = window.song
    for bad in (deep, huge):
        assert not window.open_path(str(bad)), bad            # they raised out of open_path (and the app's start)
        assert window.song is before and "Cannot open the project" in window.statusBar().currentMessage()
    good = tmp_path / "colours.dcproj"
    save_project(good, window.song, {"track_colors": 5, "snap": ["1/8"], "autosaved_at": "soon"})
    data = json.loads(good.read_text())
    assert data["extra"]["track_colors"] == 5                 # as a hand edit left it
    assert window.open_path(str(good)) and load_project(good)[1]["track_colors"] == []


def test_a_damaged_autosave_does_not_hide_a_good_one(tmp_path, window):
    folder = tmp_path / "autosave"
    folder.mkdir()
    (folder / "autosave-aaaa.dcproj").write_text('{"version": 1' + "0" * 5000 + "}")
    save_project(folder / "autosave-bbbb.dcproj", window.song.replace(title="Rescued"), keep_backup=False)
    found = find_recoveries(folder)                           # the damaged one raised: nothing was offered
    assert [r.song.title for r in found] == ["Rescued"]
    for r in found:
        r.lock.unlock()


def test_a_backup_cut_short_leaves_the_previous_backup(tmp_path, monkeypatch):
    import shutil
    path = tmp_path / "a.dcproj"
    write_atomic(path, b"version 1")
    write_atomic(path, b"version 2")
    assert (tmp_path / "a.dcproj.bak").read_bytes() == b"version 1"

    def full_disk(src, dst):
        with open(dst, "wb") as fh:
            fh.write(b"vers")                                  # what fits before the disk is full
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(shutil, "copy2", full_disk)
    write_atomic(path, b"version 3")
    assert path.read_bytes() == b"version 3"
    assert (tmp_path / "a.dcproj.bak").read_bytes() == b"version 1"    # it became a torn "vers"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.dcproj", "a.dcproj.bak"]


def test_the_studio_opens_when_its_data_folder_cannot_be_made(make_window, tmp_path):
    (tmp_path / "file").write_text("")
    w = make_window(data_dir=tmp_path / "file" / "data")      # raised OSError: the app could not start
    assert "Autosave is off" in w.statusBar().currentMessage() and not w.autosaver.save_now()


def test_settings_round_trip(tmp_path):
    s = AppSettings(QSettings(str(tmp_path / "s.ini"), QSettings.IniFormat))
    s.soundfont = "/x/y.sf2"
    s.block_size = 512
    s.midi_input = "Keystation"
    for i in range(12):
        s.add_recent(str(tmp_path / f"f{i}.dcproj"))
    s.sync()
    t = AppSettings(QSettings(str(tmp_path / "s.ini"), QSettings.IniFormat))
    assert (t.soundfont, t.block_size, t.midi_input) == ("/x/y.sf2", 512, "Keystation")
    assert len(t.recent_files()) == 10 and t.recent_files()[0].endswith("f11.dcproj")


def test_window_layout_is_remembered(make_window, settings):
    w = make_window()
    w.resize(701, 575)         # the offscreen screen is small: stay inside it
    height = w.size().height()   # (the layout minimum may hold either side above what was asked)
    w.close()
    assert settings.geometry() is not None
    w2 = make_window(show=False)
    assert w2.size().height() == height != 860   # not the default size


def test_new_project_is_empty_clean_and_titled(window, qtbot):
    window.new_project()                                  # clean document: no question asked
    assert [t.name for t in window.song.tracks] == ["Melody"] and window.song.note_count == 0
    assert window.doc.undo_stack.count() == 0 and not window.isWindowModified()
    assert window.windowTitle().startswith("Untitled")
    qtbot.mouseClick(window.tracks.add_button, Qt.LeftButton)
    assert window.isWindowModified()


def test_an_imported_pedal_and_bends_survive_editing_saving_and_export(window, tmp_path, make_window):
    from deepcomposer_desktop.core.song import PITCH_BEND, Control, Note
    controls = (Control(0, 64, 127), Control(480, PITCH_BEND, 2000), Control(960, PITCH_BEND, 0),
                Control(1920, 64, 0))
    src_song = window.song.with_tracks((window.song.tracks[0].with_notes((Note.make(60, 0, 240),))
                                        .with_controls(controls),))
    src = tmp_path / "pedal.mid"
    write_midi(src_song, src)
    assert window.open_path(str(src), ask_melody=False)
    assert window.song.tracks[0].controls == controls
    assert "sustain pedal (2), pitch bend (2)" in window.tracks.rows[0].toolTip()
    window.tracks.rows[0].dup_btn.click()                 # a duplicate carries them too
    assert [t.controls for t in window.song.tracks] == [controls, controls]
    window.doc.undo_stack.undo()
    path = tmp_path / "pedal.dcproj"
    assert window.save_to(path)
    w2 = make_window()
    assert w2.open_path(str(path)) and w2.song.tracks[0].controls == controls
    out = tmp_path / "out.mid"
    assert w2.export_midi(str(out))
    assert read_midi(out).tracks[0].controls == controls


def test_a_damaged_or_empty_midi_file_is_refused_with_a_message(window, tmp_path):
    import mido
    garbage = tmp_path / "garbage.mid"
    garbage.write_bytes(b"hello, not a midi file")
    truncated = tmp_path / "truncated.mid"
    truncated.write_bytes(b"MThd\x00\x00\x00\x06\x00\x01\x00\x01\x01\xe0MTrk\x00\x00\x00\x10\x00\x90")
    empty = tmp_path / "empty.mid"
    mf = mido.MidiFile()
    mf.tracks.append(mido.MidiTrack([mido.Message("control_change", control=64, value=127)]))
    mf.save(empty)
    before = window.song
    for bad in (garbage, truncated, empty):
        assert window.open_path(str(bad), ask_melody=True) is False
        assert window.song is before
        assert "Cannot import the MIDI file" in window.statusBar().currentMessage()


def test_the_snap_grid_stays_the_one_the_snap_box_names_across_songs_of_other_ppq(window, tmp_path):
    from deepcomposer_desktop.core.song import Note, Song, Track
    window.transport.snap.setCurrentText("1/8 triplet")
    assert window.piano_roll.snap == 160
    src = tmp_path / "ppq1024.mid"
    write_midi(Song(tracks=(Track("Tune", notes=(Note.make(60, 0, 1024),)),), ppq=1024), src)
    assert window.open_path(str(src), ask_melody=False) and window.song.ppq == 1024
    assert window.piano_roll.snap == 1024 // 3
    window.new_project()                                   # back at 480: 160 again (a rescale gave 159)
    assert window.song.ppq == 480 and window.piano_roll.snap == 160


def test_export_midi_says_its_muted_tracks_play_in_the_file(window, tmp_path, qtbot):
    # a MIDI file cannot mark a track muted: the muted track is written as an ordinary one, and the status says so
    from dataclasses import replace
    melody = window.song.melody
    window.doc.apply(window.song.with_tracks((melody, replace(melody, name="Take 2"), replace(melody, name="T3"))),
                     "takes")
    assert window.export_midi(str(tmp_path / "plain.mid"))
    assert window.statusBar().currentMessage() == f"Exported {tmp_path / 'plain.mid'}"
    qtbot.mouseClick(window.tracks.rows[1].mute_btn, Qt.LeftButton)
    assert window.song.tracks[1].mute and window.export_midi(str(tmp_path / "muted.mid"))
    assert window.statusBar().currentMessage() == (
        f"Exported {tmp_path / 'muted.mid'}; 1 muted track written as an ordinary track that plays (a MIDI file "
        "cannot mark a track muted): mute it in your DAW")
    assert [t.name for t in read_midi(tmp_path / "muted.mid").tracks] == ["Melody", "Take 2", "T3"]
    window.doc.apply(window.song.replace_track(2, replace(window.song.tracks[2], solo=True)), "solo")
    assert window.export_midi(str(tmp_path / "solo.mid"))
    assert "; 2 tracks muted or left out by a solo written as ordinary tracks that play (" in \
        window.statusBar().currentMessage()


def test_export_midi_says_when_drum_tracks_of_different_levels_share_channel_10(window, tmp_path):
    from dataclasses import replace

    from deepcomposer_desktop.core.song import Note, Track
    drums = Track("Drums", 0, is_drum=True, channel=9, notes=(Note.make(36, 0, 240),))
    window.doc.apply(window.song.with_tracks(window.song.tracks + (drums, replace(drums, name="Band drums"))), "x")
    assert window.export_midi(str(tmp_path / "same.mid"))
    assert "drum tracks" not in window.statusBar().currentMessage()          # the same level: nothing to say
    window.edit_track(len(window.song.tracks) - 1, "volume", 40)
    assert window.export_midi(str(tmp_path / "two.mid"))
    assert "2 drum tracks share MIDI channel 10" in window.statusBar().currentMessage()


def _wait_export(w, qtbot):
    done = []
    w.done.connect(lambda: done.append(1))
    qtbot.waitUntil(lambda: bool(done), timeout=60_000)


def test_export_wav_refuses_a_song_where_nothing_would_sound_and_shows_a_failure(window, tmp_path, qtbot,
                                                                                  monkeypatch):
    import pytest
    from dataclasses import replace

    from deepcomposer_desktop.core.song import Song, Track
    pytest.importorskip("deepcomposer_desktop.audio.render")
    errors = []
    monkeypatch.setattr(window, "show_error", lambda title, msg: errors.append((title, msg)) or False)
    song = window.song
    window.doc.load(song.with_tracks(tuple(replace(t, mute=True) for t in song.tracks)))
    assert window.export_wav(str(tmp_path / "muted.wav")) is None and window.export_dry_wav(str(tmp_path)) is None
    assert errors == [("Nothing to export", "No track would sound: unmute a track that has notes.")] * 2
    window.doc.load(Song(tracks=(Track("Melody"),)))
    assert window.export_wav(str(tmp_path / "empty.wav")) is None
    assert errors[-1] == ("Nothing to export", "The song has no notes yet.")
    assert not list(tmp_path.glob("*.wav"))
    # a failed export says so in the status bar, in place of its progress
    window.doc.load(song.with_tracks((song.melody.with_notes(song.melody.notes[:2]),)))
    w = window.export_wav(str(tmp_path / "no such folder" / "x.wav"))
    _wait_export(w, qtbot)
    if "Cannot write" not in w.error:
        pytest.skip(f"rendering unavailable here: {w.error}")
    assert errors[-1][0] == "Could not export WAV"
    assert window.statusBar().currentMessage().startswith("Could not export WAV: Cannot write")


def test_export_wav_says_when_the_mix_is_scaled_down_so_as_not_to_clip(window, tmp_path, qtbot):
    import pytest
    pytest.importorskip("deepcomposer_desktop.audio.render")
    from tests.audio.test_stems import loud_band
    # the window's deferred start-up (MIDI input, 450 ms after showing) says its own status: let it have said it
    qtbot.waitUntil(lambda: window.midi is not None, timeout=10_000)
    window.doc.load(loud_band())
    w = window.export_wav(str(tmp_path / "loud.wav"))
    _wait_export(w, qtbot)
    if w.error:
        pytest.skip(f"rendering unavailable here: {w.error}")
    said = window.statusBar().currentMessage()
    assert said.startswith(f"Exported {tmp_path / 'loud.wav'}, scaled down ") and "so that it does not clip" in said
    assert "lower them" in said
    from dataclasses import replace
    window.doc.load(loud_band().with_tracks((replace(loud_band().tracks[0], volume=30),)))
    w = window.export_wav(str(tmp_path / "one.wav"))
    _wait_export(w, qtbot)
    assert window.statusBar().currentMessage() == f"Exported {tmp_path / 'one.wav'}"
