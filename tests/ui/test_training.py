"""Training studio window: plots receive points, folder scan with a melody fix, train / pause / resume / cancel."""
from __future__ import annotations

import math

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage

from deepcomposer_desktop.ui.training_plots import LinePlot, MetricsGrid
from tests.test_training_process import write_songs


def _colors(widget) -> set:
    img = widget.grab().toImage().convertToFormat(QImage.Format_RGB32)
    return {img.pixel(x, y) & 0xFFFFFF for x in range(0, img.width(), 2) for y in range(0, img.height(), 2)}


def test_line_plot_draws_its_points_and_reference_lines(qtbot):
    plot = LinePlot("losses")
    qtbot.addWidget(plot)
    plot.resize(300, 200)
    plot.add_series("critic", "#ff0000")
    plot.add_series("generator", "#0000ff")
    assert 0xFF0000 not in _colors(plot)
    for i in range(20):
        plot.add_point("critic", i, math.sin(i / 3))
    plot.add_point("critic", 21, float("nan"))                 # skipped, never breaks the scale
    plot.add_point("generator", 0, 0.2)
    assert plot.point_count("critic") == 20 and plot.point_count() == 21
    x0, x1, y0, y1 = plot.ranges()
    assert x0 == 0 and x1 == 19 and y0 < -0.9 and y1 > 0.9
    assert 0xFF0000 in _colors(plot)
    plot.set_reference("generator", 3.0)                      # a reference line widens the range
    assert plot.ranges()[3] > 3.0
    plot.clear()
    assert plot.point_count() == 0 and plot.ranges() is None
    assert 0xFF0000 not in _colors(plot)


def test_metrics_grid_takes_figures_and_the_real_values(qtbot):
    grid = MetricsGrid({"empty_bar_rate": "empty bars", "polyphony": "polyphony"})
    qtbot.addWidget(grid)
    grid.set_reference({"empty_bar_rate": 0.1, "polyphony": 2.5})
    grid.add_figures(10, {"empty_bar_rate": 0.5, "polyphony": 1.0, "other": 3})
    grid.add_figures(20, {"empty_bar_rate": 0.3, "polyphony": float("nan")})
    assert grid.plots["empty_bar_rate"].point_count("generated") == 2
    assert grid.plots["polyphony"].point_count("generated") == 1
    assert grid.plots["polyphony"].references == {"real": 2.5}


@pytest.fixture
def window(training_studio):
    return training_studio


def _scanned(qtbot, window, folder):
    window.set_folder(str(folder))
    qtbot.waitUntil(lambda: window.scan is not None and window.state == "idle", timeout=60000)


def test_folder_scan_shows_files_and_takes_a_melody_fix(qtbot, window, tmp_path):
    folder = write_songs(tmp_path / "my band", n=2)
    (folder / "notes.mid").write_bytes(b"not midi")
    _scanned(qtbot, window, folder)
    assert window.name_edit.text() == "my-band"
    assert "2 songs" in window.data.found.text() and "Bass" in window.data.found.text()
    rows = {window.data.files.item(r, 0).text(): r for r in range(window.data.files.rowCount())}
    assert set(rows) == {"song1.mid", "song2.mid", "notes.mid"}
    assert window.data.files.item(rows["notes.mid"], 2).text().startswith("skipped")
    combo = window.data.files.cellWidget(rows["song1.mid"], 1)
    assert combo.currentText().startswith("1. Lead") and combo.count() == 4
    assert window.train_btn.isEnabled()
    combo.setCurrentIndex(1)                                   # "the piano is the melody here"
    qtbot.waitUntil(lambda: window.scan.report["melody"].get("song1.mid") == "Piano" and window.state == "idle",
                    timeout=60000)
    assert window.overrides == {"song1.mid": 1}
    assert window.data.files.item(rows["song1.mid"], 2).text() == "melody fixed by you"
    assert window.spec().melody_overrides == {"song1.mid": 1}


def test_train_pause_resume_in_the_window(qtbot, window, tmp_path):
    from deepcomposer_desktop.core.song import Song
    from deepcomposer_desktop.ml.registry import list_models
    _scanned(qtbot, window, write_songs(tmp_path / "songs", n=3))
    window.name_edit.setText("ui-genre")
    window.preset.setCurrentIndex(window.preset.findData("tiny"))
    window.epochs.setValue(3)
    window.batch.setValue(4)
    window.ratio.setValue(1)
    window.every.setValue(50)                  # checkpoints: the first iteration, then the end
    qtbot.mouseClick(window.train_btn, Qt.LeftButton)
    assert window.state == "running" and window.pause_btn.isEnabled() and not window.train_btn.isEnabled()
    qtbot.waitUntil(lambda: window.sample_list.count() >= 1 or window.state != "running", timeout=300000)
    qtbot.mouseClick(window.pause_btn, Qt.LeftButton)
    qtbot.waitUntil(lambda: window.state != "running", timeout=300000)
    assert window.state == "paused", window.status.text()
    assert window.resume_btn.isEnabled() and not window.pause_btn.isEnabled()
    assert window.metrics.plots["in_scale_rate"].references.get("real") is not None
    # the app is closed and opened again: a new window offers the paused run and redraws its losses from the log
    from deepcomposer_desktop.training_process import logged_losses, paused_runs
    from deepcomposer_desktop.training_records import logged_checkpoints
    from deepcomposer_desktop.ui.training import TrainingWindow
    run = paused_runs()[0]
    window.shutdown()
    window = TrainingWindow()
    window.threads = 1
    qtbot.addWidget(window)
    assert window.resume_btn.isEnabled() and "'ui-genre' is paused" in window.status.text()
    ready = []
    window.model_ready.connect(ready.append)
    logged = len(logged_losses(run))
    kept = logged_checkpoints(run)
    qtbot.mouseClick(window.resume_btn, Qt.LeftButton)
    assert window.state == "running" and window.name_edit.text() == "ui-genre"
    assert window.loss_plot.point_count() == 3 * logged
    assert window.sample_list.count() == len(kept) >= 1                 # the samples before the restart are back
    assert window.metrics.plots["empty_bar_rate"].point_count("generated") == len(kept)
    try:
        qtbot.waitUntil(lambda: window.state != "running", timeout=300000)
    finally:
        window.shutdown()
    assert window.state == "done", (window.status.text(), window.log.toPlainText()[-2000:])
    assert ready == ["ui-genre"]
    assert "already have a genre 'ui-genre'" in window.name_note.text()
    assert window.loss_plot.point_count() >= 3                  # the final line at least: three losses
    assert window.metrics.plots["empty_bar_rate"].point_count("generated") >= 2
    assert "iteration" in window.explain.text() and "conductor" in window.explain.text()
    assert window.progress.value() == 1000
    assert ("gan", "ui-genre") in {(m.technique, m.name) for m in list_models()}
    with qtbot.waitSignal(window.sample_chosen) as chosen:
        item = window.sample_list.item(window.sample_list.count() - 1)
        rect = window.sample_list.visualItemRect(item)
        qtbot.mouseClick(window.sample_list.viewport(), Qt.LeftButton, pos=rect.center())
    song = chosen.args[0]
    assert isinstance(song, Song) and len(song.tracks) == 5 and song.tracks[0].notes


def _paused_run_on_disk(tmp_path, name="kept"):
    """A run folder as a pause leaves it, 4 epochs of 8 iterations: run.json, its data copy, resume file and log
    (two loss lines), and the checkpoints the child kept (iterations 1, 8, and 16 measured twice, the final fit)."""
    import json

    from deepcomposer_desktop.training_process import Checkpoint, TrainingSpec, runs_dir
    from deepcomposer_desktop.training_records import record_checkpoint
    from tests.builders import band_song
    run = runs_dir() / name
    run.mkdir(parents=True)
    spec = TrainingSpec(name=name, source=str(tmp_path / "moved away"), epochs=4, batch_size=4)
    (run / "run.json").write_text(json.dumps(spec.to_json()))
    for part in ("data.npz", f"gan-{name}.state", f"gan-{name}.pt"):
        (run / part).write_bytes(b"")
    (run / f"gan-{name}.log").write_text(
        "".join(f"it {it}/32 epoch {it / 8:.1f} wdist 0.{it}00 gp 0.010 adv 0.200 rec 0.3000 | 4.0 it/s, ETA 0m09s\n"
                for it in (6, 16)))
    samples = {}
    for it, final in ((1, False), (8, False), (16, False), (16, True)):
        song = band_song().replace(title=f"sample {it}{' final' if final else ''}")
        samples[it] = song
        record_checkpoint(run, Checkpoint(it, it / 8, str(run / f"gan-{name}.pt"),
                                          {"polyphony": it + final * 0.5, "empty_bar_rate": 0.5}, song, final))
    return run, samples


def test_a_resume_after_a_restart_brings_back_the_samples_and_metric_points(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("DEEPCOMPOSER_MODELS", str(tmp_path / "models"))
    from deepcomposer_desktop.core.song import Song
    from deepcomposer_desktop.training_process import TrainingJob
    from deepcomposer_desktop.ui.training import TrainingWindow
    run, samples = _paused_run_on_disk(tmp_path)
    started = []
    monkeypatch.setattr(TrainingJob, "_start", lambda job, resume: started.append((job.run_dir, resume)))
    window = TrainingWindow()                                 # the app was closed and opened again
    qtbot.addWidget(window)
    assert window.resume_btn.isEnabled() and window.sample_list.count() == 0
    qtbot.mouseClick(window.resume_btn, Qt.LeftButton)
    assert started == [(run, True)] and window.state == "running"
    assert window.loss_plot.point_count() == 3 * 2
    assert [window.sample_list.item(k).text() for k in range(window.sample_list.count())] == [
        "♪ Iteration 1 (epoch 1)", "♪ Iteration 8 (epoch 1)", "♪ Iteration 16 (epoch 2, final)"]
    assert window.metrics.plots["polyphony"].series["generated"] == [(1.0, 1.0), (8.0, 8.0), (16.0, 16.5)]
    assert window.metrics.plots["empty_bar_rate"].point_count("generated") == 3
    with qtbot.waitSignal(window.sample_chosen) as chosen:
        item = window.sample_list.item(2)
        qtbot.mouseClick(window.sample_list.viewport(), Qt.LeftButton,
                         pos=window.sample_list.visualItemRect(item).center())
    song = chosen.args[0]
    assert isinstance(song, Song) and song.title == "sample 16 final"
    assert [len(t.notes) for t in song.tracks] == [len(t.notes) for t in samples[16].tracks]
    window.shutdown()


def test_resuming_another_run_shows_that_runs_plots_and_samples(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("DEEPCOMPOSER_MODELS", str(tmp_path / "models"))
    from deepcomposer_desktop.training_process import TrainingJob
    from deepcomposer_desktop.training_records import CHECKPOINTS_FILE
    from deepcomposer_desktop.ui.training import TrainingWindow
    run_a, _ = _paused_run_on_disk(tmp_path, "run-a")
    run_b, _ = _paused_run_on_disk(tmp_path, "run-b")
    records = run_b / CHECKPOINTS_FILE                        # run-b kept one checkpoint only
    records.write_text(records.read_text().splitlines()[0] + "\n")
    started = []
    monkeypatch.setattr(TrainingJob, "_start", lambda job, resume: started.append((job.run_dir, resume)))
    window = TrainingWindow()
    qtbot.addWidget(window)
    window.name_edit.setText("run-a")
    window.resume()
    assert window.sample_list.count() == 3 and window.metrics.plots["polyphony"].point_count("generated") == 3
    window.name_edit.setText("run-b")                         # run-a paused again (its child never ran here)
    window.resume()
    assert started == [(run_a, True), (run_b, True)]
    assert window.sample_list.count() == 1 and window.samples and len(window.samples) == 1
    assert window.metrics.plots["polyphony"].series["generated"] == [(1.0, 1.0)]
    assert window.loss_plot.point_count() == 3 * 2            # run-b's own log, not run-a's points as well
    window.name_edit.setText("run-c")                         # no such paused run: said, nothing else resumed
    window.resume()
    assert started == [(run_a, True), (run_b, True)]
    assert "no paused training called 'run-c'" in window.status.text() and "'run-a'" in window.status.text()
    assert window.sample_list.count() == 1
    window.shutdown()


def test_cancel_in_the_window(qtbot, window, tmp_path):
    _scanned(qtbot, window, write_songs(tmp_path / "songs", n=2))
    window.name_edit.setText("dropped")
    window.preset.setCurrentIndex(window.preset.findData("tiny"))
    window.epochs.setValue(200)
    qtbot.mouseClick(window.train_btn, Qt.LeftButton)
    qtbot.mouseClick(window.cancel_btn, Qt.LeftButton)
    qtbot.waitUntil(lambda: window.state != "running", timeout=120000)
    assert window.state == "cancelled" and "cancelled" in window.status.text()
    assert not window.resume_btn.isEnabled() and window.train_btn.isEnabled()
    assert not (tmp_path / "models" / "gan-dropped.pt").exists()


def test_a_built_in_data_set_can_be_chosen(qtbot, window):
    if window.data.builtin.count() == 0:
        pytest.skip("no genre caches built here")
    assert not window.train_btn.isEnabled()                 # nothing chosen yet
    window.data.use_builtin.setChecked(True)
    assert "songs</b>" in window.data.found.text() and window.source().endswith(".npz")
    assert window.name_edit.text() == f"my-{window.data.builtin.currentText()}"
    assert window.train_btn.isEnabled()
    window.preset.setCurrentIndex(window.preset.findData("default"))
    assert window.lr.value() == pytest.approx(2e-4) and window.epochs.value() == 200
    if window.start_from.count() > 1:                       # start from an installed genre: its network size
        window.start_from.setCurrentIndex(1)
        assert not window.preset.isEnabled() and window.spec().init_from.endswith(".pt")
        assert window.spec().update_ratio == 0 and window.spec().batch_size == 8     # the quick recipe
        window._explain()
        assert "no conductor" in window.explain.text()
        window.start_from.setCurrentIndex(0)
        assert window.preset.isEnabled() and window.spec().init_from == ""
    window.data.use_folder.setChecked(True)                 # back to a folder that was never scanned
    assert window.source() == "" and not window.train_btn.isEnabled()


def test_opening_the_studio_does_not_load_torch():
    import subprocess
    import sys
    code = ("import sys; import deepcomposer_desktop.ui.training, deepcomposer_desktop.training_process, "
            "deepcomposer_desktop.model_files; print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "False", out.stderr[-2000:]


def test_a_folder_deleted_while_it_is_read_is_not_offered_for_training(qtbot, window, tmp_path, monkeypatch):
    import shutil

    from deepcomposer_desktop import training_data
    folder = write_songs(tmp_path / "gone", n=2)
    real_scan = training_data.scan_folder

    def scan_then_gone(*args, **kwargs):                    # the files were read, then the folder was deleted
        result = real_scan(*args, **kwargs)
        shutil.rmtree(folder)
        return result
    monkeypatch.setattr(training_data, "scan_folder", scan_then_gone)
    window.set_folder(str(folder))
    qtbot.waitUntil(lambda: window.state == "idle" and "Reading" not in window.data.found.text(), timeout=60000)
    assert "the folder is gone" in window.data.found.text()
    assert window.scan is None and not window.train_btn.isEnabled()
