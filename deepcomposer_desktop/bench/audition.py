"""`deepcomposer bench audition`: wall time for every genre x 4 takes on 8 bars, and the live jam's generation time
per loop pass (goal: within one bar at 120 bpm = 2 s).

Uses the installed GAN models; when none is installed it builds untrained stand-ins of the shipped architecture
(same size, so the same speed) in a temporary folder and says so. ``stand_in_models`` is also what the tests use
(with the tiny architecture).
"""
from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

from . import Figure

STAND_IN_GENRES = ("chorale", "jazz", "pop", "rock", "folk", "symphony")
STAND_IN_TRACKS = [
    {"name": "Piano", "program": 0, "is_drum": False},
    {"name": "Guitar", "program": 25, "is_drum": False},
    {"name": "Bass", "program": 33, "is_drum": False},
    {"name": "Drums", "program": 0, "is_drum": True},
]


def stand_in_models(folder, genres=STAND_IN_GENRES, tiny: bool = False, n_tracks: int = 4) -> list[str]:
    """Write untrained GAN generators ``gan-<genre>.pt`` (+ card) into ``folder``; returns the genres.

    ``tiny``: the "tiny" architecture preset (fast tests); otherwise the default architecture. Decoding keeps at
    most 3 notes per step per track so an untrained net still gives a playable amount of notes."""
    import torch
    from ..ml.checkpoint import save_checkpoint
    from ..ml.gan.config import ARCH_PRESETS, GanArch
    from ..ml.gan.decode import DecodeParams
    from ..ml.gan.model import build_generator
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    arch = GanArch(n_tracks=n_tracks, **(ARCH_PRESETS["tiny"] if tiny else {}))
    tracks = [dict(STAND_IN_TRACKS[i % len(STAND_IN_TRACKS)]) for i in range(n_tracks)]
    if n_tracks < len(STAND_IN_TRACKS):
        tracks[-1] = dict(STAND_IN_TRACKS[-1])
    decode = DecodeParams.from_dict({"threshold": [0.5] * n_tracks, "onset_threshold": [0.7] * n_tracks,
                                     "max_poly": [3] * n_tracks})
    for k, genre in enumerate(genres):
        torch.manual_seed(1000 + k)
        gen = build_generator(arch)
        save_checkpoint(folder / f"gan-{genre}.pt", technique="gan", name=genre, model_args=arch.to_dict(),
                        state_dict=gen.state_dict(), meta={"tracks": tracks, "decode": decode.to_dict()})
        (folder / f"gan-{genre}.md").write_text(f"# {genre}\n\nUntrained stand-in for timing and tests.\n")
    return list(genres)


def eight_bar_melody():
    """The first sample melody, looped/cut to exactly 8 bars."""
    from ..core.edits import concat_songs, slice_bars
    from ..samples import list_samples, load_sample
    song = load_sample(list_samples()[0].slug)
    while song.bar_count() < 8:
        song = concat_songs(song, song)
    return slice_bars(song, 0, 8)


def _models_or_stand_ins(tmp: str) -> tuple[list[str], str]:
    from ..ml.gan.generate import available_genres
    genres = available_genres()
    if genres:
        return genres, "installed models"
    os.environ["DEEPCOMPOSER_MODELS"] = tmp
    return stand_in_models(tmp), "untrained stand-ins of the default architecture (no model installed)"


def run(quick: bool) -> list[Figure]:
    from ..audition import AuditionRun, default_workers
    from ..jam import JAM_BUDGET_SEC, band_for_phrase, phrase_from_song
    from ..ml.common import limit_threads
    limit_threads(1)
    figures: list[Figure] = []
    old_env = os.environ.get("DEEPCOMPOSER_MODELS")
    with tempfile.TemporaryDirectory() as tmp:
        try:
            genres, what = _models_or_stand_ins(tmp)
            print(f"  (audition uses {len(genres)} genres: {', '.join(genres)} — {what}; {os.cpu_count()} cores)")
            song = eight_bar_melody()
            takes = 2 if quick else 4
            # warm up: load every model once (loading is not part of the comparison figure)
            AuditionRun(song, genres, 1, seed=99).start().wait()
            best = default_workers(len(genres) * takes)
            configs = [("thread", w) for w in sorted({1, best})] + [("process", best)]
            for backend, workers in configs:
                if backend == "process":          # spawn the workers and load the models (the first use costs this)
                    t0 = time.perf_counter()
                    AuditionRun(song, genres, 1, seed=99, max_workers=workers, backend="process").start().wait()
                    figures.append(Figure(f"process pool start + model loading ({workers} workers)",
                                          time.perf_counter() - t0, "s"))
                walls = []
                for _ in range(1 if quick else 3):     # this shared machine's speed wanders: report the median
                    t0 = time.perf_counter()
                    run_ = AuditionRun(song, genres, takes, seed=0, max_workers=workers, backend=backend).start()
                    res = run_.wait()
                    walls.append(time.perf_counter() - t0)
                label = f"audition {len(genres)} genres x {takes} takes, 8 bars, {workers} {backend}(s)"
                figures.append(Figure(label + (", median of 3" if len(walls) > 1 else ""),
                                      statistics.median(walls), "s", "<= 1 s on a laptop"))
                if len(walls) > 1:
                    figures.append(Figure("  best of 3", min(walls), "s"))
                if res:
                    figures.append(Figure(f"  one take alone, median ({backend})",
                                          statistics.median(t.seconds for t in res), "s"))
                if run_.errors:
                    print(f"  errors: {run_.errors}")
            from ..audition import shutdown_process_pool
            shutdown_process_pool()
            genre = genres[0]
            for bars in ((2, 4) if quick else (1, 2, 4, 8)):
                phrase = phrase_from_song(song, 0, song.bar_start_tick(bars))
                band_for_phrase(phrase, genre, seed=0)
                times = []
                for seed in range(3 if quick else 6):
                    t0 = time.perf_counter()
                    band_for_phrase(phrase, genre, seed=seed)
                    times.append(time.perf_counter() - t0)
                figures.append(Figure(f"jam: band for a {bars}-bar loop ({genre}), median", statistics.median(times),
                                      "s", f"<= {JAM_BUDGET_SEC:g} s (1 bar at 120 bpm)"))
                figures.append(Figure(f"jam: band for a {bars}-bar loop, worst", max(times), "s"))
            figures += _jam_loop_figures(song, genre, 3 if quick else 6)
            figures += _bar_switch_figures(song, 4 if quick else 8)
        finally:
            if old_env is None:
                os.environ.pop("DEEPCOMPOSER_MODELS", None)
            else:
                os.environ["DEEPCOMPOSER_MODELS"] = old_env
    return figures


def _bar_switch_figures(song, switches: int) -> list[Figure]:
    """Where a "switch at next bar" lands: the playhead at the ``swap_song`` call, relative to the bar line (the
    panel aims at 30 ms before it, so the engine schedules the new take's downbeat). Real engine, silent output."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    try:
        from PySide6.QtWidgets import QApplication

        from ..audio.engine import PlaybackEngine
        from ..ui.audition import AuditionPanel
    except ImportError as exc:
        print(f"  (bar-line switch not measured: {exc})")
        return []
    app = QApplication.instance() or QApplication([])
    eng = PlaybackEngine(device="null")
    if eng.problem and not eng.available:
        print(f"  (bar-line switch not measured: {eng.problem})")
        eng.close()
        return []
    try:
        panel = AuditionPanel(lambda: eng, lambda: song, max_workers=1)
        panel.generate_all(takes=2, genres=panel.genres_getter()[:1])
        while panel.is_running():
            app.processEvents()
            time.sleep(0.005)
        keys = list(panel.takes)
        if not keys:
            return []
        eng.set_song(song)
        eng.play(0)
        panel.at_bar.setChecked(True)
        real, offsets, bar = eng.swap_song, [], song.bar_ticks
        sec_per_tick = 60.0 / (song.tempos[0].bpm * song.ppq)

        def spy(s):
            t = eng.position_tick
            real(s)
            offsets.append((((t + bar // 2) % bar) - bar // 2) * sec_per_tick * 1000)
        eng.swap_song = spy
        for i in range(switches):
            end = time.monotonic() + 0.25 + (0.37 * i) % 1.0
            while time.monotonic() < end:
                app.processEvents()
                time.sleep(0.002)
            panel.select(keys[i % len(keys)])
            while panel.pending_switch is not None:
                app.processEvents()
                time.sleep(0.002)
        panel.shutdown()
    finally:
        eng.close()
    if not offsets:
        return []
    return [Figure("switch at next bar: swap before the bar line, median", -statistics.median(offsets), "ms",
                   "~30 ms (> 0: the new downbeat plays)"),
            Figure("switch at next bar: swap before the bar line, least", -max(offsets), "ms", "> 0")]


def _jam_loop_figures(song, genre: str, passes: int) -> list[Figure]:
    """A live jam on the real engine (silent output): a 1-bar loop at the song's tempo, a phrase played into every
    pass; where each band swap lands relative to the loop end (> 0: before it, so the band is on the downbeat)."""
    from ..audio.engine import PlaybackEngine
    from ..jam import JamSession, jam_song
    eng = PlaybackEngine(device="null")
    if eng.problem and not eng.available:
        print(f"  (jam loop not measured: {eng.problem})")
        eng.close()
        return []
    bar = song.bar_ticks
    sec_per_tick = 60.0 / (song.tempos[0].bpm * song.ppq)
    jam = JamSession(song, 0, bar, genre)
    before, played = [], set()
    try:
        jam.warm_up().result(60)
        eng.set_song(jam_song(song, song.melody.with_notes(()), (), 0, bar))
        eng.set_loop(0, bar)
        eng.play(0)
        pitches = [n.pitch for n in song.melody.notes[:8]] or [60]
        end = time.monotonic() + passes * bar * sec_per_tick + 0.5
        while time.monotonic() < end:
            tick = eng.position_tick
            step = (jam.pass_index, tick * 8 // bar)
            if step not in played:                  # an eighth-note phrase, a new note every eighth of the bar
                played.add(step)
                p = pitches[step[1] % len(pitches)]
                jam.note_on(p, 90, tick)
                jam.note_off(p, tick + bar // 8 - 10)
            new = jam.poll(tick)
            if new is not None:
                at = eng.position_tick
                eng.swap_song(new)
                before.append((bar - at if at > bar // 2 else -at) * sec_per_tick * 1000)
            time.sleep(0.01)
    finally:
        jam.close()
        eng.close()
    figs = [Figure("jam (1-bar loop): band answers / passes", len(before), f"of {passes}")]
    if before:
        figs += [Figure("jam: band swapped in before the loop end, median", statistics.median(before), "ms",
                        "> 0 (on the downbeat)"),
                 Figure("jam: late answers (came in during the next pass)", jam.late_swaps, "")]
    if jam.gen_times:
        figs.append(Figure("jam: band generation in the loop, worst", max(jam.gen_times), "s",
                           f"<= {jam.budget_sec:g} s"))
    return figs
