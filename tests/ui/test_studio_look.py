"""What the musician sees in the studio style: dimmed disabled controls, spin-box arrows, check and radio marks,
transport icons and tooltips, a readout that fits, and side docks that give way to the roll on a small window."""
from __future__ import annotations

from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDockWidget, QLineEdit, QListWidget, QListWidgetItem,
                               QPushButton, QRadioButton, QSpinBox, QStyle, QStyleOptionButton,
                               QStyleOptionSpinBox, QToolButton, QVBoxLayout, QWidget)

from deepcomposer_desktop.core.song import Song
from deepcomposer_desktop.ui.style import DARK_STYLE
from deepcomposer_desktop.ui.transport import position_text


def styled(qtbot, *widgets) -> QWidget:
    root = QWidget()
    root.setStyleSheet(DARK_STYLE)
    lay = QVBoxLayout(root)
    for w in widgets:
        lay.addWidget(w)
    qtbot.addWidget(root)
    root.resize(240, 40 * len(widgets))
    root.show()
    qtbot.waitExposed(root)
    return root


def mean_rgb(img: QImage, rect: QRect | None = None) -> tuple[float, float, float]:
    rect = rect or img.rect()
    px = [img.pixelColor(x, y) for x in range(rect.left(), rect.right() + 1)
          for y in range(rect.top(), rect.bottom() + 1)]
    return tuple(sum(getattr(c, k)() for c in px) / len(px) for k in ("red", "green", "blue"))


def brightest(img: QImage, rect: QRect) -> int:
    return max(img.pixelColor(x, y).lightness() for x in range(rect.left(), rect.right() + 1)
               for y in range(rect.top(), rect.bottom() + 1))


def test_disabled_controls_look_dimmed(qtbot):
    combo = QComboBox()
    combo.addItem("Nucleus (top-p)")
    widgets = [QPushButton("Train"), QToolButton(text="Tool"), QLineEdit("text"), QSpinBox(), combo]
    root = styled(qtbot, *widgets)
    for w in widgets:
        w.setEnabled(True)
        enabled = mean_rgb(w.grab().toImage())
        w.setEnabled(False)
        disabled = mean_rgb(w.grab().toImage())
        assert enabled != disabled, type(w).__name__
    lst = QListWidget()
    for name in ("1. Flute", "2. Drum Kit"):
        QListWidgetItem(name, lst)
    root2 = styled(qtbot, lst)
    item = lst.item(1)
    r1 = lst.visualItemRect(lst.item(0))
    r2 = lst.visualItemRect(item)
    item.setFlags(item.flags() & ~Qt.ItemIsEnabled)
    img = lst.viewport().grab().toImage()
    assert brightest(img, r2) < brightest(img, r1) - 40          # the disabled row's text is dim
    root.close(), root2.close()


def test_spin_box_step_buttons_show_their_arrows(qtbot):
    spin = QSpinBox()
    spin.setRange(0, 10)
    spin.setValue(5)
    root = styled(qtbot, spin)
    opt = QStyleOptionSpinBox()
    spin.initStyleOption(opt)
    img = spin.grab().toImage()
    for sub in (QStyle.SC_SpinBoxUp, QStyle.SC_SpinBoxDown):
        rect = spin.style().subControlRect(QStyle.CC_SpinBox, opt, sub, spin)
        assert brightest(img, rect.intersected(img.rect())) > 120          # a light arrow, not a blank button
    root.close()


def test_radio_and_check_marks_stand_out(qtbot):
    on, off, box = QRadioButton("Melody only"), QRadioButton("All tracks"), QCheckBox("replace")
    on.setChecked(True)
    box.setChecked(True)
    root = styled(qtbot, on, off, box)
    for w, element in ((on, QStyle.SE_RadioButtonIndicator), (off, QStyle.SE_RadioButtonIndicator),
                       (box, QStyle.SE_CheckBoxIndicator)):
        opt = QStyleOptionButton()
        w.initStyleOption(opt)
        rect = w.style().subElementRect(element, opt, w)
        img = w.grab().toImage()
        assert brightest(img, rect) > 140, w.text()                       # a light ring / box on the dark panel
        if w.isChecked():
            r, g, b = mean_rgb(img, rect)
            assert b > r + 40, w.text()                                    # filled blue when checked
    root.close()


def test_transport_buttons_are_icons_and_tooltips_name_the_real_shortcuts(window, qtbot):
    tr = window.transport
    for b in (tr.rewind_btn, tr.play_btn, tr.stop_btn, tr.loop_btn, tr.record_btn, tr.metro_btn):
        assert not b.icon().isNull(), b.text()
    def drawn():
        return tr.play_btn.icon().pixmap(20, 20).toImage()
    stopped = drawn()
    tr.show_playing(True)
    assert not tr.play_btn.icon().isNull() and drawn() != stopped         # pause, drawn (no font lacks it)
    assert tr.play_btn.text() == "Pause"
    tr.show_playing(False)
    assert drawn() == stopped and tr.play_btn.text() == "Play"
    actions = {a.text(): a for a in window.transport_menu.actions()}
    for text, button in (("&Record", tr.record_btn), ("&Loop", tr.loop_btn), ("&Play / pause", tr.play_btn),
                         ("&Rewind", tr.rewind_btn)):
        keys = actions[text].shortcut().toString()
        assert keys and f"({keys})" in button.toolTip(), (text, button.toolTip())


def test_position_readout_fits_a_long_song(window):
    song = Song()
    text = position_text(song, song.ppq * 4 * 998 + song.ppq * 3 + 479)      # bar 999
    label = window.transport.position
    assert label.minimumWidth() >= label.fontMetrics().horizontalAdvance(text) + 16


def test_side_docks_give_way_before_the_roll_on_a_small_window(window, qtbot):
    assert window.minimumSizeHint().width() <= 1080
    window.resize(1080, 600)
    qtbot.wait(20)
    docks = {d.objectName(): d for d in window.findChildren(QDockWidget)}
    tracks = docks["TracksDock"]
    assert tracks.width() < 300
    assert window.piano_roll.width() >= 0.46 * window.width()
