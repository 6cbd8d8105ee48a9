"""AR-CNN figures: network pass and `enhance` (100 iterations on 8 bars) on one CPU thread; goal <= 2 s.

Each figure is the best of a few runs (wall clock), so a busy machine inflates them less; CPU seconds beside.
"""
from __future__ import annotations

import time

from . import Figure


def _model():
    """The installed Bach model, or an untrained one of the same shape (same speed) when none is installed."""
    from ..ml.arcnn.generate import load_model
    from ..ml.common import ModelError
    try:
        return load_model(), "arcnn-bach"
    except ModelError:
        import torch

        from ..ml.arcnn.config import ArcnnConfig
        from ..ml.arcnn.model import build_model
        torch.manual_seed(0)
        cfg = ArcnnConfig()
        return (build_model(cfg).eval(), cfg), "untrained (no model installed)"


def _best(fn, repeats: int) -> tuple[float, float]:
    wall, cpu = [], []
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - w0)
        cpu.append(time.process_time() - c0)
    return min(wall), min(cpu)


def run(quick: bool) -> list[Figure]:
    import torch

    from ..core.edits import concat_songs
    from ..ml.arcnn.generate import enhance
    from ..samples import load_sample
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    pair, which = _model()
    load_s = time.perf_counter() - t0
    net, cfg = pair
    repeats = 1 if quick else 3
    x = torch.zeros(1, cfg.steps, cfg.n_pitches)
    with torch.inference_mode():
        net(x)
        fwd, _ = _best(lambda: net(x), 3 if quick else 10)
    song = load_sample("ode_to_joy")                     # 8 bars
    figs = [Figure(f"load model ({which})", load_s, "s"),
            Figure("one network pass, 8 bars x 64 pitches, 1 thread", fwd * 1000, "ms")]
    for per_pass, label in ((8, "batched, 8 toggles per pass (default)"), (4, "batched, 4 toggles per pass"),
                            (1, "exact, 1 toggle per pass (DeepComposer)")):
        if quick and per_pass == 4:
            continue
        wall, cpu = _best(lambda: enhance(song, 0, iterations=100, model=pair, toggles_per_pass=per_pass), repeats)
        figs.append(Figure(f"enhance 8 bars, 100 iterations, {label}", wall, "s", "<= 2 s" if per_pass == 8 else ""))
        figs.append(Figure("  same, CPU time", cpu, "s"))
    if not quick:
        long = concat_songs(concat_songs(song, song), slice_song(song))
        wall, _ = _best(lambda: enhance(long, 0, iterations=100, model=pair), 1)
        figs.append(Figure(f"enhance {long.bar_count()} bars, 100 iterations per 8-bar window, batched x8", wall, "s"))
    return figs


def slice_song(song):
    from ..core.edits import slice_bars
    return slice_bars(song, 0, 4)
