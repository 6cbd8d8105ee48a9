"""The Transformer's event vocabulary (REMI-like, multi-track, 321 tokens) and Song <-> tokens.

Why this vocabulary: bar and position tokens (REMI, Huang & Yang 2020) give the model the metre explicitly, so
"extend by N bars" and "condition on the last 8 bars" are cuts at ``BAR`` tokens, and time stays in beats (tempo
is one header token, so tempo augmentation only changes that token). Notes carry an explicit duration instead
of note-off events, so a chord is ``PITCH DUR PITCH DUR`` and never leaves a stuck note. Track and velocity
tokens are only written when they change inside a bar (both reset at every bar line, so any bar-aligned slice
decodes on its own), which keeps a melody at ~3 tokens per note.

Sequence grammar::

    BOS METER TEMPO FAM*n_tracks  ( BAR ( POS [TRK] [VEL] PITCH DUR ( [TRK] [VEL] PITCH DUR )* )* )*  [EOS]

Time resolution: 12 steps per quarter note (16ths and 8th-note triplets are exact); a bar holds at most 96 steps
(8 quarters). Track slot 0 is always the melody; the header's ``FAM`` tokens say which GM family each slot plays.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

STEPS_PER_BEAT = 12          # per quarter note
MAX_BAR_STEPS = 96
MAX_TRACKS = 8
N_VEL = 8
N_TEMPO = 16
TEMPO_MIN, TEMPO_MAX = 40.0, 240.0
METERS = ((2, 4), (3, 4), (4, 4), (5, 4), (6, 8), (9, 8), (12, 8), (2, 2), (3, 8), (6, 4), (7, 8), (0, 0))
DURATIONS = (1, 2, 3, 4, 5, 6, 8, 9, 10, 12, 14, 15, 16, 18, 20, 21, 24, 27, 30, 33, 36, 42, 48, 54, 60, 66, 72,
             84, 96, 120, 144, 192)   # in steps (1/12 quarter)
DRUM_FAMILY = 16

PAD, BOS, EOS, BAR = 0, 1, 2, 3
METER0 = 4
TEMPO0 = METER0 + len(METERS)          # 16
FAM0 = TEMPO0 + N_TEMPO                # 32
POS0 = FAM0 + 17                       # 49
TRK0 = POS0 + MAX_BAR_STEPS            # 145
VEL0 = TRK0 + MAX_TRACKS               # 153
PITCH0 = VEL0 + N_VEL                  # 161
DUR0 = PITCH0 + 128                    # 289
VOCAB_SIZE = DUR0 + len(DURATIONS)     # 321

# token types (used by the sampler's grammar mask)
T_PAD, T_BOS, T_EOS, T_BAR, T_METER, T_TEMPO, T_FAM, T_POS, T_TRK, T_VEL, T_PITCH, T_DUR = range(12)
_RANGES = ((PAD, 1, T_PAD), (BOS, 1, T_BOS), (EOS, 1, T_EOS), (BAR, 1, T_BAR), (METER0, len(METERS), T_METER),
           (TEMPO0, N_TEMPO, T_TEMPO), (FAM0, 17, T_FAM), (POS0, MAX_BAR_STEPS, T_POS), (TRK0, MAX_TRACKS, T_TRK),
           (VEL0, N_VEL, T_VEL), (PITCH0, 128, T_PITCH), (DUR0, len(DURATIONS), T_DUR))


class TokenError(ValueError):
    """A token sequence that cannot be decoded (e.g. no header)."""


def token_types() -> list[int]:
    """Type of every token id, a list of length VOCAB_SIZE."""
    out = [0] * VOCAB_SIZE
    for start, n, t in _RANGES:
        for i in range(start, start + n):
            out[i] = t
    return out


def describe(tok: int) -> str:
    """Readable name of one token, e.g. ``PITCH_60`` (for debugging and tests)."""
    names = ("PAD", "BOS", "EOS", "BAR", "METER", "TEMPO", "FAM", "POS", "TRK", "VEL", "PITCH", "DUR")
    for start, n, t in _RANGES:
        if start <= tok < start + n:
            return names[t] if n == 1 else f"{names[t]}_{tok - start}"
    raise TokenError(f"token {tok} is outside the vocabulary")


# --- value <-> bin ----------------------------------------------------------------------------------------------
def meter_index(num: int, den: int) -> int:
    try:
        return METERS.index((num, den))
    except ValueError:
        return len(METERS) - 1


def meter_of(index: int) -> tuple[int, int]:
    m = METERS[index]
    return (4, 4) if m == (0, 0) else m


def tempo_bin(bpm: float) -> int:
    x = math.log(max(TEMPO_MIN, min(TEMPO_MAX, bpm)) / TEMPO_MIN) / math.log(TEMPO_MAX / TEMPO_MIN)
    return int(round(x * (N_TEMPO - 1)))


def tempo_of(b: int) -> float:
    return TEMPO_MIN * (TEMPO_MAX / TEMPO_MIN) ** (b / (N_TEMPO - 1))


def vel_bin(v: int) -> int:
    return min(N_VEL - 1, max(0, (int(v) - 1) // 16))


def vel_of(b: int) -> int:
    return b * 16 + 8


def dur_bin(steps: int) -> int:
    best, err = 0, 1e9
    for i, d in enumerate(DURATIONS):
        e = abs(d - steps)
        if e < err:
            best, err = i, e
    return best


_DUR_LUT = [dur_bin(s) for s in range(DURATIONS[-1] + 1)]


def family_of(program: int, is_drum: bool = False) -> int:
    return DRUM_FAMILY if is_drum else int(program) // 8


# --- pieces: bar-relative note lists ----------------------------------------------------------------------------
@dataclass
class Piece:
    """A tokenisable excerpt: header values plus, per bar, notes ``(pos, slot, pitch, dur_steps, velocity)``."""

    meter: tuple[int, int] = (4, 4)
    bpm: float = 120.0
    families: list[int] = field(default_factory=lambda: [0])
    bars: list[list[tuple[int, int, int, int, int]]] = field(default_factory=list)
    ended: bool = False      # an EOS followed the last bar


def header_tokens(meter: tuple[int, int], bpm: float, families: list[int]) -> list[int]:
    if not 1 <= len(families) <= MAX_TRACKS:
        raise TokenError(f"between 1 and {MAX_TRACKS} tracks can be encoded, got {len(families)}")
    return [BOS, METER0 + meter_index(*meter), TEMPO0 + tempo_bin(bpm)] + [FAM0 + int(f) for f in families]


def encode_bars(bars: list[list[tuple[int, int, int, int, int]]]) -> list[int]:
    """Tokens for a run of bars (no header). Notes are sorted and de-duplicated here."""
    out: list[int] = []
    for notes in bars:
        out.append(BAR)
        uniq: dict[tuple[int, int, int], tuple[int, int]] = {}
        for pos, slot, pitch, dur, vel in notes:
            key = (min(max(pos, 0), MAX_BAR_STEPS - 1), slot, pitch)
            if key not in uniq or uniq[key][0] < dur:
                uniq[key] = (dur, vel)
        cur_pos, cur_slot = -1, -1
        cur_vel: dict[int, int] = {}
        for (pos, slot, pitch) in sorted(uniq):
            dur, vel = uniq[(pos, slot, pitch)]
            if pos != cur_pos:
                out.append(POS0 + pos)
                cur_pos = pos
            if slot != cur_slot:
                out.append(TRK0 + slot)
                cur_slot = slot
            vb = vel_bin(vel)
            if cur_vel.get(slot) != vb:
                out.append(VEL0 + vb)
                cur_vel[slot] = vb
            out.append(PITCH0 + pitch)
            out.append(DUR0 + _DUR_LUT[min(max(dur, 1), DURATIONS[-1])])
    return out


def encode_piece(piece: Piece) -> list[int]:
    toks = header_tokens(piece.meter, piece.bpm, piece.families) + encode_bars(piece.bars)
    if piece.ended:
        toks.append(EOS)
    return toks


def decode(tokens) -> Piece:
    """Tokens (header + bars) back to a Piece. Tolerates the slips a sampler can make: a pitch without a
    duration is dropped, tokens before the first bar or after EOS are ignored, unknown slots fall back to 0."""
    tokens = [int(t) for t in tokens]
    if len(tokens) < 4 or tokens[0] != BOS:
        raise TokenError("a token sequence must start with BOS, METER, TEMPO and at least one FAM token")
    meter = meter_of(tokens[1] - METER0) if METER0 <= tokens[1] < TEMPO0 else (4, 4)
    bpm = tempo_of(tokens[2] - TEMPO0) if TEMPO0 <= tokens[2] < FAM0 else 120.0
    i, families = 3, []
    while i < len(tokens) and FAM0 <= tokens[i] < POS0:
        families.append(tokens[i] - FAM0)
        i += 1
    if not families:
        raise TokenError("the header names no track")
    piece = Piece(meter=meter, bpm=bpm, families=families)
    piece.bars, piece.ended = decode_bars(tokens[i:], len(families))
    return piece


def decode_bars(tokens, n_slots: int = MAX_TRACKS, default_vel: int = 80):
    """Body tokens to ``(bars, ended)``; see :func:`decode`."""
    bars: list[list[tuple[int, int, int, int, int]]] = []
    pos, slot, pitch = 0, 0, None
    vel: dict[int, int] = {}
    for t in tokens:
        t = int(t)
        if t == EOS:
            return bars, True
        if t == BAR:
            bars.append([])
            pos, slot, pitch, vel = 0, 0, None, {}
        elif not bars:
            continue
        elif POS0 <= t < TRK0:
            pos, pitch = t - POS0, None
        elif TRK0 <= t < VEL0:
            slot, pitch = (t - TRK0 if t - TRK0 < n_slots else 0), None
        elif VEL0 <= t < PITCH0:
            vel[slot] = vel_of(t - VEL0)
        elif PITCH0 <= t < DUR0:
            pitch = t - PITCH0
        elif DUR0 <= t < VOCAB_SIZE and pitch is not None:
            bars[-1].append((pos, slot, pitch, DURATIONS[t - DUR0], vel.get(slot, default_vel)))
            pitch = None
    return bars, False


# --- Song <-> Piece ---------------------------------------------------------------------------------------------
def song_to_piece(song, slots: list[int], start_bar: int = 0, end_bar: int | None = None) -> Piece:
    """Bars ``[start_bar, end_bar)`` of the song's tracks ``slots`` (slot 0 = first listed track) as a Piece.

    Notes are snapped to the 12-per-quarter grid; a note is kept in the bar where it starts.
    """
    import bisect

    from ...core.timing import TempoMap
    if end_bar is None:
        end_bar = song.bar_count()
    if not slots or len(slots) > MAX_TRACKS:
        raise TokenError(f"between 1 and {MAX_TRACKS} tracks can be encoded, got {len(slots)}")
    starts = [song.bar_start_tick(b) for b in range(start_bar, end_bar + 1)]
    ts = [t for t in song.time_signatures if t.tick <= starts[0]][-1]
    bars: list[list[tuple[int, int, int, int, int]]] = [[] for _ in range(end_bar - start_bar)]
    q = STEPS_PER_BEAT / song.ppq
    for slot, ti in enumerate(slots):
        for n in song.tracks[ti].notes:
            if not starts[0] <= n.start_tick < starts[-1]:
                continue
            b = bisect.bisect_right(starts, n.start_tick) - 1
            pos = int(round((n.start_tick - starts[b]) * q))
            bar_steps = int(round((starts[b + 1] - starts[b]) * q))
            if pos >= bar_steps:
                b, pos = b + 1, 0
                if b >= len(bars):
                    continue
            bars[b].append((min(pos, MAX_BAR_STEPS - 1), slot, n.pitch, max(1, int(round(n.duration_tick * q))),
                            n.velocity))
    fams = [family_of(song.tracks[ti].program, song.tracks[ti].is_drum) for ti in slots]
    return Piece(meter=(ts.numerator, ts.denominator), bpm=TempoMap.of(song).bpm_at(starts[0]), families=fams,
                 bars=bars)


def piece_notes(piece_bars, ppq: int, first_bar_tick: int, bar_ticks: int, n_slots: int) -> list[list]:
    """Per slot, a list of core ``Note`` objects for decoded bars laid out from ``first_bar_tick``."""
    from ...core.song import Note
    out: list[list] = [[] for _ in range(n_slots)]
    for b, notes in enumerate(piece_bars):
        for pos, slot, pitch, dur, vel in notes:
            if slot >= n_slots:
                continue
            start = first_bar_tick + b * bar_ticks + int(round(pos * ppq / STEPS_PER_BEAT))
            length = max(1, int(round(dur * ppq / STEPS_PER_BEAT)))
            out[slot].append(Note(start_tick=start, pitch=pitch, duration_tick=length,
                                  velocity=max(1, min(127, vel))))
    return out


def song_to_tokens(song, slots: list[int] | None = None, start_bar: int = 0, end_bar: int | None = None) -> list[int]:
    """Convenience: encode bars of a song (default: every non-drum track up to 8, melody first)."""
    if slots is None:
        slots = default_slots(song, "all")
    return encode_piece(song_to_piece(song, slots, start_bar, end_bar))


def tokens_to_song(tokens, ppq: int = 480):
    """Decode a full token sequence into a new Song (tracks named by slot, GM program from the family)."""
    from ...core.song import Song, TempoChange, TimeSignature, Track
    piece = decode(tokens)
    num, den = piece.meter
    bar_ticks = num * ppq * 4 // den
    per_slot = piece_notes(piece.bars, ppq, 0, bar_ticks, len(piece.families))
    tracks = []
    for slot, fam in enumerate(piece.families):
        drum = fam == DRUM_FAMILY
        tracks.append(Track(name="Melody" if slot == 0 else f"Part {slot + 1}", program=0 if drum else fam * 8,
                            is_drum=drum, notes=tuple(sorted(per_slot[slot]))))
    return Song(tracks=tuple(tracks), ppq=ppq, tempos=(TempoChange(0, round(piece.bpm, 3)),),
                time_signatures=(TimeSignature(0, num, den),))


def default_slots(song, tracks: str = "melody") -> list[int]:
    """Track indices the model reads, melody first: ``"melody"`` -> just the melody; ``"all"`` -> every
    non-drum track with notes (at most 8). Drum tracks are never encoded (the training data has none)."""
    if not song.tracks:
        return []
    mel = song.melody_index
    if tracks == "melody":
        return [mel]
    others = [i for i, t in enumerate(song.tracks) if i != mel and not t.is_drum and t.notes]
    return [mel] + others[:MAX_TRACKS - 1]
