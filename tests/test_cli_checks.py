"""CLI checks made before any work: tempos a MIDI file can hold, outputs that would clobber an input or each other,
options the chosen technique ignores, closed pipes, progress lines ended before an error, explicit --solo."""
import subprocess
import sys
from dataclasses import replace

import pytest

from deepcomposer_desktop.cli import main
from deepcomposer_desktop.core.song import MIN_BPM, SongError, TempoChange
from deepcomposer_desktop.midi.io import read_midi, write_midi
from tests.builders import band_song


def refused(args, capsys, *words):
    code = main(args)
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err, (args, code, err)
    for w in words:
        assert w in err, (args, err)
    return err


def test_tempo_bound_is_what_a_midi_file_can_hold(tmp_path, capsys):
    with pytest.raises(SongError, match="between 3.58 and 1000 BPM"):
        TempoChange(0, 3.5)
    slowest = band_song().replace(tempos=(TempoChange(0, MIN_BPM),))
    write_midi(slowest, tmp_path / "slow.mid")                      # the slowest accepted tempo is written
    assert read_midi(tmp_path / "slow.mid").tempos[0].bpm == pytest.approx(MIN_BPM)
    out = tmp_path / "t.mid"
    refused(["convert", "ode_to_joy", "-o", str(out), "--tempo", "3.5"], capsys, "--tempo: must be from 3.58 to 1000")
    assert not out.exists()
    assert main(["convert", "ode_to_joy", "-o", str(out), "--tempo", "3.58"]) == 0
    assert read_midi(out).tempos[0].bpm == 3.58
    # midi-record says so before it records anything (the take is not lost after the playing)
    refused(["midi-record", "-o", str(tmp_path / "r.mid"), "--bpm", "3"], capsys,
            "--bpm: must be from 3.58 to 1000 BPM")


def test_render_never_writes_over_its_input(tmp_path, capsys):
    mid = tmp_path / "x.mid"
    write_midi(band_song(), mid)
    before = mid.read_bytes()
    refused(["render", str(mid), "-o", str(mid)], capsys, "is the input file")
    refused(["render", str(mid), "-o", str(tmp_path / "." / "x.mid")], capsys, "is the input file")
    assert mid.read_bytes() == before


@pytest.mark.parametrize("technique", ["gan", "arcnn", "transformer"])
def test_generate_checks_its_outputs_before_running_the_model(technique, tmp_path, capsys):
    mid = tmp_path / "in.mid"
    write_midi(band_song(), mid)
    before = mid.read_bytes()
    gen = ["generate", "-t", technique, "-i", str(mid)]
    same = str(tmp_path / "same.mid")
    refused(gen + ["-o", same, "--wav", same], capsys, "--wav and --out name the same file")
    refused(gen + ["-o", str(tmp_path / "g.mid"), "--wav", str(mid)], capsys, "--wav", "is the input file")
    refused(gen + ["-o", str(mid)], capsys, "--out", "is the input file")
    refused(gen + ["-o", str(tmp_path / "g.mid"), "--takes", "2", "--wav", str(tmp_path / "g-2.mid")], capsys,
            "name the same file")
    refused(gen + ["-o", str(tmp_path / "g.mid"), "--wav", str(tmp_path / "nodir" / "w.wav")], capsys,
            "there is no folder")
    refused(gen + ["-o", str(tmp_path / "nodir" / "g.mid")], capsys, "there is no folder")
    refused(gen + ["-o", str(tmp_path / "g.mid"), "--wav", ""], capsys, "output file name is empty (--wav)")
    assert mid.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mid"]          # nothing written, no model run


def test_options_the_technique_does_not_use_are_refused(tmp_path, capsys):
    out = str(tmp_path / "g.mid")
    refused(["generate", "-t", "gan", "-i", "ode_to_joy", "-o", out, "--max-add", "10", "--iterations", "5",
             "--model", "x"], capsys, "--iterations, --max-add, --model: not used by the gan technique")
    refused(["generate", "-t", "arcnn", "-i", "ode_to_joy", "-o", out, "--genre", "pop"], capsys,
            "--genre: not used by the arcnn technique")
    refused(["generate", "-t", "transformer", "-i", "ode_to_joy", "-o", out, "--seconds", "5", "--bars", "2"], capsys,
            "--seconds and --bars both set the length")
    refused(["generate", "-t", "transformer", "-i", "ode_to_joy", "-o", out, "--max-remove", "5"], capsys,
            "--max-remove: not used by the transformer technique")
    for technique in ("arcnn", "transformer"):
        refused(["train", technique, "--data", str(tmp_path), "--out", str(tmp_path / "m"), "--update-ratio", "2",
                 "--start-from", "rock"], capsys, f"--start-from, --update-ratio: not used by train {technique}")
    assert not (tmp_path / "g.mid").exists() and not (tmp_path / "m").exists()


@pytest.mark.parametrize("command", [["models"], ["info", "ode_to_joy", "twinkle_twinkle"]])
def test_a_closed_pipe_ends_quietly(command):
    p = subprocess.Popen([sys.executable, "-m", "deepcomposer_desktop.cli", *command], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    p.stdout.close()                            # as `| head -1` does once it has its line
    err = p.stderr.read().decode()
    assert p.wait(timeout=120) == 141 and err == "", err


def test_an_error_after_progress_starts_on_its_own_line(tmp_path, capsys):
    err = refused(["train", "gan", "--name", "x", "--data", str(tmp_path / "missing"), "--out", str(tmp_path / "m"),
                   "--device", "cpu"], capsys)
    assert "reading the training data" in err and "\ndeepcomposer: " in err, repr(err)


def test_solo_plays_a_track_the_project_mutes(tmp_path, capsys):
    from deepcomposer_desktop.core.project import dumps
    from tests.audio.conftest import _small_soundfont
    soundfont = _small_soundfont()
    if soundfont is None:
        pytest.skip("no small soundfont")
    song = band_song()
    project = tmp_path / "band.dcproj"
    project.write_bytes(dumps(song.replace_track(1, replace(song.tracks[1], mute=True))))
    wav = tmp_path / "chords.wav"
    assert main(["render", str(project), "--solo", "2", "-o", str(wav), "--soundfont", soundfont, "--dry"]) == 0
    captured = capsys.readouterr()
    assert "tracks: 2 Chords" in captured.out and "--solo plays track 2 (Chords), muted in the project" in captured.err
    assert wav.stat().st_size > 10_000
    refused(["render", str(project), "-o", str(wav), "--mute", "1", "--mute", "3", "--mute", "4"], capsys,
            "No track would sound")                  # without --solo the project's mute still counts


def test_model_summary_is_cut_at_a_word(tmp_path):
    from deepcomposer_desktop.ml.registry import card_summary
    card = tmp_path / "gan-x.md"
    card.write_text("# x\n\n" + "accompaniment " * 20 + "\n")
    summary = card_summary(card)
    assert summary.endswith("accompaniment…") and len(summary) <= 160
    card.write_text("# x\n\nShort and sweet.\n")
    assert card_summary(card) == "Short and sweet."


def test_transformer_warns_of_a_take_that_ends_early(tmp_path, capsys):
    from deepcomposer_desktop.core.timing import TempoMap, song_duration_seconds
    from deepcomposer_desktop.ml.transformer.generate import plan_bars
    from deepcomposer_desktop.samples import load_sample
    out = tmp_path / "x.mid"
    assert main(["generate", "-t", "transformer", "-i", "amazing_grace", "--seed", "32", "--takes", "8",
                 "-o", str(out), "--seconds", "30"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith(str(tmp_path))]
    song = load_sample("amazing_grace")
    tm = TempoMap.of(song)
    start = tm.tick_to_seconds(plan_bars(song, 30.0, None)[1])
    early = 0
    for k, line in enumerate(lines):
        covered = song_duration_seconds(read_midi(tmp_path / f"x-{k + 1}.mid")) - start
        warned = "ended the piece" in line
        assert warned == (covered < 15.0), (line, covered)
        early += warned
    assert len(lines) == 8 and early      # with the shipped model, take 7 (seed 38) stops after about 13 s
