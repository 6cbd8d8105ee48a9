"""MIDI keyboard sub-commands: `deepcomposer midi-ports` (list inputs) and `deepcomposer midi-record` (capture)."""
from __future__ import annotations

import time

_sleep = time.sleep     # replaced in tests


def _manager():
    from .devices import MidiInputManager
    return MidiInputManager(last_port="")        # "": open nothing by itself


def cmd_midi_ports(args) -> int:
    mgr = _manager()
    mgr.refresh()
    try:
        if not mgr.available:
            print(mgr.problem)
            return 0
        if not mgr.ports:
            print("no MIDI input available (no keyboard or virtual port is connected)")
            return 0
        for i, name in enumerate(mgr.ports, 1):
            print(f"{i:>2}. {name}")
        return 0
    finally:
        mgr.shutdown()


def _pick_port(ports, spec: str | None) -> str:
    from ..cli import CliError
    from .devices import is_thru_port, stable_name
    if spec is None:
        real = [p for p in ports if not is_thru_port(p)]
        if not real:
            raise CliError("no MIDI keyboard is connected (see `deepcomposer midi-ports`)")
        return real[0]
    if spec.isascii() and spec.isdigit() and 1 <= int(spec) <= len(ports):
        return ports[int(spec) - 1]
    for p in ports:
        if p == spec or stable_name(p) == spec or spec.lower() in p.lower():
            return p
    raise CliError(f"no MIDI input called {spec!r} (see `deepcomposer midi-ports`)")


def cmd_midi_record(args) -> int:
    """Record from a keyboard for --seconds (or until Ctrl+C) into a one-track MIDI file."""
    from ..cli import CliError, save_output
    from ..core.song import KeySignature, Song, SongError, TempoChange, Track
    from .devices import MidiUnavailable
    from .recorder import InputQuantize, TakeRecorder, apply_recording, chord_table, count_in_seconds

    try:
        key = (KeySignature(0, args.chords),) if args.chords else ()
        song = Song(tracks=(Track("Melody", program=args.program),), tempos=(TempoChange(0, args.bpm),),
                    key_signatures=key)
        quantize = InputQuantize(args.quantize, args.strength) if args.quantize else None
    except SongError as exc:
        raise CliError(str(exc)) from None
    mgr = _manager()
    mgr.refresh()
    if not mgr.available:
        raise CliError(mgr.problem)
    try:
        port = _pick_port(mgr.ports, args.port)
        try:
            mgr.open(port)
        except MidiUnavailable as exc:
            raise CliError(str(exc)) from None
        if args.chords:
            mgr.set_chord_table(chord_table(args.chords))
        lead = count_in_seconds(song, 0, args.count_in)
        start = mgr.clock() + lead
        rec = TakeRecorder(song, start_tick=0, start_sec=start, quantize=quantize)
        print(f"Recording from {port}" + (f" after {args.count_in} bar(s) count-in" if lead else "")
              + (f" for {args.seconds:g} s" if args.seconds else " (Ctrl+C stops)"), flush=True)
        next_poll = 0.0
        try:
            while not rec.finished:
                now = mgr.clock()
                if args.seconds and now >= start + args.seconds:
                    break
                if now >= next_poll:
                    mgr.refresh()
                    next_poll = now + 1.0
                rec.feed(mgr.drain())
                _sleep(0.01)
        except KeyboardInterrupt:
            pass
        rec.feed(mgr.drain())
        result = rec.stop(mgr.clock())
    finally:
        mgr.shutdown()
    out = apply_recording(song, 0, result)
    save_output(out, args.out)
    why = " (the keyboard was disconnected; the take so far is kept)" if result.reason == "device lost" else ""
    print(f"Wrote {args.out}: {out.note_count} notes{why}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("midi-ports", help="list MIDI input ports (hardware keyboards, virtual ports)")
    p.set_defaults(func=cmd_midi_ports)

    from ..cli import between, positive, tempo, whole
    p = sub.add_parser("midi-record", help="record a MIDI keyboard into a MIDI file")
    p.add_argument("--out", "-o", required=True, help="the MIDI file to write")
    p.add_argument("--port", help="port number or name (default: the first keyboard)")
    p.add_argument("--seconds", type=positive(24 * 3600), help="stop after this long (default: Ctrl+C)")
    p.add_argument("--bpm", type=tempo, default=120.0, help="tempo of the written file, 3.58-1000 (default 120)")
    p.add_argument("--count-in", type=whole(0, 16), default=0, metavar="BARS",
                   help="bars to wait before recording, 0-16")
    p.add_argument("--quantize", choices=("1/8", "1/16", "1/8T"), help="input quantize grid")
    p.add_argument("--strength", type=between(0, 1), default=1.0, help="quantize strength 0..1 (default 1)")
    p.add_argument("--chords", metavar="KEY", help="chord mode: each key plays a triad in KEY (e.g. C, Am)")
    p.add_argument("--program", type=whole(0, 127), default=0,
                   help="GM program of the recorded track, 0-127 (default 0)")
    p.set_defaults(func=cmd_midi_record)
