"""Re-run the decoding calibration of a trained model (same weights, stored compact) on its training windows.

``python -m deepcomposer_desktop.ml.gan.recalibrate --model gan-x.pt --data cache/gan/x.npz --out gan-x.pt``
"""
from __future__ import annotations

import argparse
import sys

import numpy as np


def recalibrate(model_path, data_spec, out_path, windows: int = 128, seed: int = 0, refine_rounds: int = 0,
                log=None, texture: float = 0.0, texture_tracks=None, keep: bool = False) -> dict:
    """Calibrate on up to ``windows`` training windows (held-out songs excluded); returns the new decode dict.

    ``keep`` without ``refine_rounds``: the file's own decoding, with each pitched part that has no pitch range yet
    kept to its real part's range on those windows (``decode_fit.with_ranges``). ``refine_rounds`` > 0: then search
    each track's parameters so that every music figure of the model card comes close to the real one on those
    windows (``decode_fit.refine``); ``texture`` > 0: each pitched part's own notes per
    bar, pitch classes per bar and polyphony count too, with that weight (``decode_fit.texture_figures``); only the
    parts named in ``texture_tracks`` (track names or numbers from 1) when given. ``keep``: the search starts from
    the file's own decoding instead of a fresh calibration (a search that has new options to try keeps what the
    last one found; on the same windows, with ``seed`` as before, it can only get closer)."""
    import torch
    from ..checkpoint import load_checkpoint, save_checkpoint
    from .data import load_training_data, split_by_song
    from .decode import VARIATION, DecodeParams
    from .decode_fit import TEXTURE_TERMS, fit
    from .generate import model_from_payload
    from .train import prepare_data
    from .quant import QSUFFIX, dequantize, quantize
    payload = load_checkpoint(model_path, "gan")
    if not any(k.endswith(QSUFFIX) for k in payload["state_dict"]):        # store compact, calibrate what is stored
        payload["state_dict"] = quantize(dequantize(payload["state_dict"]))
    model = model_from_payload(payload, str(model_path))
    if model.arch.kind != "unet":
        raise SystemExit("only our U-Net models have calibrated decoding")
    data = load_training_data(data_spec)
    chosen = texture_track_indices(texture_tracks, [t["name"] for t in data.tracks])
    train_idx, _ = split_by_song(data)
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.choice(train_idx, min(windows, len(train_idx)), replace=False))
    part = prepare_data(data.subset(pick), model.arch)
    gen = torch.Generator().manual_seed(seed)
    pf, po = [], []
    with torch.inference_mode():
        for s in range(0, len(part), 16):
            fr = torch.from_numpy(part.melody[s:s + 16]).float()
            on = torch.from_numpy(part.melody_on[s:s + 16]).float()
            f, o = model.generator.probabilities(model.generator(fr, on, model.generator.sample_z(len(fr), gen)))
            pf.append(f.numpy())
            po.append(o.numpy())
    pf, po = np.concatenate(pf), np.concatenate(po)
    start = None
    if keep:
        if not payload["meta"].get("decode"):
            raise ValueError(f"{model_path} has no decoding of its own to start from; leave out --keep")
        start = DecodeParams.from_dict(payload["meta"]["decode"])
    params = fit(pf, po, part.melody, part.accomp, part.accomp_on, part.is_drum, refine_rounds, log, texture=texture,
                 texture_tracks=chosen, start=start, shifts=part.shifts)
    if keep and refine_rounds <= 0:             # the file's own decoding, given only what it lacked (pitch ranges)
        meta = dict(payload["meta"], decode=params.to_dict())
    else:
        meta = dict(payload["meta"], decode=params.to_dict(), decode_refined=refine_rounds > 0,
                    decode_noise=VARIATION, decode_texture=texture if refine_rounds > 0 else 0.0,
                    decode_texture_terms=list(TEXTURE_TERMS) if texture > 0 and refine_rounds > 0 else None,
                    decode_texture_tracks=[data.tracks[t]["name"] for t in chosen] if chosen is not None else None)
    save_checkpoint(out_path, technique="gan", name=payload.get("name", ""), model_args=payload["model_args"],
                    state_dict=payload["state_dict"], meta=meta)
    return params.to_dict()


def texture_track_indices(spec, names: list[str]) -> list[int] | None:
    """``spec`` (None, or track names / numbers from 1, as a list or one comma-separated string) -> indices."""
    if spec is None or spec == "":
        return None
    items = [x.strip() for x in spec.split(",")] if isinstance(spec, str) else [str(x).strip() for x in spec]
    lower = [n.lower() for n in names]
    out = []
    for item in items:
        if item.isdigit() and 1 <= int(item) <= len(names):
            out.append(int(item) - 1)
        elif item.lower() in lower:
            out.append(lower.index(item.lower()))
        else:
            raise ValueError(f"No track {item!r}: the tracks are {', '.join(names)} (names or numbers from 1)")
    return sorted(set(out))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m deepcomposer_desktop.ml.gan.recalibrate")
    ap.add_argument("--model", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--windows", type=int, default=128)
    ap.add_argument("--refine", type=int, default=0, metavar="ROUNDS",
                    help="then match every music figure on the calibration windows (coordinate search rounds)")
    ap.add_argument("--texture", type=float, default=0.0, metavar="W",
                    help="with --refine: also match each pitched part's notes per bar, pitch classes per bar and "
                         "polyphony, weighted W against a card figure (e.g. 0.5)")
    ap.add_argument("--texture-tracks", default=None, metavar="NAMES",
                    help="with --texture: only these parts (comma-separated track names or numbers from 1)")
    ap.add_argument("--keep", action="store_true",
                    help="with --refine: start the search from the model file's own decoding, not a fresh "
                         "calibration; without --refine: keep that decoding and only give each pitched part its "
                         "real part's pitch range if it has none")
    a = ap.parse_args(argv)
    import torch
    torch.set_num_threads(1)
    try:
        print(recalibrate(a.model, a.data, a.out, a.windows, refine_rounds=a.refine,
                          log=lambda m: print(m, flush=True), texture=a.texture, texture_tracks=a.texture_tracks,
                          keep=a.keep))
    except ValueError as exc:
        raise SystemExit(str(exc)) from None
    return 0


if __name__ == "__main__":
    sys.exit(main())
