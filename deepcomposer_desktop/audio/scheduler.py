"""The one event path shared by live playback and offline export.

``Scheduler.pump(until_sample)`` takes the next slice of the song's event array, drops inaudible tracks, turns
song seconds into absolute sample positions and hands the events to FluidSynth's sequencer, which dispatches them
inside FluidSynth's render loop at the right 64-frame block. Offline, the renderer pumps and then calls
``write_float``; live, a feeder thread pumps ~200 ms ahead of FluidSynth's own audio thread. Either way the synth
sees the same events at the same sample positions: what you hear is what you export.

Controller changes (pedal, bend ...) travel with the notes. Wherever playback begins mid-song (start, seek, a loop
pass, an unmuted track) the scheduler first "chases" them: each controller is set to the value the song has there;
notes held across where playback begins (start, seek, resume, a loop pass, not an unmute) start there too.

Thread notes: a Scheduler is not thread-safe by itself; the engine calls it under its own lock (feeder thread and
the caller threads of play/stop/mute...). Nothing here runs on the audio thread.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.song import CONTROL_RESET, PITCH_BEND, SOSTENUTO, SUSTAIN
from .events import BEND, BEND_RANGE, CONTROL, METRONOME, NOTE_OFF, NOTE_ON, PRESSURE
from .synth import Synth

FLUID_BLOCK = 64           # FluidSynth renders (and dispatches sequencer events) in blocks of 64 frames
MAX_TRACKS = 126           # song channels 0..125, live channels 128..253
CHASE_MIN_SEC = 0.03       # a held note is started mid-way only with this much of it left (no clicks)
METRONOME_CHANNEL = 254
LIVE_CHANNEL_BASE = 128
KIND_ALL_NOTES_OFF = 2
# controller numbers of the bend, of its range and of the aftertouch, as keys
BEND_KEY, RANGE_KEY, PRESSURE_KEY = PITCH_BEND, PITCH_BEND + 1, PITCH_BEND + 2
# What a channel holds before any controller change (FluidSynth's reset values; 0 for the rest): a controller a
# track uses goes back to it when playback starts before the track's first change of it.
_RESET = np.zeros(PRESSURE_KEY + 1, np.int64)
_RESET[list(CONTROL_RESET)] = list(CONTROL_RESET.values())
_RESET[BEND_KEY], _RESET[RANGE_KEY] = 8192, 2          # pitch bend centre; a bend range of 2 semitones


def _control_keys(ev: np.ndarray) -> np.ndarray:
    """One number per (track, controller) of controller events: track * 256 + CC number, BEND_KEY, RANGE_KEY or
    PRESSURE_KEY."""
    kind = ev["kind"]
    number = np.where(kind == BEND, BEND_KEY, np.where(kind == BEND_RANGE, RANGE_KEY,
                                                       np.where(kind == PRESSURE, PRESSURE_KEY, ev["pitch"])))
    return ev["track"].astype(np.int64) * 256 + number


def _kinds_of(numbers: np.ndarray) -> np.ndarray:
    """The event kind that sets each controller key's number (a CC, the bend, the bend range or the aftertouch)."""
    return np.where(numbers == BEND_KEY, BEND, np.where(numbers == RANGE_KEY, BEND_RANGE,
                                                        np.where(numbers == PRESSURE_KEY, PRESSURE, CONTROL)))


def _last_of_each(keys: np.ndarray) -> np.ndarray:
    """Indices of the last occurrence of each distinct key, in their original order."""
    _, last_rev = np.unique(keys[::-1], return_index=True)
    return np.sort(len(keys) - 1 - last_rev)


def _synth_values(ev: np.ndarray) -> np.ndarray:
    """What ``Synth.schedule_notes`` takes as the value of each event (velocity, CC value, bend 0..16383 ...)."""
    value = np.where(ev["kind"] >= CONTROL, ev["value"].astype(np.int64), ev["vel"].astype(np.int64))
    return np.where(ev["kind"] == BEND, value + 8192, value)


def align_start(sample: int, samplerate: int) -> int:
    """The first sample >= ``sample`` on which both FluidSynth's 64-frame grid and the sequencer's millisecond
    grid line up as they do at sample 0, so a song started there is dispatched exactly as in an offline render."""
    from math import gcd
    step = FLUID_BLOCK
    if samplerate % 1000 == 0:
        ms = samplerate // 1000
        step = FLUID_BLOCK * ms // gcd(FLUID_BLOCK, ms)
    return -(-sample // step) * step


def song_channel(track: int) -> int:
    return METRONOME_CHANNEL if track == METRONOME else track


def live_channel(track: int) -> int:
    return LIVE_CHANNEL_BASE + track


@dataclass
class Segment:
    """A stretch of the timeline: song seconds [sec_start, sec_end) played from absolute sample abs_start."""

    abs_start: int
    sec_start: float
    events: np.ndarray
    cursor: int
    count_in: bool = False
    resume_sec: float = 0.0           # for a count-in: the song second that follows it
    sec_end: float | None = None      # set when the segment is closed
    abs_end: int | None = None
    off_ms: int | None = None         # a pass that will wrap to the loop start: its all-notes-off (sequencer ms)


class Scheduler:
    """Feeds a FluidSynth sequencer from an immutable event array; see the module docstring."""

    def __init__(self, synth: Synth, samplerate: int) -> None:
        self.synth = synth
        self.sr = int(samplerate)
        self.events = np.zeros(0)
        self.end_sec = 0.0
        self.loop: tuple[float, float] | None = None
        self.audible = np.ones(1, bool)      # index track+1; index 0 is the metronome
        self.segments: list[Segment] = []
        self.scheduled_until = 0             # absolute sample up to which events have been handed over
        self.finished_at: int | None = None  # absolute sample where the song (not looping) ended
        self._count_in_next: tuple[float, int] | None = None
        self._sounding: set | frozenset = frozenset()   # notes the next segment does not chase (they sound)
        self._sources = np.zeros(1, np.int32)
        self._channels = np.zeros(1, np.int32)
        self._controls = np.zeros(0)
        self._all_control_keys = np.zeros(0, np.int64)
        self.late_events = 0                 # events handed over after their time had already been rendered

    # --- configuration ------------------------------------------------------------------------------------------
    def set_events(self, events: np.ndarray, end_sec: float, n_tracks: int) -> None:
        self.events = events
        self.end_sec = float(end_sec)
        self._controls = events[events["kind"] >= CONTROL] if len(events) else np.zeros(0)
        self._all_control_keys = np.unique(_control_keys(self._controls)) if len(self._controls) else \
            np.zeros(0, np.int64)
        n = min(n_tracks, MAX_TRACKS)
        keys = [METRONOME] + list(range(n))
        self._sources = np.array([self.synth.source(k) for k in keys], np.int32)
        self._channels = np.array([song_channel(k) for k in keys], np.int32)
        if len(self.audible) != n + 1:
            audible = np.ones(n + 1, bool)
            m = min(len(self.audible), n + 1)
            audible[:m] = self.audible[:m]
            self.audible = audible

    def n_tracks(self) -> int:
        return len(self.audible) - 1

    # --- sample <-> song time -----------------------------------------------------------------------------------
    def _abs_of(self, seg: Segment, sec: np.ndarray | float):
        return seg.abs_start + np.round((np.asarray(sec) - seg.sec_start) * self.sr).astype(np.int64)

    def _sec_of(self, seg: Segment, sample: int) -> float:
        return seg.sec_start + (sample - seg.abs_start) / self.sr

    def sec_at(self, sample: int) -> float | None:
        """Song second being rendered at absolute ``sample`` (the start position during a count-in)."""
        for seg in reversed(self.segments):
            if sample >= seg.abs_start:
                if seg.count_in:
                    return seg.resume_sec
                if seg.abs_end is not None and sample >= seg.abs_end:
                    return seg.sec_end
                return self._sec_of(seg, sample)
        if not self.segments:
            return None
        first = self.segments[0]
        return first.resume_sec if first.count_in else first.sec_start

    def in_count_in(self, sample: int) -> bool:
        for seg in reversed(self.segments):
            if sample >= seg.abs_start:
                return seg.count_in and (seg.abs_end is None or sample < seg.abs_end)
        return bool(self.segments and self.segments[0].count_in)

    # --- transport ----------------------------------------------------------------------------------------------
    def start(self, from_sec: float, at_sample: int, count_in: tuple[np.ndarray, float] | None = None,
              sounding: set | frozenset = frozenset()) -> None:
        """Begin feeding song second ``from_sec`` at absolute sample ``at_sample`` (after an optional count-in:
        (click events, length in seconds)). Notes held across ``from_sec`` start there (``_chase_notes``), except
        those of ``sounding`` ((track, pitch, start tick): they still sound, e.g. across an edit)."""
        self._sounding = sounding
        self.segments = []
        self.finished_at = None
        self.scheduled_until = at_sample
        self._count_in_next = None
        if count_in is not None and count_in[1] > 0:
            clicks, length = count_in
            seg = Segment(at_sample, 0.0, clicks, 0, count_in=True, resume_sec=from_sec)
            self._count_in_next = (from_sec, at_sample + int(round(length * self.sr)))
            seg.sec_end, seg.abs_end = length, self._count_in_next[1]
            self.segments.append(seg)
        else:
            self._open_song_segment(from_sec, at_sample)

    def _open_song_segment(self, sec: float, abs_start: int) -> None:
        cursor = int(np.searchsorted(self.events["sec"], sec, side="left")) if len(self.events) else 0
        self.segments.append(Segment(abs_start, sec, self.events, cursor))
        del self.segments[:-8]     # keep a short history for sec_at()
        self._chase(sec, abs_start, self.audible)
        self._chase_notes(sec, abs_start, self.audible, self._sounding)
        self._sounding = frozenset()

    def _chase_notes(self, sec: float, sample: int, audible: np.ndarray, sounding) -> None:
        """Start the audible tracks' notes that began before ``sec`` and still sound there (with at least
        ``CHASE_MIN_SEC`` left), at absolute ``sample``: playback that starts, resumes or loops in the middle of a
        held chord plays it, as a DAW chasing notes does; so do the notes of a track whose channel moved (a track
        above it deleted while playing). ``sounding``: (track, pitch, start tick) of notes that sound already."""
        ev = self.events
        if not len(ev):
            return
        head = ev[: int(np.searchsorted(ev["sec"], sec, side="left"))]         # notes at ``sec`` itself: sent anyway
        on = head[(head["kind"] == NOTE_ON) & (head["end_sec"] > sec + CHASE_MIN_SEC) & (head["track"] >= 0)]
        if not len(on):
            return
        slot = on["track"].astype(np.int64) + 1
        keep = slot < len(audible)
        keep[keep] = audible[slot[keep]]
        if sounding:
            keep &= np.fromiter(((int(t), int(p), int(k)) not in sounding
                                 for t, p, k in zip(on["track"], on["pitch"], on["tick"])), bool, len(on))
        on, slot = on[keep], slot[keep]
        if not len(on):
            return
        n = len(on)
        ms = int(self._ms(np.array([sample]))[0])
        self.synth.schedule_notes([ms] * n, [NOTE_ON] * n, self._channels[slot].tolist(), on["pitch"].tolist(),
                                  on["vel"].astype(np.int64).tolist(), self._sources[slot].tolist())

    def _chase(self, sec: float, sample: int, audible: np.ndarray) -> None:
        """Put each audible track's controllers (pedal, bend, expression ...) where the song has them at ``sec``,
        at absolute ``sample``: playback that starts, loops or is unmuted mid-song sounds as if it had played
        through. (The sequencer fires controller changes before the note-ons of the same millisecond; changes at
        ``sec`` itself are sent here and again by the normal path, with the same final value.)"""
        ctl = self._controls
        if not len(ctl):
            return
        head = ctl[: int(np.searchsorted(ctl["sec"], sec, side="right"))]
        keys = _control_keys(head)
        last = _last_of_each(keys)                        # the last change of each (track, controller), in order
        unset = np.setdiff1d(self._all_control_keys, keys)
        tracks = np.concatenate([unset // 256, head["track"][last].astype(np.int64)])
        numbers = np.concatenate([unset % 256, keys[last] % 256])
        values = np.concatenate([_RESET[unset % 256], _synth_values(head[last])])
        slots = tracks + 1
        ok = slots < len(audible)
        ok[ok] = audible[slots[ok]]
        if not ok.any():
            return
        slots, numbers, values = slots[ok], numbers[ok], values[ok]
        kinds = _kinds_of(numbers)
        n = len(slots)
        ms = int(self._ms(np.array([sample]))[0])
        self.synth.schedule_notes([ms] * n, kinds.tolist(), self._channels[slots].tolist(), (numbers % 128).tolist(),
                                  values.tolist(), self._sources[slots].tolist())

    def stop(self) -> None:
        """Drop every pending event, silence every song and metronome channel at once and put back the
        controllers the song moved (a bend or a pedal must not carry over into what plays next)."""
        self.synth.remove_pending(-1)
        for ch in self._channels:
            self.synth.all_sounds_off(int(ch))
        self.reset_controls(self._all_control_keys)
        self.segments = []
        self.finished_at = None

    def control_keys(self) -> np.ndarray:
        """The (track, controller) keys (track * 256 + number, see ``_control_keys``) the song's events use."""
        return self._all_control_keys

    def reset_controls(self, keys: np.ndarray) -> None:
        """Put the controllers of ``keys`` back at their reset values now (on their tracks' song channels)."""
        keys = np.asarray(keys, np.int64)
        keys = keys[keys // 256 < MAX_TRACKS]
        if not len(keys):
            return
        tracks, numbers = keys // 256, keys % 256
        kinds = _kinds_of(numbers)
        n = len(keys)
        self.synth.schedule_notes([self.synth.now_ms()] * n, kinds.tolist(), [song_channel(int(t)) for t in tracks],
                                  (numbers % 128).tolist(), _RESET[numbers].tolist(),
                                  [self.synth.source(int(t)) for t in tracks])

    def _segment_end(self, seg: Segment) -> float:
        if seg.count_in:
            return seg.sec_end
        if self.loop is not None and seg.sec_start < self.loop[1]:
            # a loop set while playing only wraps if its end is still ahead of what has been scheduled
            if self._sec_of(seg, max(self.scheduled_until, seg.abs_start)) <= self.loop[1]:
                return self.loop[1]
        return self.end_sec

    def pump(self, until_sample: int) -> None:
        """Hand over every audible event that falls before absolute ``until_sample``."""
        while self.segments and self.finished_at is None:
            seg = self.segments[-1]
            end_sec = self._segment_end(seg)
            wraps = not seg.count_in and self.loop is not None and end_sec == self.loop[1] \
                and self.loop[0] < self.loop[1]
            # a pass that wraps releases everything still sounding 1 ms before the next pass's first events (the
            # sequencer orders the events of one ms only partly: note-ons come last, a pedal change and an
            # all-notes-off in either order); _send leaves out the pass's note-ons from then on
            seg.off_ms = int(self._ms(self._abs_of(seg, end_sec))) - 1 if wraps else None
            until_sec = self._sec_of(seg, until_sample)
            if until_sec < end_sec:
                stop = int(np.searchsorted(seg.events["sec"], until_sec, side="left"))
                self._send(seg, seg.cursor, stop, self.audible)
                seg.cursor = max(seg.cursor, stop)
                self.scheduled_until = max(self.scheduled_until, until_sample)
                return
            # the song's last note-offs fall on its end: they are sent too (a loop's end gets all-notes-off instead,
            # and what starts there belongs to the next pass)
            side = "left" if seg.count_in or wraps else "right"
            stop = int(np.searchsorted(seg.events["sec"], end_sec, side=side))
            seg.sec_end = end_sec
            seg.abs_end = int(self._abs_of(seg, end_sec))
            self._send(seg, seg.cursor, stop, self.audible)
            seg.cursor = stop
            self.scheduled_until = seg.abs_end
            if seg.count_in:
                sec, _ = self._count_in_next
                self._count_in_next = None
                self._open_song_segment(sec, seg.abs_end)
            elif wraps:
                self._send_all_notes_off(seg.off_ms)
                self._open_song_segment(self.loop[0], seg.abs_end)
            else:
                self.finished_at = seg.abs_end
                if len(self._controls):                # a pedal the song leaves down would hold its notes forever
                    self._pedals_up(int(self._ms(np.array([seg.abs_end]))[0]))

    def _ms(self, samples: np.ndarray) -> np.ndarray:
        # The sequencer clock is whole ms of rendered audio and fires an event one 64-frame block after the
        # block its ms falls in; shifting by one block keeps every onset within (-48, +64) frames of its sample.
        return np.maximum((samples - FLUID_BLOCK) * 1000 // self.sr, 0)

    def _send(self, seg: Segment, a: int, b: int, audible: np.ndarray) -> None:
        if b <= a:
            return
        ev = seg.events[a:b]
        if seg.count_in:                   # count-in clicks sound whether or not the metronome is on
            audible = np.ones_like(audible)
        slot = ev["track"].astype(np.int64) + 1
        keep = slot < len(audible)
        keep[keep] = audible[slot[keep]]
        if not keep.any():
            return
        ev, slot = ev[keep], slot[keep]
        ms = self._ms(self._abs_of(seg, ev["sec"]))
        if seg.off_ms is not None:
            # a note-on of the pass's last ms would follow the all-notes-off there and ring through the next pass
            # (its note-off lies past the loop end): it is left out, as it would be cut at once
            keep = (ev["kind"] != NOTE_ON) | (ms < seg.off_ms)
            ev, slot, ms = ev[keep], slot[keep], ms[keep]
            if not len(ev):
                return
        self.late_events += int(np.count_nonzero(ms < self.synth.now_ms()))
        ctl = ev["kind"] >= CONTROL
        if ctl.any():
            # the sequencer may swap events of one millisecond: of several changes of one controller there, only
            # the last is sent
            at = np.flatnonzero(ctl)
            keep = ~ctl
            keep[at[_last_of_each((_control_keys(ev[at]) << 32) + ms[at])]] = True
            ev, slot, ms = ev[keep], slot[keep], ms[keep]
        self.synth.schedule_notes(ms.tolist(), ev["kind"].tolist(), self._channels[slot].tolist(),
                                  ev["pitch"].tolist(), _synth_values(ev).tolist(), self._sources[slot].tolist())

    def _send_all_notes_off(self, ms: int, slots=None) -> None:
        """All-notes-off (and pedals up) at sequencer ``ms`` on every song channel, or on those of ``slots``."""
        slots = np.arange(len(self._channels)) if slots is None else np.asarray(slots)
        n = len(slots)
        chans, sources = self._channels[slots].tolist(), self._sources[slots].tolist()
        if len(self._controls):
            self._pedals_up(ms, slots)                 # or the held notes would ring on past the jump
        self.synth.schedule_notes([ms] * n, [KIND_ALL_NOTES_OFF] * n, chans, [0] * n, [0] * n, sources)

    def _pedals_up(self, ms: int, slots=None) -> None:
        slots = np.arange(len(self._channels)) if slots is None else np.asarray(slots)
        n = len(slots)
        self.synth.schedule_notes([ms] * 2 * n, [CONTROL] * 2 * n, self._channels[slots].tolist() * 2,
                                  [SUSTAIN] * n + [SOSTENUTO] * n, [0] * 2 * n, self._sources[slots].tolist() * 2)

    # --- mixer changes while playing ---------------------------------------------------------------------------
    def set_audible(self, audible: np.ndarray, now_sample: int) -> None:
        """Swap the audible-tracks mask. Tracks that fell silent lose their pending events and are cut at once;
        tracks that became audible get their events from ``now_sample`` up to what is already scheduled."""
        audible = np.asarray(audible, bool)
        old = self.audible
        if len(audible) != len(old):
            raise ValueError("audible mask has the wrong length")
        self.audible = audible
        for slot in np.flatnonzero(old & ~audible):
            self.synth.remove_pending(int(self._sources[slot]))
            self.synth.all_sounds_off(int(self._channels[slot]))
        newly = ~old & audible
        if not newly.any() or not self.segments:
            return
        seg = self.segments[-1]
        if not seg.count_in and now_sample >= seg.abs_start:
            self._chase(self._sec_of(seg, now_sample), now_sample, newly)
        for seg in self.segments:
            if seg.count_in:
                continue
            seg_end_abs = seg.abs_end if seg.abs_end is not None else self.scheduled_until
            lo, hi = max(now_sample, seg.abs_start), min(seg_end_abs, self.scheduled_until)
            if hi <= lo:
                continue
            a = int(np.searchsorted(seg.events["sec"], self._sec_of(seg, lo), side="left"))
            b = int(np.searchsorted(seg.events["sec"], self._sec_of(seg, hi), side="left"))
            self._send(seg, a, min(b, seg.cursor), newly)
            if seg.off_ms is not None and seg.abs_end is not None and seg.off_ms >= self.synth.now_ms():
                # muting dropped this track's pending loop-end release with its other events
                self._send_all_notes_off(seg.off_ms, np.flatnonzero(newly))

    def sounding_notes(self, sec: float) -> set[tuple[int, int, int]]:
        """(track, pitch, start tick) of the song notes that sound at song second ``sec``."""
        ev = self.events
        if not len(ev):
            return set()
        upto = int(np.searchsorted(ev["sec"], sec, side="right"))
        head = ev[:upto]
        on = head[(head["kind"] == NOTE_ON) & (head["end_sec"] > sec) & (head["track"] >= 0)]
        return {(int(t), int(p), int(k)) for t, p, k in zip(on["track"], on["pitch"], on["tick"])}

    def release_notes(self, notes, sample: int) -> None:
        """Note-offs for ``notes`` ((track, pitch, tick) triples) at absolute ``sample``, on the channels of those
        track numbers (also of tracks the song no longer has)."""
        notes = [n for n in notes if 0 <= n[0] < MAX_TRACKS]
        if not notes:
            return
        ms = int(self._ms(np.array([sample]))[0])
        self.synth.schedule_notes([ms] * len(notes), [NOTE_OFF] * len(notes),
                                  [song_channel(t) for t, _, _ in notes], [p for _, p, _ in notes],
                                  [0] * len(notes), [self.synth.source(t) for t, _, _ in notes])
