"""Build the GAN genre caches from the shared data folder.

    python -m deepcomposer_desktop.ml.data.build --genre chorale|pop|rock|jazz|symphony|strings|folk|all \
        --data ../shared/data --out cache/gan

Each genre has a builder ``build(data_dir, progress=None, should_stop=None) -> (WindowCollector, meta)``.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys
import time

from . import DataError

# genre -> (module, builder function)
BUILDERS = {"chorale": ("chorale", "build"), "pop": ("pop", "build"), "rock": ("rock", "build"),
            "jazz": ("jazz", "build"), "symphony": ("symphony", "build"), "strings": ("symphony", "build_strings"),
            "folk": ("folk", "build")}
GENRES = tuple(BUILDERS)
DEFAULT_DATA = os.path.join("..", "shared", "data")
DEFAULT_OUT = os.path.join("cache", "gan")


def build_genre(genre: str, data_dir: str, out_dir: str, progress=None, should_stop=None, **kwargs) -> dict:
    """Build one genre's cache; returns a summary dict (path, windows, songs, tracks, bytes, seconds)."""
    if genre not in GENRES:
        raise DataError(f"Unknown genre '{genre}'; choose one of {', '.join(GENRES)}")
    if not os.path.isdir(data_dir):
        raise DataError(f"The data folder {data_dir} does not exist")
    t0 = time.time()
    modname, fn = BUILDERS[genre]
    mod = importlib.import_module(f"{__package__}.{modname}")
    if modname == "symphony":
        kwargs.setdefault("parsed_dir", os.path.join(out_dir, "_parsed"))
    col, meta = getattr(mod, fn)(data_dir, progress=progress, should_stop=should_stop, **kwargs)
    path = os.path.join(out_dir, f"{genre}.npz")
    size = col.save(path, meta)
    summary = {"genre": genre, "path": path, "windows": len(col), "songs": len(col.titles),
               "tracks": [t["name"] for t in meta["tracks"]], "bytes": size, "seconds": round(time.time() - t0, 1)}
    if genre == "chorale":
        extra = os.path.join(out_dir, "chorale_aws2bar.npz")
        summary["aws2bar_bytes"] = mod.save_aws_2bar(data_dir, extra)
    return summary


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m deepcomposer_desktop.ml.data.build", description=__doc__.split("\n")[0])
    ap.add_argument("--genre", default="all", help=f"one of {', '.join(GENRES)} or 'all'")
    ap.add_argument("--data", default=DEFAULT_DATA, help="the shared data folder (default ../shared/data)")
    ap.add_argument("--out", default=DEFAULT_OUT, help="where the .npz caches go (default cache/gan)")
    args = ap.parse_args(argv)
    genres = GENRES if args.genre == "all" else (args.genre,)
    status = 0
    for g in genres:
        last = [0.0]

        def progress(frac, msg, _last=last):
            now = time.time()
            if now - _last[0] > 5 or frac >= 1.0:
                _last[0] = now
                print(f"  {g}: {frac * 100:5.1f}% {msg}", file=sys.stderr, flush=True)
        try:
            s = build_genre(g, args.data, args.out, progress=progress)
        except DataError as e:
            print(f"{g}: FAILED: {e}", file=sys.stderr)
            status = 1
            continue
        print(f"{g}: {s['windows']} windows from {s['songs']} songs, tracks {s['tracks']}, "
              f"{s['bytes'] / 2**20:.2f} MiB -> {s['path']} ({s['seconds']} s)", flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
