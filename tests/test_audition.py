"""Audition (pure): every genre x N takes on a thread pool with tiny untrained GAN generators built by the GAN
helper's model code (``bench.audition.stand_in_models``), tags, metrics, regenerate with locks, keep, export."""
from __future__ import annotations

import math
import os
import threading
from dataclasses import replace

import pytest

from deepcomposer_desktop.audition import (AuditionError, AuditionRun, Take, audition_input, describe_metrics,
                                           format_metrics, regenerate, run_audition, take_metrics, take_seed)
from deepcomposer_desktop.audition_takes import (combined_song, export_combined, export_takes, kept_song,
                                                 next_bar_tick, seconds_until, with_alternative)
from deepcomposer_desktop.core.song import PITCH_BEND, SUSTAIN, Control, Song, Track
from deepcomposer_desktop.midi.io import read_midi
from tests.builders import band_song, song, track

GENRES = ("rock", "jazz", "pop")


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    from deepcomposer_desktop.bench.audition import stand_in_models
    folder = tmp_path_factory.mktemp("gan-models")
    stand_in_models(folder, GENRES, tiny=True)
    return folder


@pytest.fixture
def tiny_models(tiny_model_dir, monkeypatch):
    monkeypatch.setenv("DEEPCOMPOSER_MODELS", str(tiny_model_dir))
    return list(GENRES)


def melody_song(bars: int = 2) -> Song:
    notes = [(60 + (i * 5) % 12, i * 480, 480, 90) for i in range(4 * bars)]
    return song(track("Lead", notes, program=73), track("Old bass", [(36, 0, 1920, 90)], program=33))


def test_all_genres_and_takes_arrive_tagged_with_metrics(tiny_models):
    seen, lock = [], threading.Lock()

    def on_take(t):
        with lock:
            seen.append((t.key, threading.current_thread().name))
    run = AuditionRun(melody_song(), tiny_models, takes=2, seed=10, max_workers=2, on_take=on_take).start()
    takes = run.wait(timeout=60)
    assert run.done and not run.errors
    assert [t.key for t in takes] == [(g, n) for g in GENRES for n in (1, 2)]
    assert sorted(k for k, _ in seen) == sorted(t.key for t in takes)
    assert all(name.startswith("audition") for _, name in seen)        # results come from the pool threads
    for t in takes:
        assert t.seed == take_seed(10, t.number) == 10 + t.number - 1
        assert t.first_new == 1 and t.song.tracks[0].name == "Lead"      # only the melody goes in
        assert len(t.band) == 4 and t.instruments() == ["Piano", "Guitar", "Bass", "Drums"]
        assert t.band[3].is_drum and any(tr.notes for tr in t.band)
        assert 0.0 <= t.metrics["in_scale_rate"] <= 1.0 and not math.isnan(t.metrics["note_density"])
        assert "in key" in format_metrics(t.metrics)
    # different takes of a genre differ; the same seed in another run gives the same take
    rock1, rock2 = takes[0], takes[1]
    assert rock1.band != rock2.band
    again = run_audition(melody_song(), ["rock"], takes=1, seed=10, max_workers=1)
    assert again[0].band == rock1.band


def test_unknown_genre_is_reported_per_job_and_others_still_finish(tiny_models):
    errors = []
    run = AuditionRun(melody_song(), ["rock", "no-such-genre"], takes=1, max_workers=2,
                      on_error=lambda g, n, m: errors.append((g, n, m))).start()
    takes = run.wait(timeout=60)
    assert [t.genre for t in takes] == ["rock"]
    assert errors and errors[0][:2] == ("no-such-genre", 1) and "no-such-genre" in errors[0][2]
    with pytest.raises(AuditionError, match="no-such-genre"):
        run_audition(melody_song(), ["no-such-genre"], takes=1)


def test_bad_input_gives_clear_errors(tiny_models):
    with pytest.raises(AuditionError, match="no notes"):
        AuditionRun(song(track("Empty")), GENRES)
    with pytest.raises(AuditionError, match="between 1 and"):
        AuditionRun(melody_song(), GENRES, takes=0)
    with pytest.raises(AuditionError, match="No GAN genre"):
        AuditionRun(melody_song(), [])


def test_cancel_drops_pending_jobs(tiny_models):
    run = AuditionRun(melody_song(8), list(GENRES), takes=8, max_workers=1)
    run.cancel()                   # cancelled before it starts: every job returns at once
    run.start()
    assert run.wait(timeout=30) == [] and not run.errors


def test_regenerate_keeps_locked_tracks_and_changes_the_rest(tiny_models):
    take = run_audition(melody_song(), ["jazz"], takes=1, seed=3)[0]
    new = regenerate(take, locked={2})
    assert new.key == take.key and new.generation == 1 and new.seed != take.seed
    assert new.band[2] == take.band[2]                           # the locked bass stays
    assert new.band[0] != take.band[0]                           # the others are new
    assert new.locked == frozenset({2}) and new.song.tracks[0] == take.song.tracks[0]
    third = regenerate(new, locked={2})
    assert third.generation == 2 and third.seed not in (take.seed, new.seed) and third.band[2] == take.band[2]
    with pytest.raises(AuditionError, match="no band track 9"):
        regenerate(take, locked={8})


def test_keep_and_alternatives(tiny_models):
    project = band_song().replace(title="My song")
    take = run_audition(project, ["pop"], takes=1)[0]
    flute = project.replace_track(0, replace(project.tracks[0], program=73))    # changed after generating
    kept = kept_song(flute, take)
    assert kept.title == "My song" and kept.tempos == project.tempos
    assert kept.tracks == flute.tracks + take.band and kept.melody.program == 73    # nothing of the project lost
    again = kept_song(kept, take, replacing=kept.tracks[len(flute.tracks):])      # a second Keep replaces the band
    assert again.tracks == flute.tracks + take.band and again.melody_index == flute.melody_index
    soloed = flute.replace_track(0, replace(flute.tracks[0], solo=True))
    assert not audition_input(soloed).melody.solo                                 # else every band would be silent
    alt = with_alternative(project, take)
    assert alt.tracks[:len(project.tracks)] == project.tracks
    extra = alt.tracks[len(project.tracks):]
    assert [t.name for t in extra] == ["pop 1: Piano", "pop 1: Guitar", "pop 1: Bass", "pop 1: Drums"]
    assert all(t.mute for t in extra) and extra[0].notes == take.band[0].notes


def test_a_part_played_by_register_is_scored_as_one_part():
    # the woodwinds: one part of the model, played by flutes (bar 1), clarinets (bar 2) and bassoons (silent here)
    mel = track("Lead", [(72, i * 480, 480, 90) for i in range(8)])
    flutes = track("Flutes", [(84, 0, 1920, 80)], program=73)
    clarinets = track("Clarinets", [(64, 1920, 1920, 80)], program=71)
    bassoons = track("Bassoons", [], program=70)
    drums = track("Drums", [(36, s, 120, 100) for s in range(0, 3840, 480)], is_drum=True, channel=9)
    split = song(mel, flutes, clarinets, bassoons, drums)
    woodwinds = track("Woodwinds", [(84, 0, 1920, 80), (64, 1920, 1920, 80)], program=73)
    one_part = take_metrics(song(mel, woodwinds, drums), 1)
    assert take_metrics(split, 1, parts=(3, 1)) == one_part and one_part["empty_bar_rate"] == 0.0
    assert take_metrics(split, 1)["empty_bar_rate"] > 0.3         # each section alone: mostly empty bars
    assert take_metrics(split, 1, parts=(2, 1)) == take_metrics(split, 1)     # not the band's tracks: one each


def test_a_card_s_figures_read_in_a_musician_s_words():
    m = {"in_scale_rate": 0.97, "empty_bar_rate": 0.06, "note_density": 8.14, "polyphony": 2.5,
         "used_pitch_classes": 3.2, "qualified_note_rate": 0.5, "drum_pattern_rate": math.nan,
         "tonal_distance_melody": 0.42, "tonal_distance_tracks": 0.3}
    assert format_metrics(m) == "in key 97% · empty bars 6% · 8.1 notes/bar · 2.5 notes at once"
    lines = describe_metrics(m).splitlines()
    assert lines[:4] == ["In the melody's key: 97%", "Bars a part rests: 6%", "Notes per bar, each part: 8.1",
                         "Notes at once, each part: 2.5"]
    assert len(lines) == 8 and not any("_" in line or "rate" in line for line in lines)   # no raw keys; NaN left out
    assert describe_metrics({}) == "No figures for this take"


def test_a_genre_with_sections_scores_its_takes_by_part(tiny_model_dir, tmp_path, monkeypatch):
    from deepcomposer_desktop.ml.checkpoint import load_checkpoint, save_checkpoint
    payload = load_checkpoint(tiny_model_dir / "gan-rock.pt", "gan")
    meta = dict(payload["meta"])
    meta["tracks"] = [dict(meta["tracks"][0], sections=[{"name": "Low", "program": 0, "from": 0},
                                                        {"name": "Mid", "program": 0, "from": 60},
                                                        {"name": "High", "program": 0, "from": 72}])] + \
        meta["tracks"][1:]
    save_checkpoint(tmp_path / "gan-orchestra.pt", technique="gan", name="orchestra",
                    model_args=payload["model_args"], state_dict=payload["state_dict"], meta=meta)
    monkeypatch.setenv("DEEPCOMPOSER_MODELS", str(tmp_path))
    take = run_audition(melody_song(), ["orchestra"], takes=1)[0]
    assert take.instruments() == ["High", "Mid", "Low", "Guitar", "Bass", "Drums"] and take.parts == (3, 1, 1, 1)
    assert take.metrics == take_metrics(take.song, 1, (3, 1, 1, 1)) != take_metrics(take.song, 1)
    again = regenerate(take, locked={4})
    assert again.parts == take.parts and again.metrics == take_metrics(again.song, 1, (3, 1, 1, 1))


def test_export_one_file_per_take_and_one_file_for_all(tiny_models, tmp_path):
    takes = run_audition(melody_song(), ["rock", "jazz"], takes=2)
    paths = export_takes(takes, tmp_path / "out", stem="My song")
    assert [p.name for p in paths] == ["My-song-rock-1.mid", "My-song-rock-2.mid", "My-song-jazz-1.mid",
                                       "My-song-jazz-2.mid"]
    back = read_midi(paths[2])
    assert len(back.tracks) == 5 and sum(len(t.notes) for t in back.tracks) == takes[2].song.note_count
    seq = combined_song(takes, "sequence")
    bar = takes[0].song.bar_ticks
    assert seq.melody.name == "Lead" and len(seq.melody.notes) == 4 * len(takes[0].song.melody.notes)
    assert seq.end_tick > 3 * 2 * bar                                   # four 2-bar takes one after another
    assert {t.name for t in seq.tracks[1:]} == {f"{g}: {i}" for g in ("rock", "jazz")
                                                for i in ("Piano", "Guitar", "Bass", "Drums")}
    par = combined_song(takes, "parallel")
    assert len(par.tracks) == 1 + 4 * 4 and par.end_tick <= 2 * bar + bar
    assert [t.mute for t in par.tracks[1:5]] == [False] * 4 and all(t.mute for t in par.tracks[5:])
    path = export_combined(takes, tmp_path / "all.mid")
    assert read_midi(path).note_count == seq.note_count
    with pytest.raises(AuditionError, match="no takes"):
        export_takes([], tmp_path)
    with pytest.raises(AuditionError, match="Could not write"):
        export_combined(takes, tmp_path / "missing-dir" / "x.mid")


def test_audition_input_and_bar_lines():
    s = melody_song()
    assert audition_input(s).tracks == (s.tracks[0],)
    with pytest.raises(AuditionError):
        audition_input(Song(tracks=(Track("Empty"),)))
    assert next_bar_tick(s, 0) == 0 and next_bar_tick(s, 1) == 1920 and next_bar_tick(s, 1920) == 1920
    assert seconds_until(s, 1440, 1920) == pytest.approx(0.5)          # 120 bpm: a beat is half a second


@pytest.mark.slow
def test_process_backend_gives_the_same_takes_as_threads(tiny_models):
    from deepcomposer_desktop.audition import shutdown_process_pool
    try:
        by_proc = run_audition(melody_song(), ["rock", "pop"], takes=1, seed=4, max_workers=1, backend="process")
    finally:
        shutdown_process_pool()
    by_thread = run_audition(melody_song(), ["rock", "pop"], takes=1, seed=4, max_workers=1)
    assert [t.key for t in by_proc] == [t.key for t in by_thread]
    assert [t.song for t in by_proc] == [t.song for t in by_thread]
    with pytest.raises(AuditionError, match="backend"):
        AuditionRun(melody_song(), GENRES, backend="gpu")


@pytest.mark.slow
def test_a_dead_worker_process_falls_back_to_threads(tiny_models, monkeypatch):
    import signal
    from deepcomposer_desktop import audition as A
    monkeypatch.setattr(A, "_process_broken", False)
    try:
        from deepcomposer_desktop.ml.gan.generate import available_genres
        for f in A.warm_process_pool(1):
            assert f.result(120) == len(available_genres())  # every model loaded in the worker
        pool = A.process_pool(1)[0]
        for proc in list(pool._processes.values()):
            os.kill(proc.pid, signal.SIGKILL)
        run = AuditionRun(melody_song(), ["rock", "pop"], takes=2, seed=4, max_workers=1, backend="process").start()
        takes = run.wait(120)
    finally:
        A.shutdown_process_pool()
    assert sorted(t.key for t in takes) == [("pop", 1), ("pop", 2), ("rock", 1), ("rock", 2)]
    assert not run.errors and A._process_broken
    assert A.resolve_backend("auto") == "thread"            # and later runs stay on threads
    by_thread = run_audition(melody_song(), ["rock", "pop"], takes=2, seed=4)
    assert [t.song for t in sorted(takes, key=lambda t: t.key)] == [t.song for t in sorted(by_thread, key=lambda t: t.key)]


def test_auto_backend_follows_the_setting_and_the_cores(monkeypatch):
    from deepcomposer_desktop import audition as A
    monkeypatch.setattr(A, "_process_broken", False)
    monkeypatch.setenv(A.BACKEND_ENV, "process")
    assert A.resolve_backend("auto") == "process" and A.resolve_backend("thread") == "thread"
    monkeypatch.setenv(A.BACKEND_ENV, "auto")
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    assert A.resolve_backend("auto") == "thread"
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    assert A.resolve_backend("auto") == "process" and A.process_workers() == A.MAX_PROCESS_WORKERS
    monkeypatch.setenv(A.BACKEND_ENV, "gpu")
    with pytest.raises(AuditionError, match="DEEPCOMPOSER_AUDITION_BACKEND"):
        AuditionRun(melody_song(), GENRES, backend="auto")


def test_takes_share_the_melody_encoding_and_stay_the_same(tiny_models):
    from deepcomposer_desktop.audition import generate_take
    src = audition_input(melody_song())
    shared: dict = {}
    first = generate_take(src, "rock", 1, seed=3, shared=shared)
    assert shared                                              # the encoding was kept...
    again = generate_take(src, "rock", 2, seed=5, shared=shared)  # ...and reused
    assert again.song == generate_take(src, "rock", 2, seed=5).song
    assert first.song != again.song


def test_worker_processes_end_when_the_app_is_killed(tmp_path):
    """A killed app must not leave its audition workers behind (each holds torch and the models)."""
    import signal
    import subprocess
    import sys
    import time
    script = tmp_path / "app.py"
    script.write_text(
        "import os, time\n"
        "from deepcomposer_desktop import audition\n"
        "if __name__ == '__main__':\n"
        "    pool, _, _ = audition.process_pool(2)\n"
        "    pids = {pool.submit(os.getpid).result(timeout=120) for _ in range(8)}\n"
        "    print(' '.join(map(str, pids)), flush=True)\n"
        "    time.sleep(600)\n")
    app = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True,
                           cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    pids: list[int] = []
    try:
        pids = [int(p) for p in app.stdout.readline().split()]
        assert pids and all(_alive(p) for p in pids)
        app.send_signal(signal.SIGKILL)                  # no atexit, no pool shutdown: as if it crashed
        app.wait(10)
        deadline = time.monotonic() + 10
        while any(_alive(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not any(_alive(p) for p in pids), "worker processes outlived the app"
    finally:
        app.kill()
        for p in pids:                                   # (a failing run leaves no orphans behind either)
            if _alive(p):
                os.kill(p, signal.SIGKILL)


def test_a_worker_whose_app_died_before_it_started_ends_at_once():
    """The pool's workers take ~1 s to reach their start-up code: an app killed meanwhile has already re-parented
    them, so they are told the app's pid instead of reading their parent then."""
    import subprocess
    import sys
    import time
    code = ("import os, time\n"
            "from deepcomposer_desktop.child import exit_with_parent\n"
            "exit_with_parent({parent})\n"
            "time.sleep(3)\n"
            "print('outlived', flush=True)\n")
    gone = 2 ** 22 + 1                                   # above any pid this machine hands out: no such process
    t0 = time.monotonic()
    dead = subprocess.run([sys.executable, "-c", code.format(parent=gone)], capture_output=True, text=True,
                          timeout=60)
    assert dead.returncode == 3 and "outlived" not in dead.stdout and time.monotonic() - t0 < 3
    alive = subprocess.run([sys.executable, "-c", code.format(parent=os.getpid())], capture_output=True, text=True,
                           timeout=60)
    assert alive.returncode == 0 and "outlived" in alive.stdout


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"      # a zombie is gone, only not yet reaped
    except OSError:
        return False


def test_a_parallel_export_has_every_take_playing_and_says_so(tiny_models, tmp_path):
    # the docstring promised a file with every take but the first muted; a MIDI file cannot mark a track muted,
    # so every take's band plays there: the text says so, and the takes are there by name to mute in a DAW
    takes = run_audition(melody_song(), ["rock", "jazz"], takes=1)
    back = read_midi(export_combined(takes, tmp_path / "all.mid", "parallel"))
    assert [t.name for t in back.tracks] == ["Lead"] + [f"{t.label}: {b.name}" for t in takes for b in t.band]
    assert not any(t.mute or t.solo for t in back.tracks)
    for doc in (combined_song.__doc__, export_combined.__doc__):
        assert "all muted but" not in doc and "mute" in doc and "DAW" in doc
    assert "every take plays at once" in " ".join(combined_song.__doc__.split())


# --- one-file exports carry what played with each take: the melody and the musician's own tracks ----------------------
REVERB = 91
PEDALLED = (Control(0, SUSTAIN, 127), Control(1900, SUSTAIN, 0), Control(1920, SUSTAIN, 127),
            Control(3000, PITCH_BEND, 500), Control(3830, SUSTAIN, 0))      # the bend is left off-centre at the end


def own_tracks() -> tuple[Track, Track]:
    """A 2-bar melody with a sustain pedal (and a bend it never centres) and the musician's own chords track."""
    lead = replace(track("Lead", [(60 + (i * 5) % 12, i * 480, 480, 90) for i in range(8)], program=73),
                   controls=PEDALLED, volume=110, pan=80)
    chords = replace(track("My chords", [(p, b * 1920, 1920, 70) for b in range(2) for p in (48, 52, 55)], program=4),
                     volume=70, pan=30, controls=(Control(0, REVERB, 40),))
    return lead, chords


def hand_take(genre: str, number: int, lead: Track, chords: Track) -> Take:
    """A take as the Audition plays it (the project's tracks, then the band); take n's band plays 1 + n bars."""
    bars = 1 + number
    bass = track("Bass", [(36 + number, b * 1920, 1920, 90) for b in range(bars)],
                 program=33 if genre == "rock" else 32)
    drums = track("Drums", [(36, k * 480, 120, 100) for k in range(4 * bars)], is_drum=True, channel=9)
    return Take(genre, number, number, song(lead, chords, bass, drums), first_new=2)


def test_one_file_exports_carry_the_musician_s_own_tracks_and_every_repeat_s_pedal(tmp_path):
    lead, chords = own_tracks()
    takes = [hand_take(g, n, lead, chords) for g in ("rock", "jazz") for n in (1, 2)]
    bar = 1920
    offsets, lengths = [0, 2 * bar, 5 * bar, 7 * bar], [2 * bar, 3 * bar, 2 * bar, 3 * bar]

    seq = combined_song(takes, "sequence")
    assert [t.name for t in seq.tracks] == ["Lead", "My chords", "rock: Bass", "rock: Drums", "jazz: Bass",
                                            "jazz: Drums"]
    assert seq.melody_index == 0 and seq.end_tick == 10 * bar
    for got, own in zip(seq.tracks[:2], (lead, chords)):                     # once per take, at its offset
        assert (got.program, got.volume, got.pan, got.mute) == (own.program, own.volume, own.pan, own.mute)
        assert got.notes == tuple(replace(n, start_tick=n.start_tick + o) for o in offsets for n in own.notes)
    assert seq.tracks[1].controls == tuple(Control(o, REVERB, 40) for o in offsets)
    expected = []                                   # every repeat pedals as the melody does; its bend centred after
    for o, n in zip(offsets, lengths):
        expected += [replace(c, tick=c.tick + o) for c in PEDALLED] + [Control(o + n, PITCH_BEND, 0)]
    assert seq.melody.controls == tuple(expected)
    assert [c.tick for c in seq.melody.controls if c.number == SUSTAIN] == [
        o + t for o in offsets for t in (0, 1900, 1920, 3830)]
    assert [n.start_tick for n in seq.tracks[4].notes] == [5 * bar, 6 * bar, 7 * bar, 8 * bar, 9 * bar]  # jazz bass

    par = combined_song(takes, "parallel")
    assert [t.name for t in par.tracks] == ["Lead", "My chords"] + [f"{t.label}: {b.name}" for t in takes
                                                                    for b in t.band]
    assert par.melody_index == 0 and par.tracks[:2] == (lead, chords) and par.end_tick == 3 * bar

    for layout, made in (("sequence", seq), ("parallel", par)):        # the file says the same
        back = read_midi(export_combined(takes, tmp_path / f"{layout}.mid", layout))
        assert [t.name for t in back.tracks] == [t.name for t in made.tracks]
        for got, sent in zip(back.tracks, made.tracks):
            assert got.notes == sent.notes and got.controls == sent.controls, (layout, sent.name)
            assert (got.program, got.volume, got.pan) == (sent.program, sent.volume, sent.pan), (layout, sent.name)


def test_a_muted_or_soloed_own_track_in_one_file_exports():
    # muted in the project, the take played it muted: so does the Song (a soloed one would silence every band)
    lead, chords = own_tracks()
    takes = [hand_take("rock", n, replace(lead, solo=True), replace(chords, mute=True)) for n in (1, 2)]
    for layout in ("sequence", "parallel"):
        made = combined_song(takes, layout)
        assert [(t.name, t.mute, t.solo) for t in made.tracks[:2]] == [("Lead", False, False),
                                                                       ("My chords", True, False)]
        assert not any(t.mute for t in made.tracks[2:4])


def test_a_take_whose_pedal_is_lifted_past_its_last_bar_line_rings_out_before_the_next():
    lead, chords = own_tracks()
    lead = replace(lead, controls=(Control(0, SUSTAIN, 127), Control(3900, SUSTAIN, 0)))   # after the 2nd bar line
    seq = combined_song([hand_take("rock", 1, lead, chords), hand_take("jazz", 1, lead, chords)], "sequence")
    assert [(c.tick, c.value) for c in seq.melody.controls] == [(0, 127), (3900, 0), (3 * 1920, 127),
                                                                  (3 * 1920 + 3900, 0)]
    assert seq.melody.notes[8].start_tick == 3 * 1920                  # the second take starts a bar later
