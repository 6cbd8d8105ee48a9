"""Measure an extend model on held-out pieces: NLL per token and per note, and the shared metrics
(``ml/metrics.py``) of sampled continuations next to the real continuations of the same pieces.

``python -m deepcomposer_desktop.ml.transformer.eval --model CKPT [--json OUT] [--ship NAME]``; ``--ship`` also
writes ``models/transformer-NAME.pt`` (float16 weights + the figures in its meta, always <= 10 MB).
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

from . import tokens as T
from .data import DEFAULT_CACHE


def _test_sequences(cache: dict, view: str, source: int | None = None):
    """(name, tokens) of held-out sequences, taking the sources in turn (round robin) so that no set dominates;
    view 'melody' = melody-only sequences, 'all' = multi-track ones; ``source`` keeps one set only."""
    offs = cache["offsets"]
    per_source: dict[int, list] = {}
    for i in np.flatnonzero(cache["split"] == 1):
        toks = cache["tokens"][offs[i]:offs[i + 1]].astype(np.int64)
        n_tracks = int(((toks[:12] >= T.FAM0) & (toks[:12] < T.POS0)).sum())
        src = int(cache["source"][i])
        if (view == "melody") == (n_tracks == 1) and source in (None, src):
            per_source.setdefault(src, []).append((str(cache["names"][i]), toks))
    queues = [per_source[k] for k in sorted(per_source)]
    for k in range(max((len(q) for q in queues), default=0)):
        for q in queues:
            if k < len(q):
                yield q[k]


def heldout_nll(net, cache: dict, view: str = "melody", max_tokens: int = 40_000, per_seq: int = 1024,
                source: int | None = None) -> dict:
    """Mean NLL (nats) per token and per note over held-out sequences (windows of the model's block, each with
    the piece's header in front; the header itself is not scored)."""
    import torch
    import torch.nn.functional as F
    block = net.cfg.block_size
    tot, n_tok, n_notes = 0.0, 0, 0
    with torch.inference_mode():
        for _, toks in _test_sequences(cache, view, source):
            hl = int(np.flatnonzero(toks == T.BAR)[0])
            head, body = toks[:hl], toks[hl:hl + per_seq]
            step = block - hl
            for a in range(0, len(body) - 1, step):
                chunk = np.concatenate([head, body[a:a + step + 1]])
                x = torch.as_tensor(chunk[None, :-1])
                y = torch.as_tensor(chunk[None, 1:]).clone()
                y[:, :hl - 1] = -100                       # targets inside the header are given, not predicted
                if a > 0:
                    y[:, hl - 1] = -100                    # the window's first body token has no real history
                logits = net(x)
                nll = F.cross_entropy(logits[0], y[0], ignore_index=-100, reduction="sum")
                tot += float(nll)
                n_tok += int((y != -100).sum())
                tgt = y[0][y[0] != -100]
                n_notes += int(((tgt >= T.PITCH0) & (tgt < T.DUR0)).sum())
            if n_tok >= max_tokens:
                break
    return {"tokens": n_tok, "notes": n_notes, "nll_per_token": tot / max(1, n_tok),
            "nll_per_note": tot / max(1, n_notes)}


def _roll(bars, n_slots: int, bar_steps: int) -> np.ndarray:
    """(slots, steps16, 128) piano roll at 16th-note resolution from decoded bars (pos/dur in 12ths of a beat)."""
    s16 = bar_steps // 3
    roll = np.zeros((n_slots, len(bars) * s16, 128), dtype=bool)
    for b, notes in enumerate(bars):
        for pos, slot, pitch, dur, _ in notes:
            a = b * s16 + pos // 3
            roll[slot, a:min(roll.shape[1], a + max(1, round(dur / 3))), pitch] = True
    return roll


def continuation_metrics(net, cache: dict, view: str = "melody", n_pieces: int = 12, context_bars: int = 8,
                         bars: int = 8, seed: int = 0, top_p: float = 0.95, log=print) -> dict:
    """Sample ``bars`` bars after bar ``context_bars`` of held-out 4/4 pieces; shared metrics of the samples and
    of the real bars, their relative error, and the tonal distance of each to the real continuation."""
    from .. import metrics as M
    from .generate import sample_bars
    gen_rows, real_rows, td_gen, td_ctx, in_key_gen, in_key_real = [], [], [], [], [], []
    done = 0
    for name, toks in _test_sequences(cache, view):
        if toks[1] != T.METER0 + T.meter_index(4, 4):
            continue
        piece = T.decode(toks)
        if len(piece.bars) < context_bars + bars + 1:
            continue
        n = len(piece.families)
        start = 1 + (len(piece.bars) - context_bars - bars) // 3   # a cut a third into the piece
        ctx = piece.bars[start:start + context_bars]
        real = piece.bars[start + context_bars:start + context_bars + bars]
        header = T.header_tokens(piece.meter, piece.bpm, piece.families)
        new = sample_bars(net, header, T.encode_bars(ctx), bars, n, 48, top_p=top_p, seed=seed + done)
        gen, _ = T.decode_bars(new, n)
        g, r, c = _roll(gen, n, 48), _roll(real, n, 48), _roll(ctx, n, 48)
        key = M.estimate_key(c[0])
        gen_rows.append(M.evaluate(g[0], g))
        real_rows.append(M.evaluate(r[0], r))
        td_gen.append(M.tonal_distance(g[0], r[0]))
        td_ctx.append(M.tonal_distance(c[0][-r.shape[1]:], r[0]))
        if key:
            in_key_gen.append(np.mean([M.in_scale_rate(g[i], key) for i in range(n)]))
            in_key_real.append(np.mean([M.in_scale_rate(r[i], key) for i in range(n)]))
        done += 1
        log(f"  {view} {done}/{n_pieces} {name}: {sum(map(len, gen))} notes sampled, {sum(map(len, real))} real")
        if done >= n_pieces:
            break

    def mean(rows, k):
        v = [x[k] for x in rows if not math.isnan(x[k])]
        return float(np.mean(v)) if v else math.nan
    keys = ("empty_bar_rate", "used_pitch_classes", "qualified_note_rate", "polyphony", "note_density",
            "in_scale_rate")
    out = {"pieces": done}
    for k in keys:
        gv, rv = mean(gen_rows, k), mean(real_rows, k)
        out[k] = {"generated": gv, "real": rv, "relative_error": M.relative_error(gv, rv)}
    out["in_key_of_context"] = {"generated": float(np.nanmean(in_key_gen)) if in_key_gen else math.nan,
                                "real": float(np.nanmean(in_key_real)) if in_key_real else math.nan}
    out["tonal_distance_to_real_melody"] = {"generated": float(np.nanmean(td_gen)) if td_gen else math.nan,
                                            "last_context_bars": float(np.nanmean(td_ctx)) if td_ctx else math.nan}
    return out


def evaluate_model(path, cache_path=DEFAULT_CACHE, n_pieces: int = 12, max_tokens: int = 40_000,
                   log=print) -> dict:
    import torch

    from .data import load_cache
    from .generate import load_model
    torch.set_num_threads(1)
    net, meta = load_model(Path(path))
    cache = load_cache(Path(cache_path))
    res = {"model": str(path), "params": net.num_params(), "config": net.cfg.to_dict(),
           "train_step": meta.get("step"), "train_minutes": meta.get("minutes")}
    for view in ("melody", "all"):
        t0 = time.time()
        res[f"nll_{view}"] = heldout_nll(net, cache, view, max_tokens)
        res[f"nll_{view}"]["per_source"] = {
            str(name): heldout_nll(net, cache, view, max_tokens // 4, source=k)
            for k, name in enumerate(cache["sources"]) if (cache["source"][cache["split"] == 1] == k).any()}
        log(f"NLL {view}: {res[f'nll_{view}']} ({time.time() - t0:.0f} s)")
    for view, n in (("melody", n_pieces), ("all", max(1, n_pieces // 2))):
        t0 = time.time()
        res[f"continuation_{view}"] = continuation_metrics(net, cache, view, n, log=log)
        log(f"continuations {view}: {time.time() - t0:.0f} s")
    return res


def ship(path, name: str, results: dict | None = None, models_dir: Path | None = None) -> Path:
    """Copy a checkpoint into ``models/transformer-NAME.pt`` as float16 weights (+ figures in meta)."""
    from ..checkpoint import load_checkpoint, save_checkpoint
    from ..registry import SHIPPED_DIR
    ck = load_checkpoint(path, "transformer")
    out = (models_dir or SHIPPED_DIR) / f"transformer-{name}.pt"
    meta = {k: v for k, v in ck.get("meta", {}).items() if k != "train_config"}
    if results:
        meta["eval"] = json.loads(json.dumps(results, default=float))
    save_checkpoint(out, technique="transformer", name=name, model_args=ck["model_args"],
                    state_dict={k: v.half() if v.is_floating_point() else v for k, v in ck["state_dict"].items()},
                    meta=meta)
    if out.stat().st_size > 10_000_000:
        raise ValueError(f"{out} is {out.stat().st_size / 1e6:.1f} MB, over the 10 MB limit")
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True, help="checkpoint to evaluate")
    p.add_argument("--cache", default=str(DEFAULT_CACHE))
    p.add_argument("--pieces", type=int, default=12, help="held-out pieces to continue (melody; half for all)")
    p.add_argument("--max-tokens", type=int, default=40_000, help="held-out tokens scored per view")
    p.add_argument("--json", help="write the figures here")
    p.add_argument("--ship", metavar="NAME", help="also write models/transformer-NAME.pt")
    a = p.parse_args(argv)
    res = evaluate_model(a.model, a.cache, a.pieces, a.max_tokens)
    text = json.dumps(res, indent=1, default=float)
    print(text)
    if a.json:
        Path(a.json).parent.mkdir(parents=True, exist_ok=True)
        Path(a.json).write_text(text)
    if a.ship:
        print("shipped", ship(a.model, a.ship, res))
    return 0


if __name__ == "__main__":
    sys.exit(main())


def card_text(res: dict, name: str, trained: str, command: str, bench: str = "") -> str:
    """A model card (markdown) from :func:`evaluate_model`'s figures."""
    cfg = res["config"]

    def f(x, d=3):
        return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{d}f}"
    rows = []
    for view in ("melody", "all"):
        c = res[f"continuation_{view}"]
        for k in ("note_density", "used_pitch_classes", "polyphony", "qualified_note_rate", "empty_bar_rate",
                  "in_scale_rate", "in_key_of_context"):
            rows.append(f"| {view} | {k} | {f(c[k]['generated'])} | {f(c[k]['real'])} |")
        td = c["tonal_distance_to_real_melody"]
        rows.append(f"| {view} | tonal distance to the real continuation (lower = closer) | {f(td['generated'])} "
                    f"| {f(td['last_context_bars'])} (the input's last bars) |")
    nm, na = res["nll_melody"], res["nll_all"]
    return f"""# transformer-{name}

Continues a melody or a whole arrangement in its own style (Transformer "extend"), {trained}.

## Model
Decoder-only transformer (nanoGPT-style, pre-norm, learned positions, tied embeddings, KV cache when sampling):
{cfg['n_layer']} layers, width {cfg['n_embd']}, {cfg['n_head']} heads, context {cfg['block_size']} tokens,
{res['params'] / 1e6:.2f} M parameters, stored as float16. Vocabulary: {cfg['vocab_size']} REMI-like tokens
(BOS, metre, tempo bin, one GM-family token per track; then per bar: BAR, position in 12ths of a beat, track and
velocity bin only when they change, pitch, duration bin). See `ml/transformer/tokens.py`.

Compared with AWS DeepComposer's sample Transformer-XL (4 layers, width 500, 310-token vocabulary, melody only):
ours is narrower (about {(cfg['n_embd'] / 500) ** 2 * cfg['n_layer'] / 4:.2f}x its per-token compute), has a
similar vocabulary size ({cfg['vocab_size']} vs 310) but encodes several tracks, metre and tempo, and replaces
Transformer-XL's segment recurrence by a plain {cfg['block_size']}-token window that slides on bar lines.

## Data (held out by piece: ~6 % of pieces; JSB: its standard test split)
- Nottingham folk tunes, melody + chords (GPLv3, cleaned MIDI)
- POP909: melody, bridge and piano parts (MIT repository; the songs themselves are copyrighted)
- JSB chorales, czhuang JSON 16th grid, S/A/T/B (music public domain; no licence stated)
- Weimar Jazz Database solos + annotated walking-bass pitch per beat (ODbL 1.0)
- Folk tunes in ABC from music21's corpus: O'Neill's Music of Ireland (1850), Ryan's Mammoth Collection, Aird's
  Airs (melody only; music21 corpus BSD-3, the tunes public domain), read by `ml/data/abc.py`
- OpenScore Lieder: voice part + piano (CC0), through the fast MusicXML reader (`ml/data/musicxml.py`)
- Hauptstimme orchestral movements: the annotated main melody only (CC0)
Every piece is seen twice: all parts, and the melody alone. Augmentation at train time: transposition -6..+5
semitones, tempo token shifted by up to 2 bins (about 25 %). Not used: the Essen folksongs and Tegridy
(non-commercial licences). MusicXML scores carry no tempo for our reader: lieder and orchestral melodies get
100 bpm; repeats are not expanded.

## Training
`{command}`

## Figures (held-out pieces)
NLL per token: melody {f(nm['nll_per_token'])} nats ({nm['tokens']:,} tokens), all tracks {f(na['nll_per_token'])}
nats ({na['tokens']:,} tokens). NLL per note: melody {f(nm['nll_per_note'], 2)} nats, all tracks
{f(na['nll_per_note'], 2)} nats (every token of a note incl. position, track, velocity, pitch, duration).

Continuations: 8 bars after 8 bars of context, top-p 0.95, temperature 1, from a cut a third into each held-out
4/4 piece ({res['continuation_melody']['pieces']} melody-only pieces, {res['continuation_all']['pieces']}
multi-track), shared metrics of `ml/metrics.py` on 16th-note rolls; "real" is the piece's own next 8 bars.

| tracks | figure | generated | real |
|---|---|---|---|
{chr(10).join(rows)}

{bench}
"""
