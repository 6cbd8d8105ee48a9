"""Stems: one WAV per track from one pass of the real FluidSynth. They start together, are equally long, follow the
mixer's mute / solo, and add up to the mix; the float WAV files hold exactly that audio; a failed or cancelled
export leaves the folder as it was."""
from __future__ import annotations

import os
from dataclasses import replace

import numpy as np
import pytest

from deepcomposer_desktop.audio.render import (RenderError, render_song, render_stems, stem_file_names, stem_tracks,
                                               write_stems)
from deepcomposer_desktop.audio.synth import Synth, SynthError
from deepcomposer_desktop.audio.wavfile import FloatWavWriter, read_wav, write_pcm16
from tests.audio.test_render import SR, song_of, track


def band():
    # melody and chords share MIDI channel 0, as in the Nottingham files: they still get separate stems
    return song_of(track("Melody", [(72 + i % 5, i * 240, 200, 100) for i in range(16)], channel=0),
                   track("Chords", [(48, 0, 1900, 80), (52, 0, 1900, 80), (55, 1920, 1900, 80)], program=48,
                         channel=0),
                   track("Bass", [(36 + (i % 2) * 7, i * 480, 400, 100) for i in range(8)], program=33),
                   track("Kit", [(36 + (i % 2) * 2, i * 480, 120, 110) for i in range(8)], is_drum=True))


@pytest.fixture(scope="module")
def stem_font(soundfont) -> str:
    """The soundfont, where this FluidSynth can give each track its own output and effects (2.2 or newer)."""
    try:
        Synth(soundfont, SR, groups=2).close()
    except SynthError as exc:
        pytest.skip(f"stems need FluidSynth 2.2 or newer: {exc}")
    return soundfont


def energy(x: np.ndarray) -> float:
    return float(np.sum(x.astype(np.float64) ** 2))


@pytest.mark.parametrize("effects", [True, False])
def test_stems_add_up_to_the_mix(stem_font, effects):
    song = band()
    tracks, stems = render_stems(song, stem_font, SR, effects=effects)
    mix = render_song(song, stem_font, SR, effects=effects)
    assert tracks == [0, 1, 2, 3] and stems.shape == (4, len(mix), 2)
    assert np.abs(stems.sum(axis=0) - mix).max() < 1e-5                    # float rounding, nothing more
    for k in range(4):                                                     # every stem carries a real part ...
        assert energy(stems[k]) > 1e-3 * energy(mix)
        # ... and leaving it out of the sum is heard
        rest = stems.sum(axis=0) - stems[k]
        assert energy(mix - rest) > 1e-3 * energy(mix)
    # each stem is its track: it sounds like that track rendered alone (FluidSynth voices inherit a little state
    # from the note that last used their slot, so a solo render differs slightly, in the first block of some notes)
    bass = render_song(song, stem_font, SR, solo=(2,), effects=effects)
    m = min(len(bass), stems.shape[1])
    assert energy(bass[:m] - stems[2, :m]) < 1e-2 * energy(bass[:m])


def test_stems_have_their_own_reverb(stem_font):
    # a short note's reverb tail belongs to its stem: after the note, the stem still sounds
    song = song_of(track("Strings", [(60, 0, 240, 110)], program=48), track("Bass", [(36, 1920, 240, 100)],
                                                                           program=33))
    _, wet = render_stems(song, stem_font, SR)
    _, dry = render_stems(song, stem_font, SR, effects=False)
    after = slice(int(0.4 * SR), int(0.9 * SR))          # the strings note ends at 0.25 s, the bass starts at 2 s
    assert energy(wet[0, after]) > 10 * energy(dry[0, after])
    # nothing leaks into the bass stem (only FluidSynth's anti-denormal offset, ~1e-8, is there)
    assert np.abs(wet[1, after]).max() < 1e-6 and energy(wet[0, after]) > 1e-6


def test_stems_follow_mute_and_solo(stem_font):
    song = band()
    muted = song.replace_track(1, replace(song.tracks[1], mute=True))
    assert stem_tracks(muted) == [0, 2, 3]
    assert stem_tracks(song, solo=(2, 3)) == [2, 3] and stem_tracks(song, mute=(0,)) == [1, 2, 3]
    empty = song.replace_track(2, song.tracks[2].with_notes(()))
    assert stem_tracks(empty) == [0, 1, 3]                                 # no notes, no file
    tracks, stems = render_stems(song, stem_font, SR, solo=(2, 3))
    mix = render_song(song, stem_font, SR, solo=(2, 3))
    assert tracks == [2, 3] and np.abs(stems.sum(axis=0) - mix).max() < 1e-5
    with pytest.raises(RenderError, match="No track would sound"):
        render_stems(song, stem_font, SR, mute=(0, 1, 2, 3))
    assert stem_file_names(song, [0, 3]) == ["01 Melody.wav", "04 Kit.wav"]
    odd = song.replace_track(0, replace(song.tracks[0], name='Lead / "solo"?'))
    assert stem_file_names(odd, [0]) == ["01 Lead solo.wav"]


def test_write_stems_streams_float_files(stem_font, tmp_path):
    song = band()
    seen = []
    paths = write_stems(song, tmp_path / "out", stem_font, SR, progress=lambda f, m: seen.append(f))
    assert [p.name for p in paths] == ["01 Melody.wav", "02 Chords.wav", "03 Bass.wav", "04 Kit.wav"]
    assert sorted(os.listdir(tmp_path / "out")) == [p.name for p in paths]          # no .part file left
    _, stems = render_stems(song, stem_font, SR)
    for k, p in enumerate(paths):
        data, rate = read_wav(p)
        assert rate == SR and data.shape == stems[k].shape
        assert np.array_equal(data, stems[k])                                        # float: bit for bit
    assert seen and seen[-1] == 1.0 and seen == sorted(seen)


def test_failed_or_cancelled_stems_leave_the_folder_as_it_was(stem_font, tmp_path):
    song = band()
    folder = tmp_path / "stems"
    folder.mkdir()
    (folder / "01 Melody.wav").write_bytes(b"my older take")
    assert write_stems(song, folder, stem_font, SR, should_stop=lambda: True) == []
    assert os.listdir(folder) == ["01 Melody.wav"] and (folder / "01 Melody.wav").read_bytes() == b"my older take"
    calls = []

    def stop_midway():
        calls.append(1)
        return len(calls) > 3
    assert write_stems(song, folder, stem_font, SR, should_stop=stop_midway) == []
    assert os.listdir(folder) == ["01 Melody.wav"] and (folder / "01 Melody.wav").read_bytes() == b"my older take"
    blocker = tmp_path / "a file"
    blocker.write_text("not a folder")
    with pytest.raises(RenderError, match="Cannot write the stems"):
        write_stems(song, blocker / "stems", stem_font, SR)
    (folder / "03 Bass.wav").mkdir()                        # one stem cannot be written: nothing is replaced
    with pytest.raises(RenderError, match="'03 Bass.wav'"):  # (01 was overwritten before the error came)
        write_stems(song, folder, stem_font, SR)
    assert (folder / "01 Melody.wav").read_bytes() == b"my older take"
    (folder / "03 Bass.wav").rmdir()
    paths = write_stems(song, folder, stem_font, SR)                          # a finished export replaces it
    assert len(paths) == 4 and read_wav(folder / "01 Melody.wav")[0].shape[1] == 2


def test_two_stem_exports_into_one_folder_do_not_share_their_temporary_files(stem_font, tmp_path):
    import threading
    song = band()
    results, errors = [], []

    def export(effects):
        try:
            results.append(write_stems(song, tmp_path, stem_font, SR, effects=effects))
        except Exception as exc:                            # "No such file or directory": a shared .part file
            errors.append(exc)
    jobs = [threading.Thread(target=export, args=(e,)) for e in (True, False)]
    for j in jobs:
        j.start()
    for j in jobs:
        j.join()
    assert not errors and len(results) == 2
    assert sorted(os.listdir(tmp_path)) == ["01 Melody.wav", "02 Chords.wav", "03 Bass.wav", "04 Kit.wav"]


def test_render_command_writes_stems(stem_font, tmp_path, capsys):
    from deepcomposer_desktop.cli import main
    from deepcomposer_desktop.midi.io import write_midi
    mid = tmp_path / "band.mid"
    write_midi(band(), mid)
    out = tmp_path / "stems"
    assert main(["render", str(mid), "--stems", str(out), "--soundfont", stem_font, "--mute", "chords",
                 "--out", str(tmp_path / "mix.wav")]) == 0
    said = capsys.readouterr().out
    assert "Wrote 3 stems" in said and "03 Bass.wav" in said
    assert sorted(os.listdir(out)) == ["01 Melody.wav", "03 Bass.wav", "04 Kit.wav"]
    mix, _ = read_wav(tmp_path / "mix.wav")
    total = sum(read_wav(out / n)[0] for n in sorted(os.listdir(out)))
    assert total.shape == mix.shape and np.abs(total - mix).max() < 2 / 32767      # the 16-bit mix's rounding
    assert main(["render", str(mid)]) == 2
    assert "--stems FOLDER" in capsys.readouterr().err


def test_synth_refuses_more_outputs_than_fluidsynth_has(soundfont):
    with pytest.raises(SynthError, match="separate outputs"):
        Synth(soundfont, SR, groups=500)


def test_float_wav_writer_and_reader(tmp_path):
    x = np.linspace(-1.5, 1.5, 2000, dtype=np.float32).reshape(-1, 2)
    w = FloatWavWriter(tmp_path / "f.wav", 48000)
    w.write(x[:600])
    w.write(x[600:])
    w.close(800)                                                           # cut to a length found at the end
    data, rate = read_wav(tmp_path / "f.wav")
    assert rate == 48000 and np.array_equal(data, x[:800])                 # beyond +-1 kept: nothing clips
    assert (tmp_path / "f.wav").stat().st_size == FloatWavWriter.HEADER + 800 * 8
    write_pcm16(x, tmp_path / "p.wav", 22050)
    pcm, rate = read_wav(tmp_path / "p.wav")
    assert rate == 22050 and np.abs(pcm - x / 1.5).max() < 1 / 32767      # scaled down to fit, never clipped
    (tmp_path / "bad.wav").write_bytes(b"RIFF\0\0\0\0WAVEjunk")
    with pytest.raises(ValueError, match="no fmt"):
        read_wav(tmp_path / "bad.wav")
    (tmp_path / "x.ogg").write_bytes(b"OggS" + bytes(40))
    with pytest.raises(ValueError, match="not a WAV"):
        read_wav(tmp_path / "x.ogg")


def test_stems_ring_out_as_long_as_the_mix(stem_font):
    from tests.audio.test_render import ringing_end
    song = ringing_end()
    tracks, stems = render_stems(song, stem_font, SR)
    mix = render_song(song, stem_font, SR)
    end = int(2.25 * SR)                                        # the last note-off; the cymbal and bell ring on
    assert stems.shape == (2, len(mix), 2) and len(mix) > end + 3 * SR          # not cut 2 s after it
    assert np.abs(stems.sum(axis=0) - mix).max() < 1e-5
    assert np.abs(stems[0, end + 2 * SR:]).max() > 1e-4                          # the cymbal's own ring-out


def loud_band():
    # four tracks of full chords at velocity 127 and volume 127: the synth's level peaks at ~3x full scale
    return song_of(*[replace(track(f"T{i}", [(b + k, 0, 960, 127) for k in (0, 4, 7, 12, 16)], program=p),
                             volume=127) for i, (p, b) in enumerate([(30, 40), (61, 50), (48, 60), (19, 36)])])


def test_a_mix_that_would_clip_is_scaled_down_and_its_stems_with_it(stem_font, tmp_path, capsys):
    # the 16-bit mix used to be peak-normalised without a word: the stems written with it no longer added up to it
    from deepcomposer_desktop.cli import main
    from deepcomposer_desktop.core.project import dumps
    song = loud_band()
    peak = float(np.abs(render_song(song, stem_font, SR)).max())
    assert peak > 2
    (tmp_path / "loud.dcproj").write_bytes(dumps(song))
    out = tmp_path / "stems"
    assert main(["render", str(tmp_path / "loud.dcproj"), "-o", str(tmp_path / "mix.wav"), "--stems", str(out),
                 "--soundfont", stem_font, "--rate", str(SR)]) == 0
    said = capsys.readouterr().out
    db = f"{20 * np.log10(peak):.1f} dB"
    assert f"scaled down {db} so that it does not clip" in said and f"scaled down {db} as the mix was" in said
    mix, _ = read_wav(tmp_path / "mix.wav")
    total = sum(read_wav(out / n)[0] for n in sorted(os.listdir(out)))
    assert total.shape == mix.shape and np.abs(total - mix).max() < 2 / 32767     # they add up to the file
    assert abs(float(np.abs(mix).max()) - 1.0) < 2 / 32767
    # stems alone are float, at the synth's level: nothing to scale, nothing said
    assert main(["render", str(tmp_path / "loud.dcproj"), "--stems", str(tmp_path / "alone"),
                 "--soundfont", stem_font, "--rate", str(SR)]) == 0
    assert "scaled" not in capsys.readouterr().out
    assert np.abs(sum(read_wav(tmp_path / "alone" / n)[0] for n in sorted(os.listdir(out))) * (1 / peak)
                  - total).max() < 1e-5


def test_a_mix_that_does_not_clip_keeps_the_synth_s_level(stem_font, tmp_path, capsys):
    from deepcomposer_desktop.audio.render import export_mix
    from deepcomposer_desktop.audio.wavfile import to_int16
    song = band()
    audio = render_song(song, stem_font, SR)
    written = export_mix(song, tmp_path / "mix.wav", stem_font, SR)
    assert written.gain == 1.0 and written.note == "" and written.seconds == len(audio) / SR
    pcm = np.frombuffer((tmp_path / "mix.wav").read_bytes()[44:], "<i2").reshape(-1, 2)
    assert np.array_equal(pcm, np.round(audio * 32767.0).astype("<i2"))          # as it always was, bit for bit
    assert np.array_equal(to_int16(audio), pcm)
    # a gain is the same for every song: the mix of two songs that do not clip is not scaled to their peaks
    quiet = song.with_tracks(tuple(replace(t, volume=40) for t in song.tracks))
    assert export_mix(quiet, tmp_path / "quiet.wav", stem_font, SR).gain == 1.0
    assert np.abs(read_wav(tmp_path / "quiet.wav")[0]).max() < 0.5 * np.abs(audio).max()
    loud = export_mix(loud_band(), tmp_path / "loud.wav", stem_font, SR)
    assert 0.2 < loud.gain < 0.5 and "scaled down" in loud.note
