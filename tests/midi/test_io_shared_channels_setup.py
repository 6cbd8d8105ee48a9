"""Tracks taking turns on a channel with their set-up controller values (reverb and chorus send, mod wheel ...), and
tracks without notes, when there are more melodic tracks than port 0's 15 channels: every note of a player that
ignores MIDI ports sounds with its own track's set-up, and the file reads back as it was written."""
import io
import random
from dataclasses import replace

import mido
import pytest

from deepcomposer_desktop.bench.core import turns_song
from deepcomposer_desktop.core.song import PITCH_BEND, Control, Song, Track
from deepcomposer_desktop.midi.channels import assign_channels, sets_up_only
from deepcomposer_desktop.midi.io import midi_bytes, read_midi
from tests.builders import song, track
from tests.midi.test_io_shared_channels import BAR, _part, assert_plays_right, parts, port_channels, program_ticks

SONG = 4 * BAR


def slots_of(data: bytes) -> list[tuple[int, int]]:
    """(port, channel) of each part track of the file (one channel each)."""
    out = []
    for port, chans in port_channels(data):
        assert len(chans) == 1
        out.append((port, chans.pop()))
    return out


def held_parts(n: int) -> list[Track]:
    """``n`` parts that sound together all through four bars."""
    return [replace(track(f"Held {i}", [(40 + i, 0, SONG, 80)], program=i), volume=60 + i, pan=3 * i)
            for i in range(n)]


def test_a_part_without_notes_never_takes_port_0_from_a_part_with_notes():
    spare = Track("Spare", 40, volume=20, pan=100)
    s = song(*held_parts(15), spare)
    data = midi_bytes(s)
    assert slots_of(data) == [(0, c) for c in range(16) if c != 9] + [(1, 0)]
    # the spare part sets up its channel (channel 1 of port 1) at the song's end, after every note: at tick 0 a
    # player that ignores ports would give Held 0's notes its instrument
    assert program_ticks(data)[15] == [SONG]
    assert_plays_right(s, data)
    assert parts(read_midi(data)) == parts(s)                         # with its instrument, volume and pan
    # 16 parts that sound together and a spare: one part on port 1, as before parts took turns, and the spare too
    s = song(*held_parts(16), spare)
    used = slots_of(midi_bytes(s))
    assert [port for port, _ in used] == [0] * 15 + [1, 1] and len(set(used)) == 17
    assert parts(read_midi(midi_bytes(s))) == parts(s)


def medley(setup_at_zero: bool = False, rpn_part: int | None = None) -> Song:
    """Three band songs one after another, as a medley's file holds them: in each, eight parts play all through it
    (two-note chords on the beats, each part at pitches of its own), each setting up its channel at its song's start
    (``setup_at_zero``: at tick 0, as most real files do) with a reverb send, and some with a chorus send (song 1:
    0, the reset value), mod wheel, pedal up, expression, pitch bend (song 2: detuned); a lead plays over all three:
    25 melodic parts, and drums. ``rpn_part``: that part of song 2 also sets its bend range (an RPN)."""
    band = []
    for k in range(3):
        for p in range(8):
            start = k * SONG
            at = 0 if setup_at_zero else start
            notes = [(30 + 10 * p + k + d, start + beat * 480, 480, 80) for beat in range(16) for d in (0, 4)]
            controls = [Control(at, 91, 20 + 5 * p + k)]
            controls += [Control(at, 93, 10 * k)] if p % 2 == 0 else []
            controls += [Control(at, 1, 30 + k)] if p % 3 == 0 else []
            controls += [Control(at, 64, 0)] if p == 7 else []
            controls += [Control(at, 11, 100)] if p == 5 else []
            controls += [Control(at, PITCH_BEND, -4096 if k == 1 else 0)] if p % 4 == 1 else []
            if k == 1 and p == rpn_part:
                controls += [Control(at, 101, 0), Control(at, 100, 0), Control(at, 6, 12)]
            band.append(replace(track(f"Song {k + 1}: part {p + 1}", notes, program=8 * p + k),
                                volume=60 + 5 * p + k, pan=10 * p + k, controls=tuple(controls)))
    lead = track("Lead", [(110 + i % 5, i * 960, 960, 90) for i in range(24)], program=73)
    drums = track("Drums", [(36 + k % 3, k * 480, 120, 100) for k in range(48)], is_drum=True, channel=9)
    return song(lead, *band, drums)


def test_parts_with_set_up_controls_take_turns_and_each_hears_its_own_set_up():
    s = medley()
    assert all(sets_up_only(t) for t in s.tracks)
    data = midi_bytes(s)
    assert b"\xff\x21" not in data                   # a controller of their own kept each on a channel: 10 on port 1
    used = slots_of(data)
    assert len(set(used[1:25])) == 14                # the lead has one channel, the songs' parts take turns on 14
    assert_plays_right(s, data)                      # each its program, volume, pan, reverb ... or their resets
    back = read_midi(data)
    assert parts(back) == parts(s)                   # each its own set-up, once: no re-sent or reset value, no other's
    assert read_midi(midi_bytes(back)) == back


def test_a_set_up_made_while_another_part_plays_moves_to_the_part_s_first_note():
    s = medley(setup_at_zero=True)                   # songs 2 and 3 set up at tick 0, under song 1's notes
    data = midi_bytes(s)
    assert b"\xff\x21" not in data
    assert_plays_right(s, data)
    back = read_midi(data)
    assert [p[:6] for p in parts(back)] == [p[:6] for p in parts(s)]
    moved = 0
    for was, now in zip(s.tracks, back.tracks):
        assert [(c.number, c.value) for c in now.controls] == [(c.number, c.value) for c in was.controls]
        assert {c.tick for c in now.controls} <= {0, was.notes[0].start_tick}
        moved += now.controls != was.controls
    assert moved and all(t.controls == w.controls for t, w in zip(back.tracks[1:9], s.tracks[1:9]))    # song 1's
    assert read_midi(midi_bytes(back)) == back


def test_a_part_that_sets_a_parameter_or_holds_a_pedal_keeps_a_channel_to_itself():
    notes = [(60, 480, 480, 90), (62, 960, 480, 90)]
    plain = track("Part", notes)
    for controls, shares in [((), True),
                             ((Control(0, 91, 40), Control(480, 93, 0), Control(0, 1, 5), Control(0, 64, 0),
                               Control(480, PITCH_BEND, -200), Control(100, 129, 0)), True),
                             ((Control(500, 91, 40),), False),                        # after the first note
                             ((Control(0, 91, 40), Control(100, 91, 50)), False),     # twice: a move
                             ((Control(0, 64, 127),), False),                         # the pedal held from the start
                             ((Control(0, 101, 0), Control(0, 100, 0), Control(0, 6, 12)), False)]:   # bend range
        assert sets_up_only(plain.with_controls(controls)) is shares
    assert not sets_up_only(Track("Empty", controls=(Control(0, 91, 40),)))
    s = medley(rpn_part=3)
    used = slots_of(midi_bytes(s))
    assert used.count(used[1 + 8 + 3]) == 1
    assert_plays_right(s, midi_bytes(s))
    assert parts(read_midi(midi_bytes(s))) == parts(s)


def test_each_part_of_a_channel_keeps_the_set_up_it_made_and_the_changes_it_heard():
    def cc(number, value):
        return mido.Message("control_change", channel=0, control=number, value=value)

    def prog(program):
        return mido.Message("program_change", channel=0, program=program)

    def note(on, pitch):
        return mido.Message("note_on" if on else "note_off", channel=0, note=pitch, velocity=90 if on else 0)

    # two parts taking turns on channel 1, as another program may write them: each sets its reverb or chorus where
    # it takes over (and resets the other's just before its instrument), the first sends its reverb again
    first = _part("First", [(0, prog(1)), (0, cc(91, 80)), (0, note(1, 60)), (480, note(0, 60)),
                            (1920, cc(93, 0)), (1920, prog(1)), (1920, cc(91, 80)), (1920, note(1, 62)),
                            (2400, note(0, 62)), (2400, cc(1, 9))])
    second = _part("Second", [(960, cc(91, 0)), (960, prog(2)), (960, cc(93, 40)), (960, note(1, 48)),
                              (1440, note(0, 48))])
    pedal = _part("Pedal", [(100, cc(64, 127)), (300, cc(64, 0))])                      # an automation track
    mf = mido.MidiFile(type=1, ticks_per_beat=480)
    mf.tracks += [first, second, pedal]
    buf = io.BytesIO()
    mf.save(file=buf)
    back = read_midi(buf.getvalue())
    changes = [(t.name, [(c.tick, c.number, c.value) for c in t.controls]) for t in back.tracks]
    heard_by_all = [(100, 64, 127), (300, 64, 0), (2400, 1, 9)]       # the channel's: after a first note, or loose
    assert changes == [("First", [(0, 91, 80)] + heard_by_all), ("Second", heard_by_all[:2] + [(960, 93, 40)]
                                                                  + heard_by_all[2:])]


def random_song(rng: random.Random) -> Song:
    """16-28 melodic parts (and drums), each playing a few notes from a time of its own (in 16 bars, or in 3: then
    some cannot share); some set up controllers at or before their first note, some press a pedal while they play,
    some have no notes."""
    tracks = [track("Drums", [(36, k * 480, 120, 100) for k in range(8)], is_drum=True, channel=9)]
    bars = rng.choice((3, 16, 16))
    for i in range(rng.randint(16, 28)):
        if rng.random() < 0.1:
            tracks.append(Track(f"Empty {i}", rng.randrange(128), volume=rng.randrange(128), pan=rng.randrange(128),
                                controls=(Control(0, 1, 7),) if rng.random() < 0.5 else ()))
            continue
        at, notes = rng.randrange(0, bars) * BAR + rng.randrange(0, BAR, 120), []
        for _ in range(rng.randint(3, 12)):                 # a line of notes, now and then a two-note chord
            length = rng.choice((120, 480, 960))
            notes += [(p, at, length, 90) for p in rng.sample(range(40, 60), rng.choice((1, 1, 2)))]
            at += length + rng.choice((0, 0, 120))
        t = replace(track(f"Part {i}", notes, program=rng.randrange(128), channel=rng.choice((None, i % 16))),
                    volume=rng.randrange(128), pan=rng.randrange(128))
        first = t.notes[0].start_tick
        if rng.random() < 0.15:
            t = t.with_controls((Control(first, 64, 127), Control(first + 240, 64, 0)))
        elif rng.random() < 0.6:
            picked = rng.sample([(91, 40), (93, 0), (1, 30), (11, 90), (64, 0), (PITCH_BEND, -1000), (129, 5)], 3)
            t = t.with_controls(Control(rng.randint(0, first), n, v) for n, v in picked)
        tracks.append(t)
    return song(*tracks)


def clash(a: Track, b: Track) -> bool:
    """Note by note: whether notes of both sound at once, or one ends where a note of that pitch of the other
    begins."""
    return any(m.start_tick < n.end_tick and n.start_tick < m.end_tick or
               m.pitch == n.pitch and (m.end_tick == n.start_tick or n.end_tick == m.start_tick)
               for m in a.notes for n in b.notes)


@pytest.mark.parametrize("seed", range(30))
def test_random_songs_share_only_channels_where_notes_never_meet_and_read_back(seed):
    s = random_song(random.Random(seed))
    slots = assign_channels(s.tracks)
    melodic = [i for i, t in enumerate(s.tracks) if not t.is_drum]
    users: dict[tuple[int, int], list[int]] = {}
    for i in melodic:
        users.setdefault(slots[i], []).append(i)
    for on_channel in users.values():
        sounding = [i for i in on_channel if s.tracks[i].notes]
        assert len(sounding) == len(on_channel) or not sounding          # parts without notes only among themselves
        assert len(sounding) < 2 or all(sets_up_only(s.tracks[i]) for i in sounding)
        assert not any(clash(s.tracks[i], s.tracks[j]) for i in sounding for j in sounding if i < j)
    further = [i for i in melodic if slots[i][0] > 0 and s.tracks[i].notes]
    if further:                                # one goes further only where every channel of port 0 is taken
        port0 = [users[(0, c)] for c in range(16) if c != 9 and (0, c) in users]
        assert len(port0) == 15 and all(s.tracks[u[0]].notes for u in port0)
        for i in (i for i in further if sets_up_only(s.tracks[i])):      # and it could join none of them
            for on_channel in port0:
                assert any(not sets_up_only(s.tracks[u]) or clash(s.tracks[u], s.tracks[i]) for u in on_channel)
    data = midi_bytes(s)
    if not further:
        assert_plays_right(s, data)
    back = read_midi(data)
    assert_read_back(s, back)
    assert_read_back(back, read_midi(midi_bytes(back)))     # read from our file, its parts may take other turns


def assert_read_back(s: Song, back: Song) -> None:
    """``back`` (``s`` written and read) has each part of ``s`` with its notes, instrument, volume, pan and controller
    changes, a set-up made where another part plays on its channel at its first note, and the controller changes of
    a part without notes on port 1, 2 ... at the song's end."""
    assert [p[:6] for p in parts(back)] == [p[:6] for p in parts(s)]
    for was, now, (port, _) in zip(s.tracks, back.tracks, assign_channels(s.tracks)):
        if sets_up_only(was):
            assert sorted((c.number, c.value) for c in now.controls) == \
                sorted((c.number, c.value) for c in was.controls)
            assert all(c.tick <= was.notes[0].start_tick for c in now.controls)
        elif not was.notes and port:
            assert now.controls == tuple(replace(c, tick=s.end_tick) for c in was.controls)
        else:
            assert now.controls == was.controls


def test_a_big_song_s_parts_take_turns_without_ever_sounding_together():
    s = turns_song(40, 400)               # groups that sound together, taking turns note by note, regrouped half-way
    slots = assign_channels(s.tracks)
    assert sorted(set(slots)) == [(0, c) for c in range(16) if c != 9]
    for slot in set(slots):
        latest: dict[int, int] = {}       # track -> the latest end of its notes so far on this channel
        for start, end, i in sorted((n.start_tick, n.end_tick, i) for i, t in enumerate(s.tracks) if slots[i] == slot
                                    for n in t.notes):
            assert all(e <= start for j, e in latest.items() if j != i)
            latest[i] = max(latest.get(i, 0), end)
