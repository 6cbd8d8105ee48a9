"""From generator probabilities to note rolls (numpy only): what generation runs on every take.

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
threshold over the whole grid would keep only the most frequent hits: the swung ones would vanish). A pitched part
may also mix in its re-attack grid (``apply_strike``: where in the bar the real part begins notes), join a one-note
part's fragments (``join_short_notes``) or make it walk, one note per beat or other cell (``walk_notes``);
``vary`` adds the per-bar logit noise that makes takes differ. Every parameter (``DecodeParams``, stored in the
model file) is fitted to real data after training by ``decode_fit``. The DeepComposer baseline keeps its own rule:
tanh output > 0, runs merged.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

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


def gate_bars(probs: np.ndarray, gate: float) -> np.ndarray:
    """``probs`` (..., S, P) with every bar whose activity (``bar_activity``) is below ``gate`` silenced."""
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


# --- pitch ranges ---------------------------------------------------------------------------------------------------
# Ranges are pitches in the song's own key: the model plays in C major / A minor (the melody moved there by a
# "shift" of -6..5 semitones), so a window moved by ``shift`` keeps the part to low + shift .. high + shift, and the
# part comes back in the melody's key exactly where real players of that key play it.


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


def already_ranged(p: dict) -> dict:
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
    probs, onset_probs = mix_drum_grid(probs, onset_probs, p)
    probs = gate_bars(probs, float(p["bar_gate"]))
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


def mix_drum_grid(probs: np.ndarray, onset_probs: np.ndarray | None, p: dict):
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
                                            already_ranged(params.track(t)), rank)
    return frames, onsets


def apply_strike(onset_probs: np.ndarray, rates, weight: float) -> np.ndarray:
    """Onset probabilities (..., S, P) mixed (weighted geometric mean) with the real part's re-attack rate at each
    sixteenth (:func:`decode_fit.strike_rates`), the same for every pitch: a generator unsure where its held notes
    re-attack then re-attacks them where the real part does."""
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
