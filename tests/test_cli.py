"""The `deepcomposer` CLI's core commands, run as a user would (a subprocess) and in-process."""
import subprocess
import sys

from deepcomposer_desktop.cli import main
from deepcomposer_desktop.midi.io import read_midi, write_midi
from tests.builders import band_song


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "deepcomposer_desktop.cli", *args], capture_output=True, text=True,
                          timeout=120)


def test_info_prints_tracks_instruments_tempo_meter_length(tmp_path, capsys):
    path = tmp_path / "band.mid"
    write_midi(band_song().replace(title="Band"), path)
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    for words in ("Band", "120 BPM", "4/4", "2 bars", "Tracks:         4", "Flute", "Electric Bass (finger)",
                  "Drum Kit", "ch 10", "20 notes", "33 notes"):
        assert words in out, words


def test_samples_lists_builtin_melodies(capsys):
    assert main(["samples"]) == 0
    out = capsys.readouterr().out
    assert "ode_to_joy" in out and "Twinkle" in out and len(out.strip().splitlines()) >= 8


def test_convert_sample_and_file(tmp_path):
    out = tmp_path / "ode.mid"
    assert main(["convert", "ode_to_joy", "--out", str(out), "--transpose", "2"]) == 0
    song = read_midi(out)
    assert song.tracks[0].notes[0].pitch == 66 and song.title.startswith("Ode to Joy")
    assert [k.key for k in song.key_signatures] == ["D"]            # the key moves with the notes (it stayed C)
    again = tmp_path / "again.mid"
    assert main(["convert", str(out), "-o", str(again)]) == 0
    assert read_midi(again).tracks[0].notes == song.tracks[0].notes


def test_bad_input_is_one_line_not_a_traceback(tmp_path):
    bad = tmp_path / "bad.mid"
    bad.write_bytes(b"MThd\x00\x00\x00\x06\x00\x01\x00\x01\x01\xe0MTrk\x00\x00\x10\x00\x90")
    r = run_cli("info", str(bad))
    assert r.returncode == 2
    assert "Traceback" not in r.stderr and "damaged or truncated" in r.stderr
    r = run_cli("info", "no_such_thing")
    assert r.returncode == 2 and "no such file" in r.stderr
    r = run_cli("convert", "ode_to_joy", "--out", str(tmp_path / "x.mid"), "--transpose", "90")
    assert r.returncode == 2 and "MIDI range" in r.stderr


def test_bad_settings_and_damaged_projects_are_one_line_with_status_2(tmp_path, capsys):
    deep = tmp_path / "deep.dcproj"
    deep.write_text("[" * 100_000)
    inf = tmp_path / "inf.dcproj"
    inf.write_text('{"format": "deepcomposer-desktop-project", "version": 1, "ppq": Infinity, "tracks": [], '
                   '"tempos": [[0, 120]], "time_signatures": [[0, 4, 4]]}')
    out = str(tmp_path / "x.mid")
    cases = [(["convert", "ode_to_joy", "-o", ""], "output file name is empty"),
             (["info", ""], "No input given"),
             (["render", "ode_to_joy", "-o", str(tmp_path / "x.wav"), "--soundfont", ""], "--soundfont needs"),
             (["convert", "ode_to_joy", "-o", out, "--tempo", "0"], "--tempo: must be from 3.58 to 1000 BPM"),
             (["info", str(deep)], "damaged"),
             (["info", str(inf)], "damaged"),
             (["generate", "-t", "arcnn", "-i", "ode_to_joy", "-o", out, "--seed", "99999999999999999999"],
              "--seed: must be from 0"),
             (["generate", "-t", "gan", "-i", "ode_to_joy", "-o", out, "--seed", "-1"], "--seed: must be from 0"),
             (["generate", "-t", "transformer", "-i", "ode_to_joy", "-o", out, "--temperature", "inf"],
              "--temperature: must be above 0"),
             (["render", "ode_to_joy", "-o", str(tmp_path / "x.wav"), "--rate", "192000"], "8,000 to 96,000"),
             (["render", "ode_to_joy", "-o", str(tmp_path / "x.wav"), "--solo", "\u00b2"], "No track called"),
             (["render", "ode_to_joy", "-o", str(tmp_path / "x.wav"), "--mute", "1"], "No track would sound"),
             (["train", "gan", "--name", "x", "--data", str(tmp_path), "--lr", "nan"], "--lr: must be above 0"),
             (["train", "gan", "--name", "x", "--data", str(tmp_path), "--batch-size", "0"], "--batch-size"),
             (["train", "gan", "--name", "x", "--data", str(tmp_path), "--epochs", "-1"], "--epochs")]
    for args, words in cases:
        code = main(args)
        err = capsys.readouterr().err
        assert code == 2 and words in err and "Traceback" not in err, (args, code, err)
    assert not (tmp_path / "x.wav").exists() and not (tmp_path / "x.mid").exists()


def test_training_does_not_replace_an_installed_model_unasked(tmp_path, capsys):
    (tmp_path / "gan-keep.pt").write_bytes(b"my model")
    code = main(["train", "gan", "--name", "keep", "--data", str(tmp_path), "--out", str(tmp_path)])
    assert code == 2 and "already in" in capsys.readouterr().err
    assert (tmp_path / "gan-keep.pt").read_bytes() == b"my model"


def test_bench_prints_a_table():
    r = run_cli("bench", "core", "--quick")
    assert r.returncode == 0, r.stderr
    assert "[core]" in r.stdout and "import MIDI" in r.stdout


def test_models_list_export_import(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DEEPCOMPOSER_MODELS", str(tmp_path / "mine"))
    assert main(["models"]) == 0
    listed = capsys.readouterr().out
    assert "gan" in listed and "chorale" in listed
    shared = tmp_path / "chorale.dcmodel"
    assert main(["models", "export", "gan/chorale", str(shared)]) == 0
    folder = tmp_path / "to-share"
    folder.mkdir()
    assert main(["models", "export", "gan/chorale", str(folder)]) == 0       # a folder: the file goes in it
    assert (folder / "gan-chorale.dcmodel").read_bytes()[:2] == shared.read_bytes()[:2]
    assert main(["models", "import", str(shared), "--name", "friends-chorale"]) == 0
    capsys.readouterr()
    assert main(["models"]) == 0
    assert "friends-chorale" in capsys.readouterr().out
    assert main(["models", "import", str(shared), "--name", "friends-chorale"]) == 2         # taken: says how
    assert "--overwrite replaces it; --name NAME imports it under another name" in capsys.readouterr().err
    bad = tmp_path / "bad.dcmodel"
    bad.write_bytes(b"not a model")
    assert main(["models", "import", str(bad)]) == 2
    assert "not a model file" in capsys.readouterr().err
    assert main(["models", "remove", "friends-chorale"]) == 0
    assert "Removed gan/friends-chorale" in capsys.readouterr().out
    assert main(["models"]) == 0 and "friends-chorale" not in capsys.readouterr().out
    assert main(["models", "remove", "gan/chorale"]) == 2                     # a built-in one stays
    assert "chorale" in capsys.readouterr().err and main(["models", "remove"]) == 2
