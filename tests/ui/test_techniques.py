"""Generate runs on a worker with progress and Cancel; a result arrives as ONE undo step."""
from __future__ import annotations

import threading
import time

import pytest
from PySide6.QtCore import Qt

from deepcomposer_desktop import workers
from deepcomposer_desktop.core.song import Note, Track
from deepcomposer_desktop.ml.common import check_stop


def test_worker_reports_progress_and_result_on_the_gui_thread(qtbot):
    seen = []

    def job(x, progress=None, should_stop=None):
        for i in range(3):
            progress(i / 3, f"step {i}")
        return x * 2, threading.current_thread() is threading.main_thread()

    w = workers.Worker(job, {"x": 21})
    w.progressed.connect(lambda f, m: seen.append((m, threading.current_thread() is threading.main_thread())))
    with qtbot.waitSignal(w.succeeded, timeout=10_000) as sig:
        w.start()
    w.wait()
    assert sig.args[0] == (42, False)               # ran off the GUI thread
    assert [m for m, _ in seen] == ["step 0", "step 1", "step 2"] and all(gui for _, gui in seen)


def test_worker_cancel_and_errors(qtbot):
    def slow(progress=None, should_stop=None):
        while True:
            check_stop(should_stop)
            time.sleep(0.005)

    w = workers.Worker(slow)
    with qtbot.waitSignal(w.cancelled, timeout=10_000):
        w.start()
        w.cancel()
    w.wait()

    def broken(progress=None, should_stop=None):
        raise ValueError("the melody is empty")
    w2 = workers.Worker(broken)
    with qtbot.waitSignal(w2.failed, timeout=10_000) as sig:
        w2.start()
    w2.wait()
    assert sig.args == ["the melody is empty"]


def fake_gan(technique, song, progress=None, should_stop=None, **options):
    """Stands in for ml.gan.generate.accompany (input tracks unchanged + 4 new ones per take)."""
    assert technique == "gan" and options["genre"] == "pop"
    takes = []
    for k in range(options["takes"]):
        progress((k + 1) / options["takes"], f"take {k + 1}")
        new = tuple(Track(name=n, program=p, notes=(Note.make(48 + k, 0, 480),))
                    for n, p in (("Piano", 0), ("Guitar", 24), ("Bass", 33), ("Strings", 48)))
        takes.append(song.with_tracks(song.tracks + new))
    return takes


def test_generate_merges_as_one_undo_step_and_takes_can_be_switched(window, monkeypatch, qtbot):
    monkeypatch.setattr(workers, "run_technique", fake_gan)
    panel = window.techniques
    panel.set_availability({"gan": {"available": True, "genres": ["pop", "rock"]},
                            "arcnn": {"available": False, "problem": "no model"}, "transformer": {}})
    assert panel.generate_btn.isEnabled()
    panel.gan_takes.setValue(2)
    before, steps = window.song, window.doc.undo_stack.count()
    qtbot.mouseClick(panel.generate_btn, Qt.LeftButton)
    assert panel.cancel_btn.isEnabled()
    qtbot.waitUntil(lambda: not panel.cancel_btn.isEnabled(), timeout=10_000)
    assert len(window.song.tracks) == len(before.tracks) + 4
    assert window.doc.undo_stack.count() == steps + 1
    assert len(window.tracks.rows) == len(window.song.tracks)
    assert panel.take_box.isVisibleTo(panel) and panel.take_box.count() == 2
    panel.take_box.activated.emit(1)
    assert window.song.tracks[-1].notes[0].pitch == 49
    window.doc.undo_stack.undo()
    window.doc.undo_stack.undo()
    assert window.song == before


def test_an_enhanced_melody_plays_in_the_original_s_place(window, monkeypatch, qtbot):
    from dataclasses import replace

    def fake_arcnn(technique, song, track_index, progress=None, should_stop=None, **options):
        """Stands in for ml.arcnn.generate.enhance: a new track, the melody less its first note."""
        melody = song.tracks[track_index]
        return replace(melody, name=melody.name + " (enhanced)", notes=melody.notes[1:])
    monkeypatch.setattr(workers, "run_technique", fake_arcnn)
    panel = window.techniques
    panel.set_availability({"gan": {}, "arcnn": {"available": True}, "transformer": {}})
    panel.tabs.setCurrentIndex(1)
    before = window.song
    qtbot.mouseClick(panel.generate_btn, Qt.LeftButton)
    qtbot.waitUntil(lambda: len(window.song.tracks) == len(before.tracks) + 1, timeout=10_000)
    melody = before.melody_index
    assert window.song.tracks[melody].mute and not window.song.tracks[-1].mute        # you hear the new one
    assert "muted so that you hear the enhanced melody" in window.statusBar().currentMessage()
    window.doc.undo_stack.undo()
    assert window.song == before


def test_generate_again_replaces_the_last_result_with_new_takes(window, monkeypatch, qtbot):
    seen = []

    def seeded_gan(technique, song, progress=None, should_stop=None, **options):
        seen.append((len(song.tracks), options["seed"]))
        out = fake_gan(technique, song, progress, should_stop, **options)
        return [t.with_tracks(t.tracks[:len(song.tracks)] + tuple(
            x.with_notes([Note.make(40 + options["seed"], 0, 480)]) for x in t.tracks[len(song.tracks):]))
            for t in out]
    monkeypatch.setattr(workers, "run_technique", seeded_gan)
    panel = window.techniques
    panel.set_availability({"gan": {"available": True, "genres": ["pop"]}})
    panel.tabs.setCurrentIndex(0)
    before, steps = window.song, window.doc.undo_stack.count()

    def generate():
        qtbot.mouseClick(panel.generate_btn, Qt.LeftButton)
        qtbot.waitUntil(lambda: not panel.cancel_btn.isEnabled(), timeout=10_000)
    generate()
    first = window.song
    window.edit_track(len(before.tracks), "volume", 70)             # a mixer change on the band keeps it a result
    generate()
    assert seen == [(len(before.tracks), 0), (len(before.tracks), 1)]    # the song before the band; a new seed
    assert len(window.song.tracks) == len(before.tracks) + 4                # in place of the first band, not beside
    assert window.song.tracks[-1].notes[0].pitch == 41 and window.song.tracks[len(before.tracks)].volume == 100
    assert "in place of the last result" in window.statusBar().currentMessage()
    window.doc.undo_stack.undo()
    assert window.song.tracks[-1].notes == first.tracks[-1].notes
    window.doc.undo_stack.redo()
    window.doc.apply(window.song.replace_track(0, window.song.tracks[0].with_notes(())), "edit")   # edited since
    generate()
    assert len(window.song.tracks) == len(before.tracks) + 8 and seen[-1] == (len(before.tracks) + 4, 2)
    assert window.doc.undo_stack.count() == steps + 5


def test_cancel_leaves_the_song_alone(window, monkeypatch, qtbot):
    started = threading.Event()

    def endless(technique, song, progress=None, should_stop=None, **options):
        started.set()
        while True:
            check_stop(should_stop)
            time.sleep(0.005)
    monkeypatch.setattr(workers, "run_technique", endless)
    panel = window.techniques
    panel.set_availability({"transformer": {"available": True}})
    panel.tabs.setCurrentIndex(2)
    before = window.song
    qtbot.mouseClick(panel.generate_btn, Qt.LeftButton)
    assert started.wait(5)
    qtbot.mouseClick(panel.cancel_btn, Qt.LeftButton)
    qtbot.waitUntil(lambda: not panel.cancel_btn.isEnabled(), timeout=10_000)
    assert window.song is before and panel.message() == "Cancelled"


def test_missing_techniques_say_not_available(window):
    panel = window.techniques
    panel.set_availability({"gan": {"available": False, "problem": "not available yet (its module is missing)"}})
    panel.tabs.setCurrentIndex(0)
    assert "Not available" in panel.status["gan"].text() and panel.tabs.tabText(0).endswith("(n/a)")
    assert not panel.generate_btn.isEnabled()


def test_technique_options_match_the_generate_signatures(window):
    import inspect
    p = window.techniques
    for tech, modname in workers.TECHNIQUE_MODULES.items():
        mod = pytest.importorskip(modname)
        params = inspect.signature(getattr(mod, workers.TECHNIQUE_FUNCS[tech])).parameters
        extra = set(p.options(tech)) - set(params)
        assert not extra, f"{tech}: the panel sends {extra} that {modname} does not take"


def test_the_ar_cnn_knobs_reach_the_chorale_texture_setting_and_say_they_count_cells(window):
    p = window.techniques
    p.k_add.dial.setValue(300)                     # the README's "add 300 %, 400 iterations" for a chorale texture
    p.k_iter.dial.setValue(400)
    opts = p.options("arcnn")
    assert (opts["max_add_pct"], opts["iterations"]) == (300.0, 400)
    assert "sixteenth-note cells" in p.k_add.dial.toolTip() and "sixteenth-note cells" in p.k_remove.dial.toolTip()


def gated_gan(gate: threading.Event):
    """fake_gan that waits for ``gate``: the test edits the song while the "model" works."""
    def run(technique, song, progress=None, should_stop=None, **options):
        while not gate.wait(0.01):
            check_stop(should_stop)
        return fake_gan(technique, song, progress, should_stop, **options)
    return run


def _generate_while(window, monkeypatch, qtbot, meanwhile, takes=1):
    gate = threading.Event()
    monkeypatch.setattr(workers, "run_technique", gated_gan(gate))
    panel = window.techniques
    panel.set_availability({"gan": {"available": True, "genres": ["pop"]}})
    panel.tabs.setCurrentIndex(0)
    panel.gan_takes.setValue(takes)
    qtbot.mouseClick(panel.generate_btn, Qt.LeftButton)
    meanwhile()
    gate.set()
    qtbot.waitUntil(lambda: not panel.cancel_btn.isEnabled(), timeout=10_000)
    return panel.message()


def test_a_result_never_lands_on_another_or_an_edited_song(window, monkeypatch, qtbot, tmp_path):
    other = tmp_path / "other.dcproj"
    window.open_path("greensleeves")
    assert window.save_to(other)
    window.open_path("ode_to_joy")
    message = _generate_while(window, monkeypatch, qtbot, lambda: window.open_path(str(other)))
    assert "another song was opened" in message
    assert window.project_path == other and len(window.song.tracks) == 1      # the other project, untouched
    melody = window.song.melody
    before = window.song.replace_track(0, melody.with_notes(melody.notes[1:]))
    message = _generate_while(window, monkeypatch, qtbot,
                              lambda: window.notes_edited(0, melody.notes[1:], "Delete note"))
    assert "edited while the model worked" in message and window.song == before


def test_mixer_changes_made_while_generating_are_kept(window, monkeypatch, qtbot):
    window.open_path("ode_to_joy")
    n = len(window.song.tracks)
    _generate_while(window, monkeypatch, qtbot, lambda: window.tracks.rows[0].mute_btn.click(), takes=2)
    assert len(window.song.tracks) == n + 4 and window.song.tracks[0].mute
    # listening to the takes: a mute or a volume set on a take stays when another take is picked...
    window.tracks.rows[n].mute_btn.click()
    window.techniques.take_box.activated.emit(1)
    assert window.song.tracks[-1].notes[0].pitch == 49
    assert window.song.tracks[0].mute and window.song.tracks[n].mute
    # ...but after an edit of the music the takes are stale: picking one does nothing but say so
    window.track_action(len(window.song.tracks) - 1, "delete")
    edited = window.song
    window.techniques.take_box.activated.emit(0)
    assert window.song is edited and not window.techniques.take_box.isVisibleTo(window.techniques)
    assert "generate again" in window.statusBar().currentMessage()


def test_a_new_project_forgets_the_last_takes(window, monkeypatch, qtbot):
    window.open_path("ode_to_joy")
    _generate_while(window, monkeypatch, qtbot, lambda: None, takes=2)
    assert window.techniques.take_box.count() == 2
    window.doc.undo_stack.setClean()
    window.new_project()
    assert not window.techniques.take_box.isVisibleTo(window.techniques)
    window.techniques.take_box.activated.emit(1)
    assert window.song.note_count == 0 and len(window.song.tracks) == 1


def test_a_continuation_without_notes_says_so_and_changes_nothing(window, monkeypatch, qtbot):
    monkeypatch.setattr(workers, "run_technique", lambda technique, song, **kw: [song])   # the model stopped at once
    panel = window.techniques
    panel.set_availability({"transformer": {"available": True}})
    panel.tabs.setCurrentIndex(2)
    before, steps = window.song, window.doc.undo_stack.count()
    qtbot.mouseClick(panel.generate_btn, Qt.LeftButton)
    qtbot.waitUntil(lambda: not panel.cancel_btn.isEnabled(), timeout=10_000)
    assert window.song is before and window.doc.undo_stack.count() == steps
    assert "added no notes" in panel.message()


def test_the_result_is_shown_whole_under_the_bar_and_the_idle_bar_is_hidden(qtbot):
    from deepcomposer_desktop.ui.techniques import TechniquesPanel
    panel = TechniquesPanel()
    qtbot.addWidget(panel)
    panel.resize(290, 600)
    panel.show()
    assert not panel.progress.isVisible() and not panel.message_label.isVisible()      # no empty "text field"
    panel.set_busy(True, "Starting…")
    panel.set_progress(0.42, "window 1 of 3")
    assert panel.progress.isVisible() and panel.progress.text() == "42%" and panel.message() == "window 1 of 3"
    done = "Done: 3 takes of jazz added as one undo step (Undo brings the song back); pick one in the Take box"
    panel.set_busy(False, done)
    qtbot.wait(10)
    label = panel.message_label
    assert not panel.progress.isVisible() and label.isVisible() and panel.message() == done
    assert label.wordWrap() and label.geometry().right() < panel.width()
    assert label.height() >= label.heightForWidth(label.width())                        # every line of it shows


def test_every_generation_setting_explains_itself_in_a_line(qtbot):
    from PySide6.QtWidgets import QLabel

    from deepcomposer_desktop.ui.techniques import TechniquesPanel
    panel = TechniquesPanel()
    qtbot.addWidget(panel)
    for box in (panel.tf_context, panel.tf_sampling, panel.tf_top_p, panel.tf_top_k, panel.tf_temp, panel.tf_seed,
                panel.tf_takes, panel.tf_seconds, panel.gan_takes, panel.gan_seed, panel.arcnn_seed):
        assert box.toolTip() and "\n" not in box.toolTip()
    named = [lab for lab in panel.findChildren(QLabel) if lab.text() in
             ("Context", "Sampling", "Top-p", "Top-k", "Temperature", "Seed", "Takes")]
    assert len(named) == 11 and all(lab.toolTip() for lab in named)      # hovering the name helps as well


def test_the_probe_lists_the_techniques_and_says_when_torch_is_missing(monkeypatch):
    import importlib.util

    from deepcomposer_desktop.workers import TECHNIQUE_MODULES, probe_techniques
    found = probe_techniques()
    assert set(found) == set(TECHNIQUE_MODULES) and found["gan"]["available"]
    assert "rock" in found["gan"]["genres"]
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "torch" else real(name, *a))
    missing = probe_techniques()                  # an install without torch: said before anyone presses Generate
    assert set(missing) == set(TECHNIQUE_MODULES)
    assert all(not info["available"] and "PyTorch is not installed" in info["problem"] for info in missing.values())
