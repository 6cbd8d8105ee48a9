"""More of the studio: loop, keys lit by playback, WAV export, settings dialog, melody chooser, big-file import on
a worker, and one real generation (Transformer) through the Generate button."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt

from deepcomposer_desktop.core.song import Note, Song, Track
from deepcomposer_desktop.midi.io import write_midi


def test_loop_range_from_the_roll_reaches_the_engine(window, spy_engine, qtbot):
    window.piano_roll.loop_changed.emit(0, 1920)
    assert ((None, None), {}) in spy_engine.named("set_loop") or not spy_engine.named("set_loop")[-1][0][0]
    qtbot.mouseClick(window.transport.loop_btn, Qt.LeftButton)
    assert spy_engine.named("set_loop")[-1][0] == (0, 1920)
    qtbot.mouseClick(window.transport.loop_btn, Qt.LeftButton)
    assert spy_engine.named("set_loop")[-1][0] == (None, None)


def test_playback_lights_the_keys_it_sounds(window, spy_engine, qtbot):
    first = window.song.melody.notes[0]
    spy_engine.forced_position = first.start_tick + 10
    window.playback.play()
    qtbot.waitUntil(lambda: window.keyboard.is_lit(first.pitch), timeout=2000)
    window.playback.pause()
    qtbot.waitUntil(lambda: not window.keyboard.is_lit(first.pitch), timeout=2000)


def test_muted_tracks_do_not_light_keys(window):
    from deepcomposer_desktop.ui.keyboard import sounding_pitches
    song = Song(tracks=(Track(notes=(Note.make(60, 0, 480),)), Track(notes=(Note.make(64, 0, 480),), mute=True)))
    assert sounding_pitches(song, 100) == {60}
    assert sounding_pitches(song.replace_track(0, song.tracks[0].__class__(notes=(Note.make(60, 0, 480),),
                                                                           solo=True)), 100) == {60}


def test_export_wav_renders_off_the_gui_thread(window, tmp_path, qtbot):
    pytest.importorskip("deepcomposer_desktop.audio.render")
    out = tmp_path / "song.wav"
    window.doc.apply(window.song.with_tracks((window.song.melody.with_notes(window.song.melody.notes[:4]),)),
                     "shorten")
    w = window.export_wav(str(out))
    done = []
    w.done.connect(lambda: done.append(1))
    qtbot.waitUntil(lambda: bool(done), timeout=60_000)
    if w.error:
        pytest.skip(f"rendering unavailable here: {w.error}")
    data = out.read_bytes()
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE" and len(data) > 44_100


def test_export_dry_wav_leaves_out_the_effects(window, tmp_path, qtbot):
    pytest.importorskip("deepcomposer_desktop.audio.render")
    from deepcomposer_desktop.audio.render import read_wav
    window.doc.apply(window.song.with_tracks((window.song.melody.with_notes(window.song.melody.notes[:4]),)),
                     "shorten")
    got = {}
    for name, export in (("wet", window.export_wav), ("dry", window.export_dry_wav)):
        w = export(str(tmp_path / f"{name}.wav"))
        done = []
        w.done.connect(lambda: done.append(1))
        qtbot.waitUntil(lambda: bool(done), timeout=60_000)
        if w.error:
            pytest.skip(f"rendering unavailable here: {w.error}")
        got[name] = read_wav(tmp_path / f"{name}.wav")[0]
    m = min(len(got["wet"]), len(got["dry"]))
    assert m > 44_100 and not np.allclose(got["wet"][:m], got["dry"][:m], atol=1e-3)
    assert any(a.text().startswith("Export &dry WAV") for a in window.actions())


def test_export_stems_writes_one_file_per_audible_track(window, tmp_path, qtbot, monkeypatch):
    pytest.importorskip("deepcomposer_desktop.audio.render")
    from deepcomposer_desktop.audio.render import read_wav
    melody = window.song.melody.with_notes(window.song.melody.notes[:4])
    bass = Track(name="Bass", program=33, notes=(Note.make(36, 0, 960), Note.make(43, 960, 960)))
    muted = Track(name="Pad", program=89, mute=True, notes=(Note.make(60, 0, 1920),))
    window.doc.apply(window.song.with_tracks((melody, bass, muted)), "band")
    assert any(a.text().startswith("Export s&tems") for a in window.actions())
    folder = tmp_path / "stems"

    def export(**kw):
        w = window.export_stems(str(folder), **kw)
        done = []
        w.done.connect(lambda: done.append(1))
        qtbot.waitUntil(lambda: bool(done), timeout=60_000)
        if w.error:
            pytest.skip(f"rendering unavailable here: {w.error}")
        return w
    export()
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["01 Melody.wav", "02 Bass.wav"]                       # the muted pad gets no stem
    stems = [read_wav(folder / n)[0] for n in names]
    assert stems[0].shape == stems[1].shape and all(np.abs(s).max() > 1e-3 for s in stems)
    # files of those names exist: the window asks, and a "no" leaves them untouched
    asked = []
    monkeypatch.setattr(window, "confirm_replace", lambda f, n: asked.append(n) or False)
    (folder / "02 Bass.wav").write_bytes(b"keep me")
    assert window.export_stems(str(folder)) is None
    assert asked == [["01 Melody.wav", "02 Bass.wav"]] and (folder / "02 Bass.wav").read_bytes() == b"keep me"
    monkeypatch.setattr(window, "confirm_replace", lambda f, n: True)
    export(dry=True)
    assert (folder / "02 Bass.wav").read_bytes()[:4] == b"RIFF" and len(read_wav(folder / "02 Bass.wav")[0]) > 0
    from dataclasses import replace
    window.doc.apply(window.song.with_tracks(tuple(replace(t, mute=True) for t in window.song.tracks)), "mute all")
    assert window.export_stems(str(folder)) is None                    # nothing would sound: said, not exported
    assert "Nothing to export" in window.statusBar().currentMessage()


def test_settings_dialog_writes_settings_and_restarts_audio(window, settings, monkeypatch, qtbot):
    from deepcomposer_desktop.ui.settings import SettingsDialog
    dlg = SettingsDialog(settings, window)
    qtbot.addWidget(dlg)
    dlg.block.setCurrentIndex(dlg.block.findData(1024))
    import pretty_midi
    dlg.soundfont.setText(str(Path(pretty_midi.__file__).parent / "TimGM6mb.sf2"))
    dlg.accept()
    assert settings.block_size == 1024 and settings.soundfont.endswith("TimGM6mb.sf2")


def test_settings_keep_an_audio_device_that_is_unplugged_now(window, settings, qtbot):
    from deepcomposer_desktop.ui.settings import SettingsDialog
    settings.audio_device = "USB Audio CODEC"                # not plugged in here
    dlg = SettingsDialog(settings, window)
    qtbot.addWidget(dlg)
    assert dlg.device.currentText() == "USB Audio CODEC (not connected)"
    dlg.accept()                                            # OK without touching it: it used to become the default
    assert settings.audio_device == "USB Audio CODEC"


def test_melody_chooser_suggests_and_returns_a_track(qtbot):
    from deepcomposer_desktop.ui.dialogs import MelodyChooser
    song = Song(tracks=(Track(name="Bass", notes=(Note.make(36, 0, 480),)),
                        Track(name="Lead", notes=(Note.make(72, 0, 240),)),
                        Track(name="Drums", is_drum=True, channel=9, notes=(Note.make(36, 0, 60),))))
    dlg = MelodyChooser(song, 1)
    qtbot.addWidget(dlg)
    assert dlg.chosen() == 1 and "(suggested)" in dlg.list.item(1).text()
    assert not dlg.list.item(2).flags() & Qt.ItemIsEnabled            # drums cannot be the melody
    dlg.list.setCurrentRow(0)
    assert dlg.chosen() == 0


def test_big_midi_loads_on_a_worker(window, tmp_path, monkeypatch, qtbot):
    from deepcomposer_desktop.ui import files
    monkeypatch.setattr(files, "BIG_MIDI_BYTES", 10)
    notes = tuple(Note.make(60 + i % 12, i * 120, 100) for i in range(2000))
    path = tmp_path / "big.mid"
    write_midi(Song(tracks=(Track(name="Lead", notes=notes),)), path)
    assert window.open_path(str(path))
    qtbot.waitUntil(lambda: window.song.note_count == 2000, timeout=30_000)
    assert window.song.title == "big" and window.doc.undo_stack.isClean()


def test_a_big_midi_file_arriving_after_another_was_opened_is_dropped(window, tmp_path, monkeypatch, qtbot):
    from PySide6.QtWidgets import QMessageBox

    from deepcomposer_desktop.ui import files
    monkeypatch.setattr(files, "BIG_MIDI_BYTES", 10)
    path = tmp_path / "big.mid"
    write_midi(Song(tracks=(Track(name="Lead", notes=(Note.make(60, 0, 100),)),)), path)
    workers = []
    real = window.run_worker
    monkeypatch.setattr(window, "run_worker", lambda *a, **k: workers.append(real(*a, **k)) or workers[-1])
    assert window.open_path(str(path))
    assert window.open_path("ode_to_joy")                  # opened while the big file still loads
    window.doc.apply(window.song.with_tracks(window.song.tracks * 2), "an edit")
    edited = window.song
    qtbot.waitUntil(lambda: all(w.isFinished() for w in workers), timeout=30_000)
    qtbot.wait(50)
    assert window.song is edited and window.doc.undo_stack.canUndo()      # it used to replace both
    # nothing opened meanwhile but the song was edited: asked first; Cancel keeps the edit
    asked = []
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: asked.append(a[2]) or QMessageBox.Cancel)
    assert window.open_path(str(path))
    window.doc.apply(window.song.with_tracks(window.song.tracks * 2), "another edit")
    edited = window.song
    qtbot.waitUntil(lambda: bool(asked), timeout=30_000)
    assert "opening big.mid" in asked[0] and window.song is edited


@pytest.mark.slow
def test_real_transformer_extend_through_the_generate_button(window, qtbot):
    pytest.importorskip("deepcomposer_desktop.ml.transformer.generate")
    panel = window.techniques
    panel.set_availability({"transformer": {"available": True}})
    panel.tabs.setCurrentIndex(2)
    panel.tf_seconds.setValue(3.0)
    before, steps = window.song, window.doc.undo_stack.count()
    qtbot.mouseClick(panel.generate_btn, Qt.LeftButton)
    qtbot.waitUntil(lambda: not panel.cancel_btn.isEnabled(), timeout=120_000)
    assert panel.message().startswith("Done"), panel.message()
    assert window.doc.undo_stack.count() == steps + 1
    assert window.song.end_tick > before.end_tick
    assert window.song.melody.notes[:len(before.melody.notes)] == before.melody.notes
    window.doc.undo_stack.undo()
    assert window.song == before


def test_screenshot_cli_renders_the_window(qapp, tmp_path):
    from PySide6.QtGui import QImage
    from deepcomposer_desktop import app
    out = tmp_path / "shot.png"
    assert app.main(["--screenshot", str(out), "--open", "twinkle_twinkle", "--size", "1200x800"]) == 0
    img = QImage(str(out))
    assert (img.width(), img.height()) == (1200, 800)
    assert len({img.pixel(x, y) for x in range(0, 1200, 37) for y in range(0, 800, 29)}) > 20   # not blank
    assert app.main(["--screenshot", str(tmp_path / "x.png"), "--open", "no-such-file.mid"]) == 2


def test_the_window_starts_without_torch(tmp_path):
    """A fresh process builds and paints the main window; torch must not be imported on the way."""
    import os
    import subprocess
    import sys
    code = ("import os, sys; os.environ['QT_QPA_PLATFORM'] = 'offscreen'\n"
            "from deepcomposer_desktop import app\n"
            "app.preload(); a = app.make_app()\n"
            "from deepcomposer_desktop.ui.main_window import MainWindow\n"
            "w = MainWindow(start_audio=False, probe_models=False, midi_input=False, ask_on_close=False)\n"
            "w.show(); a.processEvents(); w.grab()\n"
            "print('TORCH', 'torch' in sys.modules, w.song.note_count)\n"
            "os._exit(0)\n")
    env = dict(os.environ, XDG_CONFIG_HOME=str(tmp_path), XDG_DATA_HOME=str(tmp_path), HOME=str(tmp_path))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    line = next(ln for ln in out.stdout.splitlines() if ln.startswith("TORCH"))
    _, torch_loaded, notes = line.split()
    assert torch_loaded == "False" and int(notes) > 10


def test_a_note_near_the_last_tick_can_be_zoomed_to_duplicated_and_nudged(window):
    from deepcomposer_desktop.core.song import MAX_TICK
    far = Note.make(64, MAX_TICK - 1000, 480)
    window.doc.load(Song(tracks=(Track("Lead", notes=(Note.make(60, 0, 480), far)),)))
    pr = window.piano_roll
    for _ in range(40):
        pr.zoom_x(1.25)                                     # OverflowError: the scroll range is a C int
    assert window.piano_roll.view.horizontalScrollBar().maximum() < 2**31
    pr.set_selection([1])
    pr.nudge_selected(2000)                                 # SongError out of the slot: clamped at the last tick
    assert [n.end_tick for n in window.song.tracks[0].notes] == [480, MAX_TICK]   # it ends there, not starts
    pr.set_selection([1])
    pr.duplicate_selected()                                 # no room after it: nothing happens
    assert len(window.song.tracks[0].notes) == 2


def test_a_project_without_tracks_shows_an_empty_roll(window, tmp_path):
    import json
    from deepcomposer_desktop.ui.project_io import save_project
    path = tmp_path / "none.dcproj"
    save_project(path, window.song)
    data = json.loads(path.read_text())
    data["tracks"] = []                                     # as a hand edit leaves it
    path.write_text(json.dumps(data))
    assert window.open_path(str(path)) and window.song.tracks == ()
    assert window.piano_roll.song is window.song and len(window.piano_roll.notes) == 0   # the old song stayed
    window.piano_roll.select_all()
    window.piano_roll.delete_selected()                     # IndexError in notes_edited
    assert window.song.tracks == ()


def test_a_name_typed_without_its_extension_asks_before_replacing(window, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QFileDialog, QMessageBox
    (tmp_path / "mysong.mid").write_bytes(b"my only copy")
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(tmp_path / "mysong"), ""))
    answers = [QMessageBox.No, QMessageBox.Yes]
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: answers.pop(0))
    assert not window.export_midi()                        # the dialog asked about "mysong", which did not exist
    assert (tmp_path / "mysong.mid").read_bytes() == b"my only copy"
    assert window.export_midi() and (tmp_path / "mysong.mid").read_bytes()[:4] == b"MThd"


def test_transport_stop_after_recording_loop_without_range_and_tempo_box(window, spy_engine, qtbot):
    from deepcomposer_desktop.core.song import TempoChange
    window.playback.seek(3840)
    spy_engine.forced_position = 3840
    window.transport.count_in.setCurrentIndex(0)
    qtbot.mouseClick(window.transport.record_btn, Qt.LeftButton)        # record from bar 3
    spy_engine.forced_position = 4200
    window.stop()
    assert spy_engine.named("seek")[-1][0][0] == 3840                  # back where it began, not bar 1
    window.loop_changed(None, None)
    window.transport.loop_btn.setChecked(True)                          # on, but no range set in the ruler
    assert not window.playback.looping
    window.doc.load(window.song.replace(tempos=(TempoChange(0, 100.0), TempoChange(3840, 400.0))))
    window.transport.tempo.setValue(500.0)                              # 400 x 5 would pass 1000 BPM
    assert [t.bpm for t in window.song.tempos] == [250.0, 1000.0] and window.transport.tempo.value() == 250.0
    window.transport.tempo.setValue(100.0)
    assert [t.bpm for t in window.song.tempos] == [100.0, 400.0]      # it came back as 100 / 200
    assert window.doc.undo_stack.undoText() == "Tempo 100 BPM"


def test_file_cancel_export_stops_a_wav_export_and_writes_nothing(window, tmp_path, qtbot):
    pytest.importorskip("deepcomposer_desktop.audio.render")
    long = Song(tracks=(Track("Organ", program=19, notes=(Note.make(60, 0, 480 * 2000),)),))     # 8 minutes
    window.doc.load(long)
    (tmp_path / "out").mkdir()
    out = tmp_path / "out" / "long.wav"
    assert not window.cancel_export_action.isEnabled()
    w = window.export_wav(str(out))
    cancelled, done = [], []
    w.cancelled.connect(lambda: cancelled.append(1))
    w.done.connect(lambda: done.append(1))
    assert window.cancel_export_action.isEnabled()
    window.cancel_export_action.trigger()
    qtbot.waitUntil(lambda: bool(done), timeout=60_000)
    if w.error:
        pytest.skip(f"rendering unavailable here: {w.error}")
    assert cancelled and not list((tmp_path / "out").iterdir())        # no WAV, no temporary file
    assert not window.cancel_export_action.isEnabled()
    assert "Export cancelled" in window.statusBar().currentMessage()
