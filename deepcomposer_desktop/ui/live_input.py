"""The window's live input and recording (a mixin of MainWindow): on-screen and computer keys, the hardware MIDI
keyboard's notes, pedal and controllers, and takes recorded from them into the song. GUI thread only (the MIDI
thread reaches these methods through MidiInput's signals; the synth already heard the notes there).
"""
from __future__ import annotations

from dataclasses import replace

from ..core.song import PITCH_BEND, Song
from .panels import connect_midi
from .record_options import take_into_song


class LiveInputMixin:
    @property
    def input_track(self) -> int:
        return self.song.melody_index

    def live_note_on(self, pitch: int, velocity: int) -> None:
        self.live.note_on(pitch, velocity, self.input_track)

    def live_note_off(self, pitch: int) -> None:
        self.live.note_off(pitch, self.input_track)             # to the track the note-on went to

    def start_midi(self) -> None:
        """Open hardware MIDI input (after the window shows: rtmidi's import and port scan take a moment)."""
        try:
            from .midi_input import MidiInput, build_midi_menu
        except Exception as exc:  # noqa: BLE001 - no MIDI module: the rest of the app works
            self.statusBar().showMessage(f"MIDI input not available: {exc}", 5000)
            return
        # started once connected: its first poll says "connected" or why there is no MIDI input
        self.midi = MidiInput(self, settings=self.settings.q, engine=lambda: self.playback.engine, start=False)
        self.menuBar().insertMenu(self.transport_menu.menuAction(), build_midi_menu(self.midi, self))
        self.midi.note_on.connect(self.hardware_note_on)
        self.midi.note_off.connect(self.hardware_note_off)
        self.midi.message.connect(self._status_message)
        self.midi.sustain.connect(self.hardware_sustain)
        self.midi.control.connect(self.hardware_control)
        self.midi.pitch_bend.connect(self.hardware_bend)
        self.midi.device_lost.connect(self.midi_device_lost)
        self.playback.clock = self.midi.manager.clock          # hardware events' time_sec -> song ticks
        connect_midi(self)
        if self.song.tracks:
            self.midi.set_track(self.song.melody_index)
            self.midi.set_song_key(self.song.key)
        self.midi.start()

    def midi_device_lost(self, port: str) -> None:
        """The keyboard vanished: a recording stops cleanly and keeps the take so far."""
        if self.playback.recording is not None:
            self.transport.record_btn.setChecked(False)        # -> set_recording(False): the take is kept
            self.statusBar().showMessage(f"{port} was unplugged: recording stopped, the take is kept", 8000)

    def _status_message(self, message: str) -> None:
        self.statusBar().showMessage(message, 5000)

    def hardware_note_on(self, pitch: int, velocity: int, time_sec: float | None = None) -> None:
        """A note from a MIDI keyboard (the synth already heard it on the MIDI thread): light and record it where
        it was played (``time_sec``: when, on the MIDI input's clock; None: now)."""
        self.keyboard.set_key_lit(pitch, True)
        self._to_take("note_on", pitch, velocity, time_sec=time_sec)

    def hardware_note_off(self, pitch: int, time_sec: float | None = None) -> None:
        self.keyboard.set_key_lit(pitch, False)
        self._to_take("note_off", pitch, time_sec=time_sec)

    def _show_sustain(self, on: bool) -> None:
        self.sustain_btn.blockSignals(True)
        self.sustain_btn.setChecked(on)
        self.sustain_btn.blockSignals(False)

    def _sustain(self, on: bool) -> None:
        self._show_sustain(on)
        self.live.sustain(on, self.input_track)
        self._to_take("sustain", on)

    def preview_note(self, pitch: int, velocity: int) -> None:
        self.live.preview(pitch, velocity, self.current_track)

    def set_recording(self, on: bool) -> None:
        if on:
            self.playback.start_recording(self.input_track, pedal=self.sustain_btn.isChecked())
            self._recorded = (self.song, self.song.tracks[self.input_track])
            self.statusBar().showMessage(f"Recording into {self.song.melody.name} — play the keyboard; "
                                         "press ● or Stop to finish")
            return
        if self.midi is not None:
            self.midi.drain()                           # what the keyboard played up to now goes in the take
        end = self.playback.position
        result = self.playback.stop_recording()
        if result is None:
            return
        rec, takes = result
        if not takes:
            self.statusBar().showMessage("Nothing was recorded", 4000)
            return
        song, index = self.song, rec.track_index
        if not 0 <= index < len(song.tracks):        # its track was deleted meanwhile: the take gets a new one
            song = song.with_tracks(song.tracks + (replace(self._recorded[1], notes=(), controls=(), mute=False,
                                                           solo=False),))
            index = len(song.tracks) - 1
        song, text = take_into_song(song, index, takes, rec.start_tick, end, rec.loop, self.record_options)
        self.doc.apply(song, text)
        self.statusBar().showMessage(f"{text} into {self.song.tracks[index].name}", 4000)

    def end_recording(self) -> None:
        """Finish a recording in progress, its take going into the song (before the song is closed or saved)."""
        if self.playback.recording is not None:
            self.transport.record_btn.setChecked(False)         # -> set_recording(False)

    def _follow_recorded_track(self, song: Song, reason: str) -> None:
        """Keep a recording pointed at its track while tracks are added, deleted or moved (by edits, undo,
        redo), and at it again when an undo brings it back after a delete; another song replacing this one ends
        it, its take dropped with the song it belonged to."""
        rec = self.playback.recording
        if rec is None:
            return
        if reason == "load":
            self.transport.record_btn.blockSignals(True)
            self.transport.record_btn.setChecked(False)
            self.transport.record_btn.blockSignals(False)
            self.playback.stop_recording()
            self.statusBar().showMessage("Recording stopped: another song was opened", 6000)
            return
        old, track = self._recorded
        self._recorded = (song, track)
        index = next((i for i, t in enumerate(song.tracks) if t is track), None)   # moved, or back by undo
        if index is None and 0 <= rec.track_index < len(old.tracks) == len(song.tracks):
            index = rec.track_index                            # the same tracks, this one edited
        rec.track_index = -1 if index is None else index
        if index is not None:
            self._recorded = (song, song.tracks[index])

    def _to_take(self, what: str, *args, time_sec: float | None = None) -> None:
        """Pass a key, pedal or controller move played at ``time_sec`` (None: now) to the recording in progress
        (``Recording.note_on`` / ``.sustain`` / ``.control`` ...), at the tick it was played at."""
        if self.playback.recording is not None:
            getattr(self.playback.recording, what)(*args, self.playback.take_tick(time_sec))

    def hardware_control(self, number: int, value: int, time_sec: float | None = None) -> None:
        self._to_take("control", number, value, time_sec=time_sec)

    def hardware_bend(self, value: int, time_sec: float | None = None) -> None:
        self._to_take("control", PITCH_BEND, value, time_sec=time_sec)

    def hardware_sustain(self, on: bool, time_sec: float | None = None) -> None:
        """The MIDI keyboard's pedal (the synth heard it already): the Sustain button and the keyboard show it, and
        letting it go lifts a pedal put down on screen too, so all three agree."""
        self._show_sustain(on)
        self.keyboard.show_sustain(on)
        self.live.hardware_pedal(on, self.input_track)
        self._to_take("sustain", on, time_sec=time_sec)

