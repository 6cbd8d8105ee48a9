"""More melodic tracks than a port's 15 channels: tracks whose notes never sound at once take turns on a channel,
each set up where it takes over, so a player that ignores MIDI ports (most GM players) plays every note right."""
import io
import random
from dataclasses import replace

import mido
import pytest

from deepcomposer_desktop.audition import Take
from deepcomposer_desktop.audition_takes import combined_song
from deepcomposer_desktop.core.song import CHANNEL_PRESSURE, PITCH_BEND, Control, Song, Track, reset_value
from deepcomposer_desktop.midi.channels import sets_up_only
from deepcomposer_desktop.midi.io import midi_bytes, read_midi
from tests.builders import song, track

BAR = 1920
PEDAL = 64


def play_ignoring_ports(data: bytes, later_tracks_first: bool = False) -> tuple[list[tuple], list[str]]:
    """Play ``data`` as a GM player that ignores ports: every track's events merged by time (at one tick, in file
    track order, or the other way round: that order is the player's), one program, volume, pan and set of
    controller values (pitch bend, aftertouch too) per channel. Returns ((file track, program, volume, pan,
    {controller: value} of those changed so far) for each note-on, what went wrong: a note-on while another
    track's note sounds on its channel, a note-off that ends another track's note)."""
    merged = []
    for ti, part in enumerate(mido.MidiFile(file=io.BytesIO(data)).tracks):
        tick = 0
        for k, msg in enumerate(part):
            tick += msg.time
            merged.append((tick, -ti if later_tracks_first else ti, k, ti, msg))
    merged.sort(key=lambda e: e[:3])
    program, volume, pan = [0] * 16, [100] * 16, [64] * 16
    controls: list[dict[int, int]] = [{} for _ in range(16)]
    sounding: dict[tuple[int, int], tuple[int, int]] = {}   # (channel, pitch) -> (file track, tick) of the note
    heard, wrong, spans = [], [], []
    for tick, _, _, ti, msg in merged:
        if msg.type == "program_change":
            program[msg.channel] = msg.program
        elif msg.type == "control_change" and msg.control in (7, 10):
            (volume if msg.control == 7 else pan)[msg.channel] = msg.value
        elif msg.type == "control_change":
            controls[msg.channel][msg.control] = msg.value
        elif msg.type == "pitchwheel":
            controls[msg.channel][PITCH_BEND] = msg.pitch
        elif msg.type == "aftertouch":
            controls[msg.channel][CHANNEL_PRESSURE] = msg.value
        elif msg.type == "note_on" and msg.velocity:
            sounding[(msg.channel, msg.note)] = (ti, tick)
            heard.append((ti, program[msg.channel], volume[msg.channel], pan[msg.channel], dict(controls[msg.channel])))
        elif msg.type in ("note_on", "note_off") and msg.channel != 9:    # drum tracks share GM's drum channel
            owner, start = sounding.pop((msg.channel, msg.note), (None, None))
            if owner != ti:
                wrong.append(f"a note-off of track {ti} at {tick} ends track {owner}'s note")
            else:
                spans.append((msg.channel, start, tick, ti))
    spans.sort()
    for (ch, _, end, ti), (ch2, start, _, ti2) in zip(spans, spans[1:]):
        if ch == ch2 and ti != ti2 and start < end:
            wrong.append(f"track {ti2} strikes at {start} while track {ti} sounds on its channel")
    return heard, wrong


def assert_plays_right(s: Song, data: bytes) -> None:
    """Every note-on of ``data`` (``s`` written) is heard with its own track's program, volume and pan, in either
    order of the tracks at one tick, and no note of one track sounds with another's on a channel; a melodic track
    whose controller changes only set up its channel hears its own values, and the reset value of each controller
    that other such tracks set."""
    numbers = {c.number for t in s.tracks if sets_up_only(t) and not t.is_drum for c in t.controls}
    for later_first in (False, True):
        heard, wrong = play_ignoring_ports(data, later_first)
        assert wrong == []
        assert len(heard) == s.note_count
        expected = [(t.program, t.volume, t.pan) for t in s.tracks]
        assert [h[:4] for h in heard if h[1:4] != expected[h[0] - 1]] == []
        own = [{n: reset_value(n) for n in numbers} | {c.number: c.value for c in t.controls} for t in s.tracks]
        checked = [(h[0], h[4]) for h in heard if sets_up_only(s.tracks[h[0] - 1]) and not s.tracks[h[0] - 1].is_drum]
        assert [(ti, got) for ti, got in checked if {n: got.get(n, reset_value(n)) for n in own[ti - 1]}
                != own[ti - 1]] == []


def parts(s: Song) -> list[tuple]:
    return [(t.name, t.program, t.is_drum, t.volume, t.pan, t.notes, t.controls) for t in s.tracks]


def port_channels(data: bytes) -> list[tuple[int, set[int]]]:
    """(port, channels of its events) per part track of the file."""
    out = []
    for part in mido.MidiFile(file=io.BytesIO(data)).tracks[1:]:
        port = [m.port for m in part if m.type == "midi_port"]
        out.append((port[0] if port else 0, {m.channel for m in part if hasattr(m, "channel")}))
    return out


def program_ticks(data: bytes) -> list[list[int]]:
    """The ticks of the program changes of each part track of the file."""
    out = []
    for part in mido.MidiFile(file=io.BytesIO(data)).tracks[1:]:
        out.append([sum(m.time for m in part[:k + 1]) for k, m in enumerate(part) if m.type == "program_change"])
    return out


def blocks_song(empty: int = 0) -> Song:
    """22 melodic tracks and drums: a melody throughout and seven "genres" of three parts (keys, guitar, bass),
    each genre playing one-bar blocks: genre g in bar g, genres 0 and 3 again at the end (as a sequence export
    plays the rock lanes in takes 1 and 3). A genre's keys and bass strike at its bar line the pitches that the
    genre before held up to it.
    ``empty``: that many named parts without notes after them."""
    order = [0, 1, 2, 3, 4, 5, 6, 0, 3]
    bars = len(order)
    tracks = [replace(track("Melody", [(72 + (i * 5) % 12, i * 480, 480, 100) for i in range(4 * bars)],
                            program=73), volume=110, pan=70)]
    for g in range(7):
        blocks = [k for k, o in enumerate(order) if o == g]
        for p, (name, program, pitches) in enumerate((("Keys", 0, (60, 64, 67)), ("Guitar", 25, (52, 59)),
                                                      ("Bass", 33, (36,)))):
            notes = [(pitch, k * BAR + beat * 480, 480, 70 + g) for k in blocks for beat in range(4)
                     for pitch in pitches]
            tracks.append(replace(track(f"genre {g}: {name}", notes, program=program + g),
                                  volume=50 + 10 * g + p, pan=5 + 17 * g + p))
    tracks.append(replace(track("Drums", [(36 + k % 3, k * 480, 120, 100) for k in range(4 * bars)], is_drum=True,
                                channel=9), volume=90, pan=60))
    tracks += [Track(f"Spare {k}", 40 + k, volume=20 + k, pan=100 + k) for k in range(empty)]
    return song(*tracks)


def test_parts_that_take_turns_share_channels_and_play_right_in_a_player_that_ignores_ports():
    s = blocks_song()
    assert sum(not t.is_drum for t in s.tracks) == 22
    data = midi_bytes(s)
    assert b"\xff\x21" not in data                                   # every track on port 0: no port meta at all
    used = port_channels(data)
    assert all(len(chans) == 1 for _, chans in used)
    melodic = [chans.pop() for t, (_, chans) in zip(s.tracks, used) if not t.is_drum]
    assert 9 not in melodic and len(set(melodic)) == 15              # all 15 channels used, so some are shared
    assert_plays_right(s, data)
    # the first 15 melodic parts take a channel each; the rest join one and set it up where they take over: each a
    # channel where it changes hands least, so none of genres 0 and 3, which play again at the end (there genre 0's
    # parts would set theirs up again in bar 8, after a later genre played on their channels)
    setups = program_ticks(data)
    assert setups[:15] == [[0]] * 15
    assert setups[15:22] == [[t.notes[0].start_tick] for t in s.tracks[15:22]]
    assert not set(melodic[15:22]) & set(melodic[1:4] + melodic[10:13])


def test_parts_that_took_turns_read_back_as_they_were():
    s = blocks_song(empty=2)
    data = midi_bytes(s)
    assert b"\xff\x21" not in data                                   # the parts without notes share one channel
    back = read_midi(data)
    assert parts(back) == parts(s)                                   # no expression made of another's volume
    assert read_midi(midi_bytes(back)) == back
    assert_plays_right(s, data)


def test_parts_with_controller_changes_keep_a_channel_to_themselves():
    s = blocks_song()
    pedalled = {2, 10, 21}                                           # a pedal would hold the next part's notes
    s = s.with_tracks(tuple(replace(t, controls=(Control(t.notes[0].start_tick, PEDAL, 127),
                                                 Control(t.notes[0].start_tick + 960, PEDAL, 0)))
                            if i in pedalled else t for i, t in enumerate(s.tracks)))
    data = midi_bytes(s)
    used = [(port, chans.pop()) for port, chans in port_channels(data)]
    for i in pedalled:
        assert used.count(used[i]) == 1
    assert b"\xff\x21" not in data
    assert_plays_right(s, data)
    assert parts(read_midi(data)) == parts(s)                        # each pedal only on its own part


def test_parts_that_sound_together_still_go_to_a_further_port():
    held = [replace(track(f"Held {i}", [(40 + i, 0, 4 * BAR, 80)], program=i), volume=60 + i, pan=3 * i)
            for i in range(17)]
    turns = [track(f"Turn {k}", [(70, k * BAR, BAR, 90)], program=80 + k) for k in range(4)]
    s = song(*held, *turns)                           # nothing can share: each turn sounds with every held note
    data = midi_bytes(s)
    used = [(port, chans.pop()) for port, chans in port_channels(data)]
    assert len(set(used)) == len(used)
    assert [port for port, _ in used] == [0] * 15 + [1] * 6
    assert parts(read_midi(data)) == parts(s)
    # the same 21 parts, where the turns come after the held notes end: the turns share the held parts' channels
    later = s.with_tracks(tuple(held) + tuple(t.with_notes(replace(n, start_tick=n.start_tick + 4 * BAR)
                                                           for n in t.notes) for t in turns))
    data = midi_bytes(later)
    used = [(port, chans.pop()) for port, chans in port_channels(data)]
    assert [port for port, _ in used] == [0] * 15 + [1] * 2 + [0] * 4     # two held notes are one too many
    assert parts(read_midi(data)) == parts(later)
    # a held note ending where a turn strikes that pitch: a player may take the note-off for the new note's
    touching = song(*held[:15], track("Turn", [(40, 4 * BAR, BAR, 90), (41, 4 * BAR, BAR, 90)], program=99))
    used = [(port, chans.pop()) for port, chans in port_channels(midi_bytes(touching))]
    assert used[15] == used[2]                                       # not with held 0 and 1: it strikes 40 and 41
    assert_plays_right(touching, midi_bytes(touching))


def band_take(genre: int, number: int, melody: Track) -> Take:
    """A take as the GAN makes one: the melody, then keys, guitar, strings, bass (no channel) and drums, two bars
    of two-note chords on or after the beat, held to the next beat (the last to the take's last bar line)."""
    rng = random.Random(100 * genre + number)
    band = []
    for name, program, low in (("Piano", 0, 55), ("Guitar", 25, 48), ("Strings", 48, 60), ("Bass", 33, 33)):
        notes = []
        for beat in range(8):
            start = beat * 480 + rng.choice((0, 0, 240))
            notes += [(low + pitch, start, (beat + 1) * 480 - start, rng.randint(50, 110))
                      for pitch in rng.sample(range(12), 2)]
        band.append(replace(track(name, notes, program=program + genre), volume=60 + 8 * genre, pan=10 * genre))
    band.append(track("Drums", [(36 + k % 4, k * 240, 120, 100) for k in range(16)], is_drum=True, channel=9))
    take_song = song(melody, *band)
    return Take(f"genre{genre}", number, number, take_song, first_new=1)


def test_an_audition_sequence_of_six_genres_plays_right_in_a_player_that_ignores_ports():
    melody = track("Lead", [(60 + (i * 5) % 12, i * 480, 480, 90) for i in range(8)], program=73)
    takes = [band_take(g, n, melody) for n in (1, 2) for g in range(6)]        # each genre's lanes twice, apart
    seq = combined_song(takes, "sequence")
    assert sum(not t.is_drum for t in seq.tracks) == 25
    data = midi_bytes(seq)
    assert b"\xff\x21" not in data
    assert_plays_right(seq, data)
    assert parts(read_midi(data)) == parts(seq)


def test_an_audition_sequence_of_gan_takes_plays_right(tmp_path, monkeypatch):
    pytest.importorskip("torch")
    from deepcomposer_desktop.audition import run_audition
    from deepcomposer_desktop.bench.audition import STAND_IN_GENRES, stand_in_models
    monkeypatch.setenv("DEEPCOMPOSER_MODELS", str(tmp_path))
    genres = stand_in_models(tmp_path, STAND_IN_GENRES, tiny=True)
    lead = song(track("Lead", [(60 + (i * 5) % 12, i * 480, 480, 90) for i in range(8)], program=73))
    takes = run_audition(lead, genres, takes=2, seed=4, max_workers=2)
    takes = sorted(takes, key=lambda t: (t.number, genres.index(t.genre)))
    seq = combined_song(takes, "sequence")
    assert sum(not t.is_drum for t in seq.tracks) == 1 + 3 * len(genres) > 15
    data = midi_bytes(seq)
    assert_plays_right(seq, data)
    assert parts(read_midi(data)) == parts(seq)


def _part(name: str, events: list[tuple[int, mido.Message]]) -> mido.MidiTrack:
    """A file track from (absolute tick, message) pairs."""
    out, last = mido.MidiTrack([mido.MetaMessage("track_name", name=name)]), 0
    for tick, msg in events:
        out.append(msg.copy(time=tick - last))
        last = tick
    return out


def test_a_volume_is_another_part_s_only_where_that_part_sounds_under_it():
    def cc7(value):
        return mido.Message("control_change", channel=0, control=7, value=value)

    def note(on, pitch):
        return mido.Message("note_on" if on else "note_off", channel=0, note=pitch, velocity=90 if on else 0)

    # two parts taking turns on channel 1, each setting its volume where it takes over: each keeps its own
    first = _part("First", [(0, cc7(100)), (0, note(1, 60)), (480, note(0, 60)), (1920, cc7(100)),
                            (1920, note(1, 62)), (2400, note(0, 62))])
    second = _part("Second", [(960, cc7(40)), (960, note(1, 48)), (1440, note(0, 48))])
    mf = mido.MidiFile(type=1, ticks_per_beat=480)
    mf.tracks += [first, second]
    buf = io.BytesIO()
    mf.save(file=buf)
    back = read_midi(buf.getvalue())
    assert [(t.name, t.volume, t.controls) for t in back.tracks] == [("First", 100, ()), ("Second", 40, ())]
    # a left hand under a right hand's fade-out on their channel hears the fade (the channel's), as before
    right = _part("Right", [(0, cc7(100)), (0, note(1, 72)), (960, cc7(50)), (1920, note(0, 72))])
    left = _part("Left", [(0, note(1, 48)), (1920, note(0, 48))])
    mf.tracks[:] = [right, left]
    buf = io.BytesIO()
    mf.save(file=buf)
    back = read_midi(buf.getvalue())
    assert [(t.volume, [(c.tick, c.value) for c in t.controls]) for t in back.tracks] == [(100, [(960, 64)])] * 2
