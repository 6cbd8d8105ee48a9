"""The Training studio in the real studio window: menu entry, current melody, sample playback, genre refresh."""
from __future__ import annotations

from tests.builders import band_song


def test_training_studio_opens_from_the_menu_and_plays_samples(qtbot, window, spy_engine, tmp_path, monkeypatch):
    monkeypatch.setenv("DEEPCOMPOSER_MODELS", str(tmp_path / "models"))
    from deepcomposer_desktop.ui.training_menu import install_training
    refreshed = []
    ours = getattr(window, "training_action", None) is None       # the lead's window may already install it
    if ours:
        install_training(window, refresh=lambda: refreshed.append(True))
    window.training_action.trigger()
    tw = window.training
    qtbot.waitExposed(tw)
    assert tw.isVisible() and tw.melody_pick.currentData() == "__current__" and tw.current_song is window.song
    if ours:
        tw.model_ready.emit("my-genre")                         # a genre was trained: the lists are refreshed
        assert refreshed == [True]
    window.training_action.trigger()                            # the same window again, not a second one
    assert window.training is tw

    sample = band_song()
    spy_engine.calls.clear()
    tw.sample_chosen.emit(sample)
    assert spy_engine.named("set_song")[-1][0][0] is sample and spy_engine.named("play")
    assert window.playback.is_playing
    window.playback.stop()
    qtbot.waitUntil(lambda: window.playback.song is window.song, timeout=5000)
    assert spy_engine.named("set_song")[-1][0][0] is window.song
    tw.shutdown()
