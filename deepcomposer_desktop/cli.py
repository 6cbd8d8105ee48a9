"""The `deepcomposer` command line: the app's jobs, headless.

Core commands live here; areas that own more (audio, models, MIDI devices) register their own sub-commands from
``<area>/commands.py`` (a ``register(subparsers)`` function; importing it must stay cheap: no torch at import).
"""
from __future__ import annotations

import argparse
import importlib
import math
import os
import sys
import time
from pathlib import Path

from .core.gm import program_name
from .core.song import Song, SongError
from .core.timing import song_duration_seconds

# modules that add sub-commands; a missing one is skipped so that each area can land on its own
COMMAND_MODULES = ("deepcomposer_desktop.audio.commands", "deepcomposer_desktop.ml.commands",
                   "deepcomposer_desktop.midi.commands")


class CliError(Exception):
    """A user-facing error: printed as one line, exit status 2."""


def _number(text: str, kind=float):
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a {'whole ' if kind is int else ''}number") from None


def whole(lo: int, hi: int):
    """An argparse type: a whole number from ``lo`` to ``hi`` (argparse then says what is wrong, exit status 2)."""
    def parse(text: str) -> int:
        value = _number(text, int)
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"must be from {lo:,} to {hi:,}, not {value:,}")
        return value
    return parse


def between(lo: float, hi: float):
    """An argparse type: a finite number from ``lo`` to ``hi``."""
    def parse(text: str) -> float:
        value = _number(text)
        if not (math.isfinite(value) and lo <= value <= hi):
            raise argparse.ArgumentTypeError(f"must be from {lo:g} to {hi:g}, not {text}")
        return value
    return parse


def positive(hi: float = float("inf")):
    """An argparse type: a finite number above 0 and at most ``hi``."""
    def parse(text: str) -> float:
        value = _number(text)
        if not (math.isfinite(value) and 0 < value <= hi):
            raise argparse.ArgumentTypeError(f"must be above 0{f' and at most {hi:g}' if hi < float('inf') else ''}"
                                             f", not {text}")
        return value
    return parse


def tempo(text: str) -> float:
    """An argparse type: a tempo in BPM that a Song (and a MIDI file) can hold."""
    from .core.song import MAX_BPM, MIN_BPM
    value = _number(text)
    if not (math.isfinite(value) and MIN_BPM <= value <= MAX_BPM):
        raise argparse.ArgumentTypeError(f"must be from {MIN_BPM:.2f} to {MAX_BPM:g} BPM (a MIDI file holds no "
                                         f"slower tempo), not {text}")
    return value


_progress_open = False          # a progress line on stderr waits for its newline


def progress_printer(width: int = 40, every: float = 0.0):
    """A progress callback ``(fraction, message)`` that rewrites one stderr line (at most once per ``every``
    seconds, and always at 100%); :func:`end_progress_line` ends it, as ``main`` does before an error."""
    last = [-math.inf]

    def progress(frac: float, msg: str) -> None:
        global _progress_open
        now = time.monotonic()
        if now - last[0] < every and frac < 1.0:
            return
        last[0] = now
        print(f"\r{frac * 100:5.1f}% {msg:<{width}}", end="", file=sys.stderr, flush=True)
        _progress_open = True
    return progress


def end_progress_line() -> None:
    """End the progress line (if one is open) so that what comes next starts on a line of its own."""
    global _progress_open
    if _progress_open:
        _progress_open = False
        print(file=sys.stderr, flush=True)


def take_paths(out: str, takes: int) -> list[Path]:
    """The files ``generate`` writes: ``out`` for one take, ``NAME-1.mid`` ... ``NAME-N.mid`` for several."""
    out = Path(out)
    if takes == 1:
        return [out]
    return [out.with_name(f"{out.stem}-{i + 1}{out.suffix or '.mid'}") for i in range(takes)]


def _same_file_key(path) -> str:
    return os.path.normcase(os.path.realpath(path))


def check_outputs(outputs, inputs=()) -> None:
    """Refuse, before any work, output files that cannot be written or that would clobber each other or an input.

    ``outputs``: (option, path) pairs, e.g. ("--out", "x.mid"); ``inputs``: paths or sample names read (names
    that are no file are skipped). Raises CliError naming the option.
    """
    seen: dict[str, str] = {}
    ins = [p for p in inputs if p and Path(p).exists()]
    for option, path in outputs:
        if not path or not str(path).strip():
            raise CliError(f"The output file name is empty ({option})")
        path = Path(path)
        folder = path.parent
        if path.is_dir():
            raise CliError(f"{option} {path} is a folder: name a file")
        if not folder.is_dir():
            raise CliError(f"Cannot write {path}: there is no folder {folder}")
        key = _same_file_key(path)
        if key in seen:
            raise CliError(f"{option} and {seen[key]} name the same file ({path}): give each output its own name")
        for source in ins:
            if key == _same_file_key(source) or (path.exists() and os.path.samefile(path, source)):
                raise CliError(f"{option} {path} is the input file: writing it would destroy the input; "
                               "choose another name")
        seen[key] = option


GENERATE_OPTIONS = {"technique", "input", "out", "seed", "takes", "wav", "track"}     # what every technique reads


def check_generate(args, used: set[str]) -> list[Path]:
    """The checks ``generate`` makes before it runs a model: no option that the technique ignores (``used``: the
    dests it reads besides :data:`GENERATE_OPTIONS`), and --out (each take's file) and --wav writable, apart
    from each other and from the input. Returns the take files. Raises CliError."""
    refuse_unused(args, GENERATE_OPTIONS | used, f"the {args.technique} technique")
    paths = take_paths(args.out, args.takes)
    wav = getattr(args, "wav", None)
    check_outputs([("--out", p) for p in paths] + ([("--wav", wav)] if wav is not None else []), [args.input])
    return paths


def given_options(argv: list[str] | None) -> set[str]:
    """The ``dest`` of every option that ``argv`` sets itself (not by default), and of every positional."""
    parser = build_parser()

    def suppress(p: argparse.ArgumentParser) -> None:
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub in action.choices.values():
                    suppress(sub)
            elif action.option_strings:       # positionals keep theirs (an optional one checks it in choices)
                action.default = argparse.SUPPRESS
        p._defaults.clear()
    suppress(parser)
    try:
        return set(vars(parser.parse_args(argv))) - {"command"}
    except SystemExit:                        # cannot happen once the same argv has parsed; check nothing then
        return set()


def refuse_unused(args, used: set[str], what: str) -> None:
    """Refuse options that ``what`` (e.g. "the gan technique") would ignore: those the user gave (``main`` records
    them in ``args.given_options``) whose dest is not in ``used``. Raises CliError with one line naming them."""
    given = getattr(args, "given_options", None)
    if given is None:
        return
    unused = sorted(given - used)
    if unused:
        names = ", ".join("--" + d.replace("_", "-") for d in unused)
        raise CliError(f"{names}: not used by {what}; leave {'it' if len(unused) == 1 else 'them'} out")


def load_input(spec: str) -> Song:
    """A song from a MIDI file path, a project file, or the name of a built-in sample.

    Raises CliError with a plain message.
    """
    from .midi.io import MidiFileError, read_midi
    from .samples import load_sample

    if not spec.strip():
        raise CliError("No input given: name a .mid file, a project or a built-in sample")
    path = Path(spec)
    if path.exists():
        try:
            if path.suffix.lower() in (".dcproj", ".json"):
                from .core.project import loads
                return loads(path.read_bytes())
            return read_midi(path)
        except (MidiFileError, SongError) as exc:
            raise CliError(str(exc)) from None
        except OSError as exc:
            raise CliError(f"{path}: {exc.strerror or exc}") from None
    try:
        return load_sample(spec)
    except KeyError:
        raise CliError(f"{spec}: no such file, and no built-in sample of that name "
                       "(see `deepcomposer samples`)") from None


def save_output(song: Song, out: str) -> None:
    from .midi.io import write_midi
    if not out or not out.strip():
        raise CliError("The output file name is empty")
    try:
        write_midi(song, out)
    except OSError as exc:
        raise CliError(f"Cannot write {out}: {exc.strerror or exc}") from None


def describe(song: Song) -> str:
    """The text `deepcomposer info` prints."""
    lines = []
    secs = song_duration_seconds(song)
    tempos = ", ".join(f"{t.bpm:g} BPM" + (f" @ tick {t.tick}" if t.tick else "") for t in song.tempos[:6])
    if len(song.tempos) > 6:
        tempos += f" … ({len(song.tempos)} changes)"
    sigs = ", ".join(f"{t.numerator}/{t.denominator}" + (f" @ tick {t.tick}" if t.tick else "")
                     for t in song.time_signatures[:6])
    if song.title:
        lines.append(f"Title:          {song.title}")
    lines.append(f"Resolution:     {song.ppq} ticks per quarter note")
    lines.append(f"Tempo:          {tempos}")
    lines.append(f"Time signature: {sigs}")
    if song.key:
        lines.append(f"Key:            {song.key.key}")
    lines.append(f"Length:         {song.bar_count()} bars, {int(secs // 60)}:{secs % 60:04.1f} "
                 f"({song.end_tick} ticks)")
    lines.append(f"Tracks:         {len(song.tracks)} ({song.note_count} notes)")
    for i, t in enumerate(song.tracks):
        mark = "*" if i == song.melody_index else " "
        inst = program_name(t.program, t.is_drum)
        ch = "-" if t.channel is None else t.channel + 1
        pitches = f"{min(n.pitch for n in t.notes)}-{max(n.pitch for n in t.notes)}" if t.notes else "-"
        lines.append(f"  {mark}{i + 1:>2}. {t.name[:28]:<28} {inst[:26]:<26} ch {ch!s:>2}  {len(t.notes):>6} notes"
                     f"  pitches {pitches}")
    lines.append("  (* = melody track, the one the models read)")
    return "\n".join(lines)


def cmd_info(args) -> int:
    for spec in args.files:
        song = load_input(spec)
        if len(args.files) > 1:
            print(f"== {spec}")
        print(describe(song))
    return 0


def cmd_samples(args) -> int:
    from .samples import list_samples, sample_path
    for s in list_samples():
        if args.paths:
            print(sample_path(s))
        else:
            print(f"{s.slug:<24} {s.title}  ({s.meter[0]}/{s.meter[1]}, {s.key}, {s.bpm:g} BPM)")
    return 0


def cmd_convert(args) -> int:
    """Read a sample, MIDI or project file and write it out as a clean type-1 MIDI file."""
    from .core.edits import transpose_song
    song = load_input(args.input)
    if args.transpose:
        try:
            song = transpose_song(song, args.transpose)
        except SongError as exc:
            raise CliError(str(exc)) from None
    if args.tempo is not None:
        from .core.song import TempoChange
        try:
            song = song.replace(tempos=(TempoChange(0, args.tempo),))
        except SongError as exc:
            raise CliError(str(exc)) from None
    save_output(song, args.out)
    print(f"Wrote {args.out}: {len(song.tracks)} tracks, {song.note_count} notes")
    return 0


def cmd_bench(args) -> int:
    from .bench import run_benchmarks
    return run_benchmarks(args.areas, quick=args.quick)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="deepcomposer", description="DeepComposer Desktop, headless.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("info", help="show tracks, instruments, notes, tempo, meter and length of MIDI files")
    p.add_argument("files", nargs="+", metavar="FILE", help="a .mid file, project, or built-in sample name")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("samples", help="list the built-in sample melodies")
    p.add_argument("--paths", action="store_true", help="print the MIDI file path of each sample")
    p.set_defaults(func=cmd_samples)

    p = sub.add_parser("convert", help="write a sample or file back out as a type-1 MIDI file")
    p.add_argument("input", help="a .mid file, project, or built-in sample name (e.g. ode_to_joy)")
    p.add_argument("--out", "-o", required=True, help="the MIDI file to write")
    p.add_argument("--transpose", type=int, default=0, help="semitones to transpose pitched tracks by")
    p.add_argument("--tempo", type=tempo, default=None,
                   help="replace the tempo map by one tempo, 3.58-1000 BPM (a MIDI file holds no slower one)")
    p.set_defaults(func=cmd_convert)

    p = sub.add_parser("bench", help="measure speed figures and print them as a table (asserts nothing)")
    p.add_argument("areas", nargs="*", help="areas to measure (default: all available)")
    p.add_argument("--quick", action="store_true", help="shorter runs (for smoke tests)")
    p.set_defaults(func=cmd_bench)

    for modname in COMMAND_MODULES:
        try:
            mod = importlib.import_module(modname)
        except ModuleNotFoundError as exc:
            if exc.name and modname.startswith(exc.name):
                continue
            raise
        mod.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:                 # --help, or a bad argument (argparse has said why): its status
        return exc.code if isinstance(exc.code, int) else 2
    args.given_options = given_options(argv)
    try:
        code = int(args.func(args) or 0)
        sys.stdout.flush()                    # here, where a closed pipe is caught, not at exit
        return code
    except CliError as exc:
        end_progress_line()
        print(f"deepcomposer: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        end_progress_line()
        print("deepcomposer: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:                   # `deepcomposer models | head -1`: the reader has gone; quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())     # Python's own flush at exit would fail again
        os.close(devnull)
        return 141                            # 128 + SIGPIPE, as a shell reports a command stopped by it
    finally:
        end_progress_line()


if __name__ == "__main__":
    sys.exit(main())
