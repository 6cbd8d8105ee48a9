"""Transformer model + extend(): shapes, KV cache == no cache, save/load, length, sampling filters, cancel."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from deepcomposer_desktop.core.song import Note, Song, TempoChange, TimeSignature, Track  # noqa: E402
from deepcomposer_desktop.ml.checkpoint import save_checkpoint  # noqa: E402
from deepcomposer_desktop.ml.common import Cancelled, ModelError  # noqa: E402
from deepcomposer_desktop.ml.transformer import tokens as T  # noqa: E402
from deepcomposer_desktop.ml.transformer.generate import (ExtendError, extend, filter_logits, load_model,  # noqa: E402
                                                          plan_bars, sample_bars)
from deepcomposer_desktop.ml.transformer.model import MusicTransformer, TransformerConfig  # noqa: E402

TINY = TransformerConfig(n_layer=2, n_head=2, n_embd=32, block_size=96, dropout=0.0)


@pytest.fixture(autouse=True)
def one_thread():
    torch.set_num_threads(1)


def tiny_model(seed=0):
    torch.manual_seed(seed)
    return MusicTransformer(TINY).eval()


@pytest.fixture
def model_path(tmp_path):
    net = tiny_model()
    path = tmp_path / "transformer-tiny.pt"
    save_checkpoint(path, technique="transformer", name="tiny", model_args=TINY.to_dict(),
                    state_dict=net.state_dict())
    return path


def song(bars=4, bpm=120.0):
    mel = tuple(Note.make(60 + (i % 7), i * 480, 400, 90) for i in range(bars * 4))
    chords = tuple(Note.make(p, b * 1920, 1920, 70) for b in range(bars) for p in (48, 55))
    drums = (Note.make(36, 0, 60),)
    return Song(tracks=(Track("Melody", 0, notes=mel), Track("Chords", 0, notes=chords),
                        Track("Drums", 0, is_drum=True, notes=drums)), tempos=(TempoChange(0, bpm),),
                time_signatures=(TimeSignature(0, 4, 4),))


def test_shapes_and_param_count():
    net = tiny_model()
    x = torch.randint(0, T.VOCAB_SIZE, (3, 17))
    assert net(x).shape == (3, 17, T.VOCAB_SIZE)
    assert net(x, last_only=True).shape == (3, 1, T.VOCAB_SIZE)
    with pytest.raises(ValueError):
        net(torch.zeros(1, TINY.block_size + 1, dtype=torch.long))


def test_kv_cache_logits_equal_full_forward():
    net = tiny_model()
    x = torch.randint(0, T.VOCAB_SIZE, (2, 40))
    with torch.inference_mode():
        full = net(x)
        cache = net.new_cache(2)
        parts = [net(x[:, :25], cache), net(x[:, 25:26], cache), net(x[:, 26:], cache)]
    assert torch.allclose(torch.cat(parts, 1), full, atol=1e-5)


def _check_grammar(toks, n_slots, bar_steps):
    pos = -1
    for a, b in zip(toks, toks[1:] + [T.BAR]):
        if T.PITCH0 <= a < T.DUR0:
            assert T.DUR0 <= b < T.VOCAB_SIZE
        if a == T.BAR:
            pos = -1
        if T.POS0 <= a < T.TRK0:
            assert pos < a - T.POS0 < bar_steps
            pos = a - T.POS0
        if T.TRK0 <= a < T.VEL0:
            assert a - T.TRK0 < n_slots
        assert a not in (T.PAD, T.BOS, T.EOS) and not T.METER0 <= a < T.POS0


@pytest.mark.parametrize("n_slots", [1, 2])
def test_kv_cache_sampling_equals_no_cache_sampling_and_slides(n_slots):
    net = tiny_model(1)
    header = T.header_tokens((3, 4), 100, [0] * n_slots)
    body = T.encode_bars(T.song_to_piece(song(), list(range(n_slots))).bars)
    kw = dict(n_bars=4, n_slots=n_slots, bar_steps=36, top_p=0.9, temperature=1.0, seed=5)
    with_cache = sample_bars(net, header, body, use_cache=True, **kw)
    without = sample_bars(net, header, body, use_cache=False, **kw)
    assert with_cache == without
    assert len(header) + len(body) + len(with_cache) > TINY.block_size      # the window slid at least once
    assert with_cache[0] == T.BAR and with_cache.count(T.BAR) == 4
    _check_grammar(with_cache, n_slots, 36)


def test_save_load_gives_identical_output(model_path, tmp_path):
    net, _ = load_model(model_path)
    ref = tiny_model()
    x = torch.randint(0, T.VOCAB_SIZE, (1, 30))
    with torch.inference_mode():
        assert torch.equal(net(x), ref(x))
    a = extend(song(), bars=2, seed=3, model=str(model_path))[0]
    b = extend(song(), bars=2, seed=3, model=str(model_path))[0]
    assert a == b
    c = extend(song(), bars=2, seed=4, model=str(model_path))[0]
    assert c != a


@pytest.mark.parametrize("tracks", ["melody", "all"])
def test_extend_keeps_input_and_adds_requested_length(model_path, tracks):
    s = song(bars=4, bpm=240.0)                 # 1 s per bar
    takes = 2 if tracks == "melody" else 1
    out = extend(s, seconds=5.5, tracks=tracks, takes=takes, seed=0, model=str(model_path))
    assert len(out) == takes
    first_tick, n_bars = s.bar_start_tick(4), 6
    assert plan_bars(s, 5.5, None)[3] == n_bars and plan_bars(song(bpm=120.0), 30.0, None)[3] == 15
    for r in out:
        assert r.tempos == s.tempos and r.time_signatures == s.time_signatures and len(r.tracks) == 3
        for i, (a, b) in enumerate(zip(s.tracks, r.tracks)):
            assert b.notes[:len(a.notes)] == a.notes             # the input, untouched, comes first
            new = b.notes[len(a.notes):]
            assert all(first_tick <= n.start_tick < first_tick + n_bars * 1920 for n in new)
            extended = i == 0 or (tracks == "all" and i == 1)
            if not extended:
                assert b.notes == a.notes
            ends: dict[int, int] = {}
            for n in b.notes:                                     # no two notes of one pitch overlap
                assert ends.get(n.pitch, 0) <= n.start_tick, (i, n)
                ends[n.pitch] = n.end_tick
        assert r.note_count > s.note_count
    assert s.tracks[0].notes == song(bpm=240.0).tracks[0].notes   # the caller's song is unchanged
    bars = extend(s, bars=3, seed=1, model=str(model_path))[0]
    assert max(n.start_tick for n in bars.tracks[0].notes) < first_tick + 3 * 1920


def test_filter_logits_top_k_and_top_p():
    logits = torch.log(torch.tensor([0.5, 0.2, 0.15, 0.1, 0.05]))
    k2 = filter_logits(logits, top_k=2)
    assert torch.isfinite(k2).tolist() == [True, True, False, False, False]
    p = filter_logits(logits, top_p=0.8)                    # 0.5 + 0.2 < 0.8 <= 0.5 + 0.2 + 0.15
    assert torch.isfinite(p).tolist() == [True, True, True, False, False]
    p1 = filter_logits(logits, top_p=0.3)
    assert torch.isfinite(p1).tolist() == [True, False, False, False, False]
    assert torch.equal(filter_logits(logits, 0, 1.0), logits)


def test_top_k_one_is_greedy_whatever_the_seed(model_path):
    a = extend(song(), bars=2, top_k=1, seed=0, model=str(model_path))[0]
    b = extend(song(), bars=2, top_k=1, seed=99, model=str(model_path))[0]
    assert a == b


def test_sampled_tokens_respect_top_k(monkeypatch):
    net = tiny_model(2)
    header = T.header_tokens((4, 4), 120, [0])
    seen = []
    orig = torch.multinomial

    def spy(probs, n, generator=None):
        seen.append(int((probs > 0).sum()))
        return orig(probs, n, generator=generator)
    monkeypatch.setattr(torch, "multinomial", spy)
    sample_bars(net, header, [], n_bars=2, n_slots=1, bar_steps=48, top_k=3, top_p=1.0, seed=0)
    assert seen and max(seen) <= 3


def test_cancel_stops_generation(model_path):
    calls = []

    def stop():
        calls.append(1)
        return len(calls) > 5
    with pytest.raises(Cancelled):
        extend(song(), seconds=30, model=str(model_path), should_stop=stop)
    progress = []
    extend(song(), bars=2, model=str(model_path), progress=lambda f, m: progress.append(f))
    assert progress[-1] == 1.0 and all(0.0 <= f <= 1.0 for f in progress)


def test_bad_input_raises_clear_errors(model_path):
    with pytest.raises(ExtendError):
        extend(Song(), model=str(model_path))
    with pytest.raises(ExtendError):
        extend(song(), tracks="drums", model=str(model_path))
    with pytest.raises(ExtendError):
        extend(song(), top_p=0.0, model=str(model_path))
    with pytest.raises(ExtendError):
        extend(song(), bars=0, model=str(model_path))
    with pytest.raises(ModelError):
        extend(song(), model="no-such-model")
    drum_melody = song().replace(melody_index=2)
    with pytest.raises(ExtendError):
        extend(drum_melody, model=str(model_path))
    from deepcomposer_desktop.core.song import TimeSignature
    for num in (9, 10):                  # the model's bars stop at 8 quarter notes: the rest would stay silent
        with pytest.raises(ExtendError, match=f"{num} quarter notes long"):
            extend(song().replace(time_signatures=(TimeSignature(0, num, 4),)), bars=1, model=str(model_path))
    assert extend(song().replace(time_signatures=(TimeSignature(0, 12, 8),)), bars=1, model=str(model_path))


def test_each_part_continues_in_its_own_range_and_texture(model_path):
    # an untrained model writes anything anywhere: the limits keep the melody near its register and the
    # two-note chord part at two notes at once
    from deepcomposer_desktop.ml.transformer.generate import part_limits
    s = song(bars=4)
    assert part_limits(s.tracks[0]) == ((55, 71), 1) and part_limits(s.tracks[1]) == ((43, 60), 2)
    for seed in range(3):
        out = extend(s, bars=4, tracks="all", seed=seed, model=str(model_path))[0]
        for i, (lo, hi), cap in ((0, (55, 71), 1), (1, (43, 60), 2)):
            new = out.tracks[i].notes[len(s.tracks[i].notes):]
            assert all(lo <= n.pitch <= hi for n in new), (seed, i, sorted({n.pitch for n in new}))
            starts = [n.start_tick for n in new]
            assert all(starts.count(t) <= cap for t in set(starts))
    net = tiny_model()
    header = T.header_tokens((4, 4), 120, [0, 0])
    body = T.encode_bars(T.song_to_piece(s, [0, 1]).bars)
    free = sample_bars(net, header, body, 4, 2, 48, seed=1)
    bars, _ = T.decode_bars(free, 2)
    assert any(not 43 <= p <= 71 for bar in bars for _, _, p, _, _ in bar)   # without them it wanders


def test_a_bar_longer_than_the_models_window_is_read_from_its_end():
    # one bar of 48 notes in 8 parts: more tokens than the tiny model's 96-token window (a crash before)
    notes = tuple(Note.make(40 + 3 * k + i % 3, i * 40, 40, 80) for k in range(8) for i in range(48))
    tracks = tuple(Track(f"Part {k}", 0, notes=tuple(n for n in notes if 40 + 3 * k <= n.pitch < 43 + 3 * k))
                   for k in range(8))
    s = Song(tracks=tracks, tempos=(TempoChange(0, 120.0),), time_signatures=(TimeSignature(0, 4, 4),))
    net = tiny_model()
    header = T.header_tokens((4, 4), 120, [0] * 8)
    body = T.encode_bars(T.song_to_piece(s, list(range(8))).bars)
    assert len(header) + len(body) > TINY.block_size
    out = sample_bars(net, header, body, 1, 8, 48, seed=0)
    assert out[0] == T.BAR


def test_a_humanised_chord_counts_as_a_chord():
    from deepcomposer_desktop.ml.transformer.generate import part_limits
    rolled = Track("Keys", 0, notes=tuple(Note.make(p, b * 1920 + 4 * i, 1800) for b in range(2)
                                          for i, p in enumerate((48, 52, 55, 60))))
    assert part_limits(rolled, 480)[1] == 4                      # four notes 4 ticks apart: one chord of four
