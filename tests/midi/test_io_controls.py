"""MIDI import/export of controller changes and pitch bends, checked against files mido writes and reads."""
import io

import mido
import pytest

from deepcomposer_desktop.core.song import PITCH_BEND, Control, Note, Track
from deepcomposer_desktop.midi.io import midi_bytes, read_midi, write_midi
from tests.builders import song

PEDAL, MOD, EXPR = 64, 1, 11


def mido_track(events, name=None) -> mido.MidiTrack:
    """A mido track from (absolute tick, message) pairs, kept in the given order."""
    out = mido.MidiTrack()
    if name is not None:
        out.append(mido.MetaMessage("track_name", name=name, time=0))
    last = 0
    for tick, msg in events:
        assert tick >= last, "events must be given in time order"
        out.append(msg.copy(time=tick - last))
        last = tick
    return out


def mido_file(*tracks, type=1, ppq=480) -> bytes:
    mf = mido.MidiFile(type=type, ticks_per_beat=ppq)
    if type == 1:
        mf.tracks.append(mido_track([(0, mido.MetaMessage("set_tempo", tempo=500000))]))
    mf.tracks.extend(tracks)
    buf = io.BytesIO()
    mf.save(file=buf)
    return buf.getvalue()


def absolute(track: mido.MidiTrack) -> list[tuple[int, mido.Message]]:
    tick, out = 0, []
    for msg in track:
        tick += msg.time
        out.append((tick, msg))
    return out


def describe(msg: mido.Message):
    """A compact, comparable form of a channel message."""
    if msg.type == "control_change":
        return ("cc", msg.channel, msg.control, msg.value)
    if msg.type == "pitchwheel":
        return ("bend", msg.channel, msg.pitch)
    if msg.type in ("note_on", "note_off"):
        off = msg.type == "note_off" or msg.velocity == 0
        return ("off" if off else "on", msg.channel, msg.note)
    if msg.type == "program_change":
        return ("program", msg.channel, msg.program)
    return (msg.type,)


def channel_events(track: mido.MidiTrack) -> list[tuple]:
    return [(tick,) + describe(m) for tick, m in absolute(track) if not m.is_meta]


def cc(controls) -> list[tuple[int, int, int]]:
    return [(c.tick, c.number, c.value) for c in controls]


def CC(ch, number, value):
    return mido.Message("control_change", channel=ch, control=number, value=value)


def bend(ch, pitch):
    return mido.Message("pitchwheel", channel=ch, pitch=pitch)


def on(ch, note, vel=100):
    return mido.Message("note_on", channel=ch, note=note, velocity=vel)


def off(ch, note):
    return mido.Message("note_off", channel=ch, note=note, velocity=0)


def keys_part(ch=0) -> mido.MidiTrack:
    """A part with every kind of controller a real file has: mixer, bank, RPN, pedal, wheels, bends, resets."""
    return mido_track([
        (0, mido.Message("program_change", channel=ch, program=4)),
        (0, CC(ch, 0, 1)), (0, CC(ch, 32, 0)),                        # bank select: the program's business
        (0, CC(ch, 7, 90)), (0, CC(ch, 10, 30)),                      # mixer volume / pan
        (0, CC(ch, 39, 5)), (0, CC(ch, 42, 5)),                       # their fine parts
        (0, CC(ch, 121, 0)),                                          # reset all controllers
        (0, CC(ch, 101, 0)), (0, CC(ch, 100, 0)), (0, CC(ch, 6, 12)), (0, CC(ch, 38, 0)),   # bend range 12
        (0, CC(ch, PEDAL, 127)), (0, CC(ch, EXPR, 100)),
        (0, on(ch, 60)),
        (240, CC(ch, MOD, 40)), (240, bend(ch, -8192)),
        (480, bend(ch, 8191)), (480, CC(ch, 7, 50)), (480, CC(ch, 10, 100)),   # a later volume: as expression
        (720, bend(ch, 0)),
        (960, off(ch, 60)), (960, CC(ch, PEDAL, 0)), (960, on(ch, 62)),
        (1440, off(ch, 62)), (1440, CC(ch, 123, 0)),                  # all notes off
    ], name="Keys")


KEYS_CONTROLS = [(0, 101, 0), (0, 100, 0), (0, 6, 12), (0, 38, 0), (0, PEDAL, 127), (0, EXPR, 100),
                 (240, MOD, 40), (240, PITCH_BEND, -8192), (480, PITCH_BEND, 8191), (480, EXPR, 56),
                 (720, PITCH_BEND, 0), (960, PEDAL, 0)]                  # 56 = expression 100 x volume 50 / 90


# --- reading --------------------------------------------------------------------------------------------------

def test_read_imports_pedal_wheels_expression_rpn_and_bends():
    s = read_midi(mido_file(keys_part(ch=2)))
    assert len(s.tracks) == 1
    t = s.tracks[0]
    assert t.channel == 2 and t.program == 4 and t.name == "Keys"
    assert cc(t.controls) == KEYS_CONTROLS
    assert all(isinstance(c, Control) for c in t.controls)


def test_read_keeps_mixer_bank_and_mode_messages_out_of_controls():
    t = read_midi(mido_file(keys_part())).tracks[0]
    numbers = {c.number for c in t.controls}
    assert numbers.isdisjoint({0, 7, 10, 32, 39, 42, 121, 123})
    # CC7 / CC10 still set the track's volume and pan, from their first values
    assert (t.volume, t.pan) == (90, 30)


@pytest.mark.parametrize("pitch", [-8192, -1, 0, 1, 4096, 8191])
def test_read_pitch_bend_values_match_mido(pitch):
    part = mido_track([(0, bend(0, pitch)), (0, on(0, 60)), (480, off(0, 60))])
    assert cc(read_midi(mido_file(part)).tracks[0].controls) == [(0, PITCH_BEND, pitch)]


def test_type0_file_sends_controls_to_the_track_of_their_channel():
    part = mido_track([
        (0, CC(0, PEDAL, 127)), (0, bend(1, 4096)), (0, CC(5, PEDAL, 127)),
        (0, on(0, 60)), (0, on(1, 67)),
        (10, CC(5, MOD, 3)),                                          # a channel without notes
        (100, CC(1, MOD, 64)),
        (480, off(0, 60)), (480, CC(0, PEDAL, 0)),
        (960, off(1, 67)), (960, bend(1, 0)), (960, CC(0, EXPR, 20)),
    ])
    s = read_midi(mido_file(part, type=0))
    assert [t.channel for t in s.tracks] == [0, 1]
    assert cc(s.tracks[0].controls) == [(0, PEDAL, 127), (480, PEDAL, 0), (960, EXPR, 20)]
    assert cc(s.tracks[1].controls) == [(0, PITCH_BEND, 4096), (100, MOD, 64), (960, PITCH_BEND, 0)]
    assert [n.pitch for n in s.tracks[0].notes] == [60] and [n.pitch for n in s.tracks[1].notes] == [67]


def test_controls_on_a_channel_without_notes_do_not_make_a_track():
    notes = mido_track([(0, on(0, 60)), (480, off(0, 60))], name="Notes")
    automation = mido_track([(0, CC(3, PEDAL, 127)), (0, bend(3, 100)), (480, CC(3, PEDAL, 0))],
                            name="Automation")                        # channel 4 has no notes anywhere
    s = read_midi(mido_file(notes, automation))
    assert len(s.tracks) == 1
    assert s.tracks[0].name == "Notes" and s.tracks[0].controls == ()
    only_controls = read_midi(mido_file(automation), require_notes=False)
    assert only_controls.tracks == ()


def test_an_automation_track_joins_the_notes_of_its_channel():
    notes = mido_track([(0, on(3, 60)), (480, off(3, 60)), (480, on(3, 62)), (960, off(3, 62))], name="Piano")
    pedal = mido_track([(0, CC(3, PEDAL, 127)), (240, bend(3, 100)), (960, CC(3, PEDAL, 0))], name="Pedal")
    s = read_midi(mido_file(notes, pedal))
    assert [t.name for t in s.tracks] == ["Piano"]
    assert [(c.tick, c.number, c.value) for c in s.tracks[0].controls] == [(0, PEDAL, 127), (240, PITCH_BEND, 100),
                                                                             (960, PEDAL, 0)]


def test_parts_sharing_a_channel_all_hear_its_pedal():
    # right and left hand in file tracks of their own on one channel, the pedal in the right hand's: it held the
    # left hand's notes too, and the left hand (which gets a channel of its own in the app and on export) lost it
    rh = mido_track([(0, CC(0, PEDAL, 127)), (0, on(0, 72)), (240, off(0, 72)), (1920, CC(0, PEDAL, 0))],
                    name="Piano RH")
    lh = mido_track([(0, on(0, 48)), (240, off(0, 48))], name="Piano LH")
    pedal = mido_track([(960, bend(0, 50))], name="Bend")             # an automation track on that channel too
    s = read_midi(mido_file(rh, lh, pedal))
    both = [(0, PEDAL, 127), (960, PITCH_BEND, 50), (1920, PEDAL, 0)]
    assert [t.name for t in s.tracks] == ["Piano RH", "Piano LH"]
    assert cc(s.tracks[0].controls) == both and cc(s.tracks[1].controls) == both
    back = read_midi(midi_bytes(s))                       # on separate channels now, each with the pedal
    assert len({t.channel for t in back.tracks}) == 2 and all(cc(t.controls) == both for t in back.tracks)


def test_an_instrument_change_between_notes_splits_the_part():
    part = mido_track([(0, mido.Message("program_change", channel=1, program=56)), (0, CC(1, PEDAL, 127)),
                       (0, on(1, 60)), (480, off(1, 60)),
                       (960, mido.Message("program_change", channel=1, program=71)),
                       (960, on(1, 62)), (1440, off(1, 62)),
                       (1920, mido.Message("program_change", channel=1, program=56)),
                       (1920, on(1, 64)), (2400, off(1, 64))], name="Lead")
    s = read_midi(mido_file(part))                        # the change to the clarinet used to be lost
    assert [(t.name, t.program, [n.pitch for n in t.notes]) for t in s.tracks] == [
        ("Lead (Trumpet)", 56, [60, 64]), ("Lead (Clarinet)", 71, [62])]
    assert all(cc(t.controls) == [(0, PEDAL, 127)] for t in s.tracks)
    back = read_midi(midi_bytes(s))
    assert [(t.program, [n.pitch for n in t.notes]) for t in back.tracks] == [(56, [60, 64]), (71, [62])]
    same = mido_track([(0, mido.Message("program_change", channel=1, program=56)), (0, on(1, 60)),
                       (480, off(1, 60)), (960, mido.Message("program_change", channel=1, program=56)),
                       (960, on(1, 62)), (1440, off(1, 62))], name="Lead")
    assert [(t.name, t.program) for t in read_midi(mido_file(same)).tracks] == [("Lead", 56)]   # nothing to split


def test_drum_track_keeps_its_controls():
    part = mido_track([(0, CC(9, 4, 100)), (0, on(9, 42)), (120, off(9, 42)), (240, CC(9, 4, 0))])
    t = read_midi(mido_file(part)).tracks[0]
    assert t.is_drum and cc(t.controls) == [(0, 4, 100), (240, 4, 0)]


# --- writing --------------------------------------------------------------------------------------------------

def controlled_track(name="Lead", channel=3) -> Track:
    return Track(name=name, program=81, channel=channel, volume=99, pan=20,
                 notes=(Note.make(60, 0, 480), Note.make(62, 480, 480)),
                 controls=(Control(0, 101, 0), Control(0, 100, 0), Control(0, 6, 2), Control(0, 38, 0),
                           Control(0, PEDAL, 127), Control(240, PITCH_BEND, -8192),
                           Control(480, PEDAL, 0), Control(480, PEDAL, 127), Control(480, PITCH_BEND, 0),
                           Control(720, PITCH_BEND, 8191), Control(960, MOD, 127)))


def test_write_puts_controls_on_the_tracks_channel_between_note_offs_and_note_ons():
    mf = mido.MidiFile(file=io.BytesIO(midi_bytes(song(controlled_track()))))
    assert mf.type == 1 and len(mf.tracks) == 2
    assert channel_events(mf.tracks[1]) == [
        (0, "program", 3, 81), (0, "cc", 3, 7, 99), (0, "cc", 3, 10, 20),
        (0, "cc", 3, 101, 0), (0, "cc", 3, 100, 0), (0, "cc", 3, 6, 2), (0, "cc", 3, 38, 0),
        (0, "cc", 3, PEDAL, 127),
        (0, "on", 3, 60),
        (240, "bend", 3, -8192),
        (480, "off", 3, 60),
        (480, "cc", 3, PEDAL, 0), (480, "cc", 3, PEDAL, 127), (480, "bend", 3, 0),
        (480, "on", 3, 62),
        (720, "bend", 3, 8191),
        (960, "off", 3, 62), (960, "cc", 3, MOD, 127),
    ]


def test_write_sends_each_tracks_controls_on_its_assigned_channel():
    a = Track(name="A", notes=(Note.make(60, 0, 480),), controls=(Control(0, PEDAL, 127),))
    b = Track(name="B", notes=(Note.make(64, 0, 480),), controls=(Control(0, PITCH_BEND, 77),))
    drums = Track(name="Drums", is_drum=True, notes=(Note.make(42, 0, 120),), controls=(Control(60, 4, 90),))
    mf = mido.MidiFile(file=io.BytesIO(midi_bytes(song(a, b, drums))))
    per_track = [[e for e in channel_events(t) if e[1] in ("cc", "bend") and e[3:4] not in ((7,), (10,))]
                 for t in mf.tracks[1:]]
    assert per_track == [[(0, "cc", 0, PEDAL, 127)], [(0, "bend", 1, 77)], [(60, "cc", 9, 4, 90)]]


def test_write_keeps_one_volume_and_pan_message_per_track():
    mf = mido.MidiFile(file=io.BytesIO(midi_bytes(song(controlled_track()))))
    ccs = [m.control for m in mf.tracks[1] if m.type == "control_change"]
    assert ccs.count(7) == 1 and ccs.count(10) == 1


def test_written_controls_read_back_the_same():
    s = song(controlled_track(), controlled_track("Pad", channel=None))
    back = read_midi(midi_bytes(s))
    assert [cc(t.controls) for t in back.tracks] == [cc(t.controls) for t in s.tracks]
    assert [(t.volume, t.pan) for t in back.tracks] == [(99, 20), (99, 20)]


@pytest.mark.parametrize("fmt", [0, 1])
def test_read_write_read_is_identity_for_controls(fmt, tmp_path):
    if fmt == 1:
        data = mido_file(keys_part(ch=0), mido_track([(0, bend(1, -300)), (0, on(1, 40)), (100, CC(1, MOD, 7)),
                                                      (960, off(1, 40)), (960, bend(1, 0))], name="Bass"))
    else:
        data = mido_file(mido_track([(0, CC(0, PEDAL, 127)), (0, bend(1, 2000)), (0, on(0, 60)), (0, on(1, 67)),
                                     (480, off(0, 60)), (480, CC(0, PEDAL, 0)), (960, off(1, 67)),
                                     (960, bend(1, 0))]), type=0)
    first = read_midi(data)
    assert any(t.controls for t in first.tracks)
    second = read_midi(midi_bytes(first))
    assert [(t.channel, t.controls, t.volume, t.pan) for t in second.tracks] == \
        [(t.channel, t.controls, t.volume, t.pan) for t in first.tracks]
    path = tmp_path / "again.mid"
    write_midi(second, path)
    third = read_midi(path)
    assert [t.controls for t in third.tracks] == [t.controls for t in first.tracks]


def test_a_set_up_track_s_volume_and_pan_reach_the_notes_of_their_channel():
    setup = mido_track([(0, CC(2, 7, 70)), (0, CC(2, 10, 20))], name="Setup")           # no notes: not a track
    notes = mido_track([(0, on(2, 60)), (480, off(2, 60))], name="Lead")
    t = read_midi(mido_file(setup, notes)).tracks
    assert [(x.name, x.volume, x.pan) for x in t] == [("Lead", 70, 20)]


def test_volume_moves_fold_into_the_part_s_own_expression():
    # volume 100, 50 at 480, 100 again at 960; the part's own expression 64 from 240: the product of both
    part = mido_track([(0, CC(0, 7, 100)), (0, on(0, 60)), (240, CC(0, EXPR, 64)), (480, CC(0, 7, 50)),
                       (960, CC(0, 7, 100)), (1440, off(0, 60))])
    t = read_midi(mido_file(part)).tracks[0]
    assert t.volume == 100 and cc(t.controls) == [(240, EXPR, 64), (480, EXPR, 32), (960, EXPR, 64)]
    # one volume only, or none: the fader, and the controls as they came
    steady = mido_track([(0, CC(0, 7, 80)), (0, on(0, 60)), (240, CC(0, EXPR, 64)), (480, CC(0, 7, 80)),
                         (1440, off(0, 60))])
    t = read_midi(mido_file(steady)).tracks[0]
    assert t.volume == 80 and cc(t.controls) == [(240, EXPR, 64)]


def test_more_tracks_than_channels_go_on_further_ports_and_keep_their_own_controls():
    # 20 melodic parts, each with a pedal of its own: no two share a (port, channel), so each keeps its pedal when
    # the file comes back (on one channel they would all have heard every pedal). The 2 drum tracks share GM's one
    # drum channel (channel 10 of port 0), so each hears the other's controller changes, as a GM player plays them
    tracks = [Track(f"Part {i}", i % 128, notes=(Note.make(48 + i, 0, 480),), channel=i % 16 if i % 16 != 9 else 0,
                    controls=(Control(10 * i, PEDAL, 127),)) for i in range(20)]
    tracks += [Track(f"Kit {k}", 0, True, notes=(Note.make(36, 0, 120),), controls=(Control(k + 1, MOD, 9),))
               for k in range(2)]
    s = song(*tracks)
    mf = mido.MidiFile(file=io.BytesIO(midi_bytes(s)))
    slots = []
    for t in mf.tracks[1:]:
        port = [m.port for m in t if m.type == "midi_port"]
        chans = {m.channel for m in t if m.type == "note_on"}
        assert len(port) == 1 and len(chans) == 1
        slots.append((port[0], chans.pop()))
    assert len(set(slots)) == 21 and sorted(p for p, _ in slots[:20]) == [0] * 15 + [1] * 5
    assert slots[20:] == [(0, 9), (0, 9)]
    back = read_midi(midi_bytes(s))
    assert [t.controls for t in back.tracks[:20]] == [t.controls for t in tracks[:20]]
    assert [t.controls for t in back.tracks[20:]] == [tracks[20].controls + tracks[21].controls] * 2
    assert read_midi(midi_bytes(back)) == back
    # 15 melodic tracks or fewer: no port events, as before
    assert b"\xff\x21" not in midi_bytes(song(*tracks[:15]))


def test_aftertouch_is_read_and_written_as_channel_pressure():
    from deepcomposer_desktop.core.song import CHANNEL_PRESSURE
    part = mido_track([(0, on(4, 60)), (120, mido.Message("aftertouch", channel=4, value=70)),
                       (240, mido.Message("polytouch", channel=4, note=60, value=50)),      # per key: not kept
                       (480, mido.Message("aftertouch", channel=4, value=0)), (480, off(4, 60))])
    t = read_midi(mido_file(part)).tracks[0]
    assert cc(t.controls) == [(120, CHANNEL_PRESSURE, 70), (480, CHANNEL_PRESSURE, 0)]
    written = mido.MidiFile(file=io.BytesIO(midi_bytes(song(t))))
    assert [(m.channel, m.value) for m in written.tracks[1] if m.type == "aftertouch"] == [(4, 70), (4, 0)]


def test_of_two_volumes_at_one_moment_the_later_in_the_file_counts():
    one = mido_track([(0, CC(0, 7, 127)), (0, CC(0, 7, 100)), (0, on(0, 60)), (960, off(0, 60))])
    assert read_midi(mido_file(one)).tracks[0].volume == 100               # was 127: sorted by value
    # a set-up track's volume, then the part's own at the same tick: the part's (later in the file) counts
    setup = mido_track([(0, CC(0, 7, 120))])
    own = mido_track([(0, CC(0, 7, 50)), (0, on(0, 60)), (960, off(0, 60))], name="Piano")
    assert read_midi(mido_file(setup, own)).tracks[0].volume == 50
    # 100, then 60 at once, then 100 again from beat 3: the first two beats play at 60
    moves = mido_track([(0, CC(0, 7, 100)), (0, CC(0, 7, 60)), (0, on(0, 60)), (960, CC(0, 7, 100)),
                        (1920, off(0, 60))])
    t = read_midi(mido_file(moves)).tracks[0]
    assert t.volume == 100 and cc(t.controls) == [(0, EXPR, 76), (960, EXPR, 127)]


def test_a_named_set_up_track_without_notes_sets_up_its_channel_instead_of_becoming_a_track():
    setup = mido_track([(0, mido.Message("program_change", channel=0, program=0)), (0, CC(0, 7, 40)),
                        (0, CC(0, 10, 0))], name="Setup")
    notes = mido_track([(0, on(0, 60)), (480, off(0, 60))], name="Piano")
    t = read_midi(mido_file(setup, notes)).tracks
    assert [(x.name, x.volume, x.pan) for x in t] == [("Piano", 40, 0)]
    alone = read_midi(mido_file(setup), require_notes=False).tracks           # a part with no notes yet: kept
    assert [x.name for x in alone] == ["Setup"]
