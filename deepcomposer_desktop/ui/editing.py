"""Song edits requested by the tracks panel, transport and piano roll, each pushed as one undoable command
(a mixin of MainWindow). GUI thread only.
"""
from __future__ import annotations

from dataclasses import replace

from ..core.analysis import guess_melody_index
from ..core.gm import program_name
from ..core.song import MAX_BPM, MIN_BPM, Song, TempoChange, TimeSignature, Track
from .commands import MERGE_PAN, MERGE_TEMPO, MERGE_VOLUME
from .transport import snap_ticks


class EditingMixin:
    def notes_edited(self, track_index: int, notes, description: str) -> None:
        if not 0 <= track_index < len(self.song.tracks):
            return                                  # a song without tracks: there is nothing to edit
        track = self.song.tracks[track_index]
        self.doc.apply_track(track_index, track.with_notes(notes), description or "Edit notes")

    def edit_track(self, index: int, field: str, value) -> None:
        t = self.song.tracks[index]
        label = t.name or f"track {index + 1}"
        merge = -1
        if field == "name":
            new, text = replace(t, name=value), f"Rename {label} to {value}"
        elif field == "program":
            new, text = replace(t, program=int(value)), f"{label}: {program_name(int(value))}"
        elif field == "instrument":              # a pitched instrument in place of the drum kit
            new, text = replace(t, is_drum=False, channel=None, program=int(value)), \
                f"{label}: {program_name(int(value))}"
        elif field == "is_drum":                 # the standard kit: a drum track's program picks the kit (bank 128)
            new, text = replace(t, is_drum=bool(value), channel=9 if value else None,
                                program=0 if value else t.program), \
                f"{label}: {'drum kit' if value else 'instrument'}"
        elif field in ("mute", "solo"):
            new = replace(t, **{field: bool(value)})
            text = f"{'' if value else 'Un'}{field} {label}".capitalize()
        elif field == "volume":
            new, text, merge = replace(t, volume=int(value)), f"Volume of {label}", MERGE_VOLUME
        elif field == "pan":
            new, text, merge = replace(t, pan=int(value)), f"Pan of {label}", MERGE_PAN
        else:
            return
        key = self.tracks.gesture(index, field) if merge != -1 else None      # one drag, not two, is one step
        self.doc.apply_track(index, new, text, merge if key is not None else -1, key)

    def _follow_current_track(self, old: Song, new: Song) -> None:
        """Keep the roll on the track it edits while tracks above it come and go (delete, duplicate, undo, redo):
        the same Track object in ``new``; else, as before, the same row (that track edited, or it went)."""
        if 0 <= self.current_track < len(old.tracks):
            was = old.tracks[self.current_track]
            self.current_track = next((i for i, t in enumerate(new.tracks) if t is was), self.current_track)
        self.current_track = max(0, min(self.current_track, len(new.tracks) - 1))

    def track_action(self, index: int, what: str) -> None:
        song, t = self.song, self.song.tracks[index]
        if what == "melody":
            if t.is_drum:
                self.statusBar().showMessage(f"{t.name} is a drum track: the models need a melody with pitches",
                                             6000)
            else:
                self.doc.apply(song.replace(melody_index=index), f"Make {t.name} the input melody")
            self.tracks.set_song(self.song)       # re-check the star even when nothing changed
        elif what == "duplicate":
            tracks = list(song.tracks)
            tracks.insert(index + 1, replace(t, name=f"{t.name} copy", solo=False, channel=None if not t.is_drum
                                             else 9))
            mi = song.melody_index + (1 if song.melody_index > index else 0)
            colors = self.tracks.colors()
            new_colors = colors[:index + 1] + [self.tracks.color(index).lighter(125).name()] + colors[index + 1:]
            self.doc.apply(song.with_tracks(tracks, melody_index=mi), f"Duplicate {t.name}",
                           views=(colors, new_colors))
        elif what == "delete":
            if len(song.tracks) <= 1:
                self.statusBar().showMessage("A song keeps at least one track", 4000)
                return
            tracks = list(song.tracks)
            del tracks[index]
            mi = song.melody_index
            moved = mi == index
            if moved:                            # the ★ goes to the likeliest tune left (never a drum track)
                mi = guess_melody_index(song.with_tracks(tracks))     # (0 when no pitched track has notes)
                if tracks[mi].is_drum:
                    mi = next((i for i, x in enumerate(tracks) if not x.is_drum), mi)
            elif mi > index:
                mi -= 1
            colors = self.tracks.colors()
            self.doc.apply(song.with_tracks(tracks, melody_index=mi), f"Delete {t.name}",
                           views=(colors, colors[:index] + colors[index + 1:]))
            if moved:
                self.statusBar().showMessage(f"{t.name} was the melody the models read: now {tracks[mi].name} is "
                                             f"(★ on another track to change it)", 6000)

    def add_track(self) -> None:
        n = len(self.song.tracks)
        self.doc.apply(self.song.with_tracks(self.song.tracks + (Track(name=f"Track {n + 1}"),)), "Add track")
        self.set_current_track(n)

    def set_tempo(self, bpm: float) -> None:
        """Scale every tempo change by the same ratio (the song's sections keep their proportions), as far as the
        3.58-1000 BPM range lets every one of them go (clamping each on its own lost the ratio for good)."""
        song = self.song
        slowest, fastest = min(tc.bpm for tc in song.tempos), max(tc.bpm for tc in song.tempos)
        ratio = min(max(bpm / song.tempos[0].bpm, MIN_BPM / slowest), MAX_BPM / fastest)
        tempos = tuple(TempoChange(tc.tick, max(MIN_BPM, min(MAX_BPM, tc.bpm * ratio))) for tc in song.tempos)
        shown = tempos[0].bpm
        key = self.transport.tempo_gesture.token()          # arrows held, the wheel: one step; each value typed: one
        self.doc.apply(song.replace(tempos=tempos), f"Tempo {shown:g} BPM", MERGE_TEMPO if key is not None else -1,
                       key)
        if shown != bpm:
            self.transport.show_song(self.song)         # the box shows how far it went

    def set_time_signature(self, num: int, den: int) -> None:
        """The song's metre (after a pickup bar, if it opens with one: the pickup stays)."""
        song = self.song
        i = song.meter_index
        sigs = list(song.time_signatures)
        sigs[i] = TimeSignature(sigs[i].tick, num, den)
        sigs = tuple(sigs)
        self.doc.apply(song.replace(time_signatures=sigs), f"Time signature {num}/{den}")

    def set_snap(self, label: str) -> None:
        self.snap_label = label
        self.piano_roll.set_snap(snap_ticks(label, self.song.ppq))
