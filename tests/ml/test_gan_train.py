"""GAN training: tiny runs on a synthetic cache and a MIDI folder, resume, the baseline recipe, data helpers."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from deepcomposer_desktop.ml.checkpoint import load_checkpoint  # noqa: E402
from deepcomposer_desktop.ml.common import Cancelled  # noqa: E402
from deepcomposer_desktop.ml.gan import data as D  # noqa: E402
from deepcomposer_desktop.ml.gan.train import run_training  # noqa: E402

from tests.ml.gan_fixtures import TRACKS, synthetic_windows, write_synthetic_cache  # noqa: E402


@pytest.fixture(autouse=True)
def one_thread():
    torch.set_num_threads(1)


@pytest.fixture
def cache(tmp_path):
    return write_synthetic_cache(tmp_path / "synth.npz", n=12)


def test_tiny_training_run_writes_model_log_and_samples(cache, tmp_path):
    out = tmp_path / "out"
    path = run_training(cache, "synth", out, "tiny", {"max_iterations": 2}, device="cpu")
    assert path == out / "gan-synth.pt"
    ck = load_checkpoint(path, "gan")
    assert ck["meta"]["iterations"] == 2 and len(ck["meta"]["decode"]["threshold"]) == 2
    assert ck["meta"]["tracks"][1]["is_drum"] is True
    log = (out / "gan-synth.log").read_text()
    assert (out / "gan-synth.state").exists() and "iteration 2" in log
    assert "fitting the decoding to the music figures" in log       # the finished run refines its decoding
    assert list((out / "gan-synth-samples").glob("*.mid"))


def test_resume_continues_from_the_saved_iteration(cache, tmp_path):
    out = tmp_path / "out"
    run_training(cache, "synth", out, "tiny", {"max_iterations": 1}, device="cpu")
    run_training(cache, "synth", out, "tiny", {"max_iterations": 3}, device="cpu", resume=True)
    assert load_checkpoint(out / "gan-synth.pt", "gan")["meta"]["iterations"] == 3
    assert "resumed synth at iteration 1" in (out / "gan-synth.log").read_text()


def test_cancel_saves_then_raises(cache, tmp_path):
    calls = []

    def stop():
        calls.append(1)
        return len(calls) > 1
    with pytest.raises(Cancelled):
        run_training(cache, "synth", tmp_path, "tiny", {"max_iterations": 50}, device="cpu", should_stop=stop)
    assert (tmp_path / "gan-synth.pt").exists()
    assert "fitting the decoding" not in (tmp_path / "gan-synth.log").read_text()   # a cancel saves at once


def test_deepcomposer_recipe_trains_on_two_bar_pieces(cache, tmp_path):
    path = run_training(cache, "dc", tmp_path, "deepcomposer",
                        {"max_iterations": 1, "batch_size": 2, "update_ratio": 1, "samples": 0}, device="cpu")
    ck = load_checkpoint(path, "gan")
    assert ck["model_args"]["kind"] == "deepcomposer" and ck["model_args"]["steps"] == 32
    assert ck["meta"]["train"]["lr"] == 1e-3 and ck["meta"]["train"]["betas"] == [0.5, 0.9]
    assert any(v.dtype == torch.int8 for v in ck["state_dict"].values())           # compact weights on disk


def test_cli_train_from_a_midi_folder(tmp_path, capsys):
    from deepcomposer_desktop.cli import main
    from deepcomposer_desktop.core.song import Note, Song, TimeSignature, Track
    from deepcomposer_desktop.midi.io import write_midi
    folder = tmp_path / "songs"
    folder.mkdir()
    for k in range(3):
        mel = Track("Lead vocal", 0, False, tuple(Note.make(60 + (i * (k + 2)) % 12, i * 480, 480)
                                                   for i in range(40)))
        bass = Track("Bass", 33, False, tuple(Note.make(36 + k, i * 1920, 1800) for i in range(10)))
        drums = Track("Kit", 0, True, tuple(Note.make(36 if i % 2 == 0 else 38, i * 480, 120) for i in range(40)))
        write_midi(Song(tracks=(mel, bass, drums)), folder / f"song{k}.mid")
    (folder / "song2.mid").rename(folder / "SONG2.MID")            # read whatever the case of its extension
    write_midi(Song(tracks=(mel, bass), time_signatures=(TimeSignature(0, 3, 4),)), folder / "waltz.kar")
    data = D.load_midi_folder(str(folder))                          # as the Training studio reads the folder
    assert [t["name"] for t in data.tracks] == ["Drums", "Bass", "Harmony", "Other"]
    assert data.is_drum.tolist() == [True, False, False, False]
    assert data.melody.shape[1:] == (128, 128) and data.melody[:, :, 60:72].any()
    assert data.meta["skipped"] == [["waltz.kar", "not in 4/4 (only 3/4)"]]
    assert set(D.load_midi_folder(str(folder), "2").meta["report"]["melody"].values()) == {"Bass"}   # from 1
    with pytest.raises(D.GanDataError, match="counted from 1"):
        D.load_midi_folder(str(folder), "0")
    out = tmp_path / "models"
    capsys.readouterr()
    assert main(["train", "gan", "--name", "my-genre", "--data", str(folder), "--out", str(out), "--preset", "tiny",
                 "--epochs", "1", "--device", "cpu"]) == 0
    said = capsys.readouterr().out
    assert "Read 3 songs of 4 files, 30 bars, 6 8-bar pieces to learn from; 1 file skipped:\n" in said
    assert "  waltz.kar: not in 4/4 (only 3/4)\n" in said               # each skipped file, with why
    assert "Model card written to" in said
    assert (out / "gan-my-genre.pt").exists()
    # ... with its model card: the figures measured on the held-out song against the real ones, and the command
    card = (out / "gan-my-genre.md").read_text()
    assert "| figure | real data | this model | real training songs (reference) |" in card
    assert f"`deepcomposer train gan --name my-genre --data {folder} --preset tiny --device cpu --epochs 1`" in card
    assert f"- `{folder}` (3 songs): licence the user's own files" in card and "models/DATA.md" not in card
    assert "Only 2 held-out windows: too few songs" in card
    from deepcomposer_desktop.ml.registry import card_summary
    assert card_summary(out / "gan-my-genre.md").startswith("My-genre accompaniment for a melody: drums, bass")
    assert main(["train", "gan", "--name", "Bad Name!", "--data", str(folder), "--out", str(out)]) != 0
    assert main(["train", "gan", "--name", "x", "--data", str(tmp_path / "missing")]) != 0
    # --start-from an installed genre (here the model just trained, installed in the user's folder)
    import os
    os.environ["DEEPCOMPOSER_MODELS"] = str(out)
    try:
        capsys.readouterr()
        assert main(["train", "gan", "--name", "second", "--data", str(folder), "--out", str(tmp_path / "m2"),
                     "--preset", "tiny", "--epochs", "1", "--device", "cpu", "--start-from", "my-genre",
                     "--minutes", "2"]) == 0
        assert "initialised from gan-my-genre.pt" in capsys.readouterr().out
        assert main(["train", "gan", "--name", "third", "--data", str(folder), "--out", str(tmp_path / "m3"),
                     "--start-from", "no-such-genre"]) != 0
        assert "no-such-genre" in capsys.readouterr().err
    finally:
        del os.environ["DEEPCOMPOSER_MODELS"]


def test_split_by_song_keeps_songs_apart():
    mel, acc, om, oa = synthetic_windows(n=40)
    data = D.GanData(mel, om, acc, oa, np.arange(40) // 4, {"tracks": TRACKS})
    train, held = D.split_by_song(data)
    assert len(held) and len(train) and not set(data.song_id[train]) & set(data.song_id[held])
    data.meta["song_split"] = ["train"] * 9 + ["test"]
    train, held = D.split_by_song(data)
    assert set(data.song_id[held]) == {9}


def _hash_split(sid, song_split=None):
    """The split of a large set, as it has always been: the cache's own, else songs by hashed id (10 %)."""
    if song_split:
        held = np.array([x == "test" for x in song_split])[sid]
    else:
        held = (sid.astype(np.uint64) * np.uint64(2654435761)) % np.uint64(1000) < 100
    return np.nonzero(~held)[0], np.nonzero(held)[0]


def test_split_by_song_holds_out_little_of_a_small_set():
    def split(sizes):
        sid = np.repeat(np.arange(len(sizes)), sizes)
        train, held = D.split_by_song(D.GanData(np.zeros((len(sid), 1)), None, None, None, sid, {}))
        assert not set(sid[train]) & set(sid[held]) and len(train) + len(held) == len(sid)
        return sid, held
    sid, held = split([22, 1])                       # song 0 was always held out: 22 of 23 windows
    assert held.tolist() == [22]
    for sizes in ([5, 5, 4, 5, 4], [4] * 10, [3, 9, 2, 7, 6, 8], [6] * 30):
        sid, held = split(sizes)
        assert 1 <= len(set(sid[held].tolist())) and len(held) <= 0.2 * len(sid), sizes
        assert 0 not in sid[held]
    assert len(split([12, 12])[1]) == 12             # two songs: one of them, however large
    assert len(split([40])[1]) == 0                   # one song: nothing held out
    # large sets (the shipped caches have hundreds to thousands of songs) split exactly as before
    sid, held = split([3, 7, 5, 9] * 100)
    assert np.array_equal(held, _hash_split(sid)[1])


def test_the_shipped_caches_split_as_before():
    import glob
    import json
    caches = sorted(glob.glob(str(D.__file__).rsplit("deepcomposer_desktop", 1)[0] + "cache/gan*/*.npz"))
    if not caches:
        pytest.skip("no genre caches built here")
    for path in caches:
        with np.load(path, allow_pickle=False) as z:
            sid, meta = z["song_id"].astype(np.int64), json.loads(str(z["meta"]))
        data = D.GanData(np.zeros((len(sid), 1)), None, None, None, sid, meta)
        got, want = D.split_by_song(data), _hash_split(sid, meta.get("song_split"))
        assert all(np.array_equal(a, b) for a, b in zip(got, want)), path


def test_the_epoch_shown_is_the_one_the_step_belongs_to(cache, tmp_path):
    said, lines = [], []
    run_training(cache, "synth", tmp_path, "tiny", {"epochs": 2, "samples": 0}, device="cpu",
                 progress=lambda f, m: said.append(m), log=lines.append)
    epochs = [m.split(",")[0] for m in said if m.startswith("epoch ")]
    assert epochs[-1] == "epoch 2" and "epoch 3" not in epochs
    start = next(line for line in lines if "training gan-synth" in line)
    assert "(2 epochs) on cpu" in start and " min" not in start          # no time limit, none named


def test_key_normalisation_leaves_drums_alone():
    mel, acc, om, oa = synthetic_windows(n=2)
    mel, om = D.shift_pitches(mel, 2), D.shift_pitches(om, 2)                       # D major melodies
    acc[:, 0] = D.shift_pitches(acc[:, 0], 2)
    data = D.GanData(mel, om, acc, oa, np.arange(2), {"tracks": TRACKS})
    norm, shifts = D.normalise_keys(data)
    assert shifts.tolist() == [-2, -2]
    assert np.array_equal(norm.accomp[:, 1], acc[:, 1])                             # drums untouched
    assert np.array_equal(norm.melody, D.shift_pitches(mel, -2))
    two = D.to_two_bars(norm)
    assert two.melody.shape == (8, 32, 128) and two.accomp.shape == (8, 2, 32, 128)


@pytest.mark.slow
@pytest.mark.skipif(not __import__("os").environ.get("DEEPCOMPOSER_DDP_TEST"),
                    reason="two torchrun ranks take ~1 min on a busy 2-core box; set DEEPCOMPOSER_DDP_TEST=1")
def test_torchrun_two_ranks_stop_together(cache, tmp_path):
    import os
    import subprocess
    import sys
    import time
    torchrun = os.path.join(os.path.dirname(sys.executable), "torchrun")
    cmd = [torchrun, "--nproc_per_node", "2", "-m", "deepcomposer_desktop.ml.gan.train", "--data", str(cache),
           "--name", "ddp", "--out", str(tmp_path), "--preset", "tiny", "--samples", "0", "--no-state",
           "--device", "cpu", "--deadline", str(time.time() + 40)]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=240)
    assert res.returncode == 0, res.stderr[-2000:]
    log = (tmp_path / "gan-ddp.log").read_text()
    assert "x 2 rank(s)" in log and "[final]" in log


def test_cli_train_refusals_are_one_line_with_status_2(tmp_path, monkeypatch, capsys):
    from deepcomposer_desktop.midi.io import write_midi
    from tests.builders import band_song
    from tests.ml.test_arcnn_train import assert_refused
    monkeypatch.setenv("DEEPCOMPOSER_MODELS", str(tmp_path / "models"))
    write_midi(band_song(), tmp_path / "song.mid")
    (tmp_path / "file").write_text("")
    (tmp_path / "songs").mkdir()
    train = ["train", "gan", "--preset", "tiny", "--device", "cpu", "--epochs", "1"]
    cases = [(["--name", "x", "--data", str(tmp_path / "song.mid"), "--out", str(tmp_path / "out")],
              "song.mid is a MIDI file, not a training cache: train on a folder of MIDI files"),
             (["--name", "x", "--data", str(tmp_path / "songs"), "--out", str(tmp_path / "file" / "sub")],
              "Cannot create the output folder"),
             (["--name", "rock", "--data", str(tmp_path / "songs")], "The gan model 'rock' ships with the app"),
             (["--name", "x", "--data", str(tmp_path / "songs"), "--device", "foo"], "Unknown device 'foo'")]
    assert_refused(train, cases, capsys)
    assert not list((tmp_path / "models").glob("gan-rock*"))
