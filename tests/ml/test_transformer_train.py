"""Transformer training: windows keep the header and start on a bar, augmentation, budgeted + resumable runs."""
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from deepcomposer_desktop.core.song import Note, Song, Track  # noqa: E402
from deepcomposer_desktop.ml.checkpoint import load_checkpoint  # noqa: E402
from deepcomposer_desktop.ml.transformer import tokens as T  # noqa: E402
from deepcomposer_desktop.ml.transformer.data import load_cache, save_cache  # noqa: E402
from deepcomposer_desktop.ml.transformer.train import WindowSampler, config_from, train  # noqa: E402


def _cache(tmp_path):
    seqs = []
    for k in range(6):
        mel = tuple(Note.make(55 + (i * (k + 2)) % 12, i * 240, 240, 90) for i in range(64))
        bass = tuple(Note.make(36 + k, b * 1920, 1920, 70) for b in range(8))
        seqs.append(T.song_to_tokens(Song(tracks=(Track("m", notes=mel), Track("b", 32, notes=bass)))))
    path = tmp_path / "data.npz"
    save_cache(path, seqs, [0, 0, 0, 0, 1, 1], [0, 1, 2, 3, 0, 1], [f"p{k}" for k in range(6)])
    return path


def test_windows_keep_header_start_on_a_bar_and_augment(tmp_path):
    cache = load_cache(_cache(tmp_path))
    s = WindowSampler(cache, 0, 64, seed=0)
    rng = np.random.default_rng(0)
    for _ in range(20):
        w = s.window(augment=False, rng=rng)
        assert w.shape == (65,) and w[0] == T.BOS and T.FAM0 <= w[3] < T.POS0 and w[5] == T.BAR
    aug = [s.window(augment=True, rng=np.random.default_rng(k)) for k in range(30)]
    is_pitch = [(a >= T.PITCH0) & (a < T.DUR0) for a in aug]
    assert all(((a[p] >= T.PITCH0) & (a[p] < T.DUR0)).all() for a, p in zip(aug, is_pitch))
    assert len({int(a[2]) for a in aug}) > 1                   # the tempo token moves
    base = s.window(augment=False, rng=np.random.default_rng(5))
    moved = s.window(augment=True, rng=np.random.default_rng(5))
    p = (base >= T.PITCH0) & (base < T.DUR0)
    assert np.array_equal(base[~p][3:], moved[~p][3:])         # only pitches and tempo change
    assert len(set((moved[p] - base[p]).tolist())) == 1        # every pitch moves by the same interval


def test_tiny_training_run_saves_and_resumes(tmp_path):
    cache = _cache(tmp_path)
    cfg = config_from("tiny", cache=str(cache), out=str(tmp_path / "run"), minutes=0.03, eval_every_s=0.5,
                      save_every_s=0.5)
    path = train(cfg, log=lambda m: None)
    ck = load_checkpoint(path, "transformer")
    step1 = ck["meta"]["step"]
    assert step1 > 0 and "optimizer" in ck["extra"] and (tmp_path / "run" / "best.pt").is_file()
    assert "val_nll_per_token" in (tmp_path / "run" / "train.log").read_text()
    cfg2 = config_from("tiny", cache=str(cache), out=str(tmp_path / "run"), minutes=0.02, resume=True, slim=True)
    ck2 = load_checkpoint(train(cfg2, log=lambda m: None), "transformer")
    assert ck2["meta"]["step"] > step1
    assert all(v.dtype == torch.float16 for v in ck2["state_dict"].values()) and "extra" not in ck2


def test_heldout_nll_and_ship(tmp_path):
    from deepcomposer_desktop.ml.transformer.eval import _roll, heldout_nll, ship
    from deepcomposer_desktop.ml.transformer.generate import load_model
    cache_path = _cache(tmp_path)
    cfg = config_from("tiny", cache=str(cache_path), out=str(tmp_path / "run"), minutes=0.01)
    path = train(cfg, log=lambda m: None)
    net, _ = load_model(path)
    cache = load_cache(cache_path)
    res = heldout_nll(net, cache, "all", max_tokens=10_000)
    test_tokens = sum(int(cache["offsets"][i + 1] - cache["offsets"][i]) for i in (4, 5))
    assert 0 < res["tokens"] < test_tokens and 0 < res["nll_per_token"] < 10
    assert res["notes"] == 2 * (64 + 8)                     # every note of both held-out pieces is scored
    assert res["nll_per_note"] > res["nll_per_token"]
    out = ship(path, "tiny", {"nll": res}, models_dir=tmp_path / "models")
    again, meta = load_model(out)
    assert meta["eval"]["nll"]["notes"] == res["notes"]
    x = torch.randint(0, T.VOCAB_SIZE, (1, 20))
    with torch.inference_mode():
        assert torch.allclose(again(x), net(x), atol=2e-2)
    roll = _roll([[(0, 0, 60, 12, 80), (24, 1, 48, 48, 80)]], 2, 48)
    assert roll.shape == (2, 16, 128) and roll[0, :4, 60].all() and not roll[0, 4, 60] and roll[1, 8:, 48].all()


def test_cli_train_installs_the_named_model_wherever_it_runs(tmp_path, monkeypatch, capsys):
    from deepcomposer_desktop.cli import main
    from deepcomposer_desktop.ml.registry import find_model
    from deepcomposer_desktop.ml.transformer import train as TT
    from deepcomposer_desktop.ml.transformer.generate import load_model
    assert Path(TT.TrainConfig().cache) == TT.PROJECT / "cache" / "transformer" / "data.npz"
    assert Path(TT.TrainConfig().out).is_absolute() and Path(TT.DEFAULT_CACHE).is_absolute()
    cache = _cache(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.setenv("DEEPCOMPOSER_MODELS", str(tmp_path / "models"))
    train = ["train", "transformer", "--preset", "tiny", "--data", str(cache), "--device", "cpu", "--epochs", "1"]
    assert main(train + ["--name", "mine"]) == 0
    assert "'mine' is now in the list" in capsys.readouterr().out
    info = find_model("transformer", "mine")
    assert info.user and info.path == tmp_path / "models" / "transformer-mine.pt"
    net, meta = load_model("mine")
    assert all(v.dtype == torch.float16 for v in load_checkpoint(info.path, "transformer")["state_dict"].values())
    assert not list(elsewhere.iterdir())                    # nothing written where the command ran
    assert main(train + ["--name", "mine"]) == 2            # a second run asks first
    assert "'mine' is already in" in capsys.readouterr().err
    assert main(train + ["--name", "extend"]) == 2          # and never hides the shipped model unasked
    assert "'extend' ships with the app" in capsys.readouterr().err
    assert main(["models"]) == 0
    assert "transformer  mine" in capsys.readouterr().out
    assert not find_model("transformer", "extend").user
    out = tmp_path / "ext.mid"                              # generate --model picks it
    assert main(["generate", "-t", "transformer", "-i", "ode_to_joy", "-o", str(out), "--bars", "1",
                 "--model", "mine"]) == 0 and out.is_file()
    assert main(["generate", "-t", "transformer", "-i", "ode_to_joy", "-o", str(out), "--model", "nope"]) == 2
    assert "No Transformer model 'nope'" in capsys.readouterr().err


def test_cli_train_refusals_are_one_line_with_status_2(tmp_path, monkeypatch, capsys):
    from deepcomposer_desktop.midi.io import write_midi
    from tests.ml.test_arcnn_train import assert_refused
    from tests.builders import band_song
    monkeypatch.setenv("DEEPCOMPOSER_MODELS", str(tmp_path / "models"))
    cache = _cache(tmp_path)
    write_midi(band_song(), tmp_path / "song.mid")
    (tmp_path / "junk.npz").write_text("not a cache")
    (tmp_path / "file").write_text("")
    train = ["train", "transformer", "--preset", "tiny", "--out", str(tmp_path / "out")]
    data = ["--data", str(cache)]
    cases = [(data + ["--device", "foo"], "Unknown device 'foo'"),
             (["--data", str(tmp_path / "song.mid")], "song.mid is a MIDI file, not a training cache"),
             (["--data", str(tmp_path / "junk.npz")], "is not a Transformer token cache"),
             (["--data", str(tmp_path / "missing.npz")], "No token cache at"),
             (data + ["--device", "cpu", "--out", str(tmp_path / "file" / "sub")], "Cannot create the output folder"),
             (data + ["--name", "Bad Name!"], "lower-case letters")]
    if not torch.cuda.is_available():
        cases.append((data + ["--device", "cuda"], "No CUDA GPU is available"))
    assert_refused(train, cases, capsys)
    assert not (tmp_path / "out").exists()
