"""Which presets of a SoundFont can send to FluidSynth's reverb or chorus (read from the file's preset data).

An offline render switches off an effect unit that nothing in the song can reach: its output would be exact zeros,
so the file is bit for bit the same and the render is faster (FluidR3's GM presets send nothing to the chorus, and
FluidSynth runs the effects on one core after the voices). A preset reaches an effect if a generator of one of its
zones (preset or instrument, global zones included) sets that send, or a modulator of the file targets it; the
default modulators reach it only through CC 91 (reverb) and CC 93 (chorus), which start at 0.

Pure Python over the file's ``pdta`` chunk (a few hundred kB even for a 148 MB font); nothing here touches the
synth. Anything unexpected in the file gives "both effects" for every preset: never a silenced effect.
"""
from __future__ import annotations

import os
import struct
from functools import lru_cache
from pathlib import Path

import numpy as np

REVERB_SEND, CHORUS_SEND = 16, 15       # SF2 generator numbers (reverbEffectsSend, chorusEffectsSend)
GEN_INSTRUMENT = 41
CC_REVERB, CC_CHORUS = 91, 93
BOTH = (True, True)


def _chunks(data: bytes, start: int, end: int) -> dict[bytes, bytes]:
    out, pos = {}, start
    while pos + 8 <= end:
        cid, size = data[pos:pos + 4], struct.unpack_from("<I", data, pos + 4)[0]
        out[cid] = data[pos + 8:pos + 8 + size]
        pos += 8 + size + (size & 1)
    return out


def _read_pdta(path: Path) -> bytes | None:
    with path.open("rb") as fh:
        head = fh.read(12)
        if head[:4] != b"RIFF" or head[8:12] != b"sfbk":
            return None
        riff_end = 8 + struct.unpack("<I", head[4:8])[0]
        pos = 12
        while pos + 12 <= riff_end:
            fh.seek(pos)
            hdr = fh.read(12)
            if len(hdr) < 12:
                return None
            size = struct.unpack("<I", hdr[4:8])[0]
            if hdr[:4] == b"LIST" and hdr[8:12] == b"pdta":
                return fh.read(size - 4)
            pos += 8 + size + (size & 1)
    return None


def _table(raw: bytes, size: int, *fields: tuple[str, int, str]) -> np.ndarray:
    """Fixed-size records of ``size`` bytes as a structured array of (name, byte offset, little-endian type)."""
    dtype = np.dtype({"names": [f[0] for f in fields], "offsets": [f[1] for f in fields],
                      "formats": [f[2] for f in fields], "itemsize": size})
    return np.frombuffer(raw, dtype, len(raw) // size)


def _sends(first_bag: np.ndarray, bags: np.ndarray, gens: np.ndarray, mods: np.ndarray):
    """For each preset (or instrument) i, whose zones are bags [first_bag[i], first_bag[i+1]): does a generator
    or modulator of them reach the reverb, the chorus; and the index of its first generator (its generators,
    like its zones, lie in a row)."""
    first_bag = np.minimum(first_bag, len(bags) - 1)
    g = np.minimum(bags["gen"][first_bag].astype(np.int64), len(gens))
    m = np.minimum(bags["mod"][first_bag].astype(np.int64), len(mods))
    out = []
    for send in (REVERB_SEND, CHORUS_SEND):
        by_gen = np.concatenate([[0], np.cumsum((gens["oper"] == send) & (gens["amount"] != 0))])
        by_mod = np.concatenate([[0], np.cumsum(mods["dest"] == send)])
        out.append((by_gen[g[1:]] > by_gen[g[:-1]]) | (by_mod[m[1:]] > by_mod[m[:-1]]))
    return out[0], out[1], g


@lru_cache(maxsize=8)
def _preset_sends(path: str, mtime_ns: int, size: int) -> dict[tuple[int, int], tuple[bool, bool]] | None:
    try:
        pdta = _read_pdta(Path(path))
    except OSError:
        return None
    if pdta is None:
        return None
    c = _chunks(pdta, 0, len(pdta))
    if any(k not in c for k in (b"phdr", b"pbag", b"pmod", b"pgen", b"inst", b"ibag", b"imod", b"igen")):
        return None
    bag = (("gen", 0, "<u2"), ("mod", 2, "<u2"))
    gen = (("oper", 0, "<u2"), ("amount", 2, "<i2"))
    mod = (("dest", 2, "<u2"),)
    heads = _table(c[b"phdr"], 38, ("program", 20, "<u2"), ("bank", 22, "<u2"), ("bag", 24, "<u2"))
    insts = _table(c[b"inst"], 22, ("bag", 20, "<u2"))
    pbag, ibag = _table(c[b"pbag"], 4, *bag), _table(c[b"ibag"], 4, *bag)
    pgen, igen = _table(c[b"pgen"], 4, *gen), _table(c[b"igen"], 4, *gen)
    pmod, imod = _table(c[b"pmod"], 10, *mod), _table(c[b"imod"], 10, *mod)
    if len(heads) < 2 or len(insts) < 2 or not len(pbag) or not len(ibag):
        return None
    i_rev, i_cho, _ = _sends(insts["bag"].astype(np.int64), ibag, igen, imod)
    p_rev, p_cho, g = _sends(heads["bag"].astype(np.int64), pbag, pgen, pmod)
    is_inst = pgen["oper"] == GEN_INSTRUMENT
    refs_all = pgen["amount"].astype(np.int64) & 0xFFFF
    out: dict[tuple[int, int], tuple[bool, bool]] = {}
    for k in range(len(heads) - 1):                     # the last header is the terminal record
        refs = refs_all[g[k]:g[k + 1]][is_inst[g[k]:g[k + 1]]]
        if (refs >= len(i_rev)).any():
            return None
        out[(int(heads["bank"][k]), int(heads["program"][k]))] = (bool(p_rev[k] or i_rev[refs].any()),
                                                                bool(p_cho[k] or i_cho[refs].any()))
    return out


def effects_needed(soundfont: str | os.PathLike, presets, controllers) -> tuple[bool, bool]:
    """(reverb, chorus): whether anything in a render can reach each effect. ``presets``: the (bank, program)
    pairs the render selects; ``controllers``: the (number, value) changes it sends. Unknown answers are True."""
    try:
        st = os.stat(soundfont)
    except OSError:
        return BOTH
    sends = _preset_sends(str(soundfont), st.st_mtime_ns, st.st_size)
    if sends is None:
        return BOTH
    reverb = chorus = False
    for key in presets:
        r, ch = sends.get(key, BOTH)
        reverb, chorus = reverb or r, chorus or ch
    for number, value in controllers:
        reverb |= number == CC_REVERB and value > 0
        chorus |= number == CC_CHORUS and value > 0
    return reverb, chorus
