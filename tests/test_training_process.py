"""Training studio runner: folder scan with melody fixes, a tiny training in a child process, pause/resume, cancel."""
from __future__ import annotations

import json
import os
import time

import pytest

from deepcomposer_desktop.midi.io import write_midi
from deepcomposer_desktop.ml.common import ModelError
from deepcomposer_desktop.training_data import builtin_datasets, describe_cache, scan_folder
from deepcomposer_desktop.training_process import (Checkpoint, DataReady, LogLine, Losses, Progress,
                                                   Reference, TrainingJob, TrainingSpec, paused_runs)
from tests.builders import song, track

SCALE = [60, 62, 64, 65, 67, 69, 71, 72]


def write_songs(folder, n=4, bars=12):
    """``n`` little band songs (lead, piano chords, bass, drums) of ``bars`` 4/4 bars as MIDI files."""
    os.makedirs(folder, exist_ok=True)
    for k in range(n):
        mel, bass, chords, drums = [], [], [], []
        for b in range(bars):
            t0 = b * 1920
            mel += [(SCALE[(b + q + k) % 8] + 12, t0 + q * 480, 480, 90) for q in range(4)]
            root = [48, 53, 55, 48][b % 4]
            bass += [(root - 12, t0, 960, 100), (root - 5, t0 + 960, 960, 100)]
            chords += [(root + i, t0, 1920, 70) for i in (0, 4, 7)]
            drums += [(36, t0 + s, 120, 110) for s in (0, 960)] + [(42, t0 + s, 60, 80) for s in range(0, 1920, 240)]
        s = song(track("Lead", mel, program=73), track("Piano", chords), track("Bass", bass, program=33),
                 track("Drums", drums, is_drum=True, channel=9))
        write_midi(s, os.path.join(folder, f"song{k + 1}.mid"))
    return folder


def tiny_spec(folder, **kw):
    from deepcomposer_desktop.samples import load_sample
    base = dict(name="tiny-test", source=str(folder), preset="tiny", epochs=3, batch_size=4, update_ratio=1,
                sample_every=1, lr=5e-4, melody=load_sample("ode_to_joy"), device="cpu", eval_windows=2)
    base.update(kw)
    return TrainingSpec(**base)


@pytest.fixture
def user_models(tmp_path, monkeypatch):
    folder = tmp_path / "models"
    monkeypatch.setenv("DEEPCOMPOSER_MODELS", str(folder))
    return folder


def test_scan_lists_tracks_guesses_the_melody_and_takes_fixes(tmp_path):
    folder = write_songs(tmp_path / "songs", n=3)
    (tmp_path / "songs" / "broken.mid").write_bytes(b"MThd nonsense")
    scan = scan_folder(folder)
    files = {f.path: f for f in scan.files}
    assert files["song1.mid"].melody == 0 and files["song1.mid"].tracks[0].startswith("1. Lead")
    assert len(files["song1.mid"].tracks) == 4 and "Bass" in files["song1.mid"].tracks[2]
    assert files["broken.mid"].problem and files["broken.mid"].melody is None
    rep = scan.report
    assert rep["songs"] == 3 and rep["bars"] == 36 and rep["windows"] > 0
    assert rep["melody"]["song1.mid"] == "Lead" and [f for f, _ in rep["skipped"]] == ["broken.mid"]
    assert rep["instruments"]["Bass"] == ["Electric Bass (finger)"]
    fixed = scan_folder(folder, {"song1.mid": 1})          # the user says: the piano is the melody in song 1
    assert fixed.report["melody"]["song1.mid"] == "Piano"
    assert fixed.report["melody"]["song2.mid"] == "Lead"
    assert "Lead" in fixed.report["tracks"]["Other"]       # the lead became an accompaniment part there


def test_builtin_datasets_are_described_without_unpacking():
    sets = builtin_datasets()
    if not sets:
        pytest.skip("no genre caches built here")
    info = describe_cache(sets[0][1])
    assert info["songs"] > 0 and info["windows"] >= info["songs"] and info["instruments"]


def test_bad_sources_are_refused_before_a_process_starts(tmp_path, user_models):
    with pytest.raises(ModelError, match="No training data"):
        TrainingJob(tiny_spec(tmp_path / "nowhere")).start()
    with pytest.raises(ModelError, match="Name the genre"):
        TrainingJob(tiny_spec(tmp_path, name="My Genre!"))
    with pytest.raises(ModelError, match="nothing to resume"):
        TrainingJob(tiny_spec(tmp_path)).start(resume=True)


def _until(job, kind, timeout=240):
    events = []
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        new = job.poll()
        events += new
        if any(isinstance(e, kind) for e in new) or job.finished:
            return events
        time.sleep(0.05)
    raise AssertionError(f"no {kind.__name__} within {timeout} s: {events[-5:]}")


def test_tiny_training_pauses_resumes_and_installs_the_genre(tmp_path, user_models):
    from deepcomposer_desktop.core.song import Song
    from deepcomposer_desktop.ml.gan.generate import available_genres, load_model
    from tests.test_model_files import tiny_gan
    folder = write_songs(tmp_path / "songs")
    tiny_gan(tmp_path / "gan-start.pt")                               # a tiny genre to start from (drums, bass)
    job = TrainingJob(tiny_spec(folder, epochs=4, sample_every=50,    # checkpoints: first iteration, then the end
                                preset="small", init_from=str(tmp_path / "gan-start.pt")))
    job.start()
    events = _until(job, Checkpoint)
    job.pause()
    events += job.wait(240)
    assert job.finished.status == "paused", job.finished
    kinds = [type(e) for e in events]
    assert any("generator initialised from gan-start.pt" in e.text for e in events if isinstance(e, LogLine))
    assert DataReady in kinds and Reference in kinds
    paused_at = job.finished.iteration
    assert paused_at >= 1
    run = job.run_dir
    assert (run / "gan-tiny-test.state").is_file() and paused_runs() == [run]
    assert not (user_models / "gan-tiny-test.pt").exists()          # not in the genre list before it is done
    from deepcomposer_desktop.training_records import logged_checkpoints
    shown = {c.iteration: c for c in events if isinstance(c, Checkpoint) and (c.figures or c.sample)}
    kept = logged_checkpoints(run)                                    # what a resume after a restart shows again
    assert shown and [c.iteration for c in kept] == sorted(shown)
    assert [c.figures for c in kept] == [shown[c.iteration].figures for c in kept]
    assert all(_notes(c.sample) == _notes(shown[c.iteration].sample) for c in kept)

    again = TrainingJob.from_run(run)
    assert again.spec.epochs == 4 and again.spec.melody is not None
    again.start(resume=True)
    events2 = again.wait(300)
    assert again.finished.status == "done", (again.finished, [e.text for e in events2 if isinstance(e, LogLine)])
    logs = [e.text for e in events2 if isinstance(e, LogLine)]
    assert any(f"resumed tiny-test at iteration {paused_at}" in line for line in logs)
    assert not any("initialised" in line for line in logs)           # a resume goes on from its own state
    ref = next(e for e in events if isinstance(e, Reference)).figures
    ckpts = [e for e in events + events2 if isinstance(e, Checkpoint)]
    assert ckpts and all(set(c.figures) == set(ref) for c in ckpts if c.figures)
    assert [c.iteration for c in ckpts] == sorted(c.iteration for c in ckpts)
    sample = ckpts[-1].sample
    assert isinstance(sample, Song) and len(sample.tracks) == 5 and sample.tracks[0].notes
    assert any(t.notes for t in sample.tracks[1:])
    losses = [e for e in events + events2 if isinstance(e, Losses)]
    assert losses and losses[-1].iteration == losses[-1].total > paused_at
    prog = [e for e in events2 if isinstance(e, Progress)]
    assert prog[-1].fraction == 1.0
    installed = user_models / "gan-tiny-test.pt"
    assert again.finished.model_path == str(installed)
    assert "tiny-test" in available_genres()
    assert "Metrics on held-out melodies" in installed.with_suffix(".md").read_text()
    assert load_model(installed).meta["iterations"] == losses[-1].total
    assert paused_runs() == [] and not run.exists()                  # the run folder is gone with it


def test_cancel_throws_the_run_away(tmp_path, user_models):
    folder = write_songs(tmp_path / "songs", n=2)
    job = TrainingJob(tiny_spec(folder, name="gone", epochs=50))
    job.start()
    _until(job, Progress)
    job.cancel()
    job.wait(240)
    assert job.finished.status == "cancelled", job.finished
    assert not job.run_dir.exists()
    assert not (user_models / "gan-gone.pt").exists()
    assert not job.running


def test_the_network_size_follows_the_model_to_start_from(tmp_path):
    pytest.importorskip("torch")
    from deepcomposer_desktop.ml.checkpoint import save_checkpoint
    from deepcomposer_desktop.training_process import preset_for_model
    from tests.test_model_files import tiny_gan
    tiny_gan(tmp_path / "a.pt")
    assert preset_for_model(tmp_path / "a.pt") == "tiny"
    save_checkpoint(tmp_path / "b.pt", technique="gan", name="b", model_args={"kind": "unet", "channels": [3, 5]},
                    state_dict={})
    with pytest.raises(ModelError, match="cannot start from"):
        preset_for_model(tmp_path / "b.pt")


def test_a_folder_with_nothing_usable_says_why_for_each_file(tmp_path):
    from tests.builders import song, track
    folder = tmp_path / "waltzes"
    folder.mkdir()
    for k in range(2):                                     # 3/4 tunes: the trainer takes 4/4 only
        write_midi(song(track("Lead", [(60 + k, b * 1440, 480, 90) for b in range(16)]), meter=(3, 4)),
                   folder / f"waltz{k + 1}.mid")
    write_midi(song(track("Drums", [(36, s, 120, 100) for s in range(0, 30720, 480)], is_drum=True, channel=9)),
               folder / "drums.mid")
    scan = scan_folder(folder)
    assert "No usable 8-bar stretches" in scan.error
    assert {f.path: f.problem for f in scan.files} == {"waltz1.mid": "not in 4/4 (only 3/4)",
                                                       "waltz2.mid": "not in 4/4 (only 3/4)",
                                                       "drums.mid": "it has only drums: there is no melody to "
                                                                    "learn from"}


def test_a_pause_before_the_first_checkpoint_keeps_nothing(tmp_path, user_models):
    job = TrainingJob(tiny_spec(write_songs(tmp_path / "songs", n=2), name="early"))
    job.start()
    job.pause()                                            # before the process has even read the songs
    job.wait(120)
    assert job.finished.status == "cancelled", job.finished
    assert "nothing to resume" in job.finished.message and "Train" in job.finished.message
    assert not job.run_dir.exists() and paused_runs() == []


def _train_here(spec, stop_at: str):
    """The child's training in this process; Pause is pressed when a log line contains ``stop_at``. Returns the
    run folder (made as ``TrainingJob.start`` makes it) and the events."""
    from deepcomposer_desktop.ml.common import Cancelled
    from deepcomposer_desktop.training_process import _train
    run = TrainingJob(spec).run_dir
    run.mkdir(parents=True)
    (run / "run.json").write_text(json.dumps(spec.to_json()))
    events, pressed = [], []

    def put(ev):
        events.append(ev)
        if isinstance(ev, LogLine) and stop_at in ev.text and not pressed:
            pressed.append(True)

    with pytest.raises(Cancelled):
        _train(spec, run, False, put, lambda: bool(pressed), {"iteration": 0})
    return run, events


def test_a_stop_during_the_final_fit_is_a_pause_and_resume_needs_no_source_folder(tmp_path, user_models):
    from deepcomposer_desktop.ml.gan.generate import load_model
    folder = write_songs(tmp_path / "songs", n=2)
    run, events = _train_here(tiny_spec(folder, name="late", epochs=1, melody=None), "fitting the decoding")
    final = [e for e in events if isinstance(e, LogLine) and "[final]" in e.text]
    assert len(final) == 1 and not (user_models / "gan-late.pt").exists()
    assert paused_runs() == [run] and (run / "data.npz").is_file()
    total = int(final[0].text.split("iteration ")[1].split()[0])
    folder.rename(tmp_path / "moved")                      # the MIDI folder is renamed while the run is paused
    job = TrainingJob.from_run(run)
    job.start(resume=True)                                 # it trains on its own copy of the data
    logs = [e.text for e in job.wait(240) if isinstance(e, LogLine)]
    assert job.finished.status == "done", (job.finished, logs[-5:])
    assert any(f"resumed late at iteration {total}" in line for line in logs)
    assert load_model(user_models / "gan-late.pt").meta["decode_refined"]
    assert not run.exists() and paused_runs() == []        # installed: the run folder is cleaned up


def test_a_stop_right_after_the_last_step_installs_nothing(tmp_path, user_models):
    run, _ = _train_here(tiny_spec(write_songs(tmp_path / "songs", n=2), name="later", epochs=1, melody=None),
                         "[final]")
    assert not (user_models / "gan-later.pt").exists() and paused_runs() == [run]


def test_the_card_and_the_last_point_measure_the_installed_model(tmp_path, user_models):
    import numpy as np

    from deepcomposer_desktop.ml.gan.data import load_training_data, split_by_song
    from deepcomposer_desktop.ml.gan.evaluate import generated_figures, markdown_table
    from deepcomposer_desktop.ml.gan.generate import load_model
    from deepcomposer_desktop.training_data import build_data
    from deepcomposer_desktop.training_process import Finished, _train
    folder = write_songs(tmp_path / "songs", n=2)
    spec = tiny_spec(folder, name="measured", epochs=1, melody=None)
    assert "minutes" not in spec.overrides()                  # no time limit, so none is set (nor logged)
    run = TrainingJob(spec).run_dir
    run.mkdir(parents=True)
    events = []
    path = _train(spec, run, False, events.append, lambda: False, {"iteration": 0})
    logs = [e.text for e in events if isinstance(e, LogLine)]
    assert not any(" min " in line for line in logs if "training gan-measured" in line)
    ckpts = [e for e in events if isinstance(e, Checkpoint)]
    assert ckpts[-1].final and ckpts[-1].iteration == ckpts[-2].iteration     # the final save repeats the last one
    build_data(folder, {}, out=tmp_path / "data.npz")
    data = load_training_data(tmp_path / "data.npz")
    _, held = split_by_song(data)
    idx = held[np.linspace(0, len(held) - 1, min(spec.eval_windows, len(held))).round().astype(int)]
    installed = generated_figures(load_model(path), data, idx)
    assert ckpts[-1].figures == installed                    # the last point of the plot: the installed model
    reference = next(e for e in events if isinstance(e, Reference)).figures
    assert markdown_table(reference, {"this model": installed}) in path.with_suffix(".md").read_text()
    # what the log, the status line (DataReady) and the card say about the data agree
    ready = next(e for e in events if isinstance(e, DataReady))
    assert f"2 songs, 24 bars, {ready.windows + ready.held_out} windows; 0 files skipped" in logs
    assert ready.songs == 2 and ready.held_songs == 1
    assert f"(2 songs, {len(data)} 8-bar windows)" in path.with_suffix(".md").read_text()
    assert not any(isinstance(e, Finished) for e in events)


def test_a_second_run_of_the_same_name_cannot_start_over_a_live_one(tmp_path, user_models):
    from deepcomposer_desktop.training_process import lock_run
    folder = write_songs(tmp_path / "songs", n=2)
    first = TrainingJob(tiny_spec(folder, name="twice", epochs=50))
    first.start()
    try:
        with pytest.raises(ModelError, match="The training 'twice' is already running"):
            TrainingJob(tiny_spec(folder, name="twice")).start()          # another window, the same name
        assert (first.run_dir / "run.json").is_file() and first.running  # its folder is left alone
    finally:
        first.cancel()
        first.wait(240)
    assert first.finished.status == "cancelled", first.finished
    lock = lock_run(first.run_dir)                                        # over: the name is free again
    assert lock is not None
    lock.close()


def test_a_built_in_genre_name_is_refused(tmp_path, user_models):
    from deepcomposer_desktop.ml.registry import SHIPPED_DIR
    shipped = sorted(SHIPPED_DIR.glob("gan-*.pt"))
    if not shipped:
        pytest.skip("no shipped genre here")
    name = shipped[0].stem.removeprefix("gan-")
    job = TrainingJob(tiny_spec(write_songs(tmp_path / "songs", n=1), name=name))
    with pytest.raises(ModelError, match=f"'{name}' is a built-in genre"):
        job.start()
    assert not job.run_dir.exists() and not (user_models / f"gan-{name}.pt").exists()


def _sample(melody_pitch: int):
    """A small arranged sample: chords, the melody (second track, as the melody), bass, drums."""
    import dataclasses

    from tests.builders import band_song
    band = band_song()
    lead = dataclasses.replace(band.tracks[0], notes=tuple(dataclasses.replace(n, pitch=melody_pitch)
                                                           for n in band.tracks[0].notes))
    return band.replace(tracks=(band.tracks[1], lead, *band.tracks[2:]), melody_index=1)


def _notes(s):
    return [[(n.pitch, n.start_tick, n.end_tick, n.velocity) for n in t.notes] for t in s.tracks]


def test_checkpoints_are_kept_in_the_run_folder_and_read_back_as_events(tmp_path):
    import math

    from deepcomposer_desktop.training_records import logged_checkpoints, record_checkpoint
    run = tmp_path / "run"
    run.mkdir()
    model = str(run / "gan-kept.pt")
    first = {"empty_bar_rate": 0.25, "polyphony": 1.5, "in_scale_rate": float("nan")}
    middle, refit = {"empty_bar_rate": 0.125, "polyphony": 2.0}, {"empty_bar_rate": 0.1, "polyphony": 2.25}
    record_checkpoint(run, Checkpoint(1, 0.1, model, first, _sample(72)))
    record_checkpoint(run, Checkpoint(8, 1.0, model, middle, _sample(74)))
    record_checkpoint(run, Checkpoint(8, 1.0, model, refit, _sample(76), final=True))   # the final re-measure
    record_checkpoint(run, Checkpoint(9, 1.1, model, {}, None, final=True))             # a pause: nothing to show
    assert len((run / "checkpoints.jsonl").read_text().splitlines()) == 3
    assert sorted(p.name for p in (run / "samples").iterdir()) == ["sample-1.mid", "sample-8.mid"]
    kept = logged_checkpoints(run)
    assert [(c.iteration, c.epoch, c.final, c.model_path) for c in kept] == [(1, 0.1, False, model),
                                                                              (8, 1.0, True, model)]
    assert kept[0].figures["polyphony"] == 1.5 and math.isnan(kept[0].figures["in_scale_rate"])
    assert kept[1].figures == refit                             # the later record of iteration 8 replaces it
    for ev, pitch in zip(kept, (72, 76)):
        assert ev.sample.melody_index == 1 and ev.sample.melody.notes[0].pitch == pitch
        assert _notes(ev.sample) == _notes(_sample(pitch))
        assert [t.is_drum for t in ev.sample.tracks] == [False, False, False, True]


def test_a_damaged_record_or_sample_is_skipped_and_later_records_still_read(tmp_path):
    from deepcomposer_desktop.training_records import logged_checkpoints, record_checkpoint
    run = tmp_path / "run"
    (run / "samples").mkdir(parents=True)
    assert logged_checkpoints(run) == [] and logged_checkpoints(tmp_path / "nowhere") == []
    model = str(run / "gan-x.pt")
    for it in (1, 2, 3):
        record_checkpoint(run, Checkpoint(it, it / 10, model, {"polyphony": float(it)}, _sample(70 + it)))
    record_checkpoint(run, Checkpoint(4, 0.4, model, {}, _sample(74)))          # a sample without figures
    with open(run / "checkpoints.jsonl", "a", encoding="utf-8") as fh:
        fh.write('not json\n[1, 2]\n{"iteration": "x", "epoch": 1}\n{"iteration": 7, "epoch": 0.7, "figures": '
                 '{"polyphony": "many"}}\n{"iteration": 8, "epo')                # a crash cut the last line short
    record_checkpoint(run, Checkpoint(9, 0.9, model, {"polyphony": 9.0}, None))  # appended after the cut line
    (run / "samples" / "sample-1.mid").unlink()                                 # gone: its figures still count
    (run / "samples" / "sample-2.mid").write_bytes(b"MThd nonsense")            # damaged: the same
    (run / "samples" / "sample-4.mid").unlink()                                 # nothing left to show: skipped
    kept = logged_checkpoints(run)
    assert [c.iteration for c in kept] == [1, 2, 3, 9]
    assert [c.figures for c in kept] == [{"polyphony": 1.0}, {"polyphony": 2.0}, {"polyphony": 3.0},
                                         {"polyphony": 9.0}]
    assert [c.sample is None for c in kept] == [True, True, False, True]
    assert _notes(kept[2].sample) == _notes(_sample(73))
