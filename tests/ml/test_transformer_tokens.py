"""Transformer vocabulary: Song -> tokens -> Song round trips, grammar, tolerant decoding, data readers."""
import json

import numpy as np
import pytest

from deepcomposer_desktop.core.song import Note, Song, TempoChange, TimeSignature, Track
from deepcomposer_desktop.ml.transformer import tokens as T
from deepcomposer_desktop.ml.transformer.data import read_jsb, read_wjazzd, save_cache, load_cache


def _song(meter=(4, 4), ppq=480):
    q = ppq  # quarter
    mel = [Note.make(60, 0, q, 104), Note.make(62, q, q // 2, 104), Note.make(64, q + q // 2, q // 2, 56),
           Note.make(67, 2 * q, q // 3, 104), Note.make(65, 2 * q + q // 3, 2 * q // 3, 104),
           Note.make(72, 4 * q, 4 * q, 120)]
    chords = [Note.make(p, 0, 2 * q, 72) for p in (48, 52, 55)] + [Note.make(p, 4 * q, 4 * q, 72) for p in (43, 47)]
    bass = [Note.make(36, 0, q, 88), Note.make(36, 8 * q, q, 88)]
    return Song(tracks=(Track("Lead", 73, notes=tuple(mel)), Track("Keys", 0, notes=tuple(chords)),
                        Track("Bass", 33, notes=tuple(bass))), ppq=ppq, tempos=(TempoChange(0, 96.0),),
                time_signatures=(TimeSignature(0, *meter),))


def test_vocabulary_size_and_names():
    assert T.VOCAB_SIZE == 321
    names = {T.describe(i) for i in range(T.VOCAB_SIZE)}
    assert len(names) == T.VOCAB_SIZE
    with pytest.raises(T.TokenError):
        T.describe(T.VOCAB_SIZE)


@pytest.mark.parametrize("meter,ppq", [((4, 4), 480), ((3, 4), 96), ((6, 8), 960)])
def test_round_trip_multitrack_polyphonic(meter, ppq):
    song = _song(meter, ppq)
    toks = T.song_to_tokens(song)
    assert toks[0] == T.BOS and max(toks) < T.VOCAB_SIZE
    back = T.tokens_to_song(toks, ppq)
    assert len(back.tracks) == 3
    for a, b in zip(song.tracks, back.tracks):
        assert a.notes == b.notes
        assert a.program // 8 == b.program // 8
    assert back.time_signatures[0].numerator == meter[0]


def test_track_and_velocity_tokens_only_on_change():
    mel = Track("m", notes=tuple(Note.make(60 + i, i * 240, 240, 100) for i in range(8)))
    toks = T.song_to_tokens(Song(tracks=(mel,)), [0])
    body = toks[4:]
    assert body.count(T.TRK0) == 1 and sum(T.VEL0 <= t < T.PITCH0 for t in body) == 1
    assert len(body) == 1 + 8 * 3 + 2        # BAR + (POS PITCH DUR) * 8 + TRK + VEL


def test_bar_slice_decodes_on_its_own():
    song = _song()
    piece = T.song_to_piece(song, [0, 1, 2], 1, 3)           # bars 1 and 2 only
    assert len(piece.bars) == 2
    bars, ended = T.decode_bars(T.encode_bars(piece.bars), 3)
    assert not ended and sorted(bars[0]) == sorted(piece.bars[0])
    assert {n[2] for n in bars[0]} == {72, 43, 47}          # the notes of bar 1 with their velocities
    assert all(n[4] in (120, 72) for n in bars[0])


def test_decode_tolerates_sampler_slips():
    rng = np.random.default_rng(0)
    head = T.header_tokens((4, 4), 120, [0, 4])
    for _ in range(20):
        junk = [int(t) for t in rng.integers(0, T.VOCAB_SIZE, 200)]
        piece = T.decode(head + [T.BAR] + junk)
        for bar in piece.bars:
            for pos, slot, pitch, dur, vel in bar:
                assert 0 <= pos < T.MAX_BAR_STEPS and 0 <= slot < 2 and 0 <= pitch < 128 and dur >= 1
    with pytest.raises(T.TokenError):
        T.decode([T.BAR, T.PITCH0, T.DUR0])


def test_default_slots_put_melody_first_and_skip_drums():
    s = _song()
    drums = Track("Drums", 0, is_drum=True, notes=(Note.make(36, 0, 100),))
    s = s.with_tracks(s.tracks + (drums,), melody_index=1)
    assert T.default_slots(s, "melody") == [1]
    assert T.default_slots(s, "all") == [1, 0, 2]


def test_jsb_reader_merges_held_notes(tmp_path):
    d = tmp_path / "jsb_chorales_czhuang"
    d.mkdir()
    chorale = [[72, 67, 64, 48]] * 4 + [[74, 67, 65, 47]] * 4 + [[72, 64, 60, 48]] * 8
    (d / "jsb-chorales-16th.json").write_text(json.dumps({"train": [chorale], "valid": [], "test": [chorale]}))
    pieces = list(read_jsb(tmp_path))
    assert [p[1] for p in pieces] == [False, True]
    bar = pieces[0][2].bars[0]
    soprano = sorted((n[0], n[2], n[3]) for n in bar if n[1] == 0)
    assert soprano == [(0, 72, 12), (12, 74, 12), (24, 72, 24)]
    alto = sorted((n[0], n[2], n[3]) for n in bar if n[1] == 1)
    assert alto == [(0, 67, 24), (24, 64, 24)]                 # the held G is one note


def test_wjazzd_reader_places_notes_and_bass(tmp_path):
    base = tmp_path / "wjazzd_csv_mingus" / "A_preprocessData" / "data" / "WjazzDBcsv"
    (base / "csv_melody").mkdir(parents=True)
    (base / "csv_beats").mkdir()
    head = "bar,beat,beatdur,denom,division,duration,num,onset,period,pitch,subtatum,tatum\n"
    rows = ["0,1,0.5,4,2,0.25,4,0,4,65.0,0,1", "0,1,0.5,4,2,0.25,4,0,4,67.0,0,2", "1,3,0.5,4,3,0.5,4,0,4,70.0,0,3"]
    (base / "csv_melody" / "X_Solo.csv").write_text(head + "\n".join(rows) + "\n")
    beats = "bar,bass_pitch,beat,chord,chorus_id,form,onset,signature\n0,36,1,,0,,0,\n0,,2,,0,,0,\n1,43,4,,0,,0,\n"
    (base / "csv_beats" / "X_Solo.csv").write_text(beats)
    (name, _, piece), = list(read_wjazzd(tmp_path))
    assert piece.families == [8, 4] and piece.bpm == pytest.approx(120.0)
    assert sorted(piece.bars[0]) == [(0, 0, 65, 6, 80), (0, 1, 36, 12, 80), (6, 0, 67, 6, 80)]
    assert sorted(piece.bars[1]) == [(24 + 8, 0, 70, 12, 80), (36, 1, 43, 12, 80)]


def test_cache_round_trip(tmp_path):
    seqs = [T.song_to_tokens(_song()), T.song_to_tokens(_song((3, 4)), [0])]
    save_cache(tmp_path / "c.npz", seqs, [0, 1], [0, 2], ["a", "b"])
    c = load_cache(tmp_path / "c.npz")
    assert c["tokens"].dtype == np.uint16 and list(c["offsets"]) == [0, len(seqs[0]), len(seqs[0]) + len(seqs[1])]
    assert list(c["tokens"][c["offsets"][1]:]) == seqs[1]
