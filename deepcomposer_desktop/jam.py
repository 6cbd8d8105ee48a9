"""Live jam: the user improvises over a loop; near each loop boundary the band of a GAN genre is generated for what
was just played and swapped in so that it plays on the next pass. Pure Python (no Qt).

Timing: generation starts ``lead`` seconds before the loop end (the measured generation time x 1.5 plus a margin)
on the phrase of the last loop-length of playing, and the result is swapped in ``SWAP_LEAD_SEC`` before the loop
end, so the engine (which schedules ~250 ms ahead) plays the new band from the downbeat. A band that is late
comes in as soon as it is ready, in time (``swap_song`` keeps the position). Budget: one bar at 120 bpm.

Threads: ``JamSession`` methods run on the caller's (GUI) thread; the band is generated on the session's own
single worker thread (``concurrent.futures``), never two at once.
"""
from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Callable

from .core.song import Note, Song, TempoChange, TimeSignature, Track

JAM_BUDGET_SEC = 2.0          # one 4/4 bar at 120 bpm
MAX_JAM_BARS = 8              # one model window (8 bars) is one forward pass: measured well inside the budget
SWAP_LEAD_SEC = 0.04          # swap this long before the loop end (the engine's lookahead then starts at the loop)
FIRST_ESTIMATE_SEC = 0.5      # generation time assumed until the first one is measured
PHRASE_NAME = "Jam phrase"


class JamError(ValueError):
    """The jam cannot start (no loop, loop too long, no genre); the message is for a musician."""


@dataclass
class _Played:
    pitch: int
    velocity: int
    start: int                # jam time: pass * loop length + offset in the loop (ticks)
    end: int | None = None    # None while the key is held


# --- phrase and band (pure; band_for_phrase runs on the worker thread) ----------------------------------------------
def tempo_at(song: Song, tick: int) -> float:
    bpm = song.tempos[0].bpm
    for tc in song.tempos:
        if tc.tick <= tick:
            bpm = tc.bpm
    return float(bpm)


def meter_at(song: Song, tick: int) -> TimeSignature:
    ts = song.time_signatures[0]
    for t in song.time_signatures:
        if t.tick <= tick:
            ts = t
    return ts


def phrase_song(template: Song, notes, loop_start: int, program: int = 0) -> Song:
    """A one-track Song (ticks from 0) holding a phrase, with the tempo and meter in force at ``loop_start``."""
    ts = meter_at(template, loop_start)
    return Song(tracks=(Track(PHRASE_NAME, program=program, notes=tuple(sorted(notes))),), ppq=template.ppq,
                tempos=(TempoChange(0, tempo_at(template, loop_start)),),
                time_signatures=(TimeSignature(0, ts.numerator, ts.denominator),))


def phrase_from_song(song: Song, start_tick: int, end_tick: int) -> Song:
    """The melody of ``song`` between two ticks as a phrase Song (for the benchmark and tests)."""
    from .core.edits import slice_ticks
    mel = slice_ticks(song.melody, start_tick, end_tick)
    return phrase_song(song, mel.notes, start_tick, song.melody.program)


def band_for_phrase(phrase: Song, genre: str, seed: int = 0, should_stop=None) -> tuple[Track, ...]:
    """Worker thread: the genre's band tracks for a phrase Song (one track). Raises ModelError, Cancelled."""
    from .ml.common import limit_threads
    from .ml.gan.generate import accompany
    limit_threads(1)
    import torch
    with torch.inference_mode():
        out = accompany(phrase, genre, takes=1, seed=int(seed), should_stop=should_stop)[0]
    return out.tracks[len(phrase.tracks):]


def jam_song(template: Song, phrase: Track, band, loop_start: int, loop_end: int) -> Song:
    """What plays on the next pass: the phrase (muted: the user plays live) and the band, placed in the loop and
    cut at its end; tempo map and meter from ``template``."""
    length = loop_end - loop_start

    def place(track: Track) -> Track:
        notes = []
        for n in track.notes:
            if n.start_tick >= length:
                continue
            notes.append(Note(n.start_tick + loop_start, n.pitch, min(n.duration_tick, length - n.start_tick),
                              n.velocity))
        return track.with_notes(notes)
    tracks = (replace(place(phrase), mute=True, solo=False),) + tuple(replace(place(t), solo=False) for t in band)
    return template.replace(tracks=tracks, melody_index=0)


# --- the loop -------------------------------------------------------------------------------------------------------
GenerateFn = Callable[[Song, str, int], tuple]


class JamSession:
    """One jam over the loop ``[loop_start, loop_end)`` of ``template`` with the band of ``genre``.

    Feed it what the user plays (``note_on``/``note_off`` with the engine's ``position_tick``) and the playhead
    (``poll(position_tick)`` every ~10 ms); ``poll`` returns the Song to ``swap_song`` in, when it is time.
    ``generate(phrase, genre, seed) -> band tracks`` defaults to :func:`band_for_phrase`.
    """

    def __init__(self, template: Song, loop_start: int, loop_end: int, genre: str, *, seed: int = 0,
                 generate: GenerateFn | None = None, anticipate: bool = True, program: int | None = None) -> None:
        if not isinstance(template, Song):
            raise JamError("The jam needs a song")
        if loop_start is None or loop_end is None or loop_end <= loop_start or loop_start < 0:
            raise JamError("Set a loop first: the band follows what you play in each pass of the loop")
        if not genre:
            raise JamError("Choose a genre for the band")
        bar = meter_at(template, loop_start).bar_ticks(template.ppq)
        bars = (loop_end - loop_start) / bar
        if bars > MAX_JAM_BARS + 1e-9:
            raise JamError(f"The loop is {bars:g} bars long; the band can follow loops of up to {MAX_JAM_BARS} bars")
        if loop_end - loop_start < template.ppq:
            raise JamError("The loop is shorter than a beat; make it at least one bar")
        from .core.timing import TempoMap
        self.template, self.genre, self.seed = template, genre, int(seed)
        self.loop_start, self.loop_end = int(loop_start), int(loop_end)
        self.length = self.loop_end - self.loop_start
        self.anticipate = anticipate
        self.program = template.melody.program if program is None and template.tracks else int(program or 0)
        self._tmap = TempoMap.of(template)
        self._sec_per_tick = (self._tmap.tick_to_seconds(self.loop_end) -
                              self._tmap.tick_to_seconds(self.loop_start)) / self.length
        self.budget_sec = min(JAM_BUDGET_SEC, bar * self._sec_per_tick) if bar else JAM_BUDGET_SEC
        self._generate = generate or band_for_phrase
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="jam")
        self._future: Future | None = None
        self._future_pass = -1
        self._ready: tuple[int, Song] | None = None
        self._pass = 0
        self._last_off: int | None = None
        self._triggered = -1
        self._last_taken: int | None = None
        self._played: list[_Played] = []
        self._open: dict[int, _Played] = {}
        self.gen_times: list[float] = []
        self.over_budget = 0
        self.swaps = 0
        self.late_swaps = 0
        self.last_song: Song | None = None
        self.last_phrase: Track | None = None
        self.status = "Play a phrase: the band answers on the next pass"
        self.error = ""

    # --- time -------------------------------------------------------------------------------------------------------
    @property
    def pass_index(self) -> int:
        return self._pass

    def _observe(self, tick: int) -> int:
        """Jam time (ticks) of the playhead ``tick``; counts a pass each time the playhead wraps."""
        off = min(max(int(tick) - self.loop_start, 0), self.length - 1)
        if self._last_off is not None and off < self._last_off - self.length // 2:
            self._pass += 1
        self._last_off = off
        return self._pass * self.length + off

    def lead_ticks(self) -> int:
        """How long before the loop end generation starts (ticks): 1.5 x the measured time + margins, at most
        half the loop; 0 without anticipation."""
        if not self.anticipate:
            return 0
        est = max(self.gen_times[-3:]) if self.gen_times else FIRST_ESTIMATE_SEC
        sec = 1.5 * est + SWAP_LEAD_SEC + 0.05
        return min(int(sec / self._sec_per_tick), self.length // 2)

    def _swap_off(self) -> int:
        return self.length - min(int(SWAP_LEAD_SEC / self._sec_per_tick), self.length // 4)

    # --- input (GUI thread) -----------------------------------------------------------------------------------------
    def note_on(self, pitch: int, velocity: int, tick: int) -> None:
        if not 0 <= int(pitch) <= 127:
            return
        now = self._observe(tick)
        self.note_off(pitch, tick)
        p = _Played(int(pitch), max(1, min(127, int(velocity))), now)
        self._open[p.pitch] = p
        self._played.append(p)

    def note_off(self, pitch: int, tick: int) -> None:
        p = self._open.pop(int(pitch), None)
        if p is not None:
            p.end = max(p.start + 1, self._observe(tick))

    def phrase_notes(self, now: int) -> list[Note]:
        """What was played since the last phrase was taken (at least the last loop length) before jam time
        ``now``, placed at its loop positions (so no note falls between two phrases when the lead shrinks)."""
        lo = now - self.length if self._last_taken is None else min(self._last_taken, now - self.length)
        out = []
        for p in self._played:
            end = now if p.end is None else min(p.end, now)
            start = max(p.start, lo)
            if end <= start or p.start >= now:
                continue
            pos = start % self.length
            dur = min(end - start, self.length - pos)
            if dur > 0:
                out.append(Note(pos, p.pitch, dur, p.velocity))
        self._played = [p for p in self._played if p.end is None or p.end > now - 3 * self.length]
        return out

    # --- the loop (GUI thread) --------------------------------------------------------------------------------------
    def poll(self, tick: int) -> Song | None:
        """Call every ~10 ms with the playhead; returns a Song to ``swap_song`` in now, or None."""
        now = self._observe(tick)
        off = now - self._pass * self.length
        trigger_at = self.length - self.lead_ticks()
        if self._triggered < self._pass and off >= trigger_at and trigger_at < self.length:
            self._trigger(self._pass, now)
        elif self._triggered < self._pass - 1:          # the trigger point was missed (or no anticipation)
            self._trigger(self._pass - 1, now)
        self._collect()
        if self._ready is not None:
            made_in, song = self._ready
            if self._pass > made_in or off >= self._swap_off():
                self._ready = None
                self.swaps += 1
                if self._pass > made_in:
                    self.late_swaps += 1
                self.last_song = song
                return song
        return None

    def _trigger(self, pass_index: int, now: int) -> None:
        self._triggered = pass_index
        if self._future is not None:
            self.status = "The band is still busy with the last phrase"
            return
        notes = self.phrase_notes(now)
        if not notes:
            self.status = "Play something: the band answers on the next pass"
            return
        self._last_taken = now
        phrase = phrase_song(self.template, notes, self.loop_start, self.program)
        seed = self.seed + pass_index
        self._future_pass = pass_index
        self._future = self._pool.submit(self._job, phrase, seed)

    def _job(self, phrase: Song, seed: int):  # jam worker thread
        t0 = time.perf_counter()
        band = self._generate(phrase, self.genre, seed)
        return phrase.tracks[0], tuple(band), time.perf_counter() - t0

    def _collect(self) -> None:
        f = self._future
        if f is None or not f.done():
            return
        self._future = None
        try:
            phrase, band, sec = f.result()
        except Exception as exc:       # ModelError, Cancelled, a bug: the jam goes on with the band it has
            self.error = str(exc) or type(exc).__name__
            self.status = f"The band could not follow: {self.error}"
            return
        self.gen_times.append(sec)
        if sec > self.budget_sec:
            self.over_budget += 1
        self.last_phrase = phrase
        self._ready = (self._future_pass, jam_song(self.template, phrase, band, self.loop_start, self.loop_end))
        self.status = "The band has its answer to your last phrase: play on"

    def warm_up(self) -> Future:
        """Load the model and run it once on the worker (so the first pass is on time)."""
        phrase = phrase_song(self.template, [Note(0, 60, self.template.ppq, 90)], self.loop_start, self.program)
        return self._pool.submit(self._generate, phrase, self.genre, self.seed)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until the running generation (if any) finished; for tests and shutdown."""
        f = self._future
        if f is None:
            return True
        try:
            f.result(timeout)
        except Exception:
            pass
        return f.done()

    def kept_song(self, project: Song) -> Song | None:
        """The project plus the last phrase (as a track) and the band that answered it; None before any answer."""
        if self.last_song is None:
            return None
        phrase, *band = self.last_song.tracks
        return project.with_tracks(project.tracks + (replace(phrase, mute=False),) + tuple(band),
                                   melody_index=project.melody_index)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
