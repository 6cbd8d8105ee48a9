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

from .decode_fit import TEXTURE_TERMS
from .evaluate import (REFERENCE_LABEL, generated_figures, held_out, markdown_table, real_figures, reference_figures,
                       score)


def _instrument(track: dict) -> str:
    """A card track's GM instrument, or its sections' by register (``generate.sections_of``)."""
    from ...core.gm import pitch_name
    from .generate import sections_of
    sections = sections_of(track)
    if not sections:
        return _gm(int(track["program"]), bool(track["is_drum"]))
    return "by register: " + ", ".join(f"{name.lower()} ({_gm(program, False)}" + (f") from {pitch_name(low)}"
                                                                                     if low else ") below")
                                       for low, name, program in sections)


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


def _ranges(meta: dict, tracks) -> str:
    """The pitch range each pitched part keeps to (``decode_fit.pitch_range``), or ""."""
    from .decode_fit import RANGE_MARGIN
    dec = meta.get("decode") or {}
    low, high = dec.get("low") or [], dec.get("high") or []
    parts = [f"{t['name'].lower()} {lo}–{hi}" for t, lo, hi in zip(tracks, low, high)
             if not t.get("is_drum") and (lo > 0 or hi < 127)]
    if not parts:
        return ""
    return (f" Each pitched part keeps to the pitches its real part plays on those training melodies, "
            f"{RANGE_MARGIN} semitones either side (MIDI numbers, melody in C major / A minor; generation then moves "
            f"them to the melody's key): {', '.join(parts)}.")


def _register(meta: dict) -> str:
    """How the melody is moved to the register the model learned (``GanModel.octave_for``), or ""."""
    median = meta.get("melody_median")
    if median is None:
        return ""
    return (f" Before the model hears a melody, it is moved by whole octaves towards the register of the melodies "
            f"it learned from (their median pitch: MIDI {int(median)}); the melody itself is not changed.")


def build_card(model, data, idx, real: dict, figures: dict[str, dict], command: str, notes: list[str],
               source: str = "") -> str:
    """The card's markdown. ``source``: the folder or cache a user's own genre was trained on (no ``sources`` in
    the file's metadata: the shipped genres' data sets are described in ``models/DATA.md``)."""
    meta = model.meta
    genre = meta.get("genre") or model.name
    tracks = model.tracks
    names = ", ".join(f"{t['name'].lower()} ({_instrument(t)})" for t in tracks)
    short = ", ".join(t["name"].lower() for t in tracks)
    sources = meta.get("sources", [])
    src_names = ", ".join(s.get("folder", "?") for s in sources) or (
        f"`{os.path.basename(os.path.normpath(source)) or source}`" if source else "see below")
    lines = [f"# GAN accompaniment: {genre}", "",
             f"{genre.capitalize()} accompaniment for a melody: {short}; trained on {src_names}.", "",
             f"New tracks: {names}.", "",
             "## Tracks", "", "| track | instrument | learned from |", "|---|---|---|"]
    for t in tracks:
        origin = t.get("origin", "")
        if origin.startswith("rule"):
            origin = "**rule-derived**: " + origin.split(":", 1)[1].strip()
        lines.append(f"| {t['name']} | {_instrument(t)} | {origin} |")
    lines += ["", "## Data and licences", ""]
    for s in sources:
        extra = f" — {s['note']}" if s.get("note") else ""
        lines.append(f"- `{s.get('folder', '?')}` ({s.get('songs', '?')} songs): licence {s.get('licence', '?')}{extra}")
    if source and not sources:
        lines.append(f"- `{source}` ({len(set(data.song_id.tolist()))} songs): your own files; their licence applies")
    held_songs = len(set(int(x) for x in data.song_id[idx]))
    lines += ([] if source else ["- Data preparation and per-set details: `models/DATA.md`."]) + [
              f"- Held out for the figures below: {len(idx)} 8-bar windows from {held_songs} "
              f"song{'' if held_songs == 1 else 's'} never seen in training (split by song).", ""]
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
                 "training melodies (`decode_fit.refine`)" if meta.get("decode_refined")
                 else "") + ". Longer melodies: 8-bar windows with a 4-bar hop, probabilities cross-faded before "
              "decoding."
              + (" The fit sees the probabilities as generation decodes them, with each take's noise per bar and "
                 "pitch on the pitched tracks." if meta.get("decode_noise") else "")
              + (f" The search also holds {_texture_parts(meta)} to the real part's {_texture_terms(meta)} "
                 f"(weight {meta['decode_texture']:g} against a card figure; the card's figures are means over "
                 f"the tracks)." if meta.get("decode_texture") else "")
              + _strike_parts(meta, tracks) + _ranges(meta, tracks) + _register(meta),
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


def write_trained_card(model_path, data, command: str, source: str = "", limit: int = 100) -> str:
    """Measure a newly trained model on ``data``'s held-out songs and write its card next to it (``.md``);
    returns the card's path. What ``deepcomposer train gan`` does when training ends."""
    from .generate import load_model
    model = load_model(model_path)
    model.meta = dict(model.meta, genre=model.name)           # the name the user gave it, not the data's folder
    idx = held_out(data, limit)
    real = real_figures(data, idx)
    figures = {"this model": generated_figures(model, data, idx), REFERENCE_LABEL: reference_figures(data, limit)}
    notes = [] if len(idx) >= 20 else [f"Only {len(idx)} held-out windows: too few songs for these figures to say "
                                      f"much; train on more songs for a fair measure."]
    out = os.path.splitext(os.fspath(model_path))[0] + ".md"
    text = build_card(model, data, idx, real, figures, command, notes, source=source)
    from ...core.safe_write import write_atomically
    write_atomically(out, lambda fh: fh.write(text.encode("utf-8")))
    return out


def read_card(path) -> dict:
    """What a card written by this module measured and said: ``real`` and ``columns`` (label -> figures, every
    column of its metrics table), ``notes`` (the free notes under the scores) and ``command`` (how it was trained)."""
    from .evaluate import LABELS
    keys = {v: k for k, v in LABELS.items()}
    with open(path, encoding="utf-8") as fh:
        lines = fh.read().splitlines()
    head = next(i for i, ln in enumerate(lines) if ln.startswith("| figure | real data |"))
    labels = [c.strip() for c in lines[head].strip("|").split("|")][2:]
    real, columns = {}, {label: {} for label in labels}
    i = head + 2
    while i < len(lines) and lines[i].startswith("|"):
        cells = [c.strip() for c in lines[i].strip("|").split("|")]
        key = keys[cells[0]]
        real[key] = math.nan if cells[1] == "n/a" else float(cells[1])
        for label, cell in zip(labels, cells[2:]):
            word = cell.split(" ")[0]
            columns[label][key] = math.nan if word == "n/a" else float(word)
        i += 1
    end = next((j for j in range(i, len(lines)) if lines[j].startswith("## ")), len(lines))
    scores = tuple(f"- {label}: " for label in labels)
    notes = [ln[2:] for ln in lines[i:end] if ln.startswith("- ") and not ln.startswith(scores)]
    command = next((ln.split("Command: `", 1)[1].rstrip("`") for ln in lines if "Command: `" in ln), "")
    return {"real": real, "columns": columns, "notes": notes, "command": command,
            "sections": "\n".join(lines[end:]).strip()}


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
    ap.add_argument("--update", metavar="CARD",
                    help="re-measure this model for an existing card (e.g. after a decoding change): keep that card's "
                         "baseline columns, notes and command (--command is added to it as a further step); its "
                         "real-data column must come out the same")
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
    if a.update:
        old = read_card(a.update)
        if any(abs(v - real[k]) > 5e-4 + 1e-9 for k, v in old["real"].items() if not math.isnan(v)):   # 3 decimals
            raise SystemExit(f"{a.update} was measured on other windows than this card's")
        figures.update((label, fig) for label, fig in old["columns"].items()
                       if label not in ("this model", REFERENCE_LABEL))
        a.command = "; then ".join(c for c in (old["command"], a.command) if c)
        a.note = old["notes"] + a.note
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
    if a.update and old["sections"]:                      # the card's own further sections, as they were
        text += "\n" + old["sections"] + "\n"
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
