"""The window's file and job handling (a mixin of MainWindow): new/open/save/import/export, recent files,
autosave and crash recovery, the audio engine start-up and generation jobs on workers. GUI thread only.
"""
from __future__ import annotations

import math
import os
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QMessageBox

from ..core.analysis import guess_melody_index
from ..core.edits import carry_mixer, same_music
from ..core.project import ProjectError
from ..core.song import Song, SongError, Track
from .dialogs import MelodyChooser
from .project_io import PROJECT_SUFFIX, Autosaver, SaveError, find_recoveries, load_project, save_project
from .settings import SettingsDialog

PROJECT_FILTER = f"DeepComposer projects (*{PROJECT_SUFFIX})"
MIDI_FILTER = "MIDI files (*.mid *.midi *.kar)"
BIG_MIDI_BYTES = 200_000          # larger files load on a worker thread


class FilesMixin:
    # --- set-up / tear-down ----------------------------------------------------------------------------------------
    def init_files(self) -> None:
        self.project_path: Path | None = None
        self._workers: list = []
        self._exports: list = []                 # WAV / stems exports running (File › Cancel export)
        self._gen_worker = None
        self.torch_loaded = False                # torch imported ahead of the first generation (_load_torch)
        self._takes: list = []
        self._take_base: Song | None = None
        self._take_song: Song | None = None      # the song the last chosen take made
        self._take_technique = ""
        self._loads = 0                           # songs loaded so far (new / open): a job for an older one is void
        self._gen_input: Song | None = None      # the song when Generate was pressed
        self._gen_base: Song | None = None       # what the model read: that song, or the one before the last result
        self._gen_again = False                  # the result replaces the last one
        self._gen_loads = 0
        self._big_opens = 0                       # files sent to a worker to load: only the latest may arrive
        self.doc.song_changed.connect(self._song_replaced)
        self._recovery = None
        self.banner.accepted.connect(self._recover)
        self.banner.rejected.connect(self._discard_recovery)
        self.autosaver = Autosaver(self.data_dir / "autosave", self._autosave_state, parent=self)
        if self.autosaver.problem:
            self.statusBar().showMessage(self.autosaver.problem, 15000)
        self.refresh_recent_menu()

    def close_files(self) -> None:
        for w in list(self._workers):
            w.cancel()
            w.wait(15000)
        if getattr(self.autosaver, "abandoned", False):
            return
        self.autosaver.close()
        if self._recovery is not None:
            self._recovery.lock.unlock()

    def _autosave_state(self):
        if self.doc.undo_stack.isClean():
            return None
        return self.song, self.project_extra()

    def project_extra(self) -> dict:
        loop = self.playback.loop_range
        return {"track_colors": self.tracks.colors(), "snap": self.snap_label,
                "loop": list(loop) if loop else None, "loop_on": bool(self.playback.loop_enabled and loop),
                "source_path": str(self.project_path) if self.project_path else ""}

    # --- workers ---------------------------------------------------------------------------------------------------
    def run_worker(self, fn, kwargs: dict, label: str = "", with_callbacks: bool = True):
        from ..workers import Worker
        w = Worker(fn, kwargs, label, with_callbacks=with_callbacks)
        self._workers.append(w)
        w.done.connect(lambda: self._workers.remove(w) if w in self._workers else None)
        w.finished.connect(w.deleteLater)
        return w

    def start_audio(self) -> None:
        from ..workers import create_engine
        s = self.settings
        w = self.run_worker(create_engine, {"soundfont": s.soundfont, "blocksize": s.block_size,
                                            "device": s.audio_device}, "audio", with_callbacks=False)
        w.succeeded.connect(self.playback.attach_engine)
        w.failed.connect(lambda msg: self.playback.engine_failed(
            "Audio engine not installed yet" if "not available" in msg else msg))
        w.start()

    def probe_techniques(self) -> None:
        from ..workers import probe_techniques
        w = self.run_worker(probe_techniques, {}, "probe")
        w.succeeded.connect(self.techniques.set_availability)
        w.succeeded.connect(self._load_torch)
        w.failed.connect(lambda msg: self.techniques.set_availability(
            {k: {"available": False, "problem": msg} for k in ("gan", "arcnn", "transformer")}))
        w.start()

    def _load_torch(self, availability: dict) -> None:
        """After the probe: torch is imported on a worker now rather than on the first generation, whose start it
        froze (``workers.load_torch``). ``torch_loaded`` becomes True when it is in."""
        if not any(info.get("available") for info in availability.values()):
            return
        from ..workers import load_torch
        w = self.run_worker(load_torch, {}, "torch")
        w.succeeded.connect(lambda ok: setattr(self, "torch_loaded", bool(ok)))
        w.start()

    # --- generation ------------------------------------------------------------------------------------------------
    def generate(self, technique: str, options: dict) -> None:
        if self._gen_worker is not None:
            return
        from ..workers import run_technique
        song = self.song
        # Generate again, the last result untouched since: the new one takes its place (Undo brings it back), so
        # two bands or two enhanced melodies never play at once; the model reads the song as it was before it
        again = (self._take_base is not None and self._take_technique == technique and self._take_song is not None
                 and same_music(self._take_song, song))
        base = self._take_base if again else song
        self._gen_input, self._gen_base, self._gen_loads, self._gen_again = song, base, self._loads, again
        kwargs = dict(options, technique=technique, song=base)
        if technique == "arcnn":
            kwargs["track_index"] = base.melody_index
        w = self.run_worker(run_technique, kwargs, technique)
        self._gen_worker = w
        self.techniques.set_busy(True, "Starting…")
        w.progressed.connect(self.techniques.set_progress)
        w.succeeded.connect(lambda result: self._generated(technique, options, result))
        w.failed.connect(lambda msg: self._generation_over(f"Failed: {msg}"))
        w.cancelled.connect(lambda: self._generation_over("Cancelled"))
        w.start()

    def cancel_generation(self) -> None:
        if self._gen_worker is not None:
            self._gen_worker.cancel()
            self.techniques.set_message("Cancelling…")

    def _generation_over(self, message: str) -> None:
        self._gen_worker = None
        self.techniques.set_busy(False, message)
        if message:
            self.statusBar().showMessage(message, 6000)

    def _generated(self, technique: str, options: dict, result) -> None:
        takes = list(result) if isinstance(result, (list, tuple)) else [result]
        takes = [t for t in takes if isinstance(t, (Song, Track))]
        if not takes:
            self._generation_over("The model returned nothing")
            return
        # the result belongs to the song as it was when Generate was pressed: it goes onto the song now only if
        # that is the same music (mixer changes meanwhile are kept); never onto another song or an edited one
        if self._loads != self._gen_loads:
            self._generation_over("Not applied: another song was opened while the model worked")
            return
        if not same_music(self._gen_input, self.song):
            self._generation_over("Not applied: the song was edited while the model worked. Generate again")
            return
        if technique == "transformer" and all(isinstance(t, Song) and t.note_count == self._gen_base.note_count
                                              for t in takes):
            self._generation_over("The model ended the piece there and added no notes: try another seed")
            return
        self._take_base = self._gen_base
        self._take_technique = technique
        self._takes = takes
        self._apply_take(0, first=True)
        self.techniques.set_takes(len(takes))
        seed = self.techniques.next_seed(technique, len(takes))
        self._generation_over(f"Done: {len(takes)} take{'s' if len(takes) > 1 else ''}" + (
            ", in place of the last result (Undo brings it back)" if self._gen_again else "") + (
            f"; {self._take_base.melody.name!r} is muted so that you hear the enhanced melody (unmute it to "
            f"compare)" if technique == "arcnn" else "") + (
            f". Generate again for new ones (seed {seed})" if seed is not None else ""))

    def _merged(self, base: Song, take) -> tuple[Song, str]:
        t = self._take_technique
        if t == "arcnn":
            return base.with_tracks(base.tracks + (take,)), "AR-CNN enhance"
        if t == "gan":
            known = len(self._gen_input_tracks(take, base))
            return base.with_tracks(base.tracks + take.tracks[known:]), "GAN accompaniment"
        return take.replace(title=base.title), "Transformer extend"

    @staticmethod
    def _gen_input_tracks(take: Song, base: Song) -> tuple:
        # the GAN returns the input's tracks unchanged, then the new ones
        n = 0
        while n < min(len(take.tracks), len(base.tracks)) and take.tracks[n].notes == base.tracks[n].notes:
            n += 1
        return take.tracks[:n]

    def _apply_take(self, i: int, first: bool = False) -> None:
        song, text = self._merged(self._take_base, self._takes[i])
        suffix = f" (take {i + 1})" if len(self._takes) > 1 else ""
        # mute, solo, volume, pan, names and instruments as they are now (set while listening to a take); a new
        # result in place of the last one takes the mixer of the song's own tracks only (its band is another)
        source = self.song.with_tracks(self.song.tracks[:len(self._take_base.tracks)]) if first else self.song
        song = carry_mixer(song, source)
        if first and self._take_technique == "arcnn":       # the enhanced melody plays in the original's place
            index = self._take_base.melody_index
            song = song.replace_track(index, replace(song.tracks[index], mute=True))
        self.doc.apply(song, text + suffix)
        self._take_song = self.song

    def choose_take(self, i: int) -> None:
        if self._take_base is None or not 0 <= i < len(self._takes):
            return
        if self._take_song is None or not same_music(self._take_song, self.song):
            # the song was edited (or undone) since: a take would bring back the song as it was before
            self._forget_takes()
            self.statusBar().showMessage("The song changed since those takes: generate again for new ones", 6000)
            return
        self._apply_take(i)

    def _forget_takes(self) -> None:
        self._takes, self._take_base, self._take_song = [], None, None
        self.techniques.set_takes(0)

    def _song_replaced(self, song: Song, reason: str) -> None:
        if reason == "load":
            self._loads += 1
            self._forget_takes()

    # --- new / open ------------------------------------------------------------------------------------------------
    def confirm_discard(self, doing: str) -> bool:
        self.end_recording()                    # a take in progress is work too: into the song, then asked about
        if self.doc.undo_stack.isClean():
            return True
        answer = QMessageBox.question(self, "Unsaved changes", f"Save your changes before {doing}?",
                                      QMessageBox.Save | QMessageBox.Discard | QMessageBox.Cancel, QMessageBox.Save)
        if answer == QMessageBox.Save:
            return self.save()
        return answer == QMessageBox.Discard

    def new_project(self) -> None:
        if not self.confirm_discard("starting a new project"):
            return
        self.project_path = None
        self.tracks.set_colors([])
        self.doc.load(Song(tracks=(Track(name="Melody", channel=0),), title="Untitled"))
        self.playback.seek(0)

    def open_dialog(self) -> None:
        if not self.confirm_discard("opening another file"):
            return
        path, _ = QFileDialog.getOpenFileName(self, "Open", self.settings.last_dir(),
                                              f"{PROJECT_FILTER};;{MIDI_FILTER};;All files (*)")
        if path:
            self.open_path(path, ask_melody=True)

    def import_dialog(self) -> None:
        if not self.confirm_discard("importing a MIDI file"):
            return
        path, _ = QFileDialog.getOpenFileName(self, "Import MIDI", self.settings.last_dir(), MIDI_FILTER)
        if path:
            self.open_path(path, ask_melody=True)

    def open_path(self, spec: str, ask_melody: bool = False, background: bool = True) -> bool:
        """Open a project, a MIDI file or a built-in sample name. Returns False (with a message) on failure;
        a big MIDI file loads on a worker and returns True at once."""
        path = Path(spec)
        if path.exists():          # where it is, not where the app runs now: a recovered autosave saves back there
            path = path.absolute()
        backup = path.name.lower().endswith(PROJECT_SUFFIX + ".bak")        # the version saved before
        if path.exists() and (path.suffix.lower() in (PROJECT_SUFFIX, ".json") or backup):
            try:
                song, extra = load_project(path)
            except (ProjectError, OSError) as exc:
                bak = path.with_name(path.name + ".bak")
                hint = f". The version saved before it is {bak.name}: open that one" if bak.is_file() else ""
                return self.show_error("Cannot open the project", f"{path.name}: {exc}{hint}")
            self.tracks.set_colors(list(extra.get("track_colors") or []))
            if extra.get("snap"):
                self.transport.snap.setCurrentText(str(extra["snap"]))
            self.project_path = None if backup else path        # a backup is saved under a name you choose
            self._loaded(song, path)
            self._restore_loop(extra)
            return True
        if path.exists():
            if background and path.stat().st_size > BIG_MIDI_BYTES:
                from ..workers import load_song_file
                w = self.run_worker(load_song_file, {"path": str(path)}, "open")
                self._big_opens += 1
                started = (self.doc.song, self._loads, self._big_opens)
                w.succeeded.connect(lambda song: self._big_midi_loaded(song, path, ask_melody, started))
                w.failed.connect(lambda msg: self.show_error("Cannot import the MIDI file", msg))
                self.statusBar().showMessage(f"Loading {path.name}…")
                w.start()
                return True
            from ..midi.io import MidiFileError, read_midi
            try:
                song = read_midi(path)
            except (MidiFileError, SongError, OSError) as exc:
                return self.show_error("Cannot import the MIDI file", str(exc))
            self._midi_loaded(song, path, ask_melody)
            return True
        from ..samples import load_sample
        try:
            song = load_sample(spec)
        except KeyError:
            return self.show_error("Cannot open", f"{spec}: no such file or sample melody")
        self.project_path = None
        self.tracks.set_colors([])
        self._loaded(song, None)
        return True

    def _big_midi_loaded(self, song: Song, path: Path, ask_melody: bool, started: tuple[Song, int, int]) -> None:
        """A file loaded on a worker arrives: it replaces the song only if nothing else was opened meanwhile, and
        after asking if the song was edited while it loaded."""
        was, loads, request = started
        if loads != self._loads or request != self._big_opens:
            return                                      # another song was opened or started since: that one stays
        self.end_recording()                            # a take played while it loaded goes into the song first
        if self.doc.song is not was and not self.confirm_discard(f"opening {path.name}"):
            return
        self._midi_loaded(song, path, ask_melody)

    def _midi_loaded(self, song: Song, path: Path, ask_melody: bool) -> None:
        melodic = [i for i, t in enumerate(song.tracks) if t.notes and not t.is_drum]
        mi = guess_melody_index(song) if song.tracks else 0
        if ask_melody and len(melodic) > 1:
            dlg = MelodyChooser(song, mi, self)
            if not dlg.exec():
                return
            mi = dlg.chosen()
        song = song.replace(melody_index=mi, title=song.title or path.stem)
        self.project_path = None
        self.tracks.set_colors([])
        self._loaded(song, path)

    def _restore_loop(self, extra: dict) -> None:
        """The loop a project (or an autosave) was saved with, if any."""
        if extra.get("loop"):
            self.apply_loop(tuple(extra["loop"]), bool(extra.get("loop_on")))

    def _loaded(self, song: Song, path: Path | None) -> None:
        self.current_track = song.melody_index
        recording = self.playback.recording is not None        # ended, its take dropped with the old song
        self.playback.stop()
        self.doc.load(song)
        self.playback.seek(0)
        self.apply_loop(None, False)            # the last song's loop is bars of another song
        if path is not None:
            self.settings.add_recent(str(path))
            self.settings.set_last_dir(str(path))
            self.refresh_recent_menu()
        from ..audio.render import silent_tracks_note
        silent = silent_tracks_note(song)
        self.statusBar().showMessage(f"Opened {song.title or (path.name if path else '')}: "
                                     f"{len(song.tracks)} tracks, {song.note_count} notes"
                                     + (f"; {silent}" if silent else "")
                                     + ("; the recording in progress was stopped" if recording else ""),
                                     15000 if silent else 5000)

    def refresh_recent_menu(self) -> None:
        self.recent_menu.clear()
        for p in self.settings.recent_files():
            a = self.recent_menu.addAction(Path(p).name)
            a.setToolTip(p)
            a.triggered.connect(lambda _=False, p=p: self.confirm_discard("opening another file") and
                                self.open_path(p, ask_melody=True))
        self.recent_menu.setEnabled(bool(self.settings.recent_files()))

    # --- save / export ---------------------------------------------------------------------------------------------
    def save(self) -> bool:
        if self.project_path is None:
            return self.save_as()
        return self.save_to(self.project_path)

    def save_as(self) -> bool:
        start = str(Path(self.settings.last_dir()) / ((self.song.title or "Untitled") + PROJECT_SUFFIX))
        path, _ = QFileDialog.getSaveFileName(self, "Save project", start, PROJECT_FILTER)
        path = self._with_suffix(path, PROJECT_SUFFIX)
        return self.save_to(Path(path)) if path else False

    def _with_suffix(self, path: str, suffix: str) -> str | None:
        """The file the dialog chose, with ``suffix`` added if it was left off; None when cancelled, or when the
        name with the suffix is an existing file the user does not want replaced (the dialog asked about the name
        as typed, which did not exist)."""
        if not path:
            return None
        if path.lower().endswith(suffix):
            return path
        path += suffix
        if os.path.exists(path):
            answer = QMessageBox.question(self, "Replace the file?", f"{Path(path).name} already exists. Replace it?",
                                          QMessageBox.Yes | QMessageBox.No, QMessageBox.No)
            if answer != QMessageBox.Yes:
                return None
        return path

    def save_to(self, path: Path) -> bool:
        try:
            save_project(path, self.song, self.project_extra())
        except SaveError as exc:
            return self.show_error("Could not save", str(exc))
        self.project_path = Path(path)
        self.doc.undo_stack.setClean()
        self.autosaver.save_now()               # nothing unsaved: removes the autosave
        self.settings.add_recent(str(path))
        self.settings.set_last_dir(str(path))
        self.refresh_recent_menu()
        self.update_title()
        self.statusBar().showMessage(f"Saved {path}", 4000)
        return True

    def _export_path(self, caption: str, suffix: str, filt: str) -> str | None:
        stem = (self.project_path.stem if self.project_path else self.song.title) or "Untitled"
        path, _ = QFileDialog.getSaveFileName(self, caption, str(Path(self.settings.last_dir()) / (stem + suffix)),
                                              filt)
        return self._with_suffix(path, suffix)

    def export_midi(self, path: str | None = None) -> bool:
        """Write the song as a MIDI file. A MIDI file cannot mark a track muted: the muted tracks (and those a solo
        leaves out) are written as ordinary tracks, and the status bar says how many, to mute in a DAW."""
        path = path or self._export_path("Export MIDI", ".mid", MIDI_FILTER)
        if not path:
            return False
        from ..midi.io import write_midi
        try:
            write_midi(self.song, path)
        except (OSError, SongError) as exc:
            return self.show_error("Could not export MIDI", str(exc))
        tracks = self.song.tracks
        solo = any(t.solo for t in tracks)
        silent = sum(1 for t in tracks if t.mute or (solo and not t.solo))
        notes = []
        if silent:
            one = silent == 1
            names = f"track{'' if one else 's'}"
            which = f"{silent} {names} muted or left out by a solo" if solo else f"{silent} muted {names}"
            written = "an ordinary track that plays" if one else "ordinary tracks that play"
            notes.append(f"{which} written as {written} (a MIDI file cannot mark a track muted): mute "
                         f"{'it' if one else 'them'} in your DAW")
        drums = [t for t in tracks if t.is_drum]
        if len({(t.volume, t.pan) for t in drums}) > 1:
            notes.append(f"{len(drums)} drum tracks share MIDI channel 10, so a DAW plays them at one volume and "
                         f"pan (the last track's)")
        self.statusBar().showMessage("; ".join([f"Exported {path}"] + notes), 15000 if notes else 4000)
        return True

    def export_wav(self, path: str | None = None, dry: bool = False):
        """Render the song (its mute / solo / volume state included) to a WAV file on a worker thread; ``dry``:
        without reverb and chorus. Refused, as stems are, when no track would sound. The status bar says when the
        mix was scaled down so as not to clip."""
        if not self._something_sounds():
            return None
        path = path or self._export_path("Export dry WAV" if dry else "Export WAV", ".wav", "WAV audio (*.wav)")
        if not path:
            return None
        from ..workers import render_wav
        w = self.run_worker(render_wav, {"song": self.song, "path": path, "soundfont": self.settings.soundfont,
                                         "effects": not dry})
        w.progressed.connect(self._export_progress)
        w.succeeded.connect(self._wav_exported)
        w.failed.connect(lambda msg: self._export_failed("Could not export WAV", msg))
        self._start_export(w)
        return w

    def _something_sounds(self) -> bool:
        """Whether a track with notes would sound; if not, says so ("Nothing to export") and returns False."""
        from ..audio.render import stem_tracks
        if stem_tracks(self.song):
            return True
        if not self.song.note_count:
            self.show_error("Nothing to export", "The song has no notes yet.")
        else:
            self.show_error("Nothing to export", "No track would sound: unmute a track that has notes.")
        return False

    def _wav_exported(self, mix) -> None:
        if mix.note:
            self.statusBar().showMessage(f"Exported {mix.path}, {mix.note}. Stems exported apart keep the synth's "
                                         f"level: lower them {-20 * math.log10(mix.gain):.1f} dB to match it", 20000)
        else:
            self.statusBar().showMessage(f"Exported {mix.path}", 5000)

    def _export_failed(self, title: str, message: str) -> None:
        self.statusBar().showMessage(f"{title}: {message}", 10000)       # in place of the progress
        self.show_error(title, message)

    def _start_export(self, w) -> None:
        """Start an export worker that File › Cancel export can stop."""
        self._exports.append(w)
        w.cancelled.connect(lambda: self.statusBar().showMessage("Export cancelled: nothing was written", 5000))
        w.done.connect(lambda: self._export_done(w))
        self.cancel_export_action.setEnabled(True)
        w.start()

    def _export_progress(self, fraction: float, message: str) -> None:
        self.statusBar().showMessage(f"{message} {fraction:.0%} (File › Cancel export stops it)")

    def _export_done(self, w) -> None:
        if w in self._exports:
            self._exports.remove(w)
        self.cancel_export_action.setEnabled(bool(self._exports))

    def cancel_exports(self) -> None:
        for w in self._exports:
            w.cancel()

    def export_dry_wav(self, path: str | None = None):
        return self.export_wav(path, dry=True)

    def export_stems(self, folder: str | None = None, dry: bool = False):
        """One WAV per audible track (the mixer's mute / solo decide which) into a folder, on a worker thread. Asks
        before replacing files of the same names; nothing is replaced unless every stem renders."""
        from ..audio.render import stem_file_names, stem_tracks
        if not self._something_sounds():
            return None
        tracks = stem_tracks(self.song)
        if not folder:                          # (a menu action passes False)
            stem = (self.project_path.stem if self.project_path else self.song.title) or "Untitled"
            start = Path(self.settings.last_dir()) / f"{stem} stems"
            folder = QFileDialog.getExistingDirectory(self, "Export stems into folder",
                                                      str(start if start.is_dir() else start.parent))
            if not folder:
                return None
            self.settings.set_last_dir(folder)
        existing = [n for n in stem_file_names(self.song, tracks) if (Path(folder) / n).exists()]
        if existing and not self.confirm_replace(folder, existing):
            return None
        from ..workers import render_stems
        w = self.run_worker(render_stems, {"song": self.song, "folder": folder, "soundfont": self.settings.soundfont,
                                           "effects": not dry})
        w.progressed.connect(self._export_progress)
        w.succeeded.connect(lambda paths: self.statusBar().showMessage(
            f"Exported {len(paths)} stem{'' if len(paths) == 1 else 's'} to {folder}", 5000))
        w.failed.connect(lambda msg: self._export_failed("Could not export stems", msg))
        self._start_export(w)
        return w

    def confirm_replace(self, folder: str, names: list[str]) -> bool:
        shown = "\n".join(names[:8]) + ("\n…" if len(names) > 8 else "")
        answer = QMessageBox.question(self, "Replace files?", f"{folder} already has:\n{shown}\n\nReplace them?",
                                      QMessageBox.Yes | QMessageBox.Cancel, QMessageBox.Cancel)
        return answer == QMessageBox.Yes

    def open_settings(self) -> None:
        s = self.settings
        before = (s.soundfont, s.audio_device, s.block_size)
        midi_before = s.midi_input
        if not SettingsDialog(s, self).exec():
            return
        if before != (s.soundfont, s.audio_device, s.block_size):
            self.start_audio()
        if self.midi is not None and s.midi_input != midi_before:
            from ..midi.devices import stable_name
            port = next((p for p in self.midi.ports if stable_name(p) == s.midi_input), None)
            if port is None and s.midi_input:
                self._wait_for_keyboard(s.midi_input)
            else:
                self.midi.open_port(port)

    def _wait_for_keyboard(self, name: str) -> None:
        """The keyboard chosen in Settings is not connected now: close the open one and remember the choice, so
        that it opens when it is plugged in (the next port poll)."""
        self.midi.manager.close()
        self.midi.manager.last_port = name
        self.midi.port_changed.emit("")
        self.midi.message.emit(f"MIDI keyboard {name!r} is not connected now; it opens when you plug it in")

    # --- recovery --------------------------------------------------------------------------------------------------
    def offer_recovery(self) -> None:
        found = find_recoveries(self.data_dir / "autosave")
        if not found:
            return
        found.sort(key=lambda r: r.saved_at, reverse=True)
        self._recovery = found[0]
        for other in found[1:]:
            other.lock.unlock()
        self.banner.ask(f"DeepComposer Desktop closed unexpectedly last time. Recover your unsaved work "
                        f"({self._recovery.describe()})?", "Recover", "Discard")

    def _recover(self) -> None:
        rec, self._recovery = self._recovery, None
        if rec is None:
            return
        if not self.confirm_discard("recovering your earlier work"):    # work done since the start is asked about
            self._recovery = rec
            self.banner.ask(f"Recover your unsaved work from last time ({rec.describe()})?", "Recover", "Discard")
            return
        self.tracks.set_colors(list(rec.extra.get("track_colors") or []))
        src = rec.extra.get("source_path") or ""
        self.project_path = Path(src) if src else None
        self._loaded(rec.song, None)
        self._restore_loop(rec.extra)
        self.doc.undo_stack.resetClean()         # recovered work is unsaved
        self.update_title()
        self.autosaver.save_now()                # in this session's autosave before the old one goes: a second
        rec.discard()                            # crash right away must not lose it
        self.statusBar().showMessage("Recovered your unsaved work — save it to keep it", 6000)

    def _discard_recovery(self) -> None:
        rec, self._recovery = self._recovery, None
        if rec is not None:
            rec.discard()

    # --- misc ------------------------------------------------------------------------------------------------------
    def show_error(self, title: str, message: str) -> bool:
        self.statusBar().showMessage(f"{title}: {message}", 10000)
        if self.isVisible():                      # window-modal but non-blocking: nothing waits on it
            box = QMessageBox(QMessageBox.Warning, title, message, QMessageBox.Ok, self)
            box.setAttribute(Qt.WA_DeleteOnClose)
            box.open()
            self.last_error_box = box
        return False

    def update_title(self) -> None:
        name = self.project_path.name if self.project_path else (self.song.title or "Untitled")
        self.setWindowTitle(f"{name}[*] — DeepComposer Desktop")
        self.setWindowModified(not self.doc.undo_stack.isClean())
