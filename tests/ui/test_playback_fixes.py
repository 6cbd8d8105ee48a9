"""Transport and mixer details found by listening: a final chord held by the pedal rings until the pedal lifts,
Play at the song's end starts the loop again, and choosing the drum kit gives the standard kit."""
from __future__ import annotations

from deepcomposer_desktop.core.song import Control, Note, Song, Track


def _pedal_song():
    notes = tuple(Note.make(p, 0, 480) for p in (60, 64, 67))
    pedal = (Control(0, 64, 127), Control(1920, 64, 0))         # lifted three beats after the keys
    return Song(tracks=(Track("Piano", 0, notes=notes, controls=pedal),), ppq=480)


def test_a_chord_held_by_the_pedal_plays_until_the_pedal_lifts(window, spy_engine):
    window.doc.load(_pedal_song())
    window.playback.play(0)
    spy_engine.forced_position = 1200                 # past the last note-off and a beat: the pedal still holds
    window.playback._tick()
    assert not spy_engine.named("stop")
    spy_engine.forced_position = 1920 + 481           # a beat after the pedal lifted: the end
    window.playback._tick()
    assert spy_engine.named("stop")


def test_play_at_the_end_starts_the_loop_again(window, spy_engine):
    song = window.song
    window.playback.set_loop_range(song.ppq, 2 * song.ppq)
    window.playback.set_loop_enabled(True)
    window.playback.play(song.end_tick)               # the song ran to its end beyond the loop; Play again
    assert spy_engine.named("play")[-1][0][0] == song.ppq
    window.playback.set_loop_enabled(False)
    window.playback.play(song.end_tick)
    assert spy_engine.named("play")[-1][0][0] == 0


def test_the_drum_kit_is_the_standard_kit_whatever_the_instrument_was(window):
    window.doc.load(Song(tracks=(Track("Strings", 48, notes=(Note.make(36, 0, 480),)),), ppq=480))
    window.edit_track(0, "is_drum", True)
    t = window.song.tracks[0]
    assert (t.is_drum, t.program, t.channel) == (True, 0, 9)        # program 48 was the Orchestra kit in bank 128
    window.doc.undo_stack.undo()
    assert window.song.tracks[0].program == 48


def test_a_new_engine_while_playing_plays_on_from_the_same_place(window, spy_engine):
    from tests.ui.conftest import SpyEngine
    window.playback.play(0)
    spy_engine.forced_position = 960
    new = SpyEngine()
    window.playback.attach_engine(new)               # Settings: another soundfont or block size
    assert new.named("play") and new.named("play")[-1][0][0] == 960 and new.is_playing
    window.playback.stop()
    newer = SpyEngine()
    window.playback.attach_engine(newer)
    assert not newer.named("play")                   # stopped stays stopped


def test_deleting_the_melody_track_moves_the_star_to_a_pitched_track_and_says_so(window):
    drums = Track("Drums", 0, is_drum=True, channel=9, notes=(Note.make(36, 0, 240),))
    tune = Track("Tune", 0, notes=(Note.make(60, 0, 480),))
    bass = Track("Bass", 33, notes=(Note.make(36, 0, 480),))
    window.doc.load(Song(tracks=(drums, tune, bass), ppq=480, melody_index=1))
    window.track_action(1, "delete")
    assert window.song.melody.name == "Bass"                      # not the drums, which the models cannot read
    assert "now Bass is" in window.statusBar().currentMessage()
