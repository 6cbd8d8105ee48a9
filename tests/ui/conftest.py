"""Fixtures for the studio-window tests: an engine spy, isolated settings and data folders, a ready window."""
from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings, QStandardPaths

from deepcomposer_desktop.ui.playback import NullEngine


class SpyEngine(NullEngine):
    """The NullEngine's clock plus a log of every call the window makes (stands in for the audio engine)."""

    available = True

    def __init__(self) -> None:
        super().__init__("")
        self.calls: list[tuple] = []
        self.forced_position: int | None = None

    def __getattribute__(self, name):
        attr = object.__getattribute__(self, name)
        if callable(attr) and not name.startswith("_") and name in _LOGGED:
            calls = object.__getattribute__(self, "calls")

            def logged(*a, **k):
                calls.append((name, a, k))
                return attr(*a, **k)
            return logged
        return attr

    @property
    def position_tick(self) -> int:
        if self.forced_position is not None:
            return self.forced_position
        return NullEngine.position_tick.fget(self)

    def named(self, name: str) -> list[tuple]:
        return [(a, k) for n, a, k in self.calls if n == name]


_LOGGED = {"set_song", "swap_song", "play", "pause", "stop", "seek", "set_loop", "set_track_state", "live_note_on",
           "live_note_off", "set_sustain", "set_metronome", "set_count_in"}


@pytest.fixture(autouse=True, scope="session")
def _qt_test_paths():
    QStandardPaths.setTestModeEnabled(True)
    yield


@pytest.fixture(scope="session")
def soundfont():
    """A real GM soundfont: TimGM6mb (small, fast) when pretty_midi ships it, else the default search."""
    from deepcomposer_desktop.audio.soundfont import find_soundfont
    from deepcomposer_desktop.audio.synth import library_problem
    problem = library_problem()
    if problem:
        pytest.skip(problem)
    import importlib.util
    from pathlib import Path
    spec = importlib.util.find_spec("pretty_midi")
    small = Path(spec.origin).parent / "TimGM6mb.sf2" if spec and spec.origin else None
    if small is not None and small.is_file():
        return str(small)
    path, problem = find_soundfont()
    if path is None:
        pytest.skip(problem)
    return str(path)


@pytest.fixture
def settings(tmp_path):
    from deepcomposer_desktop.ui.settings import AppSettings
    return AppSettings(QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat))


@pytest.fixture
def spy_engine():
    return SpyEngine()


@pytest.fixture
def make_window(qtbot, tmp_path, settings):
    from deepcomposer_desktop.ui.main_window import MainWindow

    def make(engine=None, data_dir=None, show=True):
        w = MainWindow(settings=settings, data_dir=data_dir or tmp_path / "data", engine=engine or SpyEngine(),
                       start_audio=False, ask_on_close=False, probe_models=False)
        qtbot.addWidget(w)
        if show:
            w.show()
            w.activateWindow()
            qtbot.waitExposed(w)
            qtbot.waitUntil(lambda: w._filtering)     # computer keys as piano: on once the window has painted
        qtbot.wait(1)           # let the start-up timers (recovery offer) run now, as they do in the app
        return w
    return make


@pytest.fixture
def window(make_window, spy_engine):
    return make_window(engine=spy_engine)


@pytest.fixture
def training_studio(qtbot, tmp_path, monkeypatch):
    """The Training studio window, its models in a temporary folder, one torch thread."""
    monkeypatch.setenv("DEEPCOMPOSER_MODELS", str(tmp_path / "models"))
    from deepcomposer_desktop.ui.training import TrainingWindow
    w = TrainingWindow()
    w.threads = 1
    qtbot.addWidget(w)
    yield w
    w.shutdown(timeout=30)


@pytest.fixture
def editor(qtbot):
    """A piano roll editor on its own, shown at 900 x 600."""
    from deepcomposer_desktop.ui.piano_roll import PianoRollEditor
    ed = PianoRollEditor()
    qtbot.addWidget(ed)
    ed.resize(900, 600)
    ed.show()
    qtbot.waitExposed(ed)
    return ed
