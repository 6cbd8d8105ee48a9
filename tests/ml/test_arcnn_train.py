"""AR-CNN data cache, corruption, losses, time-budgeted training with resume, export, NLL, and the CLI."""
from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from deepcomposer_desktop.ml.arcnn import data as D  # noqa: E402
from deepcomposer_desktop.ml.arcnn.config import TINY, ArcnnConfig, TrainConfig  # noqa: E402
from deepcomposer_desktop.ml.arcnn.train import corrupt, export, losses, train  # noqa: E402
from deepcomposer_desktop.ml.checkpoint import load_checkpoint  # noqa: E402

SMALL = ArcnnConfig(steps=32, low_pitch=40, n_pitches=48, levels=2, filters=4, max_filters=8, dropout=0.0)


def fake_jsb_cache(root):
    """A fake JSB folder under ``root`` (random 4-voice 'chorales' in the JSON layout) and its cache: (path, raw)."""
    rng = np.random.default_rng(0)

    def chorale(n):
        frames, voices = [], [72, 67, 60, 48]
        for t in range(n):
            if t % 4 == 0:
                voices = [v + int(rng.integers(-2, 3)) for v in voices]
            frames.append(list(voices))
        return frames

    raw = {"train": [chorale(40 + 4 * i) for i in range(6)], "valid": [chorale(36), chorale(20)],
           "test": [chorale(48), chorale(33)]}
    (root / "jsb_chorales_czhuang").mkdir(parents=True)
    (root / D.JSB_FILE).write_text(json.dumps(raw))
    return D.build_cache(root, root / "cache"), raw


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return fake_jsb_cache(tmp_path_factory.mktemp("data"))


def test_cache_round_trip(cache):
    path, raw = cache
    got = D.load_cache(path)
    for split in D.SPLITS:
        assert [len(c) for c in got[split]] == [len(c) for c in raw[split]]
    first = got["train"][0]
    assert first.dtype == bool and first.shape == (40, 128)
    assert sorted(np.nonzero(first[0])[0].tolist()) == sorted(raw["train"][0][0])
    with pytest.raises(FileNotFoundError):
        D.load_cache(path.parent / "missing.npz")


def test_windows_cover_everything_once(cache):
    got = D.load_cache(cache[0])
    wins, first = D.eval_windows(got["test"], 32)
    # 48 steps -> windows at 0 and 16 (end-aligned, first new step 16); 33 steps -> 0 and 1 (first new step 31)
    assert wins.shape == (4, 32, 128)
    assert first.tolist() == [0, 16, 0, 31]
    roll, starts = D.windows(got["train"], 32)
    assert roll.shape[1] == 128 and (starts + 32 <= len(roll)).all()


def test_corruption_follows_the_settings():
    gen = torch.Generator().manual_seed(0)
    clean = torch.rand(4, 32, 48, generator=gen) < 0.1
    same = corrupt(clean, gen, TrainConfig(remove_lo=0, remove_hi=0, add_lo=0, add_hi=0))
    assert torch.equal(same, clean)
    none_left = corrupt(clean, gen, TrainConfig(remove_lo=1, remove_hi=1, add_lo=0, add_hi=0))
    assert not none_left.any()
    noisy = corrupt(clean, gen, TrainConfig(remove_lo=0, remove_hi=0, add_lo=0.01, add_hi=0.015))
    added = (noisy & ~clean).sum().item() / (~clean).sum().item()
    assert 0.004 < added < 0.03 and (noisy | ~clean).all()
    beats = corrupt(clean, gen, TrainConfig(remove_lo=0.5, remove_hi=0.5, add_lo=0, add_hi=0, block_prob=1.0))
    kept_steps = beats.any(dim=2).reshape(4, 8, 4)
    clean_steps = clean.any(dim=2).reshape(4, 8, 4)
    # whole beats go or stay: within a beat, a step with notes in the clean roll is kept iff the beat is kept
    for b in range(4):
        for beat in range(8):
            kept = kept_steps[b, beat][clean_steps[b, beat]]
            assert kept.all() or not kept.any()


def test_toggle_loss_rewards_pointing_at_the_changed_cells():
    clean = torch.zeros(1, 8, 8, dtype=torch.bool)
    clean[0, 2, 3] = True
    corrupted = clean.clone()
    corrupted[0, 2, 3] = False
    corrupted[0, 5, 5] = True
    good = torch.zeros(1, 2, 8, 8)
    good[0, 0, 2, 3] = good[0, 0, 5, 5] = 5.0
    bad = torch.zeros(1, 2, 8, 8)
    bad[0, 0, 0, 0] = 5.0
    tg, ng = losses(good, corrupted, clean)
    tb, nb = losses(bad, corrupted, clean)
    assert tg < tb and torch.isfinite(tg) and torch.isfinite(ng) and ng == nb


def test_train_checkpoints_resume_and_export(cache, tmp_path):
    path, _ = cache
    tcfg = TrainConfig(batch_size=4, max_steps=4, eval_every=2, minutes=5.0, lr=1e-3)
    log = []
    best = train(SMALL, tcfg, tmp_path / "run", cache=path, device="cpu", log=log.append)
    assert best.is_file() and (tmp_path / "run" / "last.pt").is_file()
    last = load_checkpoint(tmp_path / "run" / "last.pt", "arcnn")
    assert last["meta"]["step"] == 4 and "optimizer" in last["extra"]
    assert any("valid toggle" in line for line in log)
    train(SMALL, tcfg, tmp_path / "run", cache=path, device="cpu", resume=True, log=log.append)
    assert load_checkpoint(tmp_path / "run" / "last.pt", "arcnn")["meta"]["step"] == 8
    assert any("resumed" in line for line in log)
    shipped = export(best, tmp_path / "arcnn-test.pt", "test")
    ck = torch.load(shipped, weights_only=True)
    assert all(v.dtype == torch.float16 for v in ck["state_dict"].values() if v.is_floating_point())
    assert ck["model_args"] == SMALL.to_dict() and "extra" not in ck


def test_frame_nll_is_finite_and_positive(cache):
    from deepcomposer_desktop.ml.arcnn.eval import frame_nll
    from deepcomposer_desktop.ml.arcnn.model import build_model
    torch.manual_seed(0)
    model = build_model(SMALL).eval()
    got = D.load_cache(cache[0])
    a = frame_nll(model, SMALL, got["test"])
    b = frame_nll(model, SMALL, got["test"], block=4)
    assert 0 < a < 1000 and 0 < b < 1000


def test_cli_train_and_generate(cache, tmp_path, monkeypatch, capsys):
    from deepcomposer_desktop.cli import main
    from deepcomposer_desktop.midi.io import read_midi
    monkeypatch.setenv("DEEPCOMPOSER_MODELS", str(tmp_path / "models"))
    # a tiny preset run (one epoch) asked to replace the shipped Bach model writes the user's arcnn-bach model,
    # which then overrides the shipped one
    import deepcomposer_desktop.ml.arcnn.train as T
    monkeypatch.setitem(T.PRESETS, "tiny", (TINY, TrainConfig(batch_size=8, minutes=1.0, eval_every=50)))
    assert main(["train", "arcnn", "--preset", "tiny", "--data", str(cache[0]), "--name", "bach",
                 "--epochs", "1", "--device", "cpu", "--overwrite"]) == 0
    assert (tmp_path / "models" / "arcnn-bach.pt").is_file()
    before = (tmp_path / "models" / "arcnn-bach.pt").read_bytes()
    assert main(["train", "arcnn", "--preset", "tiny", "--data", str(cache[0]), "--name", "bach",
                 "--epochs", "1", "--device", "cpu"]) == 2                  # again: not without --overwrite
    assert "'bach' is already in" in capsys.readouterr().err
    assert (tmp_path / "models" / "arcnn-bach.pt").read_bytes() == before
    out = tmp_path / "out.mid"
    assert main(["generate", "-t", "arcnn", "-i", "ode_to_joy", "-o", str(out), "--iterations", "20",
                 "--max-add", "30", "--takes", "2", "--seed", "4"]) == 0
    printed = capsys.readouterr().out
    assert "Melody (enhanced)" in printed
    for k in (1, 2):
        song = read_midi(tmp_path / f"out-{k}.mid")
        assert len(song.tracks) == 2 and song.tracks[1].name == "Melody (enhanced)"
    assert main(["generate", "-t", "arcnn", "-i", "ode_to_joy", "-o", str(out), "--temperature", "0"]) == 2
    assert "temperature" in capsys.readouterr().err


def test_cli_train_keeps_the_shipped_model_and_asks_before_replacing(cache, tmp_path, monkeypatch, capsys):
    from deepcomposer_desktop.cli import main
    from deepcomposer_desktop.ml.arcnn.generate import load_model
    from deepcomposer_desktop.ml.registry import SHIPPED_DIR, find_model
    import deepcomposer_desktop.ml.arcnn.train as T
    models = tmp_path / "models"
    monkeypatch.setenv("DEEPCOMPOSER_MODELS", str(models))
    monkeypatch.setitem(T.PRESETS, "tiny", (SMALL, TrainConfig(batch_size=4, max_steps=2, eval_every=50)))
    train = ["train", "arcnn", "--preset", "tiny", "--data", str(cache[0]), "--device", "cpu"]
    assert main(train + ["--name", "bach"]) == 2
    assert "'bach' ships with the app" in capsys.readouterr().err and not list(models.glob("arcnn-bach*"))
    assert main(train + ["--name", "Bach!"]) == 2
    assert "lower-case letters" in capsys.readouterr().err
    assert main(train) == 0                                             # the default name is not the shipped one
    assert "my-bach" in capsys.readouterr().out
    assert (models / "arcnn-my-bach.pt").is_file() and not (models / "arcnn-bach.pt").exists()
    mine = (models / "arcnn-my-bach.pt").read_bytes()
    assert main(train) == 2                                             # a second run asks first
    assert "'my-bach' is already in" in capsys.readouterr().err
    assert (models / "arcnn-my-bach.pt").read_bytes() == mine
    assert main(["models"]) == 0
    listed = [line.split() for line in capsys.readouterr().out.splitlines()]
    assert ["arcnn", "my-bach", "your", "own", "model"] in listed and any(w[:2] == ["arcnn", "bach"] for w in listed)
    shipped = find_model("arcnn", "bach")
    assert not shipped.user and shipped.path.parent == SHIPPED_DIR
    model, cfg = load_model()
    assert cfg.steps == 128 and model is not None                       # generate still gets the shipped Bach
    out = tmp_path / "mine.mid"                                         # and --model picks the one trained here
    assert main(["generate", "-t", "arcnn", "-i", "ode_to_joy", "-o", str(out), "--iterations", "4",
                 "--model", "my-bach"]) == 0 and out.is_file()
    assert main(["generate", "-t", "arcnn", "-i", "ode_to_joy", "-o", str(out), "--model", "nope"]) == 2
    assert "No arcnn model called 'nope'" in capsys.readouterr().err


def test_cli_train_refusals_are_one_line_with_status_2(cache, tmp_path, monkeypatch, capsys):
    from deepcomposer_desktop.midi.io import write_midi
    from tests.builders import band_song
    monkeypatch.setenv("DEEPCOMPOSER_MODELS", str(tmp_path / "models"))
    (tmp_path / "empty").mkdir()
    write_midi(band_song(), tmp_path / "song.mid")
    (tmp_path / "junk.npz").write_text("not a cache")
    (tmp_path / "file").write_text("")
    train = ["train", "arcnn", "--name", "qa", "--out", str(tmp_path / "out"), "--preset", "tiny"]
    data = ["--data", str(cache[0])]
    cases = [(["--data", str(tmp_path / "empty"), "--epochs", "1"], "No AR-CNN training cache"),
             (["--data", str(tmp_path / "song.mid")], "song.mid is a MIDI file, not a training cache"),
             (["--data", str(tmp_path / "junk.npz")], "is not an AR-CNN training cache"),
             (data + ["--device", "foo"], "Unknown device 'foo'"),
             (data + ["--device", "cpu", "--out", str(tmp_path / "file" / "sub")], "Cannot create the output folder")]
    if not torch.cuda.is_available():
        cases.append((data + ["--device", "cuda"], "No CUDA GPU is available"))
    assert_refused(train, cases, capsys)
    assert not (tmp_path / "out" / "arcnn-qa.pt").exists()


def assert_refused(command: list[str], cases, capsys) -> None:
    """Each (extra arguments, words) case exits 2 with those words in one line of error, no traceback."""
    from deepcomposer_desktop.cli import main
    for args, words in cases:
        code = main(command + args)
        err = capsys.readouterr().err
        assert code == 2 and words in err and "Traceback" not in err, (args, code, err)
