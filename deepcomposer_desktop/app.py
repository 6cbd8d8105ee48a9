"""QApplication start-up and wiring: `deepcomposer-desktop [--open FILE] [--screenshot FILE.png]`.

Start-up stays light (no torch): the audio engine starts on a worker after the window shows, and the models are
probed on a worker too; then torch is imported on a worker (``workers.load_torch``), so that the first generation
does not freeze the window while it loads.
"""
from __future__ import annotations

import argparse
import sys


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="deepcomposer-desktop", description="DeepComposer Desktop")
    p.add_argument("file", nargs="?", help="a project, MIDI file or sample name to open")
    p.add_argument("--open", dest="open_file", help="a project, MIDI file or sample name to open")
    p.add_argument("--screenshot", metavar="FILE.png", help="render the main window to a PNG and exit")
    p.add_argument("--size", default="1400x860", help="window size for --screenshot (WxH)")
    return p.parse_args(argv)


def preload() -> None:
    """Import numpy and the Qt-free core before PySide6: PySide6 reads the source of every module imported
    after it (its ``__feature__`` check), which costs start-up time for no use."""
    import numpy  # noqa: F401

    from . import samples  # noqa: F401
    from .core import analysis, edits, gm, project, song, timing  # noqa: F401
    from .midi import io  # noqa: F401


def make_app():
    from PySide6.QtWidgets import QApplication
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("DeepComposer Desktop")
    app.setOrganizationName("DeepComposer Desktop")
    app.setStyle("Fusion")
    return app


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.screenshot:
        most = 8192                           # pixels a side: a bigger picture only exhausts memory
        size = args.size.strip().lower().split("x")
        if len(size) != 2 or not all(v.isascii() and v.isdigit() and 0 < int(v) <= most for v in size):
            print(f"deepcomposer-desktop: --size takes WIDTHxHEIGHT in pixels (each at most {most}), "
                  f"e.g. 1400x860, not {args.size!r}", file=sys.stderr)
            return 2
        w, h = (int(v) for v in size)
    preload()
    app = make_app()
    from .ui.main_window import MainWindow

    shot = bool(args.screenshot)
    window = MainWindow(start_audio=not shot, probe_models=not shot, ask_on_close=not shot, midi_input=not shot)
    window.save_layout_on_close = not shot
    target = args.open_file or args.file
    if target and not window.open_path(target, background=not shot) and shot:
        why = window.statusBar().currentMessage() or f"Cannot open {target}"
        print(f"deepcomposer-desktop: {why}", file=sys.stderr)
        return 2
    if shot:
        try:                                      # fill the techniques panel (imports torch: fine here)
            from .workers import probe_techniques
            window.techniques.set_availability(probe_techniques())
        except Exception:  # noqa: BLE001 - a screenshot without the models is still a screenshot
            pass
        least = window.minimumSizeHint().expandedTo(window.minimumSize())
        if w < least.width() or h < least.height():
            print(f"deepcomposer-desktop: --size {w}x{h} is smaller than the window can be: it needs at least "
                  f"{least.width()}x{least.height()}", file=sys.stderr)
            return 2
        window.resize(w, h)
        window.show()
        for _ in range(5):
            app.processEvents()
        window.center_roll()
        app.processEvents()
        if (window.width(), window.height()) != (w, h):
            print(f"Note: the window took {window.width()}x{window.height()}, not {w}x{h}", file=sys.stderr)
        ok = window.grab().save(args.screenshot)
        window.close()
        if not ok:
            print(f"Could not write {args.screenshot}", file=sys.stderr)
        return 0 if ok else 1
    window.show()
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
