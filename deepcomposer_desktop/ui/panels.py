"""Extra studio panels wired into the main window: Audition (genres side by side), Jam, and the Training view.

Kept apart from main_window.py so that each panel stays optional: a panel whose module fails to import is left
out with a status-bar note, and the studio still works. All of it runs on the GUI thread.
"""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget, QScrollArea


def add_dock(window, title: str, name: str, widget, area=Qt.RightDockWidgetArea, tab_with: QDockWidget | None = None,
             scroll: bool = False) -> QDockWidget:
    """A movable, floatable dock named ``name`` (for the saved layout); ``scroll`` wraps a wide panel so that it
    scrolls instead of forcing a wide window; ``tab_with`` tabs it with another dock."""
    dock = QDockWidget(title, window)
    dock.setObjectName(name)
    if scroll:
        area_widget = QScrollArea()
        area_widget.setWidgetResizable(True)
        area_widget.setFrameShape(QScrollArea.NoFrame)
        area_widget.setWidget(widget)
        widget = area_widget
    dock.setWidget(widget)
    dock.setFeatures(QDockWidget.DockWidgetMovable | QDockWidget.DockWidgetFloatable)
    window.addDockWidget(area, dock)
    if tab_with is not None:
        window.tabifyDockWidget(tab_with, dock)
    return dock


def install_training_menu(window) -> None:
    """Add "Models > Training studio…" (after the window's own menus exist)."""
    window.training = None
    try:
        from .training_menu import install_training
        install_training(window, refresh=lambda: refresh_genres(window))
    except Exception as exc:  # noqa: BLE001 - optional panel
        window.training = None
        window.statusBar().showMessage(f"The Training studio is not available: {exc}", 8000)


def install_panels(window, generate_dock: QDockWidget) -> None:
    """Add the Audition and Jam docks, tabbed with Generate."""
    window.audition = window.jam = window.training = None
    try:
        from .audition import AuditionPanel
        from .jam import JamPanel
    except Exception as exc:  # noqa: BLE001 - an optional panel must never stop the studio from opening
        window.statusBar().showMessage(f"Audition and Jam are not available: {exc}", 8000)
        return
    window.audition = AuditionPanel(lambda: window.playback.engine, lambda: window.song, stage=window.playback)
    window.audition.take_kept.connect(lambda song, text: window.doc.apply(song, text))
    window.audition.alternative_kept.connect(lambda song, text: window.doc.apply(song, text))
    window.audition.message.connect(lambda m: window.statusBar().showMessage(m, 5000))
    window.doc.song_changed.connect(window.audition.project_changed)
    # the panel scrolls its cards itself (vertically only): another scroll area around it would add a second
    # scroll bar and let the cards run off to the right
    audition_dock = add_dock(window, "Audition", "AuditionDock", window.audition, tab_with=generate_dock)

    def jam_loop(start, end):
        window.apply_loop(None if start is None else (start, end), start is not None)

    def jam_loop_restore(state):                 # the range the ruler had (if any) and whether looping was on
        rng, on = state
        window.apply_loop(rng, on)

    window.jam = JamPanel(lambda: window.playback.engine, lambda: window.song,
                          loop_getter=lambda: window.playback.loop_range if window.playback.loop_enabled else None,
                          loop_setter=jam_loop, stage=window.playback,
                          loop_state=lambda: (window.playback.loop_range, window.playback.loop_enabled),
                          loop_restore=jam_loop_restore)
    window.doc.song_changed.connect(window.jam.project_changed)
    window.keyboard.note_on.connect(window.jam.note_on)
    window.keyboard.note_off.connect(window.jam.note_off)
    window.jam.band_kept.connect(lambda song, text: window.doc.apply(song, text))
    window.jam.message.connect(lambda m: window.statusBar().showMessage(m, 5000))
    add_dock(window, "Jam", "JamDock", window.jam, tab_with=audition_dock, scroll=True)
    generate_dock.raise_()


def connect_midi(window) -> None:
    """Hardware notes reach the jam too (called once MIDI input has started)."""
    if window.midi is not None and window.jam is not None:
        window.midi.note_on.connect(window.jam.note_on)
        window.midi.note_off.connect(window.jam.note_off)


def refresh_genres(window) -> None:
    """A new genre was trained or imported: every genre list follows."""
    if window.jam is not None:
        window.jam.refresh_genres()
    probe = getattr(window, "probe_techniques", None)
    if probe is not None:
        probe()


def shutdown_panels(window) -> None:
    for panel in (window.audition, window.jam, window.training):
        if panel is not None:
            panel.shutdown()
