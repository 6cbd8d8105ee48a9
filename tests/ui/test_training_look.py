"""Training studio, what a musician reads: numbers that agree, plain loss names, readable plots and file rows."""
from __future__ import annotations

from PySide6.QtGui import QColor, QFontMetricsF, QImage

from deepcomposer_desktop.training_data import FileInfo, FolderScan
from deepcomposer_desktop.training_process import (Checkpoint, DataReady, LogLine, Losses, Progress,
                                                   TrainingSpec)
from deepcomposer_desktop.ui.training_data_panel import NAME_WIDTH, elide_name, track_label
from deepcomposer_desktop.ui.training_plots import LinePlot, _x_ticks

NAMES = [f"Tegridy-Children-Songs-{k:03d}-CC-BY-NC-SA.mid" for k in (2, 3, 7, 8, 10)]


def _running(studio, epochs=3, batch=4, ratio=1):
    """The studio as it is during a run of ``epochs`` epochs of 64 training pieces in batches of ``batch``."""
    studio._numbers = {"spec": TrainingSpec(name="qa", source="x", epochs=epochs, batch_size=batch,
                                            update_ratio=ratio)}
    studio.state = "running"
    studio.apply_event(DataReady(64, 5, 48, [], 2))


def _log(it, total, epoch, eta):
    return LogLine(f"[05:11:58] it {it}/{total} epoch {epoch} wdist -0.000 gp 0.971 adv 0.002 rec 0.8142 | "
                   f"0.8 it/s, ETA {eta}")


def test_epochs_eta_and_scores_agree_everywhere(training_studio):
    studio = training_studio
    _running(studio)                                           # 16 iterations an epoch, 48 in all
    studio.apply_event(Progress(1 / 48, "epoch 1, iteration 1", 1, 92.0))
    assert studio.eta.text() == "About 1 min 32 s left"        # before the log has an estimate
    studio.apply_event(Checkpoint(1, 0.1, "m.pt", {}, object()))
    assert studio.sample_list.item(0).text() == "♪ Iteration 1 (epoch 1)"
    studio.apply_event(_log(2, 48, 0.1, "0m56s"))
    studio.apply_event(Losses(2, 48, 0.1, -0.0001, 0.971, 0.002, 0.8142, 0.8))
    assert studio.eta.text() == "About 56 s left"              # the log's estimate, not a second one
    studio.apply_event(Progress(2 / 48, "epoch 1, iteration 2", 2, 92.0))
    assert studio.eta.text() == "About 56 s left"
    text = studio.explain.text()
    assert "iteration <b>2</b> of 48 (epoch 1 of 3)" in text
    assert "-0.000" not in text and "<b>0.000</b>" in text
    studio.apply_event(Checkpoint(16, 1.0, "m.pt", {}, object()))
    assert studio.sample_list.item(1).text() == "♪ Iteration 16 (epoch 1)"    # as the bar says at iteration 16
    studio.apply_event(_log(48, 48, 3.0, "0m00s"))
    studio.apply_event(Losses(48, 48, 3.0, 0.217, 0.937, 0.264, 0.779, 3.5))
    studio.apply_event(Progress(1.0, "epoch 3, iteration 48", 48, 0.0))
    assert "epoch 3, iteration 48" in studio.progress.format()
    assert "(epoch 3 of 3)" in studio.explain.text()
    assert studio.eta.text().startswith("All iterations done")   # not "0 s left" while the model is finished
    studio.apply_event(Checkpoint(48, 3.0, "m.pt", {}, object(), final=True))
    assert studio.sample_list.item(2).text() == "♪ Iteration 48 (epoch 3, final)"


def test_the_explanation_follows_the_update_ratio_field(training_studio):
    studio = training_studio
    studio.ratio.setValue(1)
    assert "practises <b>1</b> time " in studio.explain.text()
    studio.ratio.setValue(3)
    assert "practises <b>3</b> times" in studio.explain.text()
    studio.ratio.setValue(0)
    assert "no conductor" in studio.explain.text()


def test_the_loss_legend_uses_the_titles_words(training_studio):
    plot = training_studio.loss_plot
    assert "conductor" in plot.title and "orchestra" in plot.title
    assert all(name.split(":")[0] in ("conductor", "orchestra") for name in plot.series)
    assert not any(word in " ".join(plot.series) for word in ("critic", "generator", "adversarial"))
    assert all(term in plot.toolTip() for term in ("Wasserstein", "adversarial", "reconstruction"))
    _running(training_studio)
    training_studio.apply_event(Losses(20, 48, 1.2, 0.3, 0.9, 0.1, 0.7, 2.0))
    text = training_studio.explain.text()
    names = list(plot.series)
    assert names[0] in text and names[2] in text                # the explanation names the lines as the legend does
    assert "wdist" not in text and "real − generated" not in text


def _red_near(img: QImage, x: float, y: float, radius: int = 3) -> bool:
    for dx in range(-radius, radius + 1):
        for dy in range(-radius, radius + 1):
            c = QColor(img.pixel(int(x) + dx, int(y) + dy))
            if c.red() > 180 and c.green() < 90 and c.blue() < 90:
                return True
    return False


def test_the_legend_sits_above_the_plot_and_leaves_the_newest_points_visible(qtbot):
    for width in (300, 900):                                   # legend under the title, or on the title's line
        plot = LinePlot("Losses: the critic (conductor) and the generator (orchestra)")
        qtbot.addWidget(plot)
        plot.resize(width, 200)
        plot.add_series("conductor: real − orchestra", "#ff0000")
        plot.add_series("orchestra: how fake it sounds", "#0000ff")
        plot.add_series("orchestra: notes unlike the real parts", "#00ff00")
        boxes, top = plot.legend_layout()
        rect = plot.plot_rect()
        assert rect.top() == top and all(box.bottom() <= rect.top() and box.right() <= width for _, box in boxes)
        for x in range(1, 11):
            plot.add_point("conductor: real − orchestra", x, x)     # the newest point: the plot's top right
        img = plot.grab().toImage()
        near = plot.to_screen(9.8, 9.8, plot.ranges(), plot.plot_rect())
        assert _red_near(img, near.x(), near.y())


def test_iterations_are_whole_numbers_and_every_plot_starts_at_zero(training_studio):
    assert _x_ticks(0, 48, 5) == [0, 10, 20, 30, 40] and all(float(t).is_integer() for t in _x_ticks(0, 7, 6))
    assert _x_ticks(0, 3, 5) == [0, 1, 2, 3]                   # never "0.5" iterations
    studio = training_studio
    _running(studio)
    studio.apply_event(Losses(2, 48, 0.1, 0.0, 0.9, 0.0, 0.8, 0.8))
    studio.apply_event(Checkpoint(1, 0.1, "m.pt", {"polyphony": 2.0}))
    assert studio.loss_plot.ranges()[0] == studio.metrics.plots["polyphony"].ranges()[0] == 0


def test_the_waiting_text_is_readable(qtbot):
    plot = LinePlot("losses")
    qtbot.addWidget(plot)
    plot.resize(300, 160)
    img = plot.grab().toImage()
    base = plot.palette().base().color().lightness()
    r = plot.plot_rect()
    spread = max(abs(QColor(img.pixel(x, y)).lightness() - base)
                 for x in range(int(r.left()) + 2, int(r.right()) - 2) for y in range(int(r.center().y()) - 6,
                                                                                       int(r.center().y()) + 6))
    assert spread > 110


def test_melody_choices_name_the_track_once_with_its_notes():
    assert track_label("1. Tango Accordion (Tango Accordion, 242 notes)") == "1. Tango Accordion — 242 notes"
    assert track_label("2. Lead 1 (square) (Lead 1 (square), 9 notes)") == "2. Lead 1 (square) — 9 notes"
    assert track_label("3. Melody (Flute, 542 notes)") == "3. Melody (Flute) — 542 notes"
    assert track_label("odd") == "odd"


def test_file_rows_keep_what_tells_the_names_apart(training_studio, tmp_path):
    panel = training_studio.data
    panel.folder_edit.setText(str(tmp_path))
    report = {"songs": 5, "files": 5, "bars": 40, "windows": 10, "instruments": {}, "skipped": []}
    tracks = ("1. Tango Accordion (Tango Accordion, 242 notes)", "2. Bass (Fretless Bass, 80 notes)")
    panel._show_scan(FolderScan(str(tmp_path), [FileInfo(n, tracks, 0) for n in NAMES], report), rebuild=True)
    table = panel.files
    assert not table.wordWrap() and table.columnWidth(0) <= NAME_WIDTH
    assert [table.item(r, 0).toolTip() for r in range(5)] == NAMES
    fm = QFontMetricsF(table.font())
    shown = [elide_name(n, fm, table.columnWidth(0) - 10, panel.names.common) for n in NAMES]
    assert len(set(shown)) == 5 and all(f"-{k:03d}-" in s for k, s in zip((2, 3, 7, 8, 10), shown))
    assert all(fm.horizontalAdvance(s) <= table.columnWidth(0) - 10 for s in shown)
    combo = table.cellWidget(0, 1)
    assert combo.currentText() == "1. Tango Accordion — 242 notes" and combo.itemData(0, 3) == tracks[0]


def test_metric_plots_end_where_the_losses_do_and_axis_labels_differ(training_studio):
    from deepcomposer_desktop.ui.training_plots import _fmt
    studio = training_studio
    _running(studio)
    studio.apply_event(Checkpoint(26, 1.0, "m.pt", {"polyphony": 2.0}))
    studio.apply_event(Losses(51, 78, 2.0, 0.27, 0.9, 0.3, 0.77, 4.5))
    assert studio.metrics.plots["polyphony"].ranges()[:2] == studio.loss_plot.ranges()[:2] == (0, 51)
    assert len({_fmt(v, 0.009) for v in (0.371, 0.3755, 0.38)}) == 3 and _fmt(-0.00001, 0.5) == "0.00"
