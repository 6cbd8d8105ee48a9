"""Offline rendering through the real FluidSynth: onsets land on their samples, mute/solo add or remove exactly one
track's sound, WAV export and the `deepcomposer render` command."""
from __future__ import annotations

import numpy as np
import pytest

from deepcomposer_desktop.audio.render import RenderError, read_wav, render_song, render_to_wav
from deepcomposer_desktop.audio.synth import Synth
from deepcomposer_desktop.core.song import Note, Song, TempoChange, Track

SR = 44100


def song_of(*tracks: Track, bpm: float = 120.0) -> Song:
    return Song(tracks=tracks, tempos=(TempoChange(0, bpm),))


def track(name, notes, program=0, is_drum=False, channel=None) -> Track:
    return Track(name=name, program=program, is_drum=is_drum, channel=channel,
                 notes=tuple(Note.make(p, s, d, v) for p, s, d, v in notes))


def onset(x: np.ndarray, lo: int, hi: int, frac: float = 0.1) -> int:
    """First frame in [lo, hi) whose level reaches ``frac`` of that window's peak."""
    seg = np.abs(x[lo:hi]).max(axis=1)
    return lo + int(np.argmax(seg >= frac * seg.max()))


def attack_offset(soundfont: str, pitch: int, vel: int, program: int = 0) -> int:
    """Frames from a note-on sent straight to the synth at frame 0 to the detected onset (the sound's own attack)."""
    s = Synth(soundfont, SR, gain=0.4)
    s.setup_channel(0, program)
    s.noteon(0, pitch, vel)
    buf = np.zeros((SR // 2, 2), np.float32)
    s.write_float(buf, 0, len(buf))
    s.close()
    return onset(buf, 0, len(buf))


def test_onsets_land_within_one_fluidsynth_block(soundfont):
    # 120 BPM, PPQ 480: one tick = 45.9375 frames at 44.1 kHz, so these starts fall all over the 64-frame grid
    starts = [0, 487, 1013, 1531, 2050, 2593, 3101, 3659]
    song = song_of(track("Lead", [(72, s, 60, 100) for s in starts]))
    audio = render_song(song, soundfont, SR)
    base = attack_offset(soundfont, 72, 100)
    errors = []
    for s in starts:
        expected = round(s * SR / 960)          # seconds = tick / (480 * 2)
        found = onset(audio, max(0, expected - 300), expected + 2000) - base
        errors.append(found - expected)
    assert max(abs(e) for e in errors) <= 64, errors


def test_the_render_ends_with_the_last_notes_release(soundfont):
    song = song_of(track("Organ", [(60, 0, 960, 100)], program=19))        # a 1 s organ note: no decay of its own
    audio = render_song(song, soundfont, SR, effects=False)
    held = float(np.abs(audio[SR // 4:SR * 3 // 4]).max())
    assert held > 0.01
    assert SR <= len(audio) < int(1.6 * SR)             # the release, then the render stops (once it has died away)
    assert float(np.abs(audio[-SR // 20:]).max()) < 0.01 * held


def test_muted_track_adds_no_energy(soundfont):
    melody = track("Melody", [(67, 0, 400, 100), (69, 480, 400, 100), (71, 960, 900, 100)], channel=0)
    chords = track("Chords", [(48, 0, 1800, 90), (52, 0, 1800, 90), (55, 0, 1800, 90)], program=48, channel=0)
    both = song_of(melody, chords)
    muted = render_song(both, soundfont, SR, mute=(1,))
    without = render_song(song_of(melody), soundfont, SR)
    n = max(len(muted), len(without))
    pad = lambda a: np.pad(a, ((0, n - len(a)), (0, 0)))  # noqa: E731
    assert np.abs(pad(muted) - pad(without)).max() < 1e-6
    full = render_song(both, soundfont, SR)
    assert np.abs(full[: len(without)] - without).max() > 1e-2          # the chords really do sound
    alone_muted = render_song(song_of(chords), soundfont, SR, mute=(0,))
    assert np.abs(alone_muted).max() < 1e-6
    # the song's own mute flag counts too (what you hear is what you export)
    flagged = render_song(both.replace_track(1, _with(chords, mute=True)), soundfont, SR)
    assert np.abs(flagged[: len(without)] - without[: len(flagged)]).max() < 1e-6


def _with(t: Track, **kw) -> Track:
    from dataclasses import replace
    return replace(t, **kw)


def test_solo_renders_only_the_soloed_tracks(soundfont):
    a = track("A", [(60, 0, 480, 100), (62, 480, 480, 100)])
    b = track("B", [(40, 0, 960, 100)], program=33)
    c = track("Drums", [(36, 0, 120, 110), (38, 480, 120, 110)], is_drum=True)
    song = song_of(a, b, c)
    solo_b = render_song(song, soundfont, SR, solo=(1,))
    only_b = render_song(song_of(b), soundfont, SR)
    m = min(len(solo_b), len(only_b))
    assert np.abs(solo_b[:m] - only_b[:m]).max() < 1e-6
    two = render_song(song, soundfont, SR, solo=(0, 2))
    ref = render_song(song_of(a, c), soundfont, SR)
    m = min(len(two), len(ref))
    assert np.abs(two[:m] - ref[:m]).max() < 1e-6
    assert np.abs(render_song(song, soundfont, SR, solo=(2,))).max() > 1e-2     # drums sound on the drum bank


def test_drum_track_uses_drum_bank(soundfont):
    kick = track("Kit", [(36, 0, 240, 120)], is_drum=True)
    as_piano = track("Piano", [(36, 0, 240, 120)])
    drum = render_song(song_of(kick), soundfont, SR)
    piano = render_song(song_of(as_piano), soundfont, SR)
    m = min(len(drum), len(piano))
    assert np.abs(drum[:m] - piano[:m]).max() > 1e-2


def test_wav_export_and_bad_input(soundfont, tmp_path):
    song = song_of(track("A", [(60, 0, 480, 100)]))
    out = tmp_path / "a.wav"
    seconds = render_to_wav(song, out, soundfont, SR)
    data, rate = read_wav(out)
    assert rate == SR and data.shape[1] == 2 and abs(len(data) / SR - seconds) < 1e-6
    assert np.abs(data).max() > 1e-2
    with pytest.raises(RenderError, match="not a SoundFont"):
        render_song(song, str(out), SR)                         # a WAV is not a soundfont
    with pytest.raises(RenderError, match="track 5"):
        render_song(song, soundfont, SR, solo=(4,))
    with pytest.raises(RenderError, match="Cannot write"):
        render_to_wav(song, tmp_path / "missing" / "a.wav", soundfont, SR)


def test_render_command(soundfont, tmp_path, capsys):
    from deepcomposer_desktop.cli import main
    from deepcomposer_desktop.midi.io import write_midi
    song = song_of(track("Melody", [(72, 0, 480, 100)]), track("Bass", [(36, 0, 960, 100)], program=33))
    mid = tmp_path / "s.mid"
    write_midi(song, mid)
    wav = tmp_path / "s.wav"
    assert main(["render", str(mid), "--out", str(wav), "--soundfont", soundfont, "--solo", "bass"]) == 0
    assert "2 Bass" in capsys.readouterr().out
    solo, _ = read_wav(wav)
    assert main(["render", str(mid), "--out", str(wav), "--soundfont", soundfont, "--mute", "1"]) == 0
    muted, _ = read_wav(wav)
    m = min(len(solo), len(muted))
    assert np.abs(solo[:m] - muted[:m]).max() < 2 / 32767          # same audio: bass only
    assert main(["render", str(mid), "--out", str(wav), "--solo", "7"]) == 2
    assert "no track 7" in capsys.readouterr().err
    assert main(["render", str(mid), "--out", str(wav), "--soundfont", str(mid)]) == 2


def test_tracks_past_the_synths_channels_are_named_not_played_in_their_place(soundfont, tmp_path, capsys):
    from deepcomposer_desktop.audio.scheduler import MAX_TRACKS
    from deepcomposer_desktop.cli import main
    from deepcomposer_desktop.midi.io import write_midi
    song = song_of(*[track(f"T{i + 1}", [(60 + i % 12, 0, 240, 100)] if i in (0, MAX_TRACKS + 2) else [])
                     for i in range(MAX_TRACKS + 4)])
    with pytest.raises(RenderError, match=f"only the first {MAX_TRACKS} of its {MAX_TRACKS + 4} tracks sound"):
        render_song(song, soundfont, SR, solo=[MAX_TRACKS + 2])      # it used to play track 1 instead
    mid = tmp_path / "many.mid"
    write_midi(song, mid)
    wav = tmp_path / "many.wav"
    assert main(["render", str(mid), "-o", str(wav), "--soundfont", soundfont]) == 0
    assert f"only the first {MAX_TRACKS}" in capsys.readouterr().err
    assert main(["render", str(mid), "-o", str(wav), "--soundfont", soundfont, "--solo", str(MAX_TRACKS + 3)]) == 2
    assert f"Cannot solo track {MAX_TRACKS + 3}" in capsys.readouterr().err


def test_metronome_clicks_on_every_beat_with_an_accent(soundfont):
    from deepcomposer_desktop.core.song import TimeSignature
    song = Song(tracks=(track("Quiet", [(60, 0, 10, 1)]),), tempos=(TempoChange(0, 120.0),),
                time_signatures=(TimeSignature(0, 3, 4),))
    song = song.replace(tracks=(track("Quiet", [(60, 1440 * 2 - 10, 10, 1)]),))     # two bars of 3/4
    plain = render_song(song, soundfont, SR)
    clicked = render_song(song, soundfont, SR, metronome=True)
    clicks = clicked[: len(plain)] - plain[: len(clicked)]
    beat = SR // 2
    peaks = [np.abs(clicks[i * beat:i * beat + beat // 4]).max() for i in range(6)]
    assert min(peaks) > 1e-3                                          # a click on every beat
    assert peaks[0] > peaks[1] and peaks[3] > peaks[4]                # beat 1 of each bar is accented


def test_lazy_presets_render_the_same_audio(soundfont, monkeypatch):
    """render_song loads only the presets the song uses; it must sound like a synth with every preset loaded
    (and its early stop once the tail is silent must not shorten anything)."""
    from deepcomposer_desktop.audio import render as R
    s = song_of(track("Piano", [(60, 0, 960, 100), (64, 480, 960, 90)], program=0),
                track("Strings", [(48, 0, 1920, 80)], program=48),
                track("Kit", [(36, 0, 240, 110), (38, 480, 240, 110)], is_drum=True))
    lazy = render_song(s, soundfont)
    made = []

    def every_preset(sf, sr, song, mixes, effects=True, cpu_cores=None, groups=1):
        synth = Synth(sf, sr, gain=R.DEFAULT_GAIN, cpu_cores=1, dynamic_samples=False)
        made.append(synth)
        for i, mix in enumerate(mixes):
            R.apply_channels(synth, i, mix)
        R.setup_metronome(synth)
        return synth
    monkeypatch.setattr(R, "make_synth", every_preset)
    full = render_song(s, soundfont)
    assert made and lazy.shape == full.shape
    assert np.abs(lazy - full).max() < 1e-4 * max(1.0, float(np.abs(full).max()))


def test_dry_render_leaves_out_reverb_and_chorus(soundfont, tmp_path, capsys):
    # the test font's strings send much of their sound to the chorus and reverb: without them it is another sound
    s = song_of(track("Strings", [(60, 0, 480, 110)], program=48))
    wet = render_song(s, soundfont)
    dry = render_song(s, soundfont, effects=False)
    m = min(len(wet), len(dry))
    rms = lambda x: float(np.sqrt(np.mean(x ** 2)))  # noqa: E731
    assert rms(wet[:m] - dry[:m]) > 0.5 * rms(wet[:m])
    assert rms(dry[:4410]) > 0.01                                       # the note itself is there
    assert render_song(s, soundfont, effects=False).tobytes() == dry.tobytes()      # deterministic
    from deepcomposer_desktop.cli import main
    from deepcomposer_desktop.midi.io import write_midi
    write_midi(s, tmp_path / "p.mid")
    assert main(["render", str(tmp_path / "p.mid"), "--out", str(tmp_path / "p.wav"), "--soundfont", soundfont,
                 "--dry"]) == 0
    assert ", dry;" in capsys.readouterr().out
    got, _ = read_wav(tmp_path / "p.wav")
    peak = float(np.abs(dry).max())
    scale = 1.0 if peak <= 1.0 else peak
    assert len(got) == len(dry) and np.abs(got - dry / scale).max() < 2 / 32767


def test_thread_count_changes_the_speed_not_the_sound(soundfont):
    # the renderer spreads FluidSynth's voices over up to 4 cores; the audio must be the one-core audio, sample
    # for sample
    from deepcomposer_desktop.audio.render import render_cores
    s = song_of(track("Piano", [(60 + i % 12, i * 120, 400, 100) for i in range(24)], program=0),
                track("Strings", [(48, 0, 1920, 80), (55, 0, 1920, 80)], program=48),
                track("Kit", [(36, i * 480, 120, 110) for i in range(6)], is_drum=True))
    one = render_song(s, soundfont, cpu_cores=1)
    assert np.abs(one).max() > 0.01
    for cores in (2, 4):
        assert render_song(s, soundfont, cpu_cores=cores).tobytes() == one.tobytes()
    assert 1 <= render_cores() <= 4


def test_an_effect_nothing_can_reach_is_left_out_and_the_render_is_the_same(soundfont, tmp_path, monkeypatch):
    from deepcomposer_desktop.audio import render
    from deepcomposer_desktop.audio.sf2_sends import effects_needed
    from deepcomposer_desktop.core.song import Control
    drums_and_click = {(128, 0)}
    # TimGM6mb: the piano sends to the reverb only; the strings to both; CC 93 opens the chorus to any preset
    assert effects_needed(soundfont, {(0, 0)} | drums_and_click, []) == (True, False)
    assert effects_needed(soundfont, {(0, 0), (0, 48)} | drums_and_click, []) == (True, True)
    assert effects_needed(soundfont, {(0, 0)}, [(93, 0), (93, 40)]) == (True, True)
    assert effects_needed(soundfont, {(0, 99), (5, 0)}, []) == (True, True)      # not in the font: both, to be safe
    fake = tmp_path / "fake.sf2"
    fake.write_bytes(b"RIFF" + (4).to_bytes(4, "little") + b"sfbk")
    assert effects_needed(fake, {(0, 0)}, []) == (True, True)                   # unreadable preset data: both
    piano = song_of(track("Piano", [(60, 0, 400, 100), (64, 480, 400, 90), (67, 960, 900, 80)]))
    calls = []
    real = render.effects_needed
    monkeypatch.setattr(render, "effects_needed", lambda *a: calls.append(real(*a)) or calls[-1])
    lean = render_song(piano, soundfont, SR)
    assert calls == [(True, False)]
    monkeypatch.setattr(render, "effects_needed", lambda *a: (True, True))
    full = render_song(piano, soundfont, SR)
    assert lean.shape == full.shape and np.array_equal(lean, full)
    # a chorus send in the track's controllers keeps the chorus, and it is heard
    monkeypatch.setattr(render, "effects_needed", real)
    sent = piano.replace_track(0, piano.tracks[0].with_controls((Control(0, 93, 127),)))
    assert not np.array_equal(render_song(sent, soundfont, SR)[:len(full)], full)


def test_a_song_too_long_to_hold_in_memory_is_refused_before_rendering(soundfont):
    far = song_of(track("Lead", [(60, 0, 480, 100), (62, 480 * 2 * 3700, 480, 100)]))     # 3700 s at 120 BPM
    with pytest.raises(RenderError, match="at most 1 hour"):
        render_song(far, soundfont, SR)


def test_a_render_reports_progress_and_stops_when_asked(soundfont, tmp_path):
    from deepcomposer_desktop.audio.render import RenderStopped
    long = song_of(track("Organ", [(60, 0, 480 * 120, 90)], program=19))             # one minute
    seen = []
    render_song(long, soundfont, SR, effects=False, progress=lambda f, m: seen.append(f))
    assert len(seen) >= 5 and seen == sorted(seen) and seen[-1] <= 1.0            # it said 0 % throughout
    asked = []
    wav = tmp_path / "stopped.wav"
    with pytest.raises(RenderStopped):
        render_to_wav(long, wav, soundfont, SR, should_stop=lambda: asked.append(1) or len(asked) > 2)
    assert not wav.exists()                                 # closing the app during a long export used to abort


def test_a_file_name_as_long_as_the_file_system_allows_can_be_written(soundfont, tmp_path):
    from deepcomposer_desktop.midi.io import write_midi
    stem = "a" * 245                                        # + ".mid": 249 bytes; the temporary name overflowed
    song = song_of(track("Lead", [(60, 0, 480, 90)]))
    write_midi(song, tmp_path / f"{stem}.mid")
    render_to_wav(song, tmp_path / f"{stem}.wav", soundfont, SR)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{stem}.mid", f"{stem}.wav"]


def ringing_end():
    # the song ends on a crash cymbal and a tubular bell, written short as drum parts are: they ring on for seconds
    return song_of(track("Kit", [(36, 0, 120, 110), (49, 1920, 120, 120)], is_drum=True),
                   track("Bells", [(72, 1920, 240, 110)], program=14))


def test_the_ring_out_is_rendered_until_it_has_died_away(soundfont):
    from deepcomposer_desktop.audio.render import SILENCE, TAIL_SEC
    audio = render_song(ringing_end(), soundfont, SR)
    end = int(2.25 * SR)                                           # the bell's note-off
    hit = float(np.abs(audio[2 * SR:end]).max())
    # it used to stop 2 s after the last note-off, cut off at about -60 dB below the hit
    assert end + 3 * SR < len(audio) < end + TAIL_SEC * SR
    assert float(np.abs(audio[-SR // 20:]).max()) < 10 * SILENCE < 1e-3 * hit
    assert TAIL_SEC >= 10                                          # the cap leaves room for a long reverb
