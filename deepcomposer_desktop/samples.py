"""Built-in public-domain sample melodies, written as note lists and turned into MIDI by our own code.

``python -m deepcomposer_desktop.samples`` (re)writes ``resources/samples/*.mid`` from these lists.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .core.song import KeySignature, Note, Song, TempoChange, TimeSignature, Track

PPQ = 480
RESOURCES = Path(__file__).resolve().parent.parent / "resources"
SAMPLES_DIR = RESOURCES / "samples"


@dataclass(frozen=True)
class Sample:
    slug: str
    title: str
    bpm: float
    key: str
    meter: tuple[int, int]
    tune: str   # "PITCH BEATS" pairs; R = rest. e.g. "C4 1 D4 .5 R .5"
    program: int = 0


SAMPLES: tuple[Sample, ...] = (
    Sample("twinkle_twinkle", "Twinkle Twinkle Little Star", 100, "C", (4, 4),
           "C4 1 C4 1 G4 1 G4 1 A4 1 A4 1 G4 2 F4 1 F4 1 E4 1 E4 1 D4 1 D4 1 C4 2 "
           "G4 1 G4 1 F4 1 F4 1 E4 1 E4 1 D4 2 G4 1 G4 1 F4 1 F4 1 E4 1 E4 1 D4 2 "
           "C4 1 C4 1 G4 1 G4 1 A4 1 A4 1 G4 2 F4 1 F4 1 E4 1 E4 1 D4 1 D4 1 C4 2"),
    Sample("ode_to_joy", "Ode to Joy (Beethoven)", 110, "C", (4, 4),
           "E4 1 E4 1 F4 1 G4 1 G4 1 F4 1 E4 1 D4 1 C4 1 C4 1 D4 1 E4 1 E4 1.5 D4 .5 D4 2 "
           "E4 1 E4 1 F4 1 G4 1 G4 1 F4 1 E4 1 D4 1 C4 1 C4 1 D4 1 E4 1 D4 1.5 C4 .5 C4 2"),
    Sample("mary_had_a_little_lamb", "Mary Had a Little Lamb", 110, "C", (4, 4),
           "E4 1 D4 1 C4 1 D4 1 E4 1 E4 1 E4 2 D4 1 D4 1 D4 2 E4 1 G4 1 G4 2 "
           "E4 1 D4 1 C4 1 D4 1 E4 1 E4 1 E4 1 E4 1 D4 1 D4 1 E4 1 D4 1 C4 4"),
    Sample("jingle_bells", "Jingle Bells (chorus)", 120, "C", (4, 4),
           "E4 1 E4 1 E4 2 E4 1 E4 1 E4 2 E4 1 G4 1 C4 1.5 D4 .5 E4 4 "
           "F4 1 F4 1 F4 1.5 F4 .5 F4 1 E4 1 E4 1 E4 .5 E4 .5 E4 1 D4 1 D4 1 E4 1 D4 2 G4 2 "
           "E4 1 E4 1 E4 2 E4 1 E4 1 E4 2 E4 1 G4 1 C4 1.5 D4 .5 E4 4 "
           "F4 1 F4 1 F4 1.5 F4 .5 F4 1 E4 1 E4 1 E4 .5 E4 .5 G4 1 G4 1 F4 1 D4 1 C4 4"),
    Sample("frere_jacques", "Frère Jacques", 100, "C", (4, 4),
           "C4 1 D4 1 E4 1 C4 1 C4 1 D4 1 E4 1 C4 1 E4 1 F4 1 G4 2 E4 1 F4 1 G4 2 "
           "G4 .5 A4 .5 G4 .5 F4 .5 E4 1 C4 1 G4 .5 A4 .5 G4 .5 F4 .5 E4 1 C4 1 "
           "C4 1 G3 1 C4 2 C4 1 G3 1 C4 2"),
    Sample("amazing_grace", "Amazing Grace", 80, "G", (3, 4),
           "R 2 D4 1 G4 2 B4 .5 G4 .5 B4 2 A4 1 G4 2 E4 1 D4 2 D4 1 G4 2 B4 .5 G4 .5 B4 2 A4 1 D5 3 D5 2 B4 1 "
           "D5 1.5 B4 .5 D5 .5 B4 .5 G4 2 D4 1 E4 1.5 G4 .5 G4 .5 E4 .5 D4 2 D4 1 G4 2 B4 .5 G4 .5 B4 2 A4 1 G4 3"),
    Sample("new_world_largo", "Largo from the New World Symphony (Dvořák)", 60, "C", (4, 4),
           "E4 1.5 G4 .5 G4 2 E4 1.5 D4 .5 C4 2 D4 1 E4 1 G4 1 E4 1 D4 4 "
           "E4 1.5 G4 .5 G4 2 E4 1.5 D4 .5 C4 2 D4 1 E4 1 D4 1 C4 1 C4 4"),
    Sample("deck_the_halls", "Deck the Halls", 120, "C", (4, 4),
           "G4 1.5 F4 .5 E4 1 D4 1 C4 1 D4 1 E4 1 C4 1 D4 .5 E4 .5 F4 .5 D4 .5 E4 1.5 D4 .5 C4 1 B3 1 C4 2 "
           "G4 1.5 F4 .5 E4 1 D4 1 C4 1 D4 1 E4 1 C4 1 D4 .5 E4 .5 F4 .5 D4 .5 E4 1.5 D4 .5 C4 1 B3 1 C4 2"),
    Sample("when_the_saints", "When the Saints Go Marching In", 130, "C", (4, 4),
           "R 1 C4 1 E4 1 F4 1 G4 4 R 1 C4 1 E4 1 F4 1 G4 4 R 1 C4 1 E4 1 F4 1 G4 2 E4 2 C4 2 E4 2 D4 4 "
           "R 1 E4 1 E4 1 D4 1 C4 3 C4 1 E4 2 G4 2 G4 1 F4 3 R 1 E4 1 F4 1 G4 1 E4 2 C4 2 D4 2 C4 4"),
    Sample("greensleeves", "Greensleeves", 90, "Am", (3, 4),
           "R 2 A4 1 C5 2 D5 1 E5 1.5 F5 .5 E5 1 D5 2 B4 1 G4 1.5 A4 .5 B4 1 C5 2 A4 1 A4 1.5 G#4 .5 A4 1 "
           "B4 2 G#4 1 E4 2 A4 1 C5 2 D5 1 E5 1.5 F5 .5 E5 1 D5 2 B4 1 G4 1.5 A4 .5 B4 1 C5 1.5 B4 .5 A4 1 "
           "G#4 1.5 F#4 .5 G#4 1 A4 3"),
)

_PITCH_RE = re.compile(r"^([A-G])([#b]?)(-?\d)$")
_STEP = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}


def parse_pitch(name: str) -> int:
    """'C4' -> 60, 'G#3' -> 56. Raises ValueError on a bad name."""
    m = _PITCH_RE.match(name)
    if not m:
        raise ValueError(f"Not a pitch name: {name!r}")
    step, acc, octave = m.groups()
    return 12 * (int(octave) + 1) + _STEP[step] + {"": 0, "#": 1, "b": -1}[acc]


def build_song(sample: Sample) -> Song:
    """The sample as a one-track Song (notes 90 % of their written length, so repeated notes articulate)."""
    tokens = sample.tune.split()
    if len(tokens) % 2:
        raise ValueError(f"Sample {sample.slug}: odd number of tokens")
    notes, tick = [], 0
    for pitch_s, beats_s in zip(tokens[::2], tokens[1::2]):
        length = int(round(float(beats_s) * PPQ))
        if pitch_s != "R":
            notes.append(Note(start_tick=tick, pitch=parse_pitch(pitch_s), duration_tick=max(1, length * 9 // 10),
                              velocity=90))
        tick += length
    track = Track(name="Melody", program=sample.program, notes=tuple(notes), channel=0)
    return Song(tracks=(track,), ppq=PPQ, tempos=(TempoChange(0, float(sample.bpm)),),
                time_signatures=(TimeSignature(0, *sample.meter),), key_signatures=(KeySignature(0, sample.key),),
                title=sample.title)


def list_samples() -> tuple[Sample, ...]:
    return SAMPLES


def find_sample(name: str) -> Sample:
    """Look a sample up by slug or (case-insensitive) title prefix of 3 letters or more. A name that looks like a
    file (a folder in it, or a file suffix) matches only a slug exactly (``ode_to_joy.mid``): a mistyped or moved
    file never opens some other melody. Raises KeyError if none matches."""
    lower = name.lower().replace(" ", "_")
    key = lower.removesuffix(".mid")
    file_like = "/" in name or "\\" in name or key != lower or "." in key
    for s in SAMPLES:
        if s.slug == key or (not file_like and len(key) >= 3 and
                             s.title.lower().replace(" ", "_").startswith(key)):
            return s
    raise KeyError(f"No sample melody called {name!r}; try: {', '.join(s.slug for s in SAMPLES)}")


def sample_path(sample: Sample) -> Path:
    return SAMPLES_DIR / f"{sample.slug}.mid"


def load_sample(name: str) -> Song:
    """The sample as a Song: from its shipped MIDI file when present, else built from the note list."""
    sample = find_sample(name)
    path = sample_path(sample)
    if path.exists():
        from .midi.io import read_midi
        return read_midi(path).replace(title=sample.title)
    return build_song(sample)


def write_all(directory: Path = SAMPLES_DIR) -> list[Path]:
    from .midi.io import write_midi
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for s in SAMPLES:
        path = directory / f"{s.slug}.mid"
        write_midi(build_song(s), path)
        paths.append(path)
    return paths


if __name__ == "__main__":
    for p in write_all():
        print(p)
