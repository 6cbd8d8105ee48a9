"""Fuzz: mutated copies of real MIDI files give either MidiFileError or a Song that passes validation."""
import random
import struct
from pathlib import Path

from deepcomposer_desktop.core.project import dumps, loads
from deepcomposer_desktop.midi.io import MidiFileError, midi_bytes, read_midi
from deepcomposer_desktop.samples import SAMPLES, sample_path
from tests.builders import band_song

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def seed_files() -> list[bytes]:
    """Real files from the shared data when it is there (as in CI), plus our samples and a band song."""
    files = [sample_path(s).read_bytes() for s in SAMPLES] + [midi_bytes(band_song())]
    for folder, pattern, count in (("nottingham/MIDI", "*.mid", 6), ("jsb_aws_deepcomposer_midi", "**/*.mid", 4),
                                   ("groove_midi", "**/*.mid", 4), ("tegridy_children_songs", "**/*.mid", 3)):
        paths = sorted((DATA / folder).glob(pattern))[:count] if (DATA / folder).exists() else []
        files += [p.read_bytes() for p in paths if p.stat().st_size < 200_000]
    return files


def mutate(data: bytes, rng: random.Random) -> bytes:
    buf = bytearray(data)
    kind = rng.randrange(6)
    if kind == 0:                                           # bit flips
        for _ in range(rng.randint(1, 12)):
            i = rng.randrange(len(buf))
            buf[i] ^= 1 << rng.randrange(8)
    elif kind == 1:                                         # truncation
        del buf[rng.randrange(1, len(buf)):]
    elif kind == 2:                                         # wrong chunk length
        positions = [i for i in range(len(buf) - 8) if buf[i:i + 4] in (b"MTrk", b"MThd")]
        i = rng.choice(positions)
        buf[i + 4:i + 8] = struct.pack(">I", rng.choice((0, 1, 5, 0x7FFFFFFF, rng.randrange(1 << 32))))
    elif kind == 3:                                         # garbage chunk inserted between chunks
        positions = [i for i in range(len(buf) - 4) if buf[i:i + 4] == b"MTrk"]
        i = rng.choice(positions)
        junk = bytes(rng.randrange(256) for _ in range(rng.randint(0, 64)))
        buf[i:i] = rng.choice((b"JUNK", b"MTrk", b"XFIH")) + struct.pack(">I", len(junk)) + junk
    elif kind == 4:                                         # random bytes overwritten in a run
        i = rng.randrange(len(buf))
        for j in range(i, min(len(buf), i + rng.randint(1, 40))):
            buf[j] = rng.randrange(256)
    else:                                                   # header fields: format, track count, division
        field = rng.choice((8, 10, 12))
        buf[field:field + 2] = struct.pack(">H", rng.randrange(1 << 16))
    return bytes(buf)


def test_fuzz_1000_mutations():
    rng = random.Random(20261126)
    files = seed_files()
    outcomes = {"error": 0, "song": 0}
    for i in range(1000):
        data = mutate(rng.choice(files), rng)
        try:
            song = read_midi(data)
        except MidiFileError as exc:
            assert str(exc), "the error must carry a message"
            outcomes["error"] += 1
            continue
        # a Song came back: it must be valid through and through (re-validated by a project round trip)
        assert loads(dumps(song)) == song
        assert song.note_count > 0
        outcomes["song"] += 1
    assert outcomes["error"] > 50 and outcomes["song"] > 50, outcomes
