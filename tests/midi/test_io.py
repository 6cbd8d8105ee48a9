"""MIDI import/export: round trips, the awkward things real files do, an independent reader, bad input."""
import io
import os
import struct

import mido
import pretty_midi
import pytest

from deepcomposer_desktop.core.song import KeySignature, Note, TempoChange, TimeSignature
from deepcomposer_desktop.midi.io import MidiFileError, midi_bytes, read_midi, write_midi
from deepcomposer_desktop.samples import SAMPLES, build_song, load_sample, sample_path
from tests.builders import band_song, song, track


def smf(tracks: list[bytes], fmt=1, ppq=480) -> bytes:
    """A raw Standard MIDI File from raw track bodies (so tests control running status etc.)."""
    out = b"MThd" + struct.pack(">IHHH", 6, fmt, len(tracks), ppq)
    for body in tracks:
        out += b"MTrk" + struct.pack(">I", len(body)) + body
    return out


EOT = b"\x00\xff\x2f\x00"


def test_round_trip_is_exact():
    s = band_song().replace(title="Round trip", key_signatures=(KeySignature(0, "Eb"),),
                            tempos=(TempoChange(0, 96.0), TempoChange(1920, 132.5)),
                            time_signatures=(TimeSignature(0, 4, 4), TimeSignature(3840, 6, 8)))
    back = read_midi(midi_bytes(s))
    assert back.ppq == s.ppq
    assert back.tempos == s.tempos
    assert back.time_signatures == s.time_signatures
    assert back.key_signatures == s.key_signatures
    assert [(t.name, t.program, t.is_drum, t.notes) for t in back.tracks] == \
        [(t.name, t.program, t.is_drum, t.notes) for t in s.tracks]
    again = read_midi(midi_bytes(back))
    assert again == back


def test_export_is_a_type1_file_daws_read():
    s = band_song()
    mf = mido.MidiFile(file=io.BytesIO(midi_bytes(s)))
    assert mf.type == 1 and len(mf.tracks) == 5                      # conductor + one per part
    names = [next(m.name for m in t if m.type == "track_name") for t in mf.tracks[1:]]
    assert names == ["Melody", "Chords", "Bass", "Drums"]
    drum_channels = {m.channel for m in mf.tracks[4] if m.type == "note_on"}
    assert drum_channels == {9}
    programs = [next(m.program for m in t if m.type == "program_change") for t in mf.tracks[1:]]
    assert programs == [73, 0, 33, 0]
    assert any(m.type == "set_tempo" for m in mf.tracks[0])
    assert any(m.type == "time_signature" for m in mf.tracks[0])
    melodic = [{m.channel for m in t if m.type == "note_on"} for t in mf.tracks[1:4]]
    assert len(set.union(*melodic)) == 3 and 9 not in set.union(*melodic)


def test_type0_running_status_velocity0_and_drums():
    body = (b"\x00\xff\x51\x03\x07\xa1\x20"            # 120 BPM
            b"\x00\xc0\x18"                            # program 24 on channel 1
            b"\x00\x90\x3c\x64"                        # note on C4
            b"\x00\x40\x50"                            # running status: note on E4
            b"\x83\x60\x3c\x00"                        # +480: C4 off via velocity 0 (running status)
            b"\x00\x40\x00"                            # E4 off
            b"\x00\x99\x24\x70"                        # drum on channel 10
            b"\x60\x89\x24\x00"                        # +96 drum off
            + EOT)
    s = read_midi(smf([body], fmt=0))
    assert len(s.tracks) == 2
    melodic, drums = s.tracks
    assert melodic.program == 24 and not melodic.is_drum
    assert [(n.pitch, n.start_tick, n.duration_tick) for n in melodic.notes] == [(60, 0, 480), (64, 0, 480)]
    assert drums.is_drum and drums.notes == (Note.make(36, 480, 96, 112),)


def test_several_tempos_overlaps_and_missing_note_offs():
    conductor = (b"\x00\xff\x51\x03\x07\xa1\x20" b"\x83\x60\xff\x51\x03\x0f\x42\x40" + EOT)   # 120, then 60 BPM
    part = (b"\x00\x90\x3c\x64"             # C4 on
            b"\x81\x70\x90\x3c\x50"         # +240 C4 on again (overlap)
            b"\x81\x70\x80\x3c\x00"         # +240 first C4 off (FIFO)
            b"\x81\x70\x80\x3c\x00"         # +240 second off
            b"\x00\x90\x40\x64"             # E4 on, never turned off
            b"\x83\x60\xff\x2f\x00")        # track ends 480 later
    s = read_midi(smf([conductor, part]))
    assert [t.bpm for t in s.tempos] == [120.0, 60.0]
    notes = s.tracks[0].notes
    assert [(n.pitch, n.start_tick, n.duration_tick) for n in notes] == [(60, 0, 480), (60, 240, 480),
                                                                          (64, 720, 480)]


def test_every_key_spelling_is_exported_as_its_signature():
    keys = [KeySignature(0, "D#"), KeySignature(480, "G#"), KeySignature(960, "A#"), KeySignature(1440, "Dbm"),
            KeySignature(1920, "Gbm"), KeySignature(2400, "Eb"), KeySignature(2880, "C#")]
    s = song(track("Piano", [(60, 0, 3000, 90)])).replace(key_signatures=tuple(keys))
    back = read_midi(midi_bytes(s)).key_signatures          # five of them were left out of the file
    assert [k.key for k in back] == ["Eb", "Ab", "Bb", "C#m", "F#m", "Eb", "C#"]
    assert [k.tick for k in back] == [k.tick for k in keys]


def test_overlapping_notes_of_one_pitch_are_written_as_they_sound():
    # a long C4 drawn over a short one: a file cannot say which note-off ends which (re-import swapped their
    # lengths: 1200 and 960); a synth ends the long one where the short one strikes, and so does the export
    s = song(track("Piano", [(60, 0, 1920, 90), (60, 960, 240, 100), (64, 0, 480, 80), (64, 0, 960, 70)]))
    back = read_midi(midi_bytes(s)).tracks[0].notes
    assert [(n.pitch, n.start_tick, n.duration_tick, n.velocity) for n in back] == [
        (60, 0, 960, 90),
        (64, 0, 960, 80),                                   # struck twice at once: one note, the longer, louder
        (60, 960, 240, 100)]
    plain = song(track("Piano", [(60, 0, 480, 90), (60, 480, 480, 90), (62, 0, 960, 90)]))
    assert read_midi(midi_bytes(plain)) == read_midi(midi_bytes(read_midi(midi_bytes(plain))))


def test_tracks_sharing_a_channel_stay_separate():
    a = b"\x00\xff\x03\x06Melody\x00\x90\x48\x64\x83\x60\x80\x48\x00" + EOT
    b = b"\x00\xff\x03\x06Chords\x00\x90\x3c\x64\x00\x90\x40\x64\x87\x40\x80\x3c\x00\x00\x80\x40\x00" + EOT
    s = read_midi(smf([b"\x00\xff\x51\x03\x07\xa1\x20" + EOT, a, b]))
    assert [t.name for t in s.tracks] == ["Melody", "Chords"]
    assert s.tracks[0].channel == s.tracks[1].channel == 0
    assert s.melody_index == 0
    back = read_midi(midi_bytes(s))
    assert [len(t.notes) for t in back.tracks] == [1, 2]


@pytest.mark.parametrize("data, words", [
    (b"", "empty"),
    (b"hello world, not midi", "not a MIDI file"),
    (smf([b"\x00\x90\x3c\x64" + EOT])[:20], "damaged or truncated"),
    (smf([b"\x00\xff\x51\x03\x07\xa1\x20" + EOT]), "no notes"),
    (b"MThd\x00\x00\x00\x06\x00\x01\x00\x01\xe7\x28" + b"MTrk\x00\x00\x00\x04" + EOT, "SMPTE"),
    (smf([b"\xff\xff\xff\x7f\xff\x01\x00" * 9 + b"\x00\x90\x3c\x64\x00\x80\x3c\x00" + EOT]), "far beyond"),
    (smf([b"\x00\x3c\x64" + EOT]), "running status"),
])
def test_bad_input_gives_one_typed_error(data, words):
    with pytest.raises(MidiFileError, match=words):
        read_midi(data)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(MidiFileError, match="does not exist"):
        read_midi(tmp_path / "nope.mid")
    with pytest.raises(MidiFileError, match="folder"):
        read_midi(tmp_path)
    fifo = tmp_path / "pipe.mid"
    os.mkfifo(fifo)                                       # reading it waited forever for a writer
    for endless in (fifo, "/dev/zero"):                   # reading it all ran out of memory
        with pytest.raises(MidiFileError, match="a device or a pipe, not a MIDI file"):
            read_midi(endless)


def test_write_midi_is_atomic_and_readable(tmp_path):
    path = tmp_path / "out.mid"
    write_midi(band_song(), path)
    assert read_midi(path).note_count == band_song().note_count
    assert not list(tmp_path.glob("*.tmp"))


def test_samples_parse_and_are_single_voice_melodies():
    assert len(SAMPLES) >= 8
    for s in SAMPLES:
        assert sample_path(s).exists(), f"{s.slug}.mid missing: run python -m deepcomposer_desktop.samples"
        song_ = read_midi(sample_path(s))
        assert len(song_.tracks) == 1
        notes = song_.tracks[0].notes
        assert len(notes) >= 16
        assert all(a.end_tick <= b.start_tick for a, b in zip(notes, notes[1:])), f"{s.slug} is not monophonic"
        assert song_.tracks[0].notes == build_song(s).tracks[0].notes        # shipped file = note list
        assert load_sample(s.slug).title == s.title


def test_every_sample_reads_back_the_same_in_pretty_midi(tmp_path):
    for s in SAMPLES:
        song_ = build_song(s)
        path = tmp_path / f"{s.slug}.mid"
        write_midi(song_, path)
        pm = pretty_midi.PrettyMIDI(str(path))
        assert len(pm.instruments) == 1
        ours = sorted((n.start_tick, n.end_tick, n.pitch, n.velocity) for n in song_.tracks[0].notes)
        theirs = sorted((pm.time_to_tick(n.start), pm.time_to_tick(n.end), n.pitch, n.velocity)
                        for n in pm.instruments[0].notes)
        assert theirs == ours, s.slug
        assert pm.instruments[0].program == song_.tracks[0].program
        assert pm.get_tempo_changes()[1][0] == pytest.approx(s.bpm, abs=1e-3)


def test_large_file_loads(tmp_path):
    from deepcomposer_desktop.bench.core import big_song
    s = big_song(100_000)
    back = read_midi(midi_bytes(s))
    assert back.note_count == s.note_count > 49_000


def test_a_gap_longer_than_a_delta_time_holds_is_bridged():
    # a delta time is at most 4 bytes (2^28 - 1 ticks): a note far out must still export as a file readers take
    far = 2**31 - 100
    s = song(track("Far", [(60, 0, 480, 100), (62, far, 50, 100)]))
    data = midi_bytes(s)
    assert read_midi(data).tracks[0].notes == s.tracks[0].notes
    notes = [m for m in mido.MidiFile(file=io.BytesIO(data)).tracks[1] if m.type == "note_on"]
    assert len(notes) == 2


def test_named_tracks_without_notes_come_back():
    from deepcomposer_desktop.core.song import Song, Track
    s = Song(tracks=(track("Melody", [(60, 0, 480, 100)], program=73), Track("Strings", 48),
                     Track("Drums", 0, True)))
    back = read_midi(midi_bytes(s))
    assert [(t.name, t.program, t.is_drum, len(t.notes)) for t in back.tracks] == [
        ("Melody", 73, False, 1), ("Strings", 48, False, 0), ("Drums", 0, True, 0)]
    assert back.melody_index == 0
    empty = read_midi(midi_bytes(Song(tracks=(Track("Melody", 0),), title="Untitled")))  # a new project, exported
    assert [(t.name, len(t.notes)) for t in empty.tracks] == [("Melody", 0)]


def test_a_type2_files_patterns_play_one_after_the_other():
    mf = mido.MidiFile(type=2, ticks_per_beat=480)
    for pitch in (60, 64):
        t = mido.MidiTrack([mido.MetaMessage("track_name", name=f"Pattern {pitch}"),
                            mido.Message("note_on", note=pitch, velocity=90), mido.Message("note_off", note=pitch,
                                                                                            time=960)])
        mf.tracks.append(t)
    buf = io.BytesIO()
    mf.save(file=buf)
    s = read_midi(buf.getvalue())
    assert [(t.name, [(n.pitch, n.start_tick) for n in t.notes]) for t in s.tracks] == [
        ("Pattern 60", [(60, 0)]), ("Pattern 64", [(64, 960)])]


def test_before_its_first_tempo_and_metre_a_file_is_at_120_bpm_in_4_4(tmp_path):
    # a bar of notes before the file's first tempo (60 BPM) and metre (3/4): the MIDI defaults hold there, as
    # mido and pretty_midi read it (the import used to stretch 60 BPM and 3/4 back to tick 0: every note late)
    mf = mido.MidiFile(type=1, ticks_per_beat=480)
    mf.tracks.append(mido.MidiTrack([mido.MetaMessage("time_signature", numerator=3, denominator=4, time=1920),
                                     mido.MetaMessage("set_tempo", tempo=1_000_000, time=0)]))
    part = mido.MidiTrack()
    for i in range(8):
        part += [mido.Message("note_on", note=60 + i, velocity=100), mido.Message("note_off", note=60 + i, time=480)]
    mf.tracks.append(part)
    mf.save(tmp_path / "late.mid")
    from deepcomposer_desktop.core.timing import TempoMap
    s = read_midi(tmp_path / "late.mid")
    assert s.tempos == (TempoChange(0, 120.0), TempoChange(1920, 60.0))
    assert s.time_signatures == (TimeSignature(0, 4, 4), TimeSignature(1920, 3, 4))
    pm = pretty_midi.PrettyMIDI(str(tmp_path / "late.mid"))
    seconds = [TempoMap.of(s).tick_to_seconds(n.start_tick) for n in s.tracks[0].notes]
    assert seconds == pytest.approx([n.start for n in pm.instruments[0].notes]) == [0, .5, 1, 1.5, 2, 3, 4, 5]
    assert s.bar_at(1920) == 1                                         # the first 3/4 bar is the file's second bar
    back = read_midi(midi_bytes(s))                                    # export -> import keeps it
    assert back.tempos == s.tempos and back.time_signatures == s.time_signatures
    # a tempo and metre at tick 0 get nothing added; neither does a file without any (the defaults, once)
    assert [t.bpm for t in read_midi(midi_bytes(s.replace(tempos=(TempoChange(0, 90.0),)))).tempos] == [90.0]
    bare = read_midi(smf([b"\x00\x90\x3c\x64\x83\x60\x80\x3c\x00" + EOT]))
    assert bare.tempos == (TempoChange(0, 120.0),) and bare.time_signatures == (TimeSignature(0, 4, 4),)


def _kits_heard(data: bytes) -> list[tuple[int, int, int]]:
    """(tick, drum note, kit) for each drum note-on, as a GM player that ignores ports hears the file."""
    kit, out = 0, []
    mf = mido.MidiFile(file=io.BytesIO(data))
    tick = 0
    for m in mido.merge_tracks(mf.tracks):
        tick += m.time
        if m.type == "program_change" and m.channel == 9:
            kit = m.program
        elif m.type == "note_on" and m.channel == 9 and m.velocity:
            out.append((tick, m.note, kit))
    return out


def test_a_drum_kit_change_is_exported_where_the_music_makes_it():
    from dataclasses import replace
    # a drum part that switches from the standard kit to the TR-808 (25) at bar 3 comes in as one track per kit;
    # they went out on ports 0 and 1, each with its kit at tick 0, so a GM player played the 808 from bar 1
    mf = mido.MidiFile(type=1, ticks_per_beat=480)
    drums = mido.MidiTrack([mido.MetaMessage("track_name", name="Drums"), mido.Message("program_change", channel=9)])
    for i in range(32):
        if i == 16:
            drums.append(mido.Message("program_change", channel=9, program=25))
        drums += [mido.Message("note_on", channel=9, note=(36, 42, 38, 42)[i % 4], velocity=100),
                  mido.Message("note_off", channel=9, note=(36, 42, 38, 42)[i % 4], time=240)]
    mf.tracks += [mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=500000)]), drums]
    buf = io.BytesIO()
    mf.save(file=buf)
    s = read_midi(buf.getvalue())
    assert [(t.program, t.is_drum, len(t.notes)) for t in s.tracks] == [(0, True, 16), (25, True, 16)]
    out = midi_bytes(s)
    assert b"\xff\x21" not in out                                      # both on channel 10 of port 0
    assert _kits_heard(out) == _kits_heard(buf.getvalue())             # every note on the kit it had
    assert [(t.program, t.notes) for t in read_midi(out).tracks] == [(t.program, t.notes) for t in s.tracks]
    # kits taking turns: each run of a kit's notes sets it; one kit for every drum track: set at tick 0, as a
    # melodic track sets its instrument (with no kit change, nothing moves)
    a, b = s.tracks
    turns = s.with_tracks((a.with_notes(a.notes[:8] + tuple(replace(n, start_tick=n.start_tick + 3840)
                                                               for n in a.notes[8:])),
                           b.with_notes(replace(n, start_tick=n.start_tick - 1920) for n in b.notes[:8])))
    heard = _kits_heard(midi_bytes(turns))
    assert [k for _, _, k in heard] == [0] * 8 + [25] * 8 + [0] * 8 and heard[8][0] == 1920
    one_kit = s.with_tracks((a, replace(b, program=0), track("Piano", [(60, 960, 480, 90)])))
    written = mido.MidiFile(file=io.BytesIO(midi_bytes(one_kit)))
    assert [[(m.program, m.time) for m in t if m.type == "program_change"] for t in written.tracks[1:]] == \
        [[(0, 0)]] * 3


def _mido_file(tmp_path, name: bytes, sigs):
    mf = mido.MidiFile(type=1, ticks_per_beat=480)
    conductor = mido.MidiTrack()
    last = 0
    for tick, num, den in sigs:
        conductor.append(mido.MetaMessage("time_signature", numerator=num, denominator=den, time=tick - last))
        last = tick
    part = mido.MidiTrack()
    part.append(mido.MetaMessage("track_name", name=name.decode("latin-1")))   # mido writes the bytes as given
    for k in range(8):
        part.append(mido.Message("note_on", note=60, velocity=90, time=0 if k == 0 else 240))
        part.append(mido.Message("note_off", note=60, velocity=0, time=240))
    mf.tracks += [conductor, part]
    path = tmp_path / "f.mid"
    mf.save(path)
    return path


def test_a_cyrillic_name_in_windows_encoding_reads_as_cyrillic_and_latin1_stays_latin1(tmp_path):
    assert read_midi(_mido_file(tmp_path, "Чунга-Чанга".encode("cp1251"), [(0, 4, 4)])).tracks[0].name == \
        "Чунга-Чанга"                                       # latin-1 made it "×óíãà-×àíãà"
    assert read_midi(_mido_file(tmp_path, "Café au lait".encode("latin-1"), [(0, 4, 4)])).tracks[0].name == \
        "Café au lait"
    assert read_midi(_mido_file(tmp_path, "Ёлочка".encode("utf-8"), [(0, 4, 4)])).tracks[0].name == "Ёлочка"


def test_a_repeated_metre_nine_ticks_in_does_not_make_a_nine_tick_bar(tmp_path):
    s = read_midi(_mido_file(tmp_path, b"Piano", [(0, 4, 4), (9, 4, 4), (1920, 3, 4), (1920, 3, 4)]))
    assert [(t.tick, t.numerator, t.denominator) for t in s.time_signatures] == [(0, 4, 4), (1920, 3, 4)]
    assert s.bar_start_tick(1) == 1920 and s.bar_start_tick(2) == 1920 + 1440
