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
ALL = tuple(g for g in GENRES if g != "strings")     # "strings" (quartets) is an extra set, built on request
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
    col, meta = getattr(mod, fn)(data_dir, progress=progress, should_stop=should_stop, **kwargs)
    path = os.path.join(out_dir, f"{genre}.npz")
    size = col.save(path, meta)
    summary = {"genre": genre, "path": path, "windows": len(col), "songs": len(col.titles),
               "tracks": [t["name"] for t in meta["tracks"]], "bytes": size, "seconds": round(time.time() - t0, 1)}
    if genre == "chorale":
        extra = os.path.join(out_dir, "chorale_aws2bar.npz")
        summary["aws2bar_bytes"] = mod.save_aws_2bar(data_dir, extra)
    return summary


def describe(path) -> str:
    """A few lines about one cache: windows, songs, size, and per track the share of non-empty bars and the
    notes per bar (from the onsets). Works on the packed arrays (no unpacking of large caches)."""
    import json

    import numpy as np

    from . import BARS, STEPS_PER_BAR

    popcount = np.array([bin(i).count("1") for i in range(256)], dtype=np.int64)
    try:
        with np.load(path, allow_pickle=False) as z:
            mel, acc, om, oa, sid = (z[k] for k in ("melody", "accomp", "onsets_melody", "onsets_accomp", "song_id"))
            meta = json.loads(str(z["meta"]))
    except (OSError, KeyError, ValueError) as e:
        raise DataError(f"Cannot read the cache {path}: {e}") from None
    n = mel.shape[0]
    bars = meta.get("bars", BARS)
    spb = meta.get("steps_per_bar", STEPS_PER_BAR)

    def line(name, roll, ons):
        nonempty = roll.reshape(n, bars, spb, -1).any(axis=(2, 3)).mean() if n else 0.0
        notes = sum(int(popcount[ons[i:i + 512]].sum()) for i in range(0, n, 512))
        return f"  {name:<18} non-empty bars {nonempty * 100:5.1f} %, notes/bar {notes / max(1, n * bars):5.2f}"

    out = [f"{meta['genre']}: {n} windows from {len(set(sid.tolist()))} songs "
           f"({len(meta.get('songs', []))} listed), {os.path.getsize(path) / 2**20:.2f} MiB",
           line("Melody", mel, om)]
    out += [line(t["name"], acc[:, i], oa[:, i]) for i, t in enumerate(meta["tracks"])]
    return "\n".join(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m deepcomposer_desktop.ml.data.build", description=__doc__.split("\n")[0])
    ap.add_argument("--genre", default="all", help=f"one of {', '.join(GENRES)} or 'all' (all but strings)")
    ap.add_argument("--data", default=DEFAULT_DATA, help="the shared data folder (default ../shared/data)")
    ap.add_argument("--out", default=DEFAULT_OUT, help="where the .npz caches go (default cache/gan)")
    ap.add_argument("--describe", action="store_true", help="only print figures about existing caches")
    args = ap.parse_args(argv)
    genres = ALL if args.genre == "all" else (args.genre,)
    if args.describe:
        for g in genres:
            try:
                print(describe(os.path.join(args.out, f"{g}.npz")))
            except DataError as e:
                print(f"{g}: {e}")
        return 0
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
