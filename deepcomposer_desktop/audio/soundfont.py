"""Finding and checking soundfonts (.sf2 / .sf3).

Search order: the file the user chose (app setting or ``--soundfont``), ``$DEEPCOMPOSER_SOUNDFONT``, the project's
``resources/soundfonts/``, the system's soundfont folders, and last the small TimGM6mb.sf2 that pretty_midi ships.
FluidSynth's ``sfload`` returns -1 on a bad file and a corrupt one can crash it, so a file is checked (RIFF/sfbk
structure, sizes that fit the file) before FluidSynth ever sees it.
"""
from __future__ import annotations

import os
import struct
import sys
from pathlib import Path

RESOURCES_DIR = Path(__file__).resolve().parent.parent.parent / "resources" / "soundfonts"
SYSTEM_DIRS = (
    "/usr/share/sounds/sf2", "/usr/share/sounds/sf3", "/usr/share/soundfonts", "/usr/local/share/soundfonts",
    "/opt/homebrew/share/soundfonts", "/usr/local/share/fluidsynth",
    os.path.expanduser("~/.local/share/soundfonts"), os.path.expanduser("~/Library/Audio/Sounds/Banks"),
    "C:/soundfonts",
)
# preferred names inside a folder, best first; any other .sf2/.sf3 there comes after these
PREFERRED = ("FluidR3_GM.sf2", "MuseScore_General.sf3", "MuseScore_General.sf2", "GeneralUser GS v1.471.sf2",
             "default-GM.sf2", "FluidR3_GM.sf3", "TimGM6mb.sf2")
MIN_SIZE = 1024

INSTALL_HINT = ("Install a General MIDI soundfont (Debian/Ubuntu: `sudo apt install fluid-soundfont-gm`; "
                "Fedora: `sudo dnf install fluid-soundfont-gm`; macOS: `brew install fluid-synth` and put a .sf2 "
                "in ~/Library/Audio/Sounds/Banks) or choose any .sf2/.sf3 file in the settings.")


class SoundfontError(ValueError):
    """The file is not a usable soundfont; the message says why in plain words."""


def validate(path: str | os.PathLike) -> Path:
    """Check that ``path`` looks like a complete SoundFont 2/3 file; return it as a Path.

    Raises SoundfontError (missing, unreadable, not a soundfont, truncated).
    """
    p = Path(path).expanduser()
    if p.is_dir():
        raise SoundfontError(f"{str(p)!r} is a folder, not a soundfont file.")
    if not p.is_file():
        raise SoundfontError(f"Soundfont {str(p)!r} does not exist.")
    try:
        size = p.stat().st_size
        with p.open("rb") as fh:
            head = fh.read(12)
            if size < MIN_SIZE or len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"sfbk":
                raise SoundfontError(f"{p.name} is not a SoundFont (.sf2/.sf3) file.")
            riff_size = struct.unpack("<I", head[4:8])[0]
            if riff_size + 8 > size:
                raise SoundfontError(f"{p.name} is incomplete (the file is cut short); download it again.")
            chunks = set()
            pos = 12
            while pos + 12 <= min(size, riff_size + 8):
                fh.seek(pos)
                hdr = fh.read(12)
                cid, csize = hdr[:4], struct.unpack("<I", hdr[4:8])[0]
                if cid == b"LIST":
                    chunks.add(hdr[8:12])
                if pos + 8 + csize > size:
                    raise SoundfontError(f"{p.name} is damaged (a chunk runs past the end of the file).")
                pos += 8 + csize + (csize & 1)
            missing = {b"INFO", b"sdta", b"pdta"} - chunks
            if missing:
                raise SoundfontError(f"{p.name} is damaged (missing {', '.join(m.decode() for m in missing)}).")
    except OSError as exc:
        raise SoundfontError(f"Cannot read soundfont {p.name}: {exc.strerror or exc}") from None
    return p


def _in_dir(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    try:
        files = sorted(f for f in folder.iterdir() if f.suffix.lower() in (".sf2", ".sf3") and f.is_file())
    except OSError:
        return []
    rank = {name.lower(): i for i, name in enumerate(PREFERRED)}
    return sorted(files, key=lambda f: (rank.get(f.name.lower(), len(rank)), f.name))


def _pretty_midi_font() -> Path | None:
    import importlib.util
    spec = importlib.util.find_spec("pretty_midi")
    if spec and spec.origin:
        p = Path(spec.origin).parent / "TimGM6mb.sf2"
        if p.is_file():
            return p
    return None


def candidates(user_choice: str | os.PathLike | None = None) -> list[Path]:
    """Every soundfont worth trying, in search order (not yet validated)."""
    out: list[Path] = []
    if user_choice:
        out.append(Path(user_choice).expanduser())
    env = os.environ.get("DEEPCOMPOSER_SOUNDFONT")
    if env:
        out.append(Path(env).expanduser())
    out += _in_dir(RESOURCES_DIR)
    for d in SYSTEM_DIRS:
        out += _in_dir(Path(d))
    pm = _pretty_midi_font()
    if pm:
        out.append(pm)
    seen, unique = set(), []
    for p in out:
        key = str(p.resolve()) if p.exists() else str(p)
        if key not in seen:
            seen.add(key)
            unique.append(p)
    return unique


def find_soundfont(user_choice: str | os.PathLike | None = None) -> tuple[Path | None, str]:
    """The first valid soundfont in search order, and a note ("" when the user's choice was used or none was
    given; otherwise why it was passed over). (None, problem) when there is none at all."""
    note = ""
    if user_choice:
        try:
            return validate(user_choice), ""
        except SoundfontError as exc:
            note = f"{exc} Using the default soundfont instead."
    env = os.environ.get("DEEPCOMPOSER_SOUNDFONT")
    for p in candidates(None):
        try:
            return validate(p), note
        except SoundfontError as exc:
            if env and not note and p == Path(env).expanduser():
                note = f"$DEEPCOMPOSER_SOUNDFONT: {exc} Using the default soundfont instead."
            continue
    return None, ("No soundfont found, so there is no sound. " + INSTALL_HINT
                  + (f" ({note})" if note else ""))


def describe_search() -> str:
    """The folders searched, for error messages and `deepcomposer render --help`."""
    return ", ".join([str(RESOURCES_DIR)] + [d for d in SYSTEM_DIRS if sys.platform != "win32" or ":" in d])
