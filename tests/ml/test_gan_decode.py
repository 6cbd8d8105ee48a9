"""GAN decoding on hand-made probabilities: thresholds, polyphony cap, bar gate, gap filling, short notes,
and calibration that matches the real data's statistics."""
import numpy as np
import pytest

from deepcomposer_desktop.ml.gan import decode as dec
from deepcomposer_desktop.ml.gan import decode_fit as dfit


def probs_with(notes, steps=32, low=0.05):
    p = np.full((steps, 128), low, np.float32)
    for pitch, s, n, v in notes:
        p[s:s + n, pitch] = v
    return p


def test_threshold_and_polyphony_cap():
    p = probs_with([(60, 0, 8, 0.9), (64, 0, 8, 0.8), (67, 0, 8, 0.7)])
    prm = dec.DecodeParams.plain(1, max_poly=2).track(0)
    f, o = dec.decode_track(p, None, prm)
    assert f[:8, 60].all() and f[:8, 64].all() and not f[:, 67].any()
    assert o.sum() == 2


def test_gap_filling_and_onsets_split_notes():
    f = np.zeros((16, 128), bool)
    f[0:4, 60] = f[5:9, 60] = True                                        # one-step gap
    assert dec.fill_gaps(f, 1)[:9, 60].all() and not dec.fill_gaps(f, 0)[4, 60]
    p = probs_with([(60, 0, 8, 0.9)], steps=16)
    po = np.zeros_like(p)
    po[4, 60] = 0.9
    prm = dict(dec.DecodeParams.plain(1).track(0), onset_threshold=0.5)
    _, o = dec.decode_track(p, po, prm)
    assert np.nonzero(o[:, 60])[0].tolist() == [0, 4]


def test_min_len_drops_short_notes_and_lengths_per_cell():
    f = np.zeros((16, 128), bool)
    o = np.zeros_like(f)
    f[0:4, 60] = True
    f[6:7, 62] = True
    f[8:14, 64] = True
    o[11, 64] = True                                                     # 8-10 and 11-13
    lengths = dec.note_lengths_per_cell(f, o)
    assert lengths[0, 60] == 4 and lengths[6, 62] == 1 and lengths[8, 64] == 3 and lengths[13, 64] == 3
    p = f.astype(np.float32)
    prm = dict(dec.DecodeParams.plain(1).track(0), min_len=2)
    out, _ = dec.decode_track(p, None, prm)
    assert out[0:4, 60].all() and not out[:, 62].any()


def test_bar_gate_silences_quiet_bars():
    p = probs_with([(60, 0, 16, 0.9), (60, 16, 16, 0.3)])
    prm = dict(dec.DecodeParams.plain(1).track(0), threshold=0.2, bar_gate=0.5)
    f, _ = dec.decode_track(p, None, prm)
    assert f[:16, 60].all() and not f[16:].any()


def test_calibration_matches_real_rates():
    rng = np.random.default_rng(0)
    n, s = 20, 64
    real = np.zeros((n, 1, s, 128), bool)
    for i in range(n):
        for b in range(0, s, 8):
            if b // 16 != 3:                                              # bar 4 always empty
                real[i, 0, b:b + 6, 48 + rng.integers(0, 12)] = True
    on = dec.run_starts(real)
    probs = np.clip(real * 0.6 + rng.random(real.shape) * 0.45, 0, 1).astype(np.float32)
    params = dfit.calibrate(probs, probs * 0, real, on)
    assert params.max_poly == (1,)
    f, o = dec.decode(probs[0], None, params)
    gen = np.stack([dec.decode(probs[i], None, params)[0] for i in range(n)])
    assert abs(gen.mean() - real.mean()) / real.mean() < 0.25
    d_gen, q_gen = dfit._note_stats(gen[:, 0], dec.run_starts(gen[:, 0]))
    d_real, q_real = dfit._note_stats(real[:, 0], on[:, 0])
    assert abs(d_gen - d_real) / d_real < 0.25 and q_gen > 0.8
    back = dec.DecodeParams.from_dict(params.to_dict())
    assert back == params


def test_drum_phase_prior_puts_hits_on_the_real_grid():
    rng = np.random.default_rng(1)
    n, s = 12, 64
    real = np.zeros((n, 1, s, 128), bool)
    real[:, 0, 0::4, 36] = True                                           # kick on every beat
    real[:, 0, 2::4, 42] = True                                           # hi-hat on the off-beats
    on = real.copy()
    prior = dfit.phase_prior(on[:, 0])
    assert prior[36][0] == 1.0 and prior[36][1] == 0.0 and prior[42][2] == 1.0 and set(prior) == {36, 42}
    probs = (rng.random(real.shape) * 0.5).astype(np.float32)              # a generator that learned nothing yet
    params = dfit.calibrate(probs, probs, real, on, is_drum=[True])
    assert params.prior[0] is not None
    gen = np.stack([dec.decode(probs[i], probs[i], params)[1] for i in range(n)])
    steps, pitches = np.nonzero(gen[:, 0].any(axis=0))
    assert set(pitches) <= {36, 42} and gen.sum() > 0
    assert dec.DecodeParams.from_dict(params.to_dict()).prior[0][36] == prior[36]


def _flickering_case(n=6, steps=64):
    """Real: one held whole-bar note per bar (C major triad tones, a new one each bar) under a melody; generated
    probabilities: the same notes, but every other step dips below the threshold (the notes fall apart)."""
    mel = np.zeros((n, steps, 128), bool)
    real = np.zeros((n, 1, steps, 128), bool)
    probs = np.full((n, 1, steps, 128), 0.02, np.float32)
    for i in range(n):
        for b in range(steps // 16):
            pitch = (48, 52, 55)[(b + i) % 3]                          # never the same pitch twice running
            real[i, 0, b * 16:(b + 1) * 16, pitch] = True
            probs[i, 0, b * 16:(b + 1) * 16, pitch] = np.tile([0.9, 0.3], 8)
            mel[i, b * 16:(b + 1) * 16:4, 72] = True
    return mel, real, probs


def test_refine_fits_the_music_figures():
    from deepcomposer_desktop.ml import metrics as M
    mel, real, probs = _flickering_case()
    real_on = np.zeros_like(real)
    real_on[:, :, ::16] = real[:, :, ::16]
    start = dec.DecodeParams.plain(1)                                    # threshold 0.5: one-step notes
    f, o = dec.decode(probs[0], None, start)
    assert M.qualified_note_rate(f[0], o[0]) == 0.0
    params, figs = dfit.refine(start, probs, None, mel, real, real_on, [False], rounds=3)
    assert figs["target"]["qualified_note_rate"] == 1.0
    assert abs(figs["reached"]["qualified_note_rate"] - 1.0) < 0.05
    assert abs(figs["reached"]["note_density"] - figs["target"]["note_density"]) < 0.1
    assert params.fill_gap[0] >= 1 or params.threshold[0] < 0.3       # it closed the dips
    f, o = dec.decode(probs[1], None, params)                           # and the parameters do it on their own
    assert M.qualified_note_rate(f[0], o[0]) == 1.0


def test_refine_keeps_parameters_that_already_fit():
    mel, real, _ = _flickering_case()
    real_on = np.zeros_like(real)
    real_on[:, :, ::16] = real[:, :, ::16]
    probs = np.where(real, 0.9, 0.02).astype(np.float32)                 # a perfect generator
    start = dec.DecodeParams.plain(1)
    params, figs = dfit.refine(start, probs, None, mel, real, real_on, [False])
    assert params == start
    assert all(figs["reached"][k] == v or (v != v and figs["reached"][k] != figs["reached"][k])
               for k, v in figs["target"].items())                     # equal, nan where undefined


def test_band_agrees_on_the_bar_harmony():
    # two pitched tracks vote C major in bar 1 and F major in bar 2; track 2 also has a fairly likely F# in both
    steps = 32
    piano = probs_with([(60, 0, 16, 0.9), (64, 0, 16, 0.9), (67, 0, 16, 0.9),
                        (65, 16, 16, 0.9), (69, 16, 16, 0.9), (72, 16, 16, 0.9)], steps)
    bass = probs_with([(36, 0, 16, 0.9), (41, 16, 16, 0.9), (42, 0, 32, 0.7)], steps)
    drums = probs_with([(66, 0, 32, 0.95)], steps)                   # an F#-numbered drum: must not vote
    probs = np.stack([piano, bass, drums])
    rank = dec.bar_pc_rank(probs[:2])
    assert rank.shape == (2, 12)
    assert set(np.nonzero(rank[0] < 3)[0]) == {0, 4, 7} and set(np.nonzero(rank[1] < 3)[0]) == {5, 9, 0}
    params = dec.DecodeParams((0.5,) * 3, max_poly=(3, 2, 1), bar_pcs=(12, 3, 0))
    f, _ = dec.decode(probs, None, params)
    assert not f[1, :, 42].any() and f[1, :16, 36].all() and f[1, 16:, 41].all()   # F# gone, roots kept
    assert f[2, :, 66].all()                                                   # the drum track untouched
    open_params = dec.DecodeParams((0.5,) * 3, max_poly=(3, 2, 1), bar_pcs=(12, 12, 0))
    f, _ = dec.decode(probs, None, open_params)
    assert f[1, :, 42].all()                                                   # 12: no filter


def test_decode_params_round_trip_and_old_files():
    p = dec.DecodeParams((0.4, 0.5), bar_pcs=(3, 0))
    assert dec.DecodeParams.from_dict(p.to_dict()) == p
    old = {k: v for k, v in p.to_dict().items() if k != "bar_pcs"}             # a model file from before
    assert dec.DecodeParams.from_dict(old).bar_pcs == (12, 12)


def test_prior_weight_moves_drum_hits_between_generator_and_learned_grid():
    probs = np.full((16, 128), 0.5, np.float32)
    prior = {42: [1.0 if s % 4 == 0 else 0.04 for s in range(16)]}      # hi-hat on quarter notes in the real data
    assert np.allclose(dec.apply_prior(probs, prior, 0.0)[:, 42], 0.5)             # the generator alone
    assert np.allclose(dec.apply_prior(probs, prior, 1.0)[:, 42], prior[42])       # the learned grid alone
    assert np.allclose(dec.apply_prior(probs, prior)[:, 42], np.sqrt(0.5 * np.array(prior[42])))
    p = dec.DecodeParams((0.3,), prior=(prior,), prior_weight=(0.8,), bar_pcs=(0,))
    f, _ = dec.decode(probs[None], None, p)
    assert np.nonzero(f[0, :, 42])[0].tolist() == [0, 4, 8, 12]
    back = dec.DecodeParams.from_dict(p.to_dict())
    assert back.prior_weight == (0.8,) and back.threshold == (0.3,)


def _swing_case(n=24, bars=8, seed=2):
    """Real: a jazz ride on every beat and, in half of the bars, on the swung 'a' of beats 1 and 3 (steps 3 and
    11), and the hi-hat on 2 and 4; generated: the same shape with noise, but a generator that is surer of the ride
    than of the hi-hat: the hi-hat is the least likely cell of all, though the real drummer never misses it."""
    rng = np.random.default_rng(seed)
    s = bars * 16
    real = np.zeros((n, 1, s, 128), bool)
    real[:, 0, 0::4, 51] = True
    swung = rng.random((n, bars)) < 0.5
    for b in range(bars):
        real[swung[:, b], 0, b * 16 + 3, 51] = real[swung[:, b], 0, b * 16 + 11, 51] = True
    probs = np.full(real.shape, 0.01, np.float32)
    probs[:, 0, 0::4, 51] = 0.6 + rng.random((n, s // 4)) * 0.3
    for st in (3, 11):
        probs[:, 0, st::16, 51] = 0.1 + rng.random((n, bars)) * 0.2
    real[:, 0, 4::8, 42] = True
    probs[:, 0, 4::8, 42] = 0.05 + rng.random((n, s // 8)) * 0.1
    return real, probs


def test_phase_gain_keeps_each_drum_at_its_real_rate_per_sixteenth():
    from deepcomposer_desktop.ml import metrics as M
    real, probs = _swing_case()
    params = dfit.calibrate(probs, None, real, real, is_drum=[True])
    assert params.phase_gain[0] is not None and set(params.phase_gain[0]) == {42, 51}
    gain = params.phase_gain[0][51]
    assert gain[3] > gain[0] and gain[1] == 0.0                    # swung cells lifted; never-played cells silent
    test_real, test_probs = _swing_case(seed=3)                     # new "melodies"
    hits = np.stack([dec.decode(test_probs[i], None, params)[1] for i in range(len(test_probs))])
    per_step = hits[:, 0].reshape(len(hits), -1, 16, 128).mean(axis=(0, 1))
    real_step = test_real[:, 0].reshape(len(hits), -1, 16, 128).mean(axis=(0, 1))
    assert np.abs(per_step - real_step).max() < 0.15     # half the bars swing; every beat, every 2 and 4 played
    dp = np.mean([M.drum_pattern_rate(h[0]) for h in hits])
    dp_real = np.mean([M.drum_pattern_rate(r[0]) for r in test_real])
    assert abs(dp - dp_real) < 0.05
    # one threshold over the whole grid, set for the real number of hits: the sure ride takes the hi-hat's place
    flat = dict(params.track(0), phase_gain=None, prior=None, bar_gate=0.0, max_poly=128)
    flat["threshold"] = float(np.quantile(probs, 1 - real.mean()))
    flat_hits = np.stack([dec.decode_track(test_probs[i, 0], None, flat)[0] for i in range(len(test_probs))])
    assert flat_hits.sum() > 0.8 * test_real.sum()
    assert flat_hits[:, 4::8, 42].mean() < 0.5 and flat_hits[:, 3::16, 51].mean() > 0.6
    back = dec.DecodeParams.from_dict(params.to_dict())
    assert back.phase_gain[0][51] == gain
    old = {k: v for k, v in params.to_dict().items() if k != "phase_gain"}       # a model file from before
    assert dec.DecodeParams.from_dict(old).phase_gain == (None,)


def test_refine_refits_the_drum_gains():
    real, probs = _swing_case(n=12)
    mel = np.zeros(real.shape[:1] + real.shape[2:], bool)
    mel[:, ::4, 72] = True
    params = dfit.calibrate(probs, None, real, real, is_drum=[True])
    moved = dec.DecodeParams(**dict(params.__dict__, threshold=(params.threshold[0] * 0.5,)))
    refined, figs = dfit.refine(moved, probs, None, mel, real, real, [True], rounds=2)
    assert abs(figs["reached"]["drum_pattern_rate"] - figs["target"]["drum_pattern_rate"]) < 0.05
    assert abs(figs["reached"]["note_density"] - figs["target"]["note_density"]) / figs["target"]["note_density"] < 0.1


def test_vary_is_seeded_per_bar_and_gives_each_take_s_drums_a_groove_of_their_own():
    rng = np.random.default_rng(0)
    probs = rng.random((3, 48, 128)).astype(np.float32) * 0.9 + 0.05
    a, b = dec.vary(probs, 7, is_drum=[False, False, True]), dec.vary(probs, 7, is_drum=[False, False, True])
    assert np.array_equal(a, b) and not np.allclose(a[:2], probs[:2], atol=1e-3)
    assert np.array_equal(a[:2], dec.vary(probs, 7)[:2])             # the pitched tracks' noise as without drums
    assert not np.allclose(dec.vary(probs, 8)[:2], a[:2])
    logit = lambda x: np.log(x) - np.log1p(-x)                                 # noqa: E731
    d = logit(a[0].astype(np.float64)) - logit(probs[0].astype(np.float64))
    assert np.allclose(d[:16], d[0], atol=1e-3) and not np.allclose(d[16], d[0], atol=1e-3)   # one value per bar
    g = logit(a[2].astype(np.float64)) - logit(probs[2].astype(np.float64))
    assert np.allclose(g[:16], g[16:32], atol=1e-3) and np.allclose(g[:16], g[32:], atol=1e-3)   # every bar alike
    assert not np.allclose(g[0], g[1], atol=1e-3)                    # ... each drum and sixteenth its own offset
    other = dec.vary(probs, 8, is_drum=[False, False, True])
    assert not np.allclose(other[2], a[2], atol=1e-3)                # another take, another groove
    assert np.allclose(dec.vary(probs, 7, is_drum=[False, False, True], drum_variation=0.0)[2], probs[2])
    assert dec.vary(probs, 7, variation=0.0) is probs


def test_fit_calibrates_on_the_probabilities_generation_decodes():
    real, probs = _swing_case(n=6)
    probs = np.concatenate([probs, np.clip(np.roll(probs, 1, axis=-1) + 0.2, 0, 1)], axis=1)  # + a pitched track
    real = np.concatenate([real, real], axis=1)
    mel = np.zeros(real.shape[:1] + real.shape[2:], bool)
    drums = [True, False]
    noisy = np.stack([dec.vary(x, k, is_drum=drums) for k, x in enumerate(probs)])
    assert not np.allclose(noisy[:, 1], probs[:, 1]) and not np.allclose(noisy[:, 0], probs[:, 0])
    assert dfit.fit(probs, None, mel, real, real, drums) == dfit.calibrate(noisy, None, real, real, drums)
    assert (dfit.fit(probs, None, mel, real, real, drums, variation=0.0)
            == dfit.calibrate(probs, None, real, real, drums))


def test_refine_stops_at_its_deadline():
    import time
    mel, real, probs = _flickering_case()
    real_on = np.zeros_like(real)
    real_on[:, :, ::16] = real[:, :, ::16]
    start = dec.DecodeParams.plain(1)
    params, figs = dfit.refine(start, probs, None, mel, real, real_on, [False], rounds=3, deadline=time.time() - 1)
    assert params == start                                 # out of time: nothing tried, the start is returned
    assert figs["reached"]["qualified_note_rate"] == 0.0
    params, _ = dfit.refine(start, probs, None, mel, real, real_on, [False], rounds=3, deadline=time.time() + 600)
    assert params != start
    params, _ = dfit.refine(start, probs, None, mel, real, real_on, [False], rounds=3,
                           should_stop=lambda: True)          # Pause / Cancel pressed: stops as if out of time
    assert params == start


def test_refine_keeps_a_monophonic_part_monophonic():
    # a bass (real: one note at a time) and a piano (real: triads) whose generator only knows each triad's root.
    # The band's mean polyphony is too low; a second bass note (a likely fifth is there) would raise it, but the
    # real bass never plays two notes together, so the search must not let it.
    mel, bass, _ = _flickering_case()
    piano = bass | np.roll(bass, 4, axis=-1) | np.roll(bass, 7, axis=-1)
    real = np.concatenate([bass, piano], axis=1)
    probs = np.concatenate([np.where(bass, 0.9, 0.02) + np.roll(bass, 7, axis=-1) * 0.6,
                            np.where(bass, 0.9, 0.02)], axis=1).astype(np.float32)
    real_on = np.zeros_like(real)
    real_on[:, :, ::16] = real[:, :, ::16]
    start = dec.DecodeParams.plain(2, max_poly=1)
    params, figs = dfit.refine(start, probs, None, mel, real, real_on, [False, False], rounds=3)
    assert params.max_poly[0] == 1
    assert figs["target"]["polyphony"] == 2.0 and figs["reached"]["polyphony"] < 1.5


def _two_parts_case():
    """A pad (real: one whole note a bar) and a bass (real: the same note struck on every beat) whose generator
    hears both sustained through the bar, with the same hesitant onsets on beats 2-4: either part could take the
    re-attacks. The band's mean notes per bar (2.5) comes out right either way."""
    n, bars = 6, 4
    s = bars * 16
    mel = np.zeros((n, s, 128), bool)
    mel[:, :, 72] = True
    pad = np.zeros((n, 1, s, 128), bool)
    pad[:, :, :, 60] = True
    bass = np.zeros((n, 1, s, 128), bool)
    bass[:, :, :, 36] = True
    real = np.concatenate([pad, bass], axis=1)
    real_on = np.zeros_like(real)
    real_on[:, 0, ::16] = real[:, 0, ::16]
    real_on[:, 1, ::4] = real[:, 1, ::4]
    probs = np.where(real, 0.9, 0.0).astype(np.float32)
    onset = np.zeros_like(probs)
    onset[:, :, ::4] = np.where(real[:, :, ::4], 0.48, 0.0)
    onset[:, :, ::16] = np.where(real[:, :, ::16], 0.9, 0.0)
    return mel, real, real_on, probs, onset


def test_texture_figures_per_pitched_part():
    _, real, real_on, _, _ = _two_parts_case()
    tex = dfit.texture_figures(real, real_on, [False, False])
    assert tex["track 0 note_density"] == 1.0 and tex["track 1 note_density"] == 4.0
    assert tex["track 0 used_pitch_classes"] == 1.0 and tex["track 1 polyphony"] == 1.0
    assert tex["track 0 qualified_note_rate"] == 1.0 and tex["track 1 qualified_note_rate"] == 1.0
    assert dfit.texture_figures(real, real_on, [False, True]).keys() == {
        "track 0 note_density", "track 0 used_pitch_classes", "track 0 polyphony", "track 0 qualified_note_rate"}
    assert dfit.texture_figures(real, real_on, [False, False], tracks=[1]).keys() == {
        "track 1 note_density", "track 1 used_pitch_classes", "track 1 polyphony", "track 1 qualified_note_rate"}


def test_texture_tracks_by_name_or_number():
    from deepcomposer_desktop.ml.gan.recalibrate import texture_track_indices
    names = ["Walking bass", "Piano comping", "Horns", "Drums"]
    assert texture_track_indices(None, names) is None
    assert texture_track_indices("walking bass, 3", names) == [0, 2]
    with pytest.raises(ValueError, match="No track 'tuba'"):
        texture_track_indices("tuba", names)


def test_refine_with_texture_gives_each_part_its_own_rhythm():
    # Without the texture terms the search takes the first move that fixes the band's mean: the pad (track 0)
    # re-strikes on every beat and the bass holds whole notes. With them, the bass walks and the pad holds.
    mel, real, real_on, probs, onset = _two_parts_case()
    start = dec.DecodeParams.plain(2, max_poly=1)
    plain, figs = dfit.refine(start, probs, onset, mel, real, real_on, [False, False], rounds=3)
    assert figs["reached"]["note_density"] == pytest.approx(2.5)
    swapped = [dec.decode_track(probs[:, t], onset[:, t], plain.track(t)) for t in range(2)]
    assert swapped[0][1].sum() > swapped[1][1].sum()                  # the pad plays more notes than the bass
    params, figs = dfit.refine(start, probs, onset, mel, real, real_on, [False, False], rounds=3, texture=0.5)
    assert figs["reached"]["note_density"] == pytest.approx(2.5)
    assert figs["reached"]["track 0 note_density"] == pytest.approx(1.0)
    assert figs["reached"]["track 1 note_density"] == pytest.approx(4.0)


def _held_bass_case():
    """A bass the generator hears held through every bar, with onset probabilities that are noise (no sign of
    where it re-attacks); the real bass strikes the same note in a dotted rhythm (steps 0, 3, 8 and 11 of each
    bar), which no one-note-per-cell walk can play."""
    n, s = 6, 64
    mel = np.zeros((n, s, 128), bool)
    mel[:, :, 72] = True
    real = np.zeros((n, 1, s, 128), bool)
    real[:, :, :, 36] = True
    real_on = np.zeros_like(real)
    beats = np.isin(np.arange(s) % 16, (0, 3, 8, 11))
    real_on[:, :, beats] = real[:, :, beats]
    probs = np.where(real, 0.9, 0.0).astype(np.float32)
    onset = (np.random.default_rng(0).random(probs.shape) * 0.05).astype(np.float32) * real
    return mel, real, real_on, probs, onset


def test_strike_rates_per_sixteenth():
    _, real, real_on, _, _ = _held_bass_case()
    assert dfit.strike_rates(real[:, 0], real_on[:, 0]) == [1.0, 0, 0, 1.0, 0, 0, 0, 0] * 2
    assert dfit.strike_rates(np.zeros((2, 32, 128), bool), np.zeros((2, 32, 128), bool)) is None


def test_refine_re_attacks_held_notes_where_the_real_part_does():
    import dataclasses
    mel, real, real_on, probs, onset = _held_bass_case()
    params = dfit.calibrate(probs, onset, real, real_on)
    assert params.strike[0] == [1.0, 0, 0, 1.0, 0, 0, 0, 0] * 2 and params.strike_weight == (0.0,)
    tuned, figs = dfit.refine(params, probs, onset, mel, real, real_on, [False], rounds=3)
    assert tuned.strike_weight[0] > 0
    frames, onsets = dec.decode_track(probs[:, 0], onset[:, 0], tuned.track(0))
    assert (frames == real[:, 0]).all() and (onsets == real_on[:, 0]).all()      # the dotted rhythm
    # without the grid the noise decides where notes begin: not on the beats
    blind, _ = dfit.refine(dataclasses.replace(params, strike=(None,)), probs, onset, mel, real, real_on, [False],
                          rounds=3)
    assert not (dec.decode_track(probs[:, 0], onset[:, 0], blind.track(0))[1] == real_on[:, 0]).all()
    # stored and read back; a model file from before has no grid and decodes as it did
    back = dec.DecodeParams.from_dict(tuned.to_dict())
    assert back.strike == tuned.strike and back.strike_weight == tuned.strike_weight
    old = {k: v for k, v in tuned.to_dict().items() if k not in ("strike", "strike_weight")}
    assert dec.DecodeParams.from_dict(old).strike == (None,)
    assert dec.DecodeParams.from_dict(old).strike_weight == (0.0,)


def test_join_short_notes_holds_a_wavering_line_on():
    # C for 4 steps, a one-step D, E for 3 steps, a rest, then a lone one-step G and a two-step A re-attacked as A
    f = np.zeros((16, 128), bool)
    o = np.zeros((16, 128), bool)
    for pitch, start, n in ((60, 0, 4), (62, 4, 1), (64, 5, 3), (67, 10, 1), (69, 11, 3), (69, 14, 1)):
        f[start:start + n, pitch] = True
        o[start, pitch] = True
    jf, jo = dec.join_short_notes(f, o, 2)
    assert jf[0:5, 60].all() and not jf[:, 62].any()                  # the D became part of the C
    assert jf[5:8, 64].all() and jo[5, 64]
    assert jf[10, 67] and jo[10, 67]                                   # after a rest: kept as it is
    assert jf[11:15, 69].all() and jo[11, 69] and not jo[14, 69]       # the one-step re-attack joins its note
    assert (jf.sum(axis=-1) <= 1).all() and jo.sum() == 4
    same_f, same_o = dec.join_short_notes(f, o, 1)                     # nothing is shorter than one step
    assert (same_f == f).all() and (same_o == o).all()


def test_walk_notes_plays_one_note_per_cell():
    # a line that wavers inside each beat: C C D C | E E E F | (rest) G G G | A A A A
    f = np.zeros((16, 128), bool)
    for t, pitch in enumerate([60, 60, 62, 60, 64, 64, 64, 65, None, 67, 67, 67, 69, 69, 69, 69]):
        if pitch is not None:
            f[t, pitch] = True
    probs = np.where(f, 0.8, 0.0).astype(np.float32)
    wf, wo = dec.walk_notes(f, probs, 4)
    assert wf[0:4, 60].all() and wf[4:8, 64].all() and wf[9:12, 67].all() and wf[12:16, 69].all()
    assert not wf[:, [62, 65]].any() and not wf[8].any()                 # the rest stays a rest
    assert sorted(np.nonzero(wo)[0].tolist()) == [0, 4, 9, 12] and (wf.sum(axis=-1) <= 1).all()
    held = np.zeros((16, 128), bool)
    held[:, 48] = True                                                  # a note held all bar: struck each beat
    assert np.nonzero(dec.walk_notes(held, held.astype(np.float32), 4)[1])[0].tolist() == [0, 4, 8, 12]
    tf, to = dec.walk_notes(held, held.astype(np.float32), 4, tie=True)  # ... or, tied, held on
    assert tf[:, 48].all() and np.nonzero(to)[0].tolist() == [0]
    f2 = f.copy()
    f2[4:8] = False
    f2[4:8, 60] = True                                                  # beat 2 keeps beat 1's C: one half note
    tf, to = dec.walk_notes(f2, np.where(f2, 0.8, 0.0).astype(np.float32), 4, tie=True)
    assert tf[0:8, 60].all() and sorted(np.nonzero(to)[0].tolist()) == [0, 9, 12]    # and after a rest: struck


def test_refine_makes_a_wavering_bass_walk():
    # the generator's bass wavers to a neighbour pitch for a step inside most beats; the real bass walks in
    # quarter notes: the search picks the walk, and the decoded line is the real one
    rng = np.random.default_rng(1)
    n, s = 8, 64
    mel = np.zeros((n, s, 128), bool)
    mel[:, :, 72] = True
    real = np.zeros((n, 1, s, 128), bool)
    real_on = np.zeros_like(real)
    probs = np.zeros((n, 1, s, 128), np.float32)
    for w in range(n):
        for beat in range(s // 4):
            pitch = 36 + int(rng.integers(0, 12))
            real[w, 0, beat * 4:beat * 4 + 4, pitch] = True
            real_on[w, 0, beat * 4, pitch] = True
            probs[w, 0, beat * 4:beat * 4 + 4, pitch] = 0.9
            probs[w, 0, beat * 4 + int(rng.integers(1, 4)), pitch + 1] = 0.95       # the waver
    onset = (rng.random(probs.shape) * 0.05).astype(np.float32) * (probs > 0)
    params = dfit.calibrate(probs, onset, real, real_on)
    tuned, _ = dfit.refine(params, probs, onset, mel, real, real_on, [False], rounds=3, texture=0.5)
    assert tuned.walk == (4,)
    frames, onsets = dec.decode_track(probs[:, 0], onset[:, 0], tuned.track(0))
    assert (frames == real[:, 0]).all() and (onsets == real_on[:, 0]).all()
    plain = dict(tuned.track(0), walk=0)                                 # without it the wavers stay notes
    assert not (dec.decode_track(probs[:, 0], onset[:, 0], plain)[0] == real[:, 0]).all()
    back = dec.DecodeParams.from_dict(tuned.to_dict())
    assert back.walk == (4,)
    old = {k: v for k, v in tuned.to_dict().items() if k != "walk"}       # a model file from before: no walk
    assert dec.DecodeParams.from_dict(old).walk == (0,)


def test_legato_applies_to_one_note_parts_only():
    p = probs_with([(60, 0, 4, 0.9), (62, 4, 1, 0.9), (64, 5, 3, 0.9)], steps=16)
    on = np.zeros_like(p)
    on[[0, 4, 5], [60, 62, 64]] = 0.9
    mono = dict(dec.DecodeParams.plain(1, max_poly=1).track(0), legato=2)
    f, _ = dec.decode_track(p, on, mono)
    assert f[0:5, 60].all() and not f[:, 62].any()
    poly = dict(mono, max_poly=3)
    f, _ = dec.decode_track(p, on, poly)
    assert f[4, 62]                                                    # a chord part is left alone
    back = dec.DecodeParams.from_dict(dec.DecodeParams.plain(1, max_poly=1).to_dict())
    assert back.legato == (0,)


def test_gap_filling_keeps_one_note_parts_to_one_note():
    # A, a one-step B, A again: filling A's one-step gap would put two notes under a one-note part at step 4
    p = probs_with([(57, 0, 4, 0.9), (59, 4, 1, 0.8), (57, 5, 4, 0.9)], steps=16)
    prm = dict(dec.DecodeParams.plain(1, max_poly=1).track(0), fill_gap=1)
    f, o = dec.decode_track(p, None, prm)
    assert (f.sum(axis=-1) <= 1).all()
    assert f[4, 59] and f[:4, 57].all() and f[5:9, 57].all()             # B keeps its step, A resumes
    two = dict(prm, max_poly=2)
    f, _ = dec.decode_track(p, None, two)
    assert f[4, 57] and f[4, 59]                                         # a chord part may hold A under B


def test_a_part_keeps_to_its_real_range():
    # a bass whose generator likes a high C as much as its low one: the fitted range keeps it to the low C
    n, s = 8, 32
    real = np.zeros((n, 2, s, 128), bool)
    real[:, 0, :, 36] = True                                              # the real bass: C2 ...
    real[:, 0, 16:, 43] = True                                            # ... and G2
    real[:, 1, ::4, 38] = True                                            # drums: a snare (no range)
    probs = np.full(real.shape, 0.02, np.float32)
    probs[:, 0, :, 36] = probs[:, 0, :, 84] = 0.9                        # C2 and C6 alike
    probs[:, 1, ::4, 38] = 0.9
    params = dfit.calibrate(probs, None, real, dec.run_starts(real), [False, True])
    assert (params.low, params.high) == ((34, 0), (45, 127))
    f, _ = dec.decode(probs[0], None, params)
    assert f[0, :, 36].all() and not f[0, :, 46:].any()
    assert dec.DecodeParams.from_dict(params.to_dict()) == params
    # a model file from before ranges decodes as it did, and a refit gives it its range and keeps the rest
    old = dec.DecodeParams.from_dict({k: v for k, v in params.to_dict().items() if k not in ("low", "high")})
    assert (old.low, old.high) == ((0, 0), (127, 127)) and dec.decode(probs[0], None, old)[0][0, :, 84].all()
    mel = np.zeros((n, s, 128), bool)
    kept = dfit.fit(probs, None, mel, real, real, [False, True], start=old, variation=0.0)
    assert kept == params
    assert dfit.pitch_range(np.zeros((4, 16, 128), bool)) == (0, 127)
    # ranges are in the song's own key: the model plays a melody moved to C major / A minor by ``shift``, so a
    # window moved up 3 semitones keeps the bass to 37 .. 48 there (and it comes back down to 34 .. 45)
    f, _ = dec.decode(probs[0], None, params, shift=3)
    assert not f[0, :, :37].any() and f[0, :, 48].all()               # its C comes an octave up, inside
    # what the model gives outside the range goes to the same note an octave or more inside
    assert [dec.fold_map(34, 45)[p] for p in (84, 20, 40, 127)] == [36, 44, 40, 43]
    assert dec.fold_map(60, 65)[70] == -1                              # no octave of it fits: dropped
    moved = np.full(n, 2)                                                 # real windows moved up 2 semitones
    assert dfit.pitch_range(real[:, 0], moved) == (32, 43)
    assert dfit.calibrate(probs, None, real, dec.run_starts(real), [False, True], shifts=moved).low == (32, 0)


def test_a_fit_that_silences_a_part_is_charged_for_the_figures_it_loses():
    # with no pitched note the pitch figures are undefined: they must count as far off, not drop out of the loss
    real = {"in_scale_rate": 0.9, "polyphony": 1.2, "note_density": 4.0}
    silent = {"in_scale_rate": float("nan"), "polyphony": float("nan"), "note_density": 0.0}
    rough = {"in_scale_rate": 0.6, "polyphony": 1.6, "note_density": 3.0}
    assert dfit._figure_loss(real, silent) > dfit._figure_loss(real, rough)
