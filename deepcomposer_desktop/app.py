"""QApplication start-up and wiring: `deepcomposer-desktop [--open FILE] [--screenshot FILE.png]`."""
from __future__ import annotations

import argparse
import sys


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="deepcomposer-desktop", description="DeepComposer Desktop")
    p.add_argument("file", nargs="?", help="a project, MIDI file or sample name to open")
    p.add_argument("--open", dest="open_file", help="a project, MIDI file or sample name to open")
    p.add_argument("--screenshot", metavar="FILE.png", help="render the main window to a PNG and exit")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    from PySide6.QtWidgets import QApplication

    from .ui.main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("DeepComposer Desktop")
    app.setOrganizationName("DeepComposer Desktop")
    window = MainWindow()
    target = args.open_file or args.file
    if target:
        window.open_path(target)
    if args.screenshot:
        window.resize(1400, 860)
        window.show()
        app.processEvents()
        ok = window.grab().save(args.screenshot)
        return 0 if ok else 1
    window.show()
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
