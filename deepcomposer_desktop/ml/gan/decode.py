"""From generator probabilities to note rolls (numpy only).

Ours, per track: (1) a bar stays silent when its activity (mean over steps of the likeliest pitch's
probability) is below ``bar_gate``; (2) a cell sounds when its frame probability passes ``threshold`` and is
among the ``max_poly`` likeliest pitches at that step; (3) gaps of up to ``fill_gap`` steps inside a held pitch
are closed; (4) a note starts where a run begins or where the onset probability passes ``onset_threshold``;
(5) notes shorter than ``min_len`` steps are dropped. Before all that, a pitched track keeps to the real part's
pitch range (``low`` .. ``high``: a bass line never climbs into the melody's register), and may keep only the
``bar_pcs`` pitch classes that the whole band (all pitched tracks' probabilities) favours in each bar: the parts
agree on the bar's harmony (12 = off; 0 marks a drum track, which neither votes nor is filtered); a drum track
mixes in the real hit grid with ``prior_weight`` and then scales each drum's probability at each sixteenth of the
bar by ``phase_gain``, fitted so that every drum sounds at every sixteenth as often as in the real data (a single
threshold over the whole grid would keep only the most frequent hits: the swung ones would vanish). Every
parameter is calibrated after training on training melodies so that the track's empty-bar rate, sounding-cell
rate, polyphony, note density and note lengths match the real data (quantile matching plus a small grid search),
then ``refine`` fits them all to every music figure of the model card (optionally also to each part's own texture:
``texture_figures``), and may mix in a part's re-attack grid (``apply_strike``: where in the bar the real part
begins notes), join a one-note part's fragments (``join_short_notes``) or make it walk, one note per beat or other
cell (``walk_notes``); ``fit`` does all this on the probabilities as generation decodes them, with the per-bar
logit noise of ``vary`` that makes takes differ. The DeepComposer baseline keeps its own rule: tanh output > 0,
runs merged.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import numpy as np

STEPS_PER_BAR = 16
VARIATION = 0.3          # logit noise per bar and pitch at generation, on top of the generator's own noise
DRUM_VARIATION = 0.3     # drums: logit noise per drum and sixteenth of the bar, the same in every bar of a take
PARAM_KEYS = ("threshold", "onset_threshold", "max_poly", "bar_gate", "fill_gap", "min_len", "prior", "bar_pcs",
              "prior_weight", "phase_gain", "strike", "strike_weight", "legato", "walk", "tie", "low", "high")
GRID_KEYS = ("prior", "phase_gain")      # per drum pitch, one value per sixteenth of the bar (or None)
ROW_KEYS = ("strike",)                   # one value per sixteenth of the bar (or None)


@dataclass(frozen=True)
class DecodeParams:
    """Per-track decoding parameters, stored in the model file's metadata."""

    threshold: tuple = ()
    onset_threshold: tuple = ()
    max_poly: tuple = ()
    bar_gate: tuple = ()
    fill_gap: tuple = ()
    min_len: tuple = ()
    prior: tuple = ()            # drum tracks: {pitch: [16 hit rates, one per sixteenth of the bar]} learned from data
    bar_pcs: tuple = ()          # pitch classes per bar a track may use, ranked by the band's votes (12 off, 0 drums)
    prior_weight: tuple = ()     # drum tracks: how much the learned hit rates weigh against the generator (0.5: equal)
    phase_gain: tuple = ()       # drum tracks: {pitch: [16 gains]}: each drum hits each sixteenth as often as real
    strike: tuple = ()           # pitched tracks: [16 rates]: how often the real part re-attacks a sounding cell there
    strike_weight: tuple = ()    # how much those rates weigh against the generator's onsets (0: not at all)
    legato: tuple = ()           # one-note parts: a note shorter than this that follows another joins it (0: off)
    walk: tuple = ()             # one-note parts: one note per this many steps (4: a quarter-note walk; 0: off)
    tie: tuple = ()              # with walk: a cell that keeps the pitch holds the note on instead of re-striking
    low: tuple = ()              # pitched tracks: the lowest pitch the part may play (the real part's, less a margin)
    high: tuple = ()             # ... and the highest (0 and 127: no limit)

    def __post_init__(self) -> None:
        n = len(self.threshold)
        for k, default in (("onset_threshold", 0.5), ("max_poly", 128), ("bar_gate", 0.0), ("fill_gap", 0),
                           ("min_len", 1), ("prior", None), ("bar_pcs", 12), ("prior_weight", 0.5),
                           ("phase_gain", None), ("strike", None), ("strike_weight", 0.0), ("legato", 0),
                           ("walk", 0), ("tie", 0), ("low", 0), ("high", 127)):
            v = tuple(getattr(self, k))
            if len(v) != n:
                object.__setattr__(self, k, v[:n] + (default,) * (n - len(v[:n])))
            else:
                object.__setattr__(self, k, v)
        object.__setattr__(self, "threshold", tuple(self.threshold))

    def to_dict(self) -> dict:
        ints = ("max_poly", "fill_gap", "min_len", "bar_pcs", "legato", "walk", "tie", "low", "high")
        out = {k: [int(x) if k in ints else float(x) for x in v] for k, v in asdict(self).items()
               if k not in GRID_KEYS + ROW_KEYS}
        for k in ROW_KEYS:
            out[k] = [None if row is None else [float(x) for x in row] for row in getattr(self, k)]
        for k in GRID_KEYS:
            out[k] = [None if g is None else {int(p): [float(x) for x in row] for p, row in g.items()}
                      for g in getattr(self, k)]
        return out

    @classmethod
    def from_dict(cls, d: dict | None) -> "DecodeParams":
        d = d or {}
        return cls(**{k: tuple(d.get(k) or ()) for k in PARAM_KEYS})

    @classmethod
    def plain(cls, n_tracks: int, max_poly: int = 128) -> "DecodeParams":
        n = n_tracks
        return cls((0.5,) * n, (0.5,) * n, (max_poly,) * n, (0.0,) * n, (0,) * n, (1,) * n)

    def track(self, t: int) -> dict:
        return {k: getattr(self, k)[t] for k in PARAM_KEYS}


def vary(probs: np.ndarray, seed: int, variation: float = VARIATION, is_drum=None,
         drum_variation: float = DRUM_VARIATION) -> np.ndarray:
    """Probabilities (T, S, P) with seeded logit noise, one value per track, bar and pitch: what makes takes of the
    same melody differ beyond the generator's own noise. Generation decodes these, so calibration must too. Drum
    tracks (``is_drum``) get one value per drum and sixteenth of the bar instead, the same in every bar
    (``drum_variation``): each take leans to its own groove (a hi-hat on this off-beat, a kick on that one) as two
    drummers would; noise per bar would drop the ride or the hi-hat for a bar now and then, which no drummer does."""
    if variation <= 0:
        return probs
    t, s, p = probs.shape
    bars = -(-s // STEPS_PER_BAR)
    rng = np.random.default_rng(int(seed))
    noise = rng.standard_normal((t, bars, 1, p)).astype(np.float32) * variation
    noise = np.repeat(noise, STEPS_PER_BAR, axis=2).reshape(t, bars * STEPS_PER_BAR, p)[:, :s]
    if is_drum is not None and np.any(is_drum):
        drum = np.asarray(is_drum, bool)
        groove = rng.standard_normal((int(drum.sum()), 1, STEPS_PER_BAR, p)).astype(np.float32) * drum_variation
        noise[drum] = np.tile(groove, (1, bars, 1, 1)).reshape(-1, bars * STEPS_PER_BAR, p)[:, :s]
    logit = np.log(np.clip(probs, 1e-6, 1 - 1e-6)) - np.log(np.clip(1 - probs, 1e-6, 1))
    return (1.0 / (1.0 + np.exp(-(logit + noise)))).astype(np.float32)


def grid_table(grid: dict, steps: int, pitches: int = 128) -> np.ndarray:
    """{pitch: [16 values, one per sixteenth]} -> (steps, pitches), the bar's row repeated; 0 for other pitches."""
    table = np.zeros((STEPS_PER_BAR, pitches), np.float32)
    for pitch, row in grid.items():
        table[:, int(pitch)] = row
    return np.tile(table, (-(-steps // STEPS_PER_BAR), 1))[:steps]


def top_k_mask(probs: np.ndarray, k: int) -> np.ndarray:
    """Bool mask of the ``k`` largest values along the last axis (pitch)."""
    if k >= probs.shape[-1]:
        return np.ones(probs.shape, bool)
    if k <= 0:
        return np.zeros(probs.shape, bool)
    kth = np.partition(probs, -k, axis=-1)[..., -k][..., None]
    return probs >= kth


def run_starts(frames: np.ndarray) -> np.ndarray:
    """Onsets implied by a frame roll (..., S, P): the first step of every run."""
    prev = np.zeros_like(frames)
    prev[..., 1:, :] = frames[..., :-1, :]
    return frames & ~prev


def bar_activity(probs: np.ndarray) -> np.ndarray:
    """(..., S, P) -> (..., bars): mean over each bar's steps of the likeliest pitch's probability."""
    top = probs.max(axis=-1)                                             # (..., S)
    s = top.shape[-1]
    bars = -(-s // STEPS_PER_BAR)
    top = np.pad(top, [(0, 0)] * (top.ndim - 1) + [(0, bars * STEPS_PER_BAR - s)])
    return top.reshape(top.shape[:-1] + (bars, STEPS_PER_BAR)).mean(axis=-1)


def _gate(probs: np.ndarray, gate: float) -> np.ndarray:
    if gate <= 0:
        return probs
    act = bar_activity(probs)                                            # (..., bars)
    keep = np.repeat(act >= gate, STEPS_PER_BAR, axis=-1)[..., :probs.shape[-2]]
    return probs * keep[..., None]


def fill_gaps(frames: np.ndarray, gap: int) -> np.ndarray:
    """Close silences of at most ``gap`` steps between two sounding cells of the same pitch (time axis -2)."""
    if gap <= 0:
        return frames
    s = frames.shape[-2]
    idx = np.arange(s).reshape((s, 1))
    prev_on = np.maximum.accumulate(np.where(frames, idx, -10 ** 6), axis=-2)
    next_on = np.flip(np.minimum.accumulate(np.flip(np.where(frames, idx, 10 ** 6), axis=-2), axis=-2), axis=-2)
    return frames | ((next_on - prev_on - 1 <= gap) & (prev_on >= 0) & (next_on < s))


def note_lengths_per_cell(frames: np.ndarray, onsets: np.ndarray) -> np.ndarray:
    """For every sounding cell, the length of the note it belongs to (runs split at onsets); 0 elsewhere."""
    s = frames.shape[-2]
    starts = onsets & frames
    starts[..., 0, :] |= frames[..., 0, :]
    starts[..., 1:, :] |= frames[..., 1:, :] & ~frames[..., :-1, :]
    pos = np.zeros(frames.shape, np.int32)
    for t in range(s):                                                   # steps since the note began
        if t == 0:
            pos[..., 0, :] = 0
        else:
            pos[..., t, :] = np.where(starts[..., t, :], 0, pos[..., t - 1, :] + 1)
    total = np.zeros(frames.shape, np.int32)
    for t in range(s - 1, -1, -1):                                       # carry each note's length backwards
        if t == s - 1:
            total[..., t, :] = pos[..., t, :] + 1
            continue
        last = ~frames[..., t + 1, :] | starts[..., t + 1, :]
        total[..., t, :] = np.where(last, pos[..., t, :] + 1, total[..., t + 1, :])
    return np.where(frames, total, 0)


def bar_pc_rank(band_probs: np.ndarray) -> np.ndarray:
    """(..., T, S, P) probabilities of the voting tracks -> (..., bars, 12) rank of each pitch class in each bar
    (0 = the most probable over all tracks, steps and octaves)."""
    s, p = band_probs.shape[-2:]
    bars = -(-s // STEPS_PER_BAR)
    x = np.pad(band_probs, [(0, 0)] * (band_probs.ndim - 2) + [(0, bars * STEPS_PER_BAR - s), (0, (-p) % 12)])
    mass = x.reshape(x.shape[:-3] + (x.shape[-3], bars, STEPS_PER_BAR, -1, 12)).sum(axis=(-5, -3, -2))
    order = np.argsort(-mass, axis=-1, kind="stable")
    return np.argsort(order, axis=-1, kind="stable")


def _keep_bar_pcs(probs: np.ndarray, rank: np.ndarray, k: int) -> np.ndarray:
    """Zero the probabilities of the pitch classes ranked k or lower in their bar: probs (..., S, P), rank
    (..., bars, 12)."""
    s, p = probs.shape[-2:]
    allowed = np.repeat(rank < k, STEPS_PER_BAR, axis=-2)[..., :s, :]          # (..., S, 12)
    return probs * np.tile(allowed, (1,) * (allowed.ndim - 1) + (-(-p // 12),))[..., :p]


def band_rank(frame_probs: np.ndarray, bar_pcs) -> np.ndarray | None:
    """The bar-by-bar pitch-class ranking of the voting (pitched) tracks, from (..., T, S, P); None when no track
    filters (every track 12 or 0), so that nothing is computed."""
    k = np.asarray(bar_pcs)
    if not ((k > 0) & (k < 12)).any():
        return None
    return bar_pc_rank(frame_probs[..., k > 0, :, :])


RANGE_MARGIN = 2        # semitones a part may go beyond the lowest / highest pitch of the real part it learned from
# Ranges are pitches in the song's own key: the model plays in C major / A minor (the melody moved there by a
# "shift" of -6..5 semitones), so a window moved by ``shift`` keeps the part to low + shift .. high + shift, and the
# part comes back in the melody's key exactly where real players of that key play it.


def pitch_range(real_frames: np.ndarray, shifts=None, margin: int = RANGE_MARGIN) -> tuple[int, int]:
    """(low, high) for a part from its real rolls (N, S, P) of windows moved by ``shifts`` (N,) (None: not moved),
    in the song's own key: the pitches it sounds there, widened by ``margin``; (0, 127) when it never sounds."""
    frames = np.asarray(real_frames)
    used = frames.reshape(len(frames), -1, frames.shape[-1]).any(axis=1)              # (N, P)
    if not used.any():
        return 0, 127
    back = np.zeros(len(frames), np.int64) if shifts is None else np.asarray(shifts, np.int64)
    pitch = np.arange(frames.shape[-1])[None, :] - back[:, None]                       # each pitch in the song's key
    return (max(0, int(pitch[used].min()) - margin), min(127, int(pitch[used].max()) + margin))


def fold_map(low: int, high: int, pitches: int = 128) -> np.ndarray:
    """For each pitch, where it goes to be inside ``low`` .. ``high``: itself, or moved by whole octaves (the same
    note an octave or two down or up, as an arranger would write it), or -1 when no octave of it fits."""
    target = np.arange(pitches)
    target = np.where(target > high, target - 12 * -(-(target - high) // 12), target)
    target = np.where(target < low, target + 12 * -(-(low - target) // 12), target)
    return np.where((target >= low) & (target <= high), target, -1)


def keep_range(probs: np.ndarray | None, low: int, high: int, shift=0) -> np.ndarray | None:
    """Probabilities (..., S, P) of windows moved by ``shift`` (a number, one per window, or None: 0) kept to ``low`` ..
    ``high`` (in the song's own key): what the model gives a pitch outside goes to the same note an octave or more
    inside (the stronger of the two stays), so the part keeps its harmony and rhythm in its own register."""
    if probs is None or (low <= 0 and high >= 127):
        return probs
    out = np.zeros_like(probs)
    shifts = np.broadcast_to(np.asarray(0 if shift is None else shift, np.int64), probs.shape[:-2])
    for sh in np.unique(shifts):
        rows = shifts == sh                                                  # windows moved by this shift
        src = probs[rows] if probs.ndim > 2 else probs
        dst = np.zeros_like(src)
        target = fold_map(low + int(sh), high + int(sh), probs.shape[-1])
        for t in np.unique(target[target >= 0]):
            dst[..., t] = src[..., target == t].max(axis=-1)
        if probs.ndim > 2:
            out[rows] = dst
        else:
            out = dst
    return out


def in_ranges(probs: np.ndarray | None, params: "DecodeParams", shift=0) -> np.ndarray | None:
    """Probabilities (..., T, S, P) with each track kept to its ``low`` .. ``high`` range (see ``keep_range``)."""
    if probs is None or all(lo <= 0 and hi >= 127 for lo, hi in zip(params.low, params.high)):
        return probs
    out = probs.copy()
    for t, (lo, hi) in enumerate(zip(params.low, params.high)):
        out[..., t, :, :] = keep_range(probs[..., t, :, :], lo, hi, shift)
    return out


def with_ranges(params: "DecodeParams", real: np.ndarray, is_drum, shifts=None) -> "DecodeParams":
    """``params`` with every pitched track that has no range yet (0 .. 127) given its real part's range, from the
    real rolls (N, T, S, P) of windows moved by ``shifts``: a model file from before ranges, refitted."""
    low, high = list(params.low), list(params.high)
    for t, drum in enumerate(is_drum):
        if not drum and low[t] <= 0 and high[t] >= 127:
            low[t], high[t] = pitch_range(real[:, t], shifts)
    return replace(params, low=tuple(low), high=tuple(high))


def _ranged(p: dict) -> dict:
    """A track's parameters for probabilities already kept to its range (``in_ranges``): no second folding."""
    return dict(p, low=0, high=127)


def decode_track(probs: np.ndarray, onset_probs: np.ndarray | None, p: dict,
                 rank: np.ndarray | None = None, shift=0) -> tuple[np.ndarray, np.ndarray]:
    """One track: probabilities (..., S, P) -> (frames, onsets) bool, with parameters ``p`` (DecodeParams.track);
    ``rank``: the band's pitch-class ranking per bar (``band_rank``), used when the track's ``bar_pcs`` < 12;
    ``shift``: how far the windows were moved to C major / A minor (for the pitch range)."""
    low, high = int(p.get("low", 0)), int(p.get("high", 127))
    probs, onset_probs = keep_range(probs, low, high, shift), keep_range(onset_probs, low, high, shift)
    k = int(p.get("bar_pcs", 12))
    if rank is not None and 0 < k < 12:
        probs = _keep_bar_pcs(probs, rank, k)
        onset_probs = None if onset_probs is None else _keep_bar_pcs(onset_probs, rank, k)
    probs, onset_probs = _drum_grid(probs, onset_probs, p)
    probs = _gate(probs, float(p["bar_gate"]))
    if p.get("phase_gain"):
        probs = probs * grid_table(p["phase_gain"], probs.shape[-2], probs.shape[-1])
    frames = (probs > p["threshold"]) & top_k_mask(probs, int(p["max_poly"]))
    if p.get("phase_gain"):                      # a drum hit per sounding cell, each drum at its real rate per step
        return frames, frames.copy()
    frames = fill_gaps(frames, int(p["fill_gap"]))
    if int(p["fill_gap"]) > 0 and int(p["max_poly"]) == 1:
        # a filled gap may lie under the next pitch: a one-note part (a bass, a chorale voice) stays one note at a
        # time (in a chord part such an overlap is a held note, as under a sustain pedal, and stays)
        frames &= top_k_mask(np.where(frames, probs, -1.0), 1)
    onsets = run_starts(frames)
    if onset_probs is not None and p.get("strike") and float(p.get("strike_weight") or 0) > 0:
        onset_probs = apply_strike(onset_probs, p["strike"], float(p["strike_weight"]))
    if onset_probs is not None:
        onsets |= frames & (onset_probs > p["onset_threshold"])
    if int(p.get("legato") or 0) > 1 and int(p["max_poly"]) == 1:
        frames, onsets = join_short_notes(frames, onsets, int(p["legato"]))
    if int(p.get("walk") or 0) > 1 and int(p["max_poly"]) == 1:
        frames, onsets = walk_notes(frames, probs, int(p["walk"]), bool(p.get("tie")))
    if int(p["min_len"]) > 1:
        frames = frames & (note_lengths_per_cell(frames, onsets) >= int(p["min_len"]))
        onsets &= frames
        onsets |= run_starts(frames)
    return frames, onsets


def join_short_notes(frames: np.ndarray, onsets: np.ndarray, shorter_than: int) -> tuple[np.ndarray, np.ndarray]:
    """A one-note-at-a-time part (frames (..., S, P) with at most one sounding pitch per step): every note shorter
    than ``shorter_than`` steps that begins right where another ends becomes part of that note (its pitch held on),
    so that a line whose pitch wavers between two notes for a step does not break into sixteenth-note fragments.
    Notes after a rest stay as they are."""
    shape = frames.shape
    s, p = shape[-2:]
    f = frames.reshape(-1, s, p)
    o = onsets.reshape(-1, s, p) & f
    active = f.any(axis=-1)                                              # (M, S)
    pitch = np.where(active, f.argmax(axis=-1), -1)
    prev = np.concatenate([np.full((len(f), 1), -1), pitch[:, :-1]], axis=1)
    starts = active & ((pitch != prev) | o.any(axis=-1))
    lengths = note_lengths_per_cell(f, starts[..., None] & f).max(axis=-1)   # (M, S): the note's length per cell
    join = starts & (lengths < shorter_than) & (prev >= 0)                   # short, and right after a note
    joined = join.copy()                                                     # every cell of a joined note
    for t in range(1, s):
        joined[:, t] |= joined[:, t - 1] & active[:, t] & ~starts[:, t]
    for t in range(1, s):                                                    # hold the previous pitch on
        pitch[:, t] = np.where(joined[:, t], pitch[:, t - 1], pitch[:, t])
    new_f = np.zeros_like(f)
    m, t = np.nonzero(active)
    new_f[m, t, pitch[m, t]] = True
    new_o = np.zeros_like(f)
    m, t = np.nonzero(starts & ~join)
    new_o[m, t, pitch[m, t]] = True
    return new_f.reshape(shape), new_o.reshape(shape)


def walk_notes(frames: np.ndarray, probs: np.ndarray, cell: int, tie: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """A one-note part (frames (..., S, P), at most one pitch per step) played as one note per ``cell`` steps, as a
    walking bass plays one per beat: in each cell the steps that sound take the pitch that sounds longest there
    (ties: the more probable one in ``probs``), struck at the cell's first sounding step and again after a rest.
    Where the part is silent it stays silent. A pitch kept over several cells is struck in each, or with ``tie``
    held on as one longer note (a half note of two quarter cells, as a chorale bass or a folk bass plays)."""
    shape = frames.shape
    s, p = shape[-2:]
    if s % cell:
        return frames, run_starts(frames)
    f = frames.reshape(-1, s, p)
    m_count = len(f)
    score = (f.reshape(m_count, s // cell, cell, p).sum(axis=2)
             + 1e-3 * probs.reshape(m_count, s // cell, cell, p).mean(axis=2))
    pitch = np.repeat(score.argmax(axis=-1), cell, axis=1)                  # (M, S): the cell's pitch per step
    active = f.any(axis=-1)
    before = np.concatenate([np.zeros((m_count, 1), bool), active[:, :-1]], axis=1)
    starts = active & ((np.arange(s) % cell == 0) | ~before)
    if tie:
        same = np.concatenate([np.zeros((m_count, 1), bool), pitch[:, 1:] == pitch[:, :-1]], axis=1)
        starts &= ~(before & same)
    new_f = np.zeros_like(f)
    m, t = np.nonzero(active)
    new_f[m, t, pitch[m, t]] = True
    new_o = np.zeros_like(f)
    m, t = np.nonzero(starts)
    new_o[m, t, pitch[m, t]] = True
    return new_f.reshape(shape), new_o.reshape(shape)


def _drum_grid(probs: np.ndarray, onset_probs: np.ndarray | None, p: dict):
    """The learned hit grid mixed in (drum tracks with a ``prior``); other tracks unchanged."""
    if not p.get("prior"):
        return probs, onset_probs
    w = float(p.get("prior_weight", 0.5))
    return (apply_prior(probs, p["prior"], w),
            None if onset_probs is None else apply_prior(onset_probs, p["prior"], w))


def decode(frame_probs: np.ndarray, onset_probs: np.ndarray | None,
           params: DecodeParams, shift: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(frames, onsets) bool (T, S, P) from probabilities (T, S, P) of a melody moved by ``shift`` semitones to
    C major / A minor."""
    frame_probs, onset_probs = in_ranges(frame_probs, params, shift), in_ranges(onset_probs, params, shift)
    frames = np.zeros(frame_probs.shape, bool)
    onsets = np.zeros(frame_probs.shape, bool)
    rank = band_rank(frame_probs, params.bar_pcs)               # out-of-range pitches do not vote either
    for t in range(frame_probs.shape[0]):
        frames[t], onsets[t] = decode_track(frame_probs[t], None if onset_probs is None else onset_probs[t],
                                            _ranged(params.track(t)), rank)
    return frames, onsets


def phase_prior(real_onsets: np.ndarray) -> dict:
    """Per drum pitch, the share of bars with a hit on each of the 16 sixteenths (from real (N, S, P) onsets)."""
    n, s, _ = real_onsets.shape
    bars = n * (s // STEPS_PER_BAR)
    counts = real_onsets[:, : s // STEPS_PER_BAR * STEPS_PER_BAR].reshape(n, -1, STEPS_PER_BAR, 128).sum(axis=(0, 1))
    return {int(p): [float(x) for x in counts[:, p] / max(1, bars)] for p in np.nonzero(counts.sum(axis=0))[0]}


def strike_rates(real_frames: np.ndarray, real_onsets: np.ndarray) -> list[float] | None:
    """A pitched part's re-attack grid from real (N, S, P) rolls: at each sixteenth of the bar, the share of its
    sounding cells that begin a note there (a bass struck on every beat: 1 on the beats, 0 between). None when the
    part never sounds."""
    n, s, p = real_frames.shape
    whole = s // STEPS_PER_BAR * STEPS_PER_BAR
    f = real_frames[:, :whole].reshape(n, -1, STEPS_PER_BAR, p)
    o = (real_onsets & real_frames)[:, :whole].reshape(n, -1, STEPS_PER_BAR, p)
    sounding = f.sum(axis=(0, 1, 3))
    if not sounding.any():
        return None
    return [float(x) for x in o.sum(axis=(0, 1, 3)) / np.maximum(sounding, 1)]


def apply_strike(onset_probs: np.ndarray, rates, weight: float) -> np.ndarray:
    """Onset probabilities (..., S, P) mixed (weighted geometric mean) with the real part's re-attack rate at each
    sixteenth (:func:`strike_rates`), the same for every pitch: a generator unsure where its held notes re-attack
    then re-attacks them where the real part does."""
    s = onset_probs.shape[-2]
    table = np.resize(np.asarray(rates, np.float32), s)[:, None]
    return np.clip(onset_probs, 0, 1) ** (1.0 - weight) * table ** weight


def apply_prior(probs: np.ndarray, prior: dict, weight: float = 0.5) -> np.ndarray:
    """Weighted geometric mean of the generator's probability and the learned hit rate at that step of the bar
    (``weight`` 0.5: the plain geometric mean; 1: the hit rates alone)."""
    tiled = grid_table(prior, probs.shape[-2], probs.shape[-1])
    if weight == 0.5:
        return np.sqrt(np.clip(probs, 0, 1) * tiled)
    return np.clip(probs, 0, 1) ** (1.0 - weight) * tiled ** weight


def fit_phase_gain(probs: np.ndarray, real_hits: np.ndarray, p: dict) -> dict:
    """Gains {pitch: [16]} for a drum track decoded with ``p``: probabilities (N, S, P) and the real hits (N, S, P)
    of the same melodies. At each sixteenth, each drum's probabilities (after the hit grid and the bar gate) are cut
    at the quantile that lets through as many cells as the real drummer played there; the gain brings that cut to
    the track's threshold. Drums the real data never plays get no gain (they stay silent)."""
    x = _gate(_drum_grid(probs, None, p)[0], float(p["bar_gate"]))
    n, s, _ = x.shape
    whole = s // STEPS_PER_BAR * STEPS_PER_BAR
    xs = x[:, :whole].reshape(n, -1, STEPS_PER_BAR, x.shape[-1])
    rs = real_hits[:, :whole].reshape(n, -1, STEPS_PER_BAR, x.shape[-1])
    gains = {}
    for pitch in np.nonzero(rs.any(axis=(0, 1, 2)))[0]:
        row = []
        for ph in range(STEPS_PER_BAR):
            rate = float(rs[:, :, ph, pitch].mean())
            q = float(np.quantile(xs[:, :, ph, pitch], 1.0 - rate)) if rate > 0 else np.inf
            row.append(float(min(1e4, p["threshold"] / max(q, 1e-6))) if np.isfinite(q) else 0.0)
        gains[int(pitch)] = row
    return gains


# --- calibration --------------------------------------------------------------------------------------------------
def _polyphony_cap(real_frames: np.ndarray) -> int:
    """99th percentile of the notes sounding at once over steps where the track plays (at least 1)."""
    n = real_frames.sum(axis=-1).ravel()
    n = n[n > 0]
    return int(max(1, np.ceil(np.percentile(n, 99)))) if len(n) else 1


def _note_stats(frames: np.ndarray, onsets: np.ndarray) -> tuple[float, float]:
    """(notes per bar, share of notes >= 3 steps) over a batch of (N, S, P) rolls."""
    lengths = note_lengths_per_cell(frames, onsets)
    starts = (onsets & frames) | run_starts(frames)
    n_notes = starts.sum()
    bars = frames.shape[0] * frames.shape[1] / STEPS_PER_BAR
    if n_notes == 0:
        return 0.0, 0.0
    return float(n_notes / bars), float((lengths[starts] >= 3).mean())


def calibrate(frame_probs: np.ndarray, onset_probs: np.ndarray | None, real: np.ndarray, real_on: np.ndarray,
              is_drum=None, shifts=None) -> DecodeParams:
    """Parameters from generated probabilities (N, T, S, P) and the real rolls (N, T, S, P) of the same melodies,
    windows moved by ``shifts`` (N,) to C major / A minor (None: not moved)."""
    n_tracks = frame_probs.shape[1]
    drums = np.zeros(n_tracks, bool) if is_drum is None else np.asarray(is_drum, bool)
    cols = {k: [] for k in PARAM_KEYS}
    for t in range(n_tracks):
        r, ro = real[:, t], real_on[:, t] & real[:, t]
        k = _polyphony_cap(r)
        low, high = (0, 127) if drums[t] else pitch_range(r, shifts)
        p = keep_range(frame_probs[:, t], low, high, shifts)
        po = None if onset_probs is None else keep_range(onset_probs[:, t], low, high, shifts)
        prior = phase_prior(ro) if drums[t] and ro.any() else None
        if prior:
            p = apply_prior(p, prior)
            po = None if po is None else apply_prior(po, prior)
        # (1) empty bars: silence the least active bars in the real proportion
        real_bars = r.reshape(r.shape[0], -1, STEPS_PER_BAR, r.shape[-1]).any(axis=(2, 3))
        empty = float(1.0 - real_bars.mean())
        gate = float(np.quantile(bar_activity(p), empty)) if empty > 0 else 0.0
        pg = _gate(p, gate)
        pg = np.where(top_k_mask(pg, k), pg, 0.0)
        # (2) sounding cells in the real proportion
        rate = float(r.mean())
        th = float(np.clip(np.quantile(pg, 1.0 - rate), 0.01, 0.99)) if rate > 0 else 0.99
        # (3)-(5) gaps, onsets and shortest notes: the combination closest to the real density and note lengths,
        # searched on at most 64 windows (lengths computed once per gap and onset choice)
        d_real, q_real = _note_stats(r, ro)
        on_rate = float(ro.sum() / max(1, r.sum()))
        sub = slice(0, min(64, len(p)))
        frames0 = pg[sub] > th
        bars = frames0.shape[0] * frames0.shape[1] / STEPS_PER_BAR
        best, best_err = (0, 0.99, 1), np.inf
        on_choices = [0.99]
        if po is not None and frames0.any():
            on_choices += [float(np.quantile(po[sub][frames0], 1.0 - min(0.99, on_rate * m))) for m in (0.5, 1.0)]
        for gap in ((0,) if drums[t] else (0, 1, 2, 3)):
            f = fill_gaps(frames0, gap)
            for oth in on_choices:
                o = run_starts(f) if po is None else run_starts(f) | (f & (po[sub] > oth))
                lens = note_lengths_per_cell(f, o)[o & f]
                for min_len in ((1,) if drums[t] else (1, 2, 3, 4)):
                    kept = lens[lens >= min_len]
                    d = len(kept) / bars
                    q = float((kept >= 3).mean()) if len(kept) else 0.0
                    err = abs(np.log((d + 1e-3) / (d_real + 1e-3)))
                    if not drums[t]:
                        err += abs(q - q_real) / max(q_real, 0.05)
                    if err < best_err - 1e-9:
                        best, best_err = (gap, oth, min_len), err
        row = {"threshold": th, "onset_threshold": best[1], "max_poly": k, "bar_gate": gate, "fill_gap": best[0],
               "min_len": best[2], "prior": prior, "bar_pcs": 0 if drums[t] else 12, "prior_weight": 0.5,
               "phase_gain": None, "strike": None if drums[t] else strike_rates(r, ro), "strike_weight": 0.0,
               "legato": 0, "walk": 0, "tie": 0, "low": low, "high": high}
        if drums[t] and ro.any():
            row["phase_gain"] = fit_phase_gain(frame_probs[:, t], ro, row)
        for key in PARAM_KEYS:
            cols[key].append(row[key])
    return DecodeParams(**{k: tuple(v) for k, v in cols.items()})


# --- refinement against the music figures ---------------------------------------------------------------------------
REFINE_MARGIN = 0.10     # figures are pushed to within 10 % on the calibration windows, to keep 15 % on new melodies


TEXTURE_PREFIX = "track "
TEXTURE_TERMS = ("note_density", "used_pitch_classes", "polyphony", "qualified_note_rate")   # per part, as named


def texture_figures(rolls: np.ndarray, onsets: np.ndarray, is_drum, tracks=None) -> dict[str, float]:
    """Each pitched part's texture, means over the windows ``rolls`` / ``onsets`` (N, T, S, P): notes per bar,
    pitch classes per bar, notes at once and the share of notes at least 3 steps long, keyed
    ``'track <t> <figure>'``. The card's figures are means over the tracks, so a band can match them with its parts'
    roles swapped (a bass in half notes beside a busy piano, or broken into sixteenths); these keep each part to its
    real counterpart. ``tracks``: only these track indices (default: every pitched one)."""
    from .. import metrics as M
    out = {}
    for t, drum in enumerate(is_drum):
        if drum or (tracks is not None and t not in tracks):
            continue
        r, o = rolls[:, t], onsets[:, t]
        per_window = {"note_density": lambda i: M.note_density(r[i], o[i]),
                      "used_pitch_classes": lambda i: M.used_pitch_classes(r[i]),
                      "polyphony": lambda i: M.polyphony(r[i]),
                      "qualified_note_rate": lambda i: M.qualified_note_rate(r[i], o[i])}
        for term in TEXTURE_TERMS:
            out[f"{TEXTURE_PREFIX}{t} {term}"] = M.nanmean(per_window[term](i) for i in range(len(r)))
    return out


def _figure_loss(real: dict, figs: dict, texture: float = 0.0) -> float:
    """Sum over figures of the deviation from the real figure, plus a heavy charge above REFINE_MARGIN; the
    per-part texture figures (:func:`texture_figures`) count ``texture`` times as much as a card figure."""
    from .evaluate import deviation
    loss = 0.0
    for k, r in real.items():
        d = deviation(figs.get(k, float("nan")), r)
        if d != d and r == r:           # the real part has the figure, the fit none (e.g. no pitched note at all):
            d = 1.0                     # as far off as can be, not left out (silence must not be the best fit)
        if d == d:                                                       # not nan
            w = texture if k.startswith(TEXTURE_PREFIX) else 1.0
            loss += w * (d + 4.0 * max(0.0, d - REFINE_MARGIN))
    return loss


def _candidates(p: dict, drum: bool, poly_cap: int = 12) -> list[dict]:
    """Neighbours of one track's parameters: one parameter changed at a time. ``poly_cap``: the most notes at once
    the real part plays (a bass that never plays two notes together must not start to)."""
    out = []
    for f in (0.8, 0.9, 1.1, 1.25):
        out.append(dict(p, threshold=float(np.clip(p["threshold"] * f, 0.01, 0.99))))
    for f in (0.0, 0.8, 1.2, 1.5):
        if p["bar_gate"] > 0 or f == 0.0:
            out.append(dict(p, bar_gate=float(p["bar_gate"] * f)))
    if drum and p.get("phase_gain"):
        out.append(dict(p, phase_gain=None))                             # one threshold over the whole grid
    if drum and p.get("prior"):
        for w in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8):        # with the threshold moved along: the level changes
            if abs(w - float(p.get("prior_weight", 0.5))) > 1e-6:
                for f in (0.7, 0.85, 1.0, 1.2, 1.4):
                    out.append(dict(p, prior_weight=w, threshold=float(np.clip(p["threshold"] * f, 0.01, 0.99))))
    if not drum:
        for k in (int(p["max_poly"]) - 1, int(p["max_poly"]) + 1):
            if 1 <= k <= min(12, poly_cap):
                out.append(dict(p, max_poly=k))
        for g in range(4):
            if g != int(p["fill_gap"]):
                out.append(dict(p, fill_gap=g))
        for m in range(1, 5):
            if m != int(p["min_len"]):
                out.append(dict(p, min_len=m))
        for f in (0.9, 1.1):
            out.append(dict(p, onset_threshold=float(np.clip(p["onset_threshold"] * f, 0.01, 0.995))))
        if int(p["max_poly"]) == 1:          # one note at a time: fragments of a wavering line join their note
            for n in (0, 2, 3, 4):
                if n != int(p.get("legato") or 0):
                    out.append(dict(p, legato=n))
        if p.get("strike"):                  # re-attack where the real part does; the onset level moves with it
            for w in (0.0, 0.5, 0.8):
                if abs(w - float(p.get("strike_weight") or 0.0)) > 1e-6:
                    for f in ((1.0,) if w == 0.0 else (0.5, 1.0, 2.0)):
                        out.append(dict(p, strike_weight=w,
                                        onset_threshold=float(np.clip(p["onset_threshold"] * f, 0.01, 0.995))))
        if int(p["max_poly"]) == 1:          # or the line walks: one note per eighth, quarter or half note (after
            for n in (0, 2, 4, 8):           # the grid: where both fit as well, the real part's grid is kept),
                for tie in ((0,) if n == 0 else (0, 1)):       # a kept pitch re-struck or held on
                    if (n, tie) != (int(p.get("walk") or 0), int(p.get("tie") or 0)):
                        out.append(dict(p, walk=n, tie=tie))
        if int(p.get("bar_pcs", 12)) > 0:                                # 0: a drum track
            for k in (1, 2, 3, 4, 5, 6, 12):           # with the threshold moved along: fewer cells pass the filter
                if k != int(p["bar_pcs"]):
                    for f in (0.7, 0.85, 1.0):
                        out.append(dict(p, bar_pcs=k, threshold=float(np.clip(p["threshold"] * f, 0.01, 0.99))))
    return out


def refine(params: DecodeParams, frame_probs: np.ndarray, onset_probs: np.ndarray | None, melody: np.ndarray,
           real: np.ndarray, real_on: np.ndarray, is_drum, rounds: int = 3, log=None,
           deadline: float | None = None, texture: float = 0.0,
           texture_tracks=None, should_stop=None, shifts=None) -> tuple[DecodeParams, dict]:
    """Coordinate search on each track's decoding parameters so that the figures of ``ml.metrics`` (all of them,
    as the model cards report them) come as close as possible to those of the real accompaniment of the same
    melodies. Inputs as :func:`calibrate` plus the melodies (N, S, P). Past ``deadline`` (a ``time.time()``
    value), or once ``should_stop()`` is true, the search stops where it is. ``texture`` > 0: each pitched part's own texture (:func:`texture_figures`;
    only the parts ``texture_tracks`` when given) counts too, with that weight. Returns (params, figures reached)."""
    import time
    from .. import metrics as M
    drums = [bool(x) for x in is_drum]
    n_tracks = frame_probs.shape[1]
    target = M.evaluate_many(melody, real, drums, real_on & real)
    if texture > 0:
        target.update(texture_figures(real, real_on & real, drums, texture_tracks))
    tracks = [params.track(t) for t in range(n_tracks)]
    for t in range(n_tracks):                   # older files: say which tracks are drums (they do not vote)
        if drums[t]:
            tracks[t]["bar_pcs"] = 0
    frame_probs, onset_probs = in_ranges(frame_probs, params, shifts), in_ranges(onset_probs, params, shifts)
    voters = np.array([not d for d in drums])
    rank = bar_pc_rank(frame_probs[:, voters]) if voters.any() else None
    caps = [_polyphony_cap(real[:, t]) for t in range(n_tracks)]

    def dec(t, p):
        return decode_track(frame_probs[:, t], None if onset_probs is None else onset_probs[:, t], _ranged(p), rank)

    def late():
        return (deadline is not None and time.time() > deadline) or (should_stop is not None and should_stop())

    def refit(t, p):                            # a drum track's gains follow its other parameters
        if drums[t] and p.get("phase_gain"):
            return dict(p, phase_gain=fit_phase_gain(frame_probs[:, t], real_on[:, t] & real[:, t], p))
        return p

    rolls = [dec(t, tracks[t]) for t in range(n_tracks)]

    def figures():
        fr = np.stack([r[0] for r in rolls], axis=1)
        on = np.stack([r[1] for r in rolls], axis=1)
        out = M.evaluate_many(melody, fr, drums, on)
        if texture > 0:
            out.update(texture_figures(fr, on, drums, texture_tracks))
        return out

    figs = figures()
    best = _figure_loss(target, figs, texture)
    for rnd in range(rounds):
        improved = False
        for t in range(n_tracks):
            for cand in _candidates(tracks[t], drums[t], caps[t]):
                if late():
                    break
                cand = refit(t, cand)
                keep = rolls[t]
                rolls[t] = dec(t, cand)
                f = figures()
                loss = _figure_loss(target, f, texture)
                if loss < best - 1e-6:
                    best, figs, tracks[t], improved = loss, f, cand, True
                else:
                    rolls[t] = keep
        if log:
            log(f"refine round {rnd + 1}: loss {best:.3f}")
        if not improved or late():
            break
    cols = {k: tuple(tp[k] for tp in tracks) for k in PARAM_KEYS}
    return DecodeParams(**cols), {"target": target, "reached": figs}


def fit(frame_probs: np.ndarray, onset_probs: np.ndarray | None, melody: np.ndarray, real: np.ndarray,
        real_on: np.ndarray, is_drum, refine_rounds: int = 0, log=None, variation: float = VARIATION,
        deadline: float | None = None, texture: float = 0.0, texture_tracks=None,
        start: DecodeParams | None = None, should_stop=None, shifts=None) -> DecodeParams:
    """:func:`calibrate` (or, given ``start``, a model file's own parameters), then (``refine_rounds`` > 0)
    :func:`refine`: what a model file's decoding comes from. Both see the generator's probabilities (N, T, S, P) as
    generation decodes them: with each window's take noise (:func:`vary`, seeded by the window's index).
    ``shifts``: how far each window was moved to C major / A minor (``GanData.shifts``), for the pitch ranges."""
    if variation > 0:
        frame_probs = np.stack([vary(x, k, variation, is_drum) for k, x in enumerate(frame_probs)])
    params = with_ranges(start, real, [bool(x) for x in is_drum], shifts) if start is not None \
        else calibrate(frame_probs, onset_probs, real, real_on, is_drum, shifts)
    if refine_rounds > 0:
        params, figs = refine(params, frame_probs, onset_probs, melody, real, real_on, is_drum, rounds=refine_rounds,
                              log=log, deadline=deadline, texture=texture, texture_tracks=texture_tracks,
                              should_stop=should_stop, shifts=shifts)
        if log:
            log(f"figures on the calibration windows: {figs}")
    return params
