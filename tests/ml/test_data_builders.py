"""Genre builders on a tiny synthetic copy of the shared data layout (POP909, Rock Corpus, WJazzD, Nottingham,
Groove MIDI, Hauptstimme MusicXML) and the custom-folder path."""
import zipfile

import numpy as np
import pytest

from deepcomposer_desktop.core.song import Note, Song, TempoChange, TimeSignature, Track
from deepcomposer_desktop.midi.io import write_midi
from deepcomposer_desktop.ml.data import WINDOW, DataError, load_cache
from deepcomposer_desktop.ml.data import folk, jazz, pop, rock, symphony
from deepcomposer_desktop.ml.data.build import build_genre
from deepcomposer_desktop.ml.data.folder import NO_PARTS, ONLY_DRUMS, build_from_folder, pick_melody, role_of
from deepcomposer_desktop.ml.data.rolls import monophonic, split_lowest_voice

PPQ = 480
BAR = 4 * PPQ


def _track(name, notes, program=0, is_drum=False):
    return Track(name=name, program=program, is_drum=is_drum, notes=tuple(Note.make(*n) for n in notes))


def _song(*tracks, meter=(4, 4), bpm=120.0):
    return Song(tracks=tuple(tracks), ppq=PPQ, tempos=(TempoChange(0, bpm),),
                time_signatures=(TimeSignature(0, *meter),))


def _melody(bars, low=72):
    return [(low + (i % 5), i * PPQ, PPQ, 90) for i in range(4 * bars)]


def _groove(root, styles=("pop", "rock", "jazz", "country")):
    g = root / "groove_midi" / "groove"
    g.mkdir(parents=True)
    lines = ["drummer,session,id,style,bpm,beat_type,time_signature,midi_filename,audio_filename,duration,split"]
    for i, st in enumerate(styles):
        # kick on 1 and 3, snare (Roland 40 -> GM 38) on 2 and 4, hats (Roland 22 -> GM 42) on eighths; 2 bars
        notes = [(36, b * BAR + k * 2 * PPQ, 60, 100) for b in range(2) for k in range(2)]
        notes += [(40, b * BAR + PPQ + k * 2 * PPQ, 60, 100) for b in range(2) for k in range(2)]
        notes += [(22, k * PPQ // 2 + 7, 30, 70) for k in range(16)]
        write_midi(_song(_track("Drums", notes, is_drum=True)), g / f"{i}_{st}.mid")
        lines.append(f"d,s,{i},{st}/groove1,120,beat,4-4,{i}_{st}.mid,x.wav,4.0,train")
        lines.append(f"d,s,{i}f,{st}/fill,120,fill,4-4,{i}_{st}.mid,x.wav,4.0,train")
    (g / "info.csv").write_text("\n".join(lines) + "\n")


def _check_drums(acc, t):
    # quantised: kick on steps 0/8, GM snare on 4/12, hats every 2 steps (the +7-tick jitter is rounded away)
    bar = acc[:, t, :16]
    assert bar[:, [0, 8], 36].all() and bar[:, [4, 12], 38].all() and bar[:, ::2, 42].all()
    assert not bar[:, :, 40].any() and not bar[:, :, 22].any()


def _xlsx(path, rows):
    cells = "".join(
        f'<row r="{r + 1}">' + "".join(f'<c r="{chr(65 + c)}{r + 1}" t="inlineStr"><is><t>{v}</t></is></c>'
                                       for c, v in enumerate(row)) + "</row>" for r, row in enumerate(rows))
    xml = ('<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
           f"<sheetData>{cells}</sheetData></worksheet>")
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("xl/worksheets/sheet1.xml", xml)


def test_rolls_helpers():
    assert monophonic([(0, 4, 60), (0, 4, 64), (2, 6, 67)]) == [(0, 2, 64), (2, 6, 67)]
    bass, rest = split_lowest_voice([(0, 8, 40), (0, 8, 52), (0, 8, 64), (4, 8, 36), (8, 12, 70)])
    assert bass == [(0, 4, 40), (4, 8, 36)]       # made monophonic: 40 ends where 36 starts
    assert (0, 8, 52) in rest and (8, 12, 70) in rest and len(rest) == 3


def test_pop_builder(tmp_path):
    _groove(tmp_path)
    root = tmp_path / "pop909" / "POP909"
    for sid, beats in (("001", 2), ("002", 3)):
        d = root / sid
        d.mkdir(parents=True)
        lead_in = PPQ          # one beat of pickup before the first 4/4 downbeat
        mel = [(p, s + lead_in, d_, v) for p, s, d_, v in _melody(12)]
        piano = [(p, lead_in + b * BAR, BAR, 60) for b in range(12) for p in (43, 60, 64, 67)]
        bridge = [(79, lead_in + b * BAR, PPQ, 70) for b in range(12)]
        write_midi(_song(_track("MELODY", mel), _track("BRIDGE", bridge), _track("PIANO", piano)), d / f"{sid}.mid")
        # 120 bpm: a beat every 0.5 s; the 4/4 downbeats (3rd column) start at beat 1
        rows = [f"{0.5 * i} {1 if i % 2 == 1 else 0} {1 if i % 4 == 1 else 0}" for i in range(4 * 12 + 2)]
        (d / "beat_midi.txt").write_text("\n".join(rows) + "\n")
    _xlsx(root / "index.xlsx", [("song_id", "name", "artist", "modify_times", "num_beats_per_measure",
                                 "num_quavers_per_beat"), ("001", "Song A", "X", "1", "2", "2"),
                                ("002", "Waltz", "Y", "1", "3", "2")])
    col, meta = pop.build(tmp_path)
    assert col.titles == ["POP909 001 Song A - X"]                   # the 3-beat song is left out
    assert len(col) == 3 and [t["name"] for t in meta["tracks"]] == ["Piano", "Bass", "Strings", "Drums"]
    path = tmp_path / "pop.npz"
    col.save(path, meta)
    mel, acc, om, oa, sid, meta2 = load_cache(path)
    assert mel[0, 0, 72] and om[0, 4, 73]                 # bar 1 starts on the annotated downbeat
    assert acc[0, 1, :16, 43].all() and not acc[0, 0, :, 43].any()     # lowest piano voice -> bass only
    assert acc[0, 0, :16, [60, 64, 67]].all() and acc[0, 2, :4, 79].all()
    _check_drums(acc, 3)
    assert meta2["tracks"][1]["origin"].startswith("rule:") and meta2["tracks"][3]["origin"].startswith("real:")


def test_rock_builder(tmp_path):
    _groove(tmp_path)
    root = tmp_path / rock.ROOT
    for sub in ("rs200_melody_nlt", "rs200_harmony_clt", "rs200_harmony", "rs200_melody"):
        (root / sub).mkdir(parents=True)
    (root / "rs200_melody_nlt" / "song_tdc.nlt").write_text(
        "".join(f"{i * 0.5:.3f}\t{i / 4:.2f}\t{60 + i % 3}\t0\n" for i in range(4 * 12)))
    (root / "rs200_harmony_clt" / "song_tdc.clt").write_text(
        "0.0\t0.00\tI\t0\t1\t0\t0\n4.0\t2.00\tV7\t7\t5\t0\t7\n8.0\t4.00\tIV6\t5\t4\t0\t5\n24.0\t12.00\tEnd\n")
    (root / "rs200_harmony" / "song_tdc.har").write_text("[4/4] I | V7 |\n")
    (root / "rs200_melody_nlt" / "waltz_tdc.nlt").write_text("0.0\t0.00\t60\t0\n")
    (root / "rs200_harmony" / "waltz_dt.har").write_text("[3/4] I |\n")
    col, meta = rock.build(tmp_path)
    assert col.titles == ["Rock Corpus: song (tdc)"] and any("waltz" in s for s in meta["skipped"])
    mel, acc, om, oa, sid = (np.unpackbits(a, axis=-1, count=128).astype(bool) if a.ndim > 1 else a
                             for a in col.arrays())
    assert mel[0, 0, 60] and mel[0, 4, 61] and mel[0, 3, 60] and not mel[0, 4, 60]  # until the next onset
    assert acc[0, 0, 0, 36] and acc[0, 0, 4, 36] and acc[0, 0, 32, 31]   # bass: C on each beat, then G
    assert acc[0, 0, 64, 33]                                             # IV6: A (the third) in the bass
    assert set(np.nonzero(acc[0, 1, 0])[0]) == {40 + 8, 40 + 15, 40 + 20, 40 + 24}  # C power chord from E2
    assert oa[0, 1, :32:2, 48].all() and oa[0, 1, 32:64:2, 43].all() and not oa[0, 1, 1::2].any()  # eighths
    assert set(np.nonzero(acc[0, 2, 40])[0]) == {55, 59, 62, 65}         # G7 close from G3
    _check_drums(acc, 3)


def test_jazz_builder(tmp_path):
    _groove(tmp_path)
    root = tmp_path / jazz.ROOT
    (root / "csv_melody").mkdir(parents=True)
    (root / "csv_beats").mkdir()
    beats = ["bar,bass_pitch,beat,chord,chorus_id,form,onset,signature", "0,,4,Dm7,1,,0.0,4/4"]
    for i in range(4 * 10):
        chord = {0: "D-7", 4: "G7", 8: "Cj7"}.get(i % 12, "")
        beats.append(f"{i // 4 + 1},{38 + i % 4},{i % 4 + 1},{chord},1,,{0.5 * (i + 1)},")
    (root / "csv_beats" / "Solo_A.csv").write_text("\n".join(beats) + "\n")
    mel = ["bar,beat,beatdur,denom,division,duration,num,onset,period,pitch,subtatum,tatum"]
    mel += [f"1,1,0.5,4,2,0.2,4,{0.5 * (i + 1) + 0.01},4,{70 + i % 4}.0,0,1" for i in range(4 * 10)]
    (root / "csv_melody" / "Solo_A.csv").write_text("\n".join(mel) + "\n")
    col, meta = jazz.build(tmp_path)
    assert col.titles == ["WJazzD: Solo A"] and len(col) == 2
    mel, acc, om, oa, sid = (np.unpackbits(a, axis=-1, count=128).astype(bool) if a.ndim > 1 else a
                             for a in col.arrays())
    assert mel[0, 0, 70] and mel[0, 4, 71] and not mel[0, 2].any()      # 0.2 s = 1.6 steps -> 2 steps
    assert acc[0, 0, :4, 38].all() and acc[0, 0, 4:8, 39].all()         # real bass pitch, one per beat
    assert set(np.nonzero(acc[0, 1, 0])[0]) == {53, 57, 60}              # D-7 rootless: F, A (no 9th), C
    assert oa[0, 1, 6].any() and oa[0, 1, 16].any()                      # Charleston: 1 and the and of 2
    assert set(np.nonzero(acc[0, 2, 16])[0]) == {65, 71}                 # G7 guide tones B, F
    assert jazz.parse_chord("NC") is None and jazz.parse_chord("Bb-7")[:2] == (10, (0, 3, 7, 10))


def test_folk_builder(tmp_path):
    _groove(tmp_path)
    root = tmp_path / folk.ROOT
    root.mkdir(parents=True)
    chords = [(p, b * BAR, BAR, 80) for b in range(10) for p in (55, 59, 62)]
    write_midi(_song(_track("m", _melody(10)), _track("c", chords)), root / "reel1.mid")
    write_midi(_song(_track("m", _melody(10)), _track("c", chords), meter=(6, 8)), root / "jig1.mid")
    col, meta = folk.build(tmp_path)
    assert col.titles == ["Nottingham: reel1"] and "jig1: not in 4/4, 2/2 or 2/4" in meta["skipped"]
    mel, acc = (np.unpackbits(a, axis=-1, count=128).astype(bool) for a in col.arrays()[:2])
    assert acc[0, 0, :16, [55, 59, 62]].all() and acc[0, 1, :16, 31].all() and not acc[0, 1, :, 55].any()
    assert [t["name"] for t in meta["tracks"]] == ["Chords", "Bass", "Harmony fiddle", "Drums"]
    harmony = acc[0, 2]
    for step in np.nonzero(mel[0].any(axis=1))[0]:                   # under every tune note: a G-major chord tone
        below = np.nonzero(harmony[step])[0]                          # a third to a sixth lower
        top = np.nonzero(mel[0, step])[0].max()
        assert len(below) == 1 and below[0] % 12 in (7, 11, 2) and 3 <= top - below[0] <= 9
    _check_drums(acc, 3)


def test_folk_harmony_voice():
    chords = [(0, 16, 60), (0, 16, 64), (0, 16, 67), (16, 32, 65), (16, 32, 69), (16, 32, 72)]   # C, then F
    melody = [(0, 4, 76), (4, 8, 74), (16, 20, 77), (32, 36, 79)]
    # E over C: C, a third below; D over C: G, a fifth below (B, C are not chord tones or too close); F over F:
    # C, a fourth below; G after the chords end: a rest
    assert folk.harmony_below(melody, chords) == [(0, 4, 72), (4, 8, 67), (16, 20, 72)]


def _musicxml(parts, measures=8, beats=4):
    """A tiny partwise score: parts = [(name, [(midi, quarters)] per measure)] (same notes each measure)."""
    steps = ["C", "C", "D", "D", "E", "F", "F", "G", "G", "A", "A", "B"]
    body = "".join(f'<score-part id="P{i}"><part-name>{n}</part-name></score-part>' for i, (n, _) in
                   enumerate(parts))
    xml = f'<?xml version="1.0"?><score-partwise><part-list>{body}</part-list>'
    for i, (_, notes) in enumerate(parts):
        xml += f'<part id="P{i}">'
        for m in range(measures):
            xml += f'<measure number="{m + 1}">'
            if m == 0:
                xml += f"<attributes><divisions>2</divisions><time><beats>{beats}</beats>" \
                       "<beat-type>4</beat-type></time></attributes>"
            for midi, q in notes:
                if midi is None:
                    xml += f"<note><rest/><duration>{int(q * 2)}</duration></note>"
                    continue
                alter = "<alter>1</alter>" if steps[midi % 12] == steps[(midi - 1) % 12] else ""
                xml += f"<note><pitch><step>{steps[midi % 12]}</step>{alter}<octave>{midi // 12 - 1}</octave>" \
                       f"</pitch><duration>{int(q * 2)}</duration></note>"
            xml += "</measure>"
        xml += "</part>"
    return xml + "</score-partwise>"


def test_symphony_builder(tmp_path):
    d = tmp_path / symphony.ORCHESTRA / "Composer" / "Work" / "1"
    d.mkdir(parents=True)
    melody = [(72, 1), (74, 1), (76, 2)]
    (d / "W_1.mxl").parent.mkdir(exist_ok=True)
    score = _musicxml([("Flute 1", [(72, 1), (79, 1), (77, 2)]), ("Violin 1", melody), ("Viola", [(60, 4)]),
                       ("Violoncello", [(48, 4)]), ("Horn in F", [(67, 4)]), ("Harp", [(50, 4)])])
    with zipfile.ZipFile(d / "W_1.mxl", "w") as z:
        z.writestr("score.xml", score)
    with zipfile.ZipFile(d / "W_1_melody.mxl", "w") as z:
        z.writestr("m.musicxml", _musicxml([("Melody", melody)]))
    col, meta = symphony.build(tmp_path, parsed_dir=str(tmp_path / "parsed"))
    assert len(col.titles) == 1 and len(col) == 2 and meta["parts_not_used"] == ["Harp"]
    mel, acc = (np.unpackbits(a, axis=-1, count=128).astype(bool) for a in col.arrays()[:2])
    assert mel[0, 0, 72] and mel[0, 4, 74] and mel[0, 8:12, 76].all()
    assert acc[0, 0, :, 48].all() and acc[0, 1, :, 60].all() and acc[0, 3, :, 67].all()
    assert not acc[0, 1, :, 72].any()                     # Violin 1 doubles the melody: removed
    assert acc[0, 2, 4, 79] and not acc[0, 2, 0, 72]      # flute kept except where it doubles the melody
    col2, _ = symphony.build(tmp_path, parsed_dir=str(tmp_path / "parsed"))      # from the parsed cache
    assert (col2.arrays()[1] == col.arrays()[1]).all()
    assert symphony.family("Bassoon 1") == 2 and symphony.family("Contrabass") == 0


def test_build_cli_genre_and_errors(tmp_path):
    _groove(tmp_path)
    root = tmp_path / folk.ROOT
    root.mkdir(parents=True)
    write_midi(_song(_track("m", _melody(10)), _track("c", [(48, 0, BAR * 10, 80)])), root / "a.mid")
    s = build_genre("folk", str(tmp_path), str(tmp_path / "out"))
    assert s["windows"] == 2 and load_cache(tmp_path / "out" / "folk.npz")[1].shape == (2, 4, WINDOW, 128)
    with pytest.raises(DataError, match="Unknown genre"):
        build_genre("polka", str(tmp_path), str(tmp_path / "out"))
    with pytest.raises(DataError):
        build_genre("rock", str(tmp_path), str(tmp_path / "out"))      # no Rock Corpus here


def test_folder_builder(tmp_path):
    band = _song(_track("Lead", _melody(10), program=73),
                 _track("Piano", [(p, b * BAR, BAR, 70) for b in range(10) for p in (60, 64, 67)]),
                 _track("Fingered bass", [(36, b * BAR, BAR, 90) for b in range(10)], program=33),
                 _track("Kit", [(36, b * BAR, 60, 100) for b in range(10)], is_drum=True),
                 _track("Sax", [(65, b * BAR, PPQ, 80) for b in range(10)], program=65))
    write_midi(band, tmp_path / "a.mid")
    (tmp_path / "sub").mkdir()
    write_midi(band, tmp_path / "sub" / "b.MID")
    (tmp_path / "broken.mid").write_bytes(b"MThd garbage")
    write_midi(_song(_track("Lead", _melody(10)), meter=(3, 4)), tmp_path / "waltz.mid")
    mel, acc, om, oa, sid, meta, rep = build_from_folder(tmp_path, out=str(tmp_path / "c.npz"))
    assert mel.shape == (4, WINDOW, 128) and acc.shape == (4, 4, WINDOW, 128) and sorted(set(sid)) == [0, 1]
    assert rep["songs"] == 2 and rep["windows"] == 4 and {f for f, _ in rep["skipped"]} == {"broken.mid",
                                                                                            "waltz.mid"}
    assert rep["melody"]["a.mid"] == "Lead" and rep["instruments"]["Bass"] == ["Electric Bass (finger)"]
    assert acc[0, 0, 0, 36] and not acc[0, 0, 1, 36]      # drums: one step per hit
    assert acc[0, 1, :16, 36].all() and acc[0, 2, :16, 64].all() and acc[0, 3, :4, 65].all()
    assert [t["name"] for t in meta["tracks"]] == ["Drums", "Bass", "Harmony", "Other"]
    assert load_cache(tmp_path / "c.npz")[0].shape == mel.shape
    # the user names the melody: the sax becomes the melody, the lead goes to "Other"
    mel2, acc2, *_ , rep2 = build_from_folder(tmp_path, melody_track="sax")
    assert rep2["melody"]["a.mid"] == "Sax" and mel2[0, 0, 65] and acc2[0, 3, 0, 72]
    with pytest.raises(DataError, match="No usable"):
        build_from_folder(tmp_path, melody_track="Tuba")
    with pytest.raises(DataError, match="does not exist"):
        build_from_folder(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no MIDI files"):
        build_from_folder(tmp_path / "empty")


def test_role_and_pick_melody():
    s = _song(_track("Melody", _melody(1)), _track("Bass", [(40, 0, 100, 90)], program=0),
              _track("Pad", [(60, 0, 100, 90)], program=89), _track("Trumpet", [(70, 0, 100, 90)], program=56))
    assert [role_of(t) for t in s.tracks[1:]] == [1, 2, 3]
    assert pick_melody(s, None) == 0 and pick_melody(s, "pad") == 2 and pick_melody(s, 3) == 3
    assert pick_melody(s, "Tuba") is None and pick_melody(s, 9) is None


def _band(bars, lead_pitch=72):
    """Lead, piano chords, a fingered bass and a kit, ``bars`` 4/4 bars long."""
    return (_track("Lead", _melody(bars, lead_pitch), program=73),
            _track("Piano", [(p, b * BAR, BAR, 70) for b in range(bars) for p in (60, 64, 67)]),
            _track("Fingered bass", [(36, b * BAR, BAR, 90) for b in range(bars)], program=33),
            _track("Kit", [(36, b * BAR, 60, 100) for b in range(bars)], is_drum=True))


def test_folder_uses_only_stretches_in_a_duple_metre(tmp_path):
    def steady(name, pitch, start, end, step, **kw):        # one note a beat from ``start`` to ``end`` ticks
        return _track(name, [(pitch + (t // step) % 3, t, step, 90) for t in range(start, end, step)], **kw)
    # a 3/4 tune with a single 2/4 bar in it: no 4/4 to learn from
    waltz_end = 16 * 3 * PPQ + 2 * PPQ
    sigs = (TimeSignature(0, 3, 4), TimeSignature(8 * 3 * PPQ, 2, 4), TimeSignature(8 * 3 * PPQ + 2 * PPQ, 3, 4))
    write_midi(Song(tracks=(steady("Lead", 72, 0, waltz_end, PPQ), steady("Bass", 40, 0, waltz_end, PPQ, program=33)),
                    ppq=PPQ, time_signatures=sigs), tmp_path / "waltz.mid")
    # 16 bars of 2/4 (8 bars of 4/4), then 16 bars of 6/8 played an octave higher: only the 2/4 half is used
    turn = 16 * 2 * PPQ
    song = Song(tracks=(_track("Lead", [(72 + i % 3, i * PPQ, PPQ, 90) for i in range(32)]
                                 + [(96, turn + i * PPQ, PPQ, 90) for i in range(48)]),
                        steady("Bass", 40, 0, turn + 48 * PPQ, PPQ, program=33)),
                ppq=PPQ, time_signatures=(TimeSignature(0, 2, 4), TimeSignature(turn, 6, 8)))
    write_midi(song, tmp_path / "turns.mid")
    # a 4/4 song after a one-beat pickup: its bars start on the downbeat after the pickup
    pickup = Song(tracks=(_track("Lead", [(71, 0, PPQ, 90)] + [(n[0], n[1] + PPQ, n[2], n[3]) for n in _melody(8)]),
                          steady("Bass", 40, 0, 33 * PPQ, PPQ, program=33)),
                  ppq=PPQ, time_signatures=(TimeSignature(0, 1, 4), TimeSignature(PPQ, 4, 4)))
    write_midi(pickup, tmp_path / "pickup.mid")
    mel, acc, om, oa, sid, meta, rep = build_from_folder(tmp_path)
    assert rep["skipped"] == [["waltz.mid", "not in 4/4 for 4 bars in a row anywhere (it is in 2/4, 3/4)"]]
    assert meta["songs"] == ["pickup", "turns"] and rep["songs"] == 2 and rep["bars"] == 8 + 8
    assert not mel[:, :, 96].any()                            # nothing of the 6/8 half
    turns = mel[sid == 1]
    assert len(turns) == 2 and turns[0, 0, 72] and turns[0, 4, 73]
    first = mel[sid == 0][0]
    assert first[0, 72] and not first[:, 71].any()            # bar 1 starts after the pickup


def test_folder_counts_only_the_files_it_uses(tmp_path):
    write_midi(_song(*_band(10)), tmp_path / "a.mid")
    # 12 bars of drums, but the tune (and the tuba) only in bar 1: no window has enough melody
    sparse = _song(_track("Lead", _melody(1)), _track("Tuba", [(40, 0, BAR, 80)], program=58),
                   _track("Kit", [(36, b * BAR, 60, 100) for b in range(12)], is_drum=True))
    write_midi(sparse, tmp_path / "b.mid")
    write_midi(_song(_track("Kit", [(36, b * BAR, 60, 100) for b in range(12)], is_drum=True)), tmp_path / "c.mid")
    mel, acc, om, oa, sid, meta, rep = build_from_folder(tmp_path)
    assert rep["skipped"] == [["b.mid", "the melody is silent in too many bars (or the file is shorter than 4 bars)"],
                              ["c.mid", ONLY_DRUMS]]
    assert rep["songs"] == 1 and rep["files"] == 3 and rep["bars"] == 10 and rep["windows"] == len(mel) == 2
    assert meta["songs"] == ["a"] and meta["sources"][0]["songs"] == 1 and set(sid) == {0}
    assert rep["tracks"]["Other"] == {} and rep["instruments"]["Other"] == []     # not the skipped tuba
    assert rep["tracks"]["Drums"] == {"Kit": 1}


def test_folder_of_melodies_without_other_parts_is_refused(tmp_path):
    for k in range(2):
        write_midi(_song(_track("Lead", _melody(10, 70 + k))), tmp_path / f"tune{k}.mid")
    with pytest.raises(DataError, match="None of the 2 MIDI files in .* has a melody and other parts to learn from"
                       ) as exc:
        build_from_folder(tmp_path)
    assert exc.value.skipped == [["tune0.mid", NO_PARTS], ["tune1.mid", NO_PARTS]]


def test_pick_melody_prefers_a_part_that_plays_through():
    flute = _track("Flute", [(72 + (i * 5) % 12, i * PPQ, PPQ, 90) for i in range(160)], program=73)
    strings = _track("Tremolo Strings", [(84, b * 10 * BAR, BAR, 60) for b in range(4)], program=44)
    assert pick_melody(_song(flute, strings), None) == 0      # not 4 notes of one pitch over 40 bars
    half = _track("Whistle", [(76 + i % 4, i * PPQ, PPQ, 90) for i in range(80) if (i // 16) % 2 == 0],
                  program=78)
    bass = _track("Bass line", [(36 + i % 5, i * PPQ, PPQ, 90) for i in range(160)], program=33)
    assert pick_melody(_song(bass, half), None) == 1          # a tune with rests, not the bass under it


def test_musicxml_reader_ties_chords_backup_transpose(tmp_path):
    from deepcomposer_desktop.ml.data.musicxml import duple_runs, read_score

    def note(step, octave, dur, extra=""):
        return f"<note>{extra}<pitch><step>{step}</step><octave>{octave}</octave></pitch><duration>{dur}</duration></note>"
    tie_start, tie_stop = '<tie type="start"/>', '<tie type="stop"/>'
    xml = ('<score-partwise><part-list><score-part id="P1"><part-name>Clarinet in Bb</part-name></score-part>'
           '</part-list><part id="P1">'
           # pickup bar of one quarter; written D5 on a Bb clarinet sounds C5 (72)
           '<measure number="0"><attributes><divisions>2</divisions><time><beats>4</beats><beat-type>4</beat-type>'
           '</time><transpose><diatonic>-1</diatonic><chromatic>-2</chromatic></transpose></attributes>'
           + note("D", 5, 2) + '</measure>'
           # a half note tied over the bar line, a chord, a second voice after <backup>
           '<measure number="1">' + note("E", 5, 4) + note("G", 4, 4, "<grace/>") + note("E", 5, 4) +
           note("C", 5, 4, "<chord/>") + '<backup><duration>8</duration></backup>' + note("G", 3, 8) +
           '</measure><measure number="2">' + note("F", 5, 4) + note("F", 5, 4) + '</measure></part>'
           '</score-partwise>')
    path = tmp_path / "s.musicxml"
    path.write_text(xml)
    score = read_score(path)
    assert [(m.offset, m.length) for m in score.measures] == [(0.0, 1.0), (1.0, 4.0), (5.0, 4.0)]
    notes = score.parts[0].notes
    assert (0.0, 1.0, 72) in notes                      # transposed to sounding pitch
    assert (1.0, 2.0, 74) in notes and (3.0, 2.0, 74) in notes and (3.0, 2.0, 70) in notes
    assert (1.0, 4.0, 53) in notes                      # the second voice (G3 sounding F3), after <backup>
    assert not any(p == 65 for _, _, p in notes)        # the grace note is skipped
    # the same bar with the two halves tied: one whole note
    tied = xml.replace(note("E", 5, 4) + note("G", 4, 4, "<grace/>") + note("E", 5, 4),
                       note("E", 5, 4, tie_start) + note("E", 5, 4, tie_stop))
    path.write_text(tied)
    notes = read_score(path).parts[0].notes
    assert (1.0, 4.0, 74) in notes and not any(o == 3.0 and p == 74 for o, _, p in notes)
    assert duple_runs(score.measures, min_bars=1) == [(1.0, 9.0)]     # the pickup is not a full bar
