"""Write a GAN model card (``models/gan-<genre>.md``): tracks and where they come from, data and licences,
training, and the metrics on held-out melodies vs the real data and the DeepComposer-recipe baselines.

``python -m deepcomposer_desktop.ml.gan.card --model models/gan-rock.pt --cache cache/gan/rock.npz
--baseline "DeepComposer recipe, same data=base-rock.pt" --baseline "DeepComposer sample GAN (JSB 2-bar)=base.pt"
--command "..." [--note "..."] --out models/gan-rock.md``
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys

from .decode import TEXTURE_TERMS
from .evaluate import (REFERENCE_LABEL, generated_figures, held_out, markdown_table, real_figures, reference_figures,
                       score)


def _gm(program: int, drum: bool) -> str:
    if drum:
        return "drum kit (GM channel 10)"
    try:
        from ...core.gm import program_name
        return program_name(program)
    except Exception:                                    # pragma: no cover - gm always ships
        return f"program {program}"


TEXTURE_WORDS = {"note_density": "notes per bar", "used_pitch_classes": "pitch classes per bar",
                 "polyphony": "polyphony", "qualified_note_rate": "share of notes of 3 steps or more"}


def _texture_terms(meta: dict) -> str:
    """The per-part figures the fit held (files from before the record: the first three)."""
    terms = [TEXTURE_WORDS.get(t, t) for t in meta.get("decode_texture_terms") or TEXTURE_TERMS[:3]]
    return ", ".join(terms[:-1]) + " and " + terms[-1]


def _texture_parts(meta: dict) -> str:
    names = meta.get("decode_texture_tracks")
    return "each pitched part" if not names else "the " + " and the ".join(n.lower() for n in names)


def _strike_parts(meta: dict, tracks) -> str:
    """The parts whose decoding mixes in the real part's re-attack grid (``decode.apply_strike``), or ""."""
    w = (meta.get("decode") or {}).get("strike_weight") or []
    names = [t["name"].lower() for t, x in zip(tracks, w) if x and float(x) > 0]
    if not names:
        return ""
    return (f" For the {' and the '.join(names)} the search chose to mix the onset probabilities with the real "
            f"part's re-attack rate at each sixteenth of the bar, so that held notes re-attack where the real part "
            f"strikes.")


def build_card(model, data, idx, real: dict, figures: dict[str, dict], command: str, notes: list[str]) -> str:
    meta = model.meta
    genre = meta.get("genre") or model.name
    tracks = model.tracks
    names = ", ".join(f"{t['name'].lower()} ({_gm(int(t['program']), bool(t['is_drum']))})" for t in tracks)
    short = ", ".join(t["name"].lower() for t in tracks)
    sources = meta.get("sources", [])
    src_names = ", ".join(s.get("folder", "?") for s in sources) or "see below"
    lines = [f"# GAN accompaniment: {genre}", "",
             f"{genre.capitalize()} accompaniment for a melody: {short}; trained on {src_names}.", "",
             f"New tracks: {names}.", "",
             "## Tracks", "", "| track | instrument | learned from |", "|---|---|---|"]
    for t in tracks:
        origin = t.get("origin", "")
        if origin.startswith("rule"):
            origin = "**rule-derived**: " + origin.split(":", 1)[1].strip()
        lines.append(f"| {t['name']} | {_gm(int(t['program']), bool(t['is_drum']))} | {origin} |")
    lines += ["", "## Data and licences", ""]
    for s in sources:
        extra = f" — {s['note']}" if s.get("note") else ""
        lines.append(f"- `{s.get('folder', '?')}` ({s.get('songs', '?')} songs): licence {s.get('licence', '?')}{extra}")
    lines += ["- Data preparation and per-set details: `models/DATA.md`.",
              f"- Held out for the figures below: {len(idx)} 8-bar windows from "
              f"{len(set(int(x) for x in data.song_id[idx]))} songs never seen in training (split by song).", ""]
    arch = model.arch
    params = sum(p.numel() for p in model.generator.parameters())
    tr = meta.get("train", {})
    dec = meta.get("decode") or {}
    lines += ["## Model and training", "",
              f"- Architecture `{arch.kind}`: U-Net generator ({params:,} parameters) on the melody's piano roll "
              f"(frames, onsets, its pitch classes per step and per bar), per-bar noise ({arch.z_dim} channels), "
              f"an attention block over bars x pitch bands, one frame + onset head per track; 8-bar windows "
              f"(16 steps per bar), melody moved to C major / A minor (drums never transposed).",
              (f"- Loss: WGAN-GP (critic of 4 strided convs + dense, gradient penalty {tr.get('gp_weight', '?')}) plus "
               f"{tr.get('recon_weight', '?')} x binary cross-entropy against the real accompaniment of the same "
               f"melody; {tr.get('update_ratio', '?')} critic steps per generator step; "
               if tr.get("adv_weight", 1) else
               "- Loss in this run: binary cross-entropy against the real accompaniment of the same melody only "
               "(critic off); ")
              + f"Adam lr {tr.get('lr', '?')} betas {tr.get('betas', '?')}, batch {tr.get('batch_size', '?')}; "
              f"{meta.get('iterations', '?')} generator steps ({meta.get('epochs', '?')} epochs of "
              f"{meta.get('train_windows', '?')} windows).",
              "- Decoding (per track, calibrated on training melodies against their real accompaniment): quiet "
              "bars silenced in the real proportion of empty bars, a frame threshold matching the real share of "
              "sounding cells, a polyphony cap (the real 99th percentile), for drums each hit's probability mixed "
              "(geometric mean) with the real hit rate of that drum at that sixteenth of the bar"
              + (" and then scaled so that each drum sounds at each sixteenth as often as the real drummer played "
                 "it there" if any(dec.get("phase_gain") or []) else "")
              + ", and the gap-filling / onset / "
              "shortest-note setting whose note density and note lengths come closest to the real ones"
              + ("; then a coordinate search over each track's parameters (threshold, bar gate, polyphony cap, "
                 "gap filling, shortest note, onset threshold, the band's pitch classes per bar, the drum grid's "
                 "weight" + (", the re-attack grid's weight" if any(dec.get("strike") or []) else "")
                 + (", legato for one-note parts" if any(dec.get("legato") or []) else "")
                 + (", one note per beat (or other cell) for one-note parts, re-struck or held on"
                    if any(dec.get("walk") or []) else "")
                 + ") brings every figure of the table below as close as it can to the real one on those "
                 "training melodies (`decode.refine`)" if meta.get("decode_refined")
                 else "") + ". Longer melodies: 8-bar windows with a 4-bar hop, probabilities cross-faded before "
              "decoding."
              + (" The fit sees the probabilities as generation decodes them, with each take's noise per bar and "
                 "pitch on the pitched tracks." if meta.get("decode_noise") else "")
              + (f" The search also holds {_texture_parts(meta)} to the real part's {_texture_terms(meta)} "
                 f"(weight {meta['decode_texture']:g} against a card figure; the card's figures are means over "
                 f"the tracks)." if meta.get("decode_texture") else "")
              + _strike_parts(meta, tracks),
              f"- Trained: {meta.get('created', '?')}. Command: `{command}`", ""]
    lines += ["## Metrics on held-out melodies", "",
              "Figures on the generated accompaniment (one take per melody, seed = window number) next to the same "
              "figures on the real accompaniment of those melodies. In brackets: deviation from the real figure "
              "(`ok` = within the ±15 % target; where the real figure is below 0.02, within 0.02 of it). The last "
              "column is no model: it is the same figures on real windows of the *training* songs, to show how far "
              "two samples of real music in this collection differ.", "",
              markdown_table(real, figures), ""]
    for label, fig in figures.items():
        ok, n, err = score(real, fig)
        lines.append(f"- {label}: {ok}/{n} figures within 15 %, mean deviation {err * 100:.0f} %.")
    lines += [""] + [f"- {n}" for n in notes] + [""] if notes else [""]
    return "\n".join(lines).rstrip() + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m deepcomposer_desktop.ml.gan.card")
    ap.add_argument("--model", required=True)
    ap.add_argument("--cache", required=True)
    ap.add_argument("--baseline", action="append", default=[], help="label=path of a baseline model file")
    ap.add_argument("--baseline-json", action="append", default=[],
                    help="label=path=key: figures of model `key` from an evaluate --json file of the same windows")
    ap.add_argument("--command", default="")
    ap.add_argument("--note", action="append", default=[])
    ap.add_argument("--limit", type=int, default=100)
    ap.add_argument("--out", required=True)
    ap.add_argument("--json", help="write the figures here too")
    a = ap.parse_args(argv)
    import torch
    torch.set_num_threads(1)
    from .data import load_training_data
    from .generate import load_model
    model = load_model(a.model)
    data = load_training_data(a.cache)
    idx = held_out(data, a.limit)
    real = real_figures(data, idx)
    figures = {"this model": generated_figures(model, data, idx)}
    for spec in a.baseline:
        label, _, path = spec.rpartition("=")
        if os.path.exists(path):
            figures[label or os.path.basename(path)] = generated_figures(load_model(path), data, idx)
    for spec in a.baseline_json:
        label, path, key = spec.split("=")
        with open(path) as fh:
            got = json.load(fh)
        if got.get("windows") != len(idx) or any(abs(got["real"][k] - real[k]) > 1e-6 for k in real
                                                 if got["real"].get(k) is not None and not math.isnan(real[k])):
            raise SystemExit(f"{path} was computed on other windows than this card's")
        figures[label] = {k: (math.nan if v is None else v) for k, v in got["models"][key].items()}
    figures[REFERENCE_LABEL] = reference_figures(data, a.limit)
    text = build_card(model, data, idx, real, figures, a.command, a.note)
    with open(a.out, "w") as fh:
        fh.write(text)
    if a.json:
        with open(a.json, "w") as fh:
            json.dump({"real": real, "models": figures}, fh, indent=1,
                      default=lambda x: None if isinstance(x, float) and math.isnan(x) else x)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
