"""The Training studio in the studio window: a "Models > Training studio…" menu entry and sample playback.

``install_training(window, refresh)`` is all the main window needs (see its docstring). GUI thread only.
"""
from __future__ import annotations

from .training import TrainingWindow

def install_training(window, refresh=None) -> None:
    """Add "Models > Training studio…" to the studio ``window`` (a MainWindow): one TrainingWindow, made on first
    use, told about the current song; a clicked sample plays through the studio's transport until playback stops
    (then the project's song is put back); ``refresh()`` runs when a model was trained or imported."""
    window.training = None
    bar = window.menuBar()
    menu = next((a.menu() for a in bar.actions() if a.menu() is not None and a.text().replace("&", "") == "Models"),
                None) or bar.addMenu("&Models")

    def open_training() -> None:
        if window.training is None:
            tw = TrainingWindow(window)
            if refresh is not None:
                tw.model_ready.connect(lambda _name: refresh())
            tw.sample_chosen.connect(lambda song: play_sample(window, song))
            window.doc.song_changed.connect(lambda *_a: tw.set_current_song(window.song))
            window.training = tw
        window.training.set_current_song(window.song)
        if window.training.isVisible():                  # (showing it re-reads the genres by itself)
            window.training.refresh_models()
        window.training.show()
        window.training.raise_()
        window.training.activateWindow()

    window.training_action = menu.addAction("&Training studio…")
    window.training_action.setToolTip("Teach the GAN a genre from your own MIDI files and watch it learn")
    window.training_action.triggered.connect(open_training)
    window.open_training = open_training


def play_sample(window, song) -> None:
    """Play a training sample through the studio's transport; the project's song returns when playback stops."""
    pb = window.playback
    pb.stop()
    pb.set_song(song)
    pb.play(0)
    window.statusBar().showMessage("Playing a sample of your genre in training; Stop brings your song back", 6000)

    def back(playing: bool) -> None:
        if playing:
            return
        pb.playing_changed.disconnect(back)
        if pb.song is song:
            pb.set_song(window.song)

    pb.playing_changed.connect(back)
