"""`deepcomposer render`: a song to a WAV file through the same event path as live playback, and/or its stems
(one WAV per track, from one pass) into a folder; --solo / --mute choose the tracks."""
from __future__ import annotations


def _track_index(song, spec: str) -> int:
    """A track by 1-based number or by name (case-insensitive); raises CliError."""
    from ..cli import CliError
    names = [t.name for t in song.tracks]
    if spec.isascii() and spec.isdigit():
        n = int(spec)
        if 1 <= n <= len(names):
            return n - 1
        raise CliError(f"There is no track {n}: the song has {len(names)} track(s)")
    matches = [i for i, name in enumerate(names) if name.casefold() == spec.casefold()]
    if not matches:
        matches = [i for i, name in enumerate(names) if spec.casefold() in name.casefold()]
    if len(matches) == 1:
        return matches[0]
    listing = ", ".join(f"{i + 1}={name!r}" for i, name in enumerate(names))
    if not matches:
        raise CliError(f"No track called {spec!r}; tracks are: {listing}")
    raise CliError(f"{spec!r} matches several tracks ({listing}); use the track number")


def cmd_render(args) -> int:
    import math
    import sys

    from dataclasses import replace
    from pathlib import Path

    from ..cli import CliError, check_outputs, load_input
    from .render import RenderError, export_mix, silent_tracks_note, stem_file_names, stem_tracks, write_stems
    from .soundfont import find_soundfont

    if not args.out and not args.stems:
        raise CliError("Say where to write: --out FILE.wav for the mix, --stems FOLDER for one WAV per track, "
                       "or both")
    if args.soundfont is not None and not args.soundfont.strip():
        raise CliError("--soundfont needs a .sf2/.sf3 file (leave it out to use the default)")
    song = load_input(args.input)
    if not song.tracks or not song.note_count:
        raise CliError(f"{args.input} has no notes to render")
    solo = sorted({_track_index(song, s) for s in args.solo or ()})
    mute = sorted({_track_index(song, s) for s in args.mute or ()})
    muted = [i for i in solo if song.tracks[i].mute and i not in mute]
    if muted:                                 # an explicit --solo plays the track even where the project mutes it
        song = song.with_tracks(tuple(replace(t, mute=False) if i in muted else t for i, t in enumerate(song.tracks)))
        print("Note: --solo plays " + ", ".join(f"track {i + 1} ({song.tracks[i].name})" for i in muted)
              + ", muted in the project", file=sys.stderr)
    heard = stem_tracks(song, solo, mute)
    outputs = [("--out", args.out)] if args.out else []
    if args.stems and Path(args.stems).is_dir():
        outputs += [("--stems", Path(args.stems) / name) for name in stem_file_names(song, heard)]
    check_outputs(outputs, inputs=(args.input, args.soundfont))
    if not heard and not args.metronome:
        raise CliError("No track would sound: every track is muted, or the chosen ones have no notes")
    names = ", ".join(f"{i + 1} {song.tracks[i].name}" for i in heard) or "none"
    if silent_tracks_note(song):
        print(f"Note: {args.input}: {silent_tracks_note(song)}.", file=sys.stderr)
    if not args.soundfont:
        _, note = find_soundfont(None)
        if note:
            print(f"Note: {note}", file=sys.stderr)
    gain = 1.0
    try:
        if args.out:
            mix = export_mix(song, args.out, soundfont=args.soundfont, samplerate=args.rate, solo=solo, mute=mute,
                             metronome=args.metronome, effects=not args.dry)
            gain = mix.gain                   # the stems written with it take the same: they add up to this file
            print(f"Wrote {args.out}: {mix.seconds:.1f} s, {args.rate} Hz stereo{', dry' if args.dry else ''}; "
                  f"tracks: {names}" + (f"; {mix.note}" if mix.note else ""))
        if args.stems:
            paths = write_stems(song, args.stems, soundfont=args.soundfont, samplerate=args.rate, solo=solo,
                                mute=mute, effects=not args.dry, gain=gain)
            what = f"{len(paths)} stem{'' if len(paths) == 1 else 's'}"
            with_mix = f", scaled down {-20 * math.log10(gain):.1f} dB as the mix was" if gain < 1.0 else ""
            print(f"Wrote {what} to {args.stems} (32-bit float, {args.rate} Hz stereo{', dry' if args.dry else ''}; "
                  f"they start together and add up to the mix{with_mix}): " + ", ".join(p.name for p in paths))
    except RenderError as exc:
        raise CliError(str(exc)) from None
    return 0


def register(sub) -> None:
    from ..cli import whole
    from . import MAX_RATE
    p = sub.add_parser("render", help="render a song to a WAV file with FluidSynth (whole mix or chosen tracks), "
                                      "or to stems: one WAV per track")
    p.add_argument("input", help="a .mid file, project, or built-in sample name")
    p.add_argument("--out", "-o", help="the WAV file to write (the mix, 16-bit, at the synth's level: scaled down "
                                       "only where it would clip, and then it says by how much)")
    p.add_argument("--stems", metavar="FOLDER",
                   help="also (or instead) write one 32-bit float WAV per track into FOLDER, named '01 Melody.wav' "
                        "...; they line up from 0 and add up to the mix (the metronome is left out; with --out, "
                        "a mix scaled down so as not to clip scales them too)")
    p.add_argument("--solo", action="append", metavar="TRACK",
                   help="render only this track (1-based number or name), even one the project mutes; repeat "
                        "for several")
    p.add_argument("--mute", action="append", metavar="TRACK", help="leave this track out; repeatable")
    p.add_argument("--soundfont", metavar="FILE", help="a .sf2/.sf3 file (default: search the usual places)")
    p.add_argument("--rate", type=whole(8000, MAX_RATE), default=44100,
                   help=f"sample rate in Hz, 8000-{MAX_RATE} (default 44100)")
    p.add_argument("--metronome", action="store_true", help="add the metronome click (to --out)")
    p.add_argument("--dry", action="store_true", help="no reverb or chorus (for a DAW that adds its own)")
    p.set_defaults(func=cmd_render)
