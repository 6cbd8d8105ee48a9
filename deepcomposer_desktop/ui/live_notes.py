"""Live notes from the on-screen keyboard (mouse and computer keys) and the roll's short previews, on the synth.

A note-off or pedal-up goes to the track its note-on or pedal-down went to, though the input (★ melody) track may
have changed in between; a preview never silences or unlights a pitch the keyboard holds down. GUI thread only.
"""
from __future__ import annotations

from PySide6.QtCore import QTimer

PREVIEW_MS = 250


class LiveNotes:
    """Plays the keyboard's notes and pedal through ``playback`` (a PlaybackController, which also records them) and
    previews through its engine, lighting ``keyboard`` (a PianoKeyboard)."""

    def __init__(self, playback, keyboard) -> None:
        self.playback, self.keyboard = playback, keyboard
        self._held: dict[int, list[int]] = {}       # pitch -> the tracks its sounding note-ons went to, oldest first
        self._pedal: set[int] = set()               # the tracks the pedal is down on (on screen or a MIDI keyboard's)

    def note_on(self, pitch: int, velocity: int, track: int) -> None:
        self._held.setdefault(pitch, []).append(track)
        self.playback.live_note_on(pitch, velocity, track)

    def note_off(self, pitch: int, track: int) -> None:
        """``track``: the input track now, used only when no note-on of ``pitch`` is on record."""
        tracks = self._held.get(pitch)
        if tracks:
            track = tracks.pop(0)
            if not tracks:
                del self._held[pitch]
        self.playback.live_note_off(pitch, track)

    def sustain(self, on: bool, track: int) -> None:
        """The pedal down on ``track``; up on every track it went down on (``track`` when none is on record)."""
        if on:
            self._pedal.add(track)
            self.playback.set_sustain(True, track)
            return
        for down in sorted(self._pedal) or [track]:
            self.playback.set_sustain(False, down)
        self._pedal.clear()

    def hardware_pedal(self, on: bool, track: int) -> None:
        """A MIDI keyboard's pedal, which the synth heard already on ``track``: down, it goes up with the on-screen
        pedal; up, it lifts the on-screen pedal too (on the tracks that one went down on)."""
        if on:
            self._pedal.add(track)
            return
        self._pedal.discard(track)                  # the MIDI input lifted it there
        if self._pedal:
            self.sustain(False, track)

    def preview(self, pitch: int, velocity: int, track: int) -> None:
        """Sound ``pitch`` on ``track`` for PREVIEW_MS (a note drawn or clicked in the roll), unless a key holds it
        there already."""
        if track in self._held.get(pitch, ()):
            return
        self.playback.engine.live_note_on(pitch, velocity, track)
        self.keyboard.set_key_lit(pitch, True)

        def off() -> None:
            held = self._held.get(pitch, ())
            if track not in held:                   # a key struck meanwhile ends the note when it is let go
                self.playback.engine.live_note_off(pitch, track)
            if not held:
                self.keyboard.set_key_lit(pitch, False)
        QTimer.singleShot(PREVIEW_MS, self.keyboard, off)     # cancelled if the keyboard goes first
