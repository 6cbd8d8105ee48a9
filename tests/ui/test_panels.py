"""The studio window carries the Audition and Jam docks and the Training studio menu entry, wired for real."""
from __future__ import annotations

from PySide6.QtWidgets import QDockWidget


def test_audition_jam_and_training_are_part_of_the_studio(window, qtbot, monkeypatch, tmp_path):
    monkeypatch.setenv("DEEPCOMPOSER_MODELS", str(tmp_path / "models"))
    generate = window.findChild(QDockWidget, "TechniquesDock")
    tabbed = {d.objectName() for d in window.tabifiedDockWidgets(generate)}
    assert {"AuditionDock", "JamDock"} <= tabbed
    assert window.audition is not None and window.jam is not None
    # notes from the on-screen keyboard reach a running jam session (it collects what the user plays)
    class Session:
        def __init__(self):
            self.heard = []

        def note_on(self, pitch, velocity, tick):
            self.heard.append((pitch, velocity))

        def note_off(self, pitch, tick):
            self.heard.append((pitch, 0))
    window.jam.session = Session()
    window.keyboard.note_on.emit(62, 90)
    window.keyboard.note_off.emit(62)
    assert window.jam.session.heard == [(62, 90), (62, 0)]
    window.jam.session = None
    # the Training studio opens from Models > Training studio… and is one window
    assert window.training_action.text().startswith("&Training studio")
    window.training_action.trigger()
    tw = window.training
    qtbot.waitExposed(tw)
    window.training_action.trigger()
    assert window.training is tw
    tw.shutdown()
