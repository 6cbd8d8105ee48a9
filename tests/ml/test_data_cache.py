"""GAN data caches: pack/unpack round trip, windowing rule, chorale builders on tiny synthetic inputs."""
import json

import numpy as np
import pytest

from deepcomposer_desktop.ml.data import (BARS, WINDOW, DataError, WindowCollector, load_cache, save_cache,
                                          track_info)
from deepcomposer_desktop.ml.data import chorale


def _meta(n_tracks):
    return {"genre": "test", "tracks": [track_info(f"T{i}", 0, False, "rule: test") for i in range(n_tracks)]}


def test_cache_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    mel = rng.random((3, WINDOW, 128)) < 0.05
    acc = rng.random((3, 2, WINDOW, 128)) < 0.05
    om, oa = mel & (rng.random(mel.shape) < 0.5), acc & (rng.random(acc.shape) < 0.5)
    sid = np.array([0, 0, 1])
    size = save_cache(tmp_path / "x.npz", mel, acc, om, oa, sid, _meta(2))
    assert size > 0
    m2, a2, om2, oa2, sid2, meta = load_cache(tmp_path / "x.npz")
    assert m2.dtype == bool and m2.shape == (3, WINDOW, 128) and a2.shape == (3, 2, WINDOW, 128)
    assert (m2 == mel).all() and (a2 == acc).all() and (om2 == om).all() and (oa2 == oa).all()
    assert sid2.dtype == np.int32 and list(sid2) == [0, 0, 1]
    assert meta["genre"] == "test" and meta["tracks"][1]["name"] == "T1"
    with np.load(tmp_path / "x.npz") as z:       # the packed layout the model side relies on
        assert z["melody"].dtype == np.uint8 and z["melody"].shape == (3, WINDOW, 16)
        assert z["accomp"].shape == (3, 2, WINDOW, 16)
        assert json.loads(str(z["meta"]))["genre"] == "test"


def test_cache_rejects_bad_shapes_and_files(tmp_path):
    mel = np.zeros((2, WINDOW, 128), bool)
    with pytest.raises(DataError):
        save_cache(tmp_path / "x.npz", mel, np.zeros((3, 1, WINDOW, 128), bool), mel, mel, [0, 1], _meta(1))
    with pytest.raises(DataError):   # meta names 2 tracks, data has 1
        save_cache(tmp_path / "x.npz", mel, np.zeros((2, 1, WINDOW, 128), bool), mel,
                   np.zeros((2, 1, WINDOW, 128), bool), [0, 1], _meta(2))
    with pytest.raises(DataError, match="No training cache"):
        load_cache(tmp_path / "missing.npz")
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(DataError, match="damaged"):
        load_cache(tmp_path / "bad.npz")


def test_windows_slide_and_drop_sparse_melody():
    steps = 20 * 16                                  # 20 bars
    mel = np.zeros((steps, 128), bool)
    mel[: 12 * 16, 60] = True                        # melody only in bars 1-12
    acc = np.zeros((1, steps, 128), bool)
    acc[0, :, 48] = True
    col = WindowCollector(n_tracks=1, stride_bars=4)
    kept = col.add_song("s", mel, mel, acc, acc)
    # starts at bars 0, 4, 8 have >= 4 melody bars; bar 12 and 16 have none
    assert kept == 3
    m, a, om, oa, sid = col.arrays()
    assert m.shape == (3, WINDOW, 16) and a.shape == (3, 1, WINDOW, 16) and list(sid) == [0, 0, 0]
    # the third window (bars 9-16) holds melody in its first 4 bars only
    third = np.unpackbits(m[2], axis=-1, count=128).astype(bool)
    assert third[: 4 * 16, 60].all() and not third[4 * 16:].any()


def test_window_pads_short_song():
    mel = np.zeros((5 * 16, 128), bool)
    mel[:, 70] = True
    col = WindowCollector(n_tracks=2)
    assert col.add_song("short", mel, mel, np.zeros((2, 80, 128), bool), np.zeros((2, 80, 128), bool)) == 1
    assert col.add_song("tiny", mel[:32], mel[:32], np.zeros((2, 32, 128), bool),
                        np.zeros((2, 32, 128), bool)) == 0
    assert col.titles == ["short", "tiny"]
    with pytest.raises(DataError):
        col.add_song("wrong", mel, mel, np.zeros((3, 80, 128), bool), np.zeros((3, 80, 128), bool))


def test_chorale_voice_rolls_onsets():
    steps = [[72, 67, 64, 48]] * 4 + [[72, 67, 64, -1]] * 2 + [[74, 67, 65, 43]] * 2
    rolls, onsets = chorale.voice_rolls(steps)
    assert rolls.shape == (4, 8, 128)
    assert rolls[0, :6, 72].all() and rolls[0, 6:, 74].all()
    assert list(np.nonzero(onsets[0].any(-1))[0]) == [0, 6]       # held notes are one note
    assert not rolls[3, 4:6].any() and onsets[3, 6, 43]            # rest, then a new bass note
    with pytest.raises(DataError):
        chorale.voice_rolls([[60, 62]])


def test_chorale_build_from_tiny_json(tmp_path):
    folder = tmp_path / "jsb_chorales_czhuang"
    folder.mkdir()
    song = [[72 + (i // 8) % 3, 67, 64, 48] for i in range(16 * BARS * 2)]      # 16 bars
    (folder / "Jsb16thSeparated.json").write_text(json.dumps({"train": [song], "valid": [song[:48]],
                                                              "test": [song]}))
    col, meta = chorale.build(tmp_path)
    # 16 bars -> windows at bars 0, 4, 8, 12 (the last has 4 of 8 bars: kept); 3 bars: dropped
    assert len(col) == 4 + 0 + 4
    assert meta["song_split"] == ["train", "valid", "test"] and len(meta["tracks"]) == 3
    path = tmp_path / "c.npz"
    col.save(path, meta)
    mel, acc, om, oa, sid, meta2 = load_cache(path)
    assert acc.shape == (8, 3, WINDOW, 128) and meta2["songs"][2] == "JSB chorale test 0"
    assert set(sid.tolist()) == {0, 2}
    assert acc[0, 2, :, 48].all() and mel[0, :8, 72].all()
    with pytest.raises(DataError):
        chorale.build(tmp_path / "nowhere")


def test_describe_counts_bars_and_notes(tmp_path):
    from deepcomposer_desktop.ml.data.build import describe

    mel = np.zeros((2, WINDOW, 128), bool)
    mel[:, :64, 60] = True                           # melody in bars 1-4 of each window
    om = np.zeros_like(mel)
    om[:, ::16, 60] = True                           # one onset per bar in bars 1-4 (4 notes per window)
    om[:, 64:] = False
    acc = np.zeros((2, 1, WINDOW, 128), bool)
    save_cache(tmp_path / "d.npz", mel, acc, om, acc, [0, 1], _meta(1))
    text = describe(tmp_path / "d.npz")
    assert "2 windows from 2 songs" in text
    assert "Melody             non-empty bars  50.0 %, notes/bar  0.50" in text
    assert "T0                 non-empty bars   0.0 %, notes/bar  0.00" in text


def test_chorale_aligned_by_music21_bar_lines_and_onsets(tmp_path):
    import zipfile

    # 1 quarter pickup, then 9 bars; every voice repeats each pitch for two quarters (held vs repeated is lost
    # in the JSON, music21's score has the real note starts)
    sop = [72] * 4 + [74 + (q // 2) % 3 for q in range(36) for _ in range(4)]
    steps = [[s, s - 5, s - 12, s - 24] for s in sop]
    folder = tmp_path / "jsb_chorales_czhuang"
    folder.mkdir()
    (folder / "Jsb16thSeparated.json").write_text(json.dumps({"train": [steps], "valid": [], "test": []}))

    def part(pid, shift):
        xml = f'<part id="{pid}">'
        notes = [(72, 1)] + [(74 + (q // 2) % 3, 1) for q in range(36)]
        i = 0
        for m in range(10):
            xml += f'<measure number="{m}">'
            if m == 0:
                xml += "<attributes><divisions>1</divisions><time><beats>4</beats><beat-type>4</beat-type>" \
                       "</time></attributes>"
            for _ in range(1 if m == 0 else 4):
                p = notes[i][0] - shift
                i += 1
                names = ["C", "C", "D", "D", "E", "F", "F", "G", "G", "A", "A", "B"]
                alter = "<alter>1</alter>" if names[p % 12] == names[(p - 1) % 12] else ""
                xml += f"<note><pitch><step>{names[p % 12]}</step>{alter}<octave>{p // 12 - 1}</octave></pitch>" \
                       "<duration>1</duration></note>"
            xml += "</measure>"
        return xml + "</part>"
    voices = [("Soprano", 0), ("Alto", 5), ("Tenor", 12), ("Bass", 24)]
    score = "<score-partwise><part-list>" + "".join(
        f'<score-part id="P{i}"><part-name>{n}</part-name></score-part>' for i, (n, _) in enumerate(voices)) + \
        "</part-list>" + "".join(part(f"P{i}", s) for i, (_, s) in enumerate(voices)) + "</score-partwise>"
    m21 = tmp_path / "music21_corpus_subset" / "bach"
    m21.mkdir(parents=True)
    with zipfile.ZipFile(m21 / "bwv1.mxl", "w") as z:
        z.writestr("bwv1.xml", score)
    col, meta = chorale.build(tmp_path, parsed_dir=str(tmp_path / "parsed"))
    assert meta["aligned"] == [True] and col.titles == ["JSB chorale train 0 (= bwv1)"]
    mel, acc, om, oa, sid = (np.unpackbits(a, axis=-1, count=128).astype(bool) if a.ndim > 1 else a
                             for a in col.arrays())
    assert not mel[0, :12].any() and mel[0, 12:16, 72].all()     # the pickup ends bar 0
    assert mel[0, 16:24, 74].all() and om[0, 16, 74] and om[0, 20, 74]     # a repeated note, two starts
    assert oa[0, 2, 16, 50] and oa[0, 2, 20, 50]                 # the same in the bass
