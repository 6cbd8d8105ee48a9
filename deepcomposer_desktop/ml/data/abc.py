"""A small, fast ABC reader for single-voice tunes in tune books: notes in quarter notes, the bar grid, metre, tempo.

Reads the ABC 2.1 that folk books use (fields, key signatures with modes, accidentals to the bar line, lengths,
broken rhythm, tuplets, ties, chords, inline fields). Repeats are not expanded: a tune is read straight through
once, first and second endings alike. Only the first voice of a multi-voice tune is read; a chord keeps its top
note; grace notes, decorations, chord symbols, lyrics and voice overlays (``&``) are skipped. A tune without M: is
read in 4/4 and one without Q: at 120 bpm; free metre (``M:none``) and a book's file header are not supported.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from . import DataError
from .musicxml import Measure

DEFAULT_BPM = 120.0
EPS = 1e-6
_BASE = {"C": 60, "D": 62, "E": 64, "F": 65, "G": 67, "A": 69, "B": 71}
_FIFTHS = {"C": 0, "G": 1, "D": 2, "A": 3, "E": 4, "B": 5, "F": -1}
_MODES = (("maj", 0), ("ion", 0), ("mix", -1), ("dor", -2), ("aeo", -3), ("min", -3), ("m", -3), ("phr", -4),
          ("loc", -5), ("lyd", 1))
_ACC = {"^": 1, "^^": 2, "_": -1, "__": -2, "=": 0}
_FIELD = re.compile(r"\s*([A-Za-z]):(.*)")
_BODY_FIELDS = set("HIKLMNOPQRSTUVWXYZmrsuw")       # field lines that may appear between music lines
_NOTE = re.compile(r"(\^\^|\^|__|_|=)?([A-Ga-g])([,']*)")
_LEN = re.compile(r"(\d*)(/*)(\d*)")
_TUPLET = re.compile(r"\((\d)(?::(\d?))?(?::(\d?))?")
_DECO = re.compile(r"([!+])[^!+\s|]{1,30}\1")
_BAR = re.compile(r"(?:\[\||:*\|+\]?|:{2,})(?::*)(?:\s*\[?\d[\d,\-]*)?")


class AbcError(DataError):
    """A tune that cannot be read (no K: field, a bad metre or length, an unclosed chord, no notes)."""


@dataclass
class Tune:
    """One tune: ``notes`` are ``(onset, duration, midi pitch)`` in quarter notes; ``measures`` the bar grid as
    written (a pickup is a short first measure)."""

    number: str
    title: str
    meter: tuple[int, int]
    bpm: float
    notes: list = field(default_factory=list)
    measures: list = field(default_factory=list)


def split_tunes(text: str) -> list[str]:
    """The tunes of a book: each from its ``X:`` line to the first empty line. Text outside tunes is dropped."""
    tunes, cur = [], None
    for line in text.splitlines():
        if line.startswith("X:"):
            if cur:
                tunes.append("\n".join(cur))
            cur = [line]
        elif cur is not None:
            if line.strip():
                cur.append(line)
            else:
                tunes.append("\n".join(cur))
                cur = None
    if cur:
        tunes.append("\n".join(cur))
    return tunes


def parse_meter(spec: str) -> tuple[int, int]:
    """``C`` -> (4, 4), ``C|`` -> (2, 2), ``6/8``, ``2+3/8`` -> (5, 8). Raises AbcError (free metre included)."""
    s = spec.strip()
    if s == "C":
        return 4, 4
    if s == "C|":
        return 2, 2
    m = re.match(r"\(?([\d+\s]+)\)?\s*/\s*(\d+)", s)
    if not m:
        raise AbcError(f"metre {spec.strip()!r} is not supported")
    num, den = sum(int(x) for x in m.group(1).split("+") if x.strip()), int(m.group(2))
    if num <= 0 or den <= 0:
        raise AbcError(f"bad metre {spec.strip()!r}")
    return num, den


def parse_length(spec: str) -> float:
    """Unit note length ``L:1/8`` in quarter notes (0.5). Raises AbcError."""
    m = re.match(r"\s*(\d+)\s*/\s*(\d+)", spec)
    if not m or int(m.group(1)) <= 0 or int(m.group(2)) <= 0:
        if re.fullmatch(r"\s*1\s*", spec):
            return 4.0
        raise AbcError(f"bad unit length {spec.strip()!r}")
    return 4.0 * int(m.group(1)) / int(m.group(2))


def parse_tempo(spec: str) -> float | None:
    """Quarter notes per minute from ``1/4=120``, ``3/8=120``, ``"Allegro" 1/2=100`` or a plain ``120``."""
    s = re.sub(r'"[^"]*"', " ", spec)
    m = re.search(r"((?:\d+\s*/\s*\d+\s*)+)=\s*(\d+(?:\.\d+)?)", s)
    if m:
        beat = sum(4.0 * int(a) / int(b) for a, b in re.findall(r"(\d+)\s*/\s*(\d+)", m.group(1)) if int(b))
        bpm = beat * float(m.group(2))
    else:
        m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*", s)
        bpm = float(m.group(1)) if m else 0.0
    return bpm if bpm > 0 else None


def key_signature(spec: str) -> dict[str, int]:
    """Alteration per letter (``{"F": 1, "C": 1}`` for D major) from a K: field: tonic, ``#``/``b``, a mode
    (maj, min, m, dor, mix, lyd, phr, loc, aeo, ion; full words too) and explicit accidentals (``K:D =c``).
    ``none`` and the Highland pipes' ``HP`` give no alterations, ``Hp`` gives F# and C#. Raises AbcError."""
    s = spec.strip()
    if not s or s.lower().startswith("none") or s.startswith("HP"):
        return {}
    if s.startswith("Hp"):
        return {"F": 1, "C": 1}
    m = re.match(r"([A-Ga-g])([#b]?)\s*([A-Za-z]*)", s)
    if not m:
        if re.match(r"[_^=]", s):                  # only explicit accidentals
            m, rest = None, s
        else:
            raise AbcError(f"bad key {spec.strip()!r}")
    out: dict[str, int] = {}
    if m:
        mode, rest = m.group(3).lower(), s[m.end():]
        offset = next((o for name, o in _MODES if mode.startswith(name)), 0) if mode else 0
        if mode and not any(mode.startswith(name) for name, _ in _MODES):
            rest = m.group(3) + rest                 # not a mode: e.g. "clef=treble"
        n = _FIFTHS[m.group(1).upper()] + {"#": 7, "b": -7, "": 0}[m.group(2)] + offset
        if not -7 <= n <= 7:
            raise AbcError(f"key {spec.strip()!r} has more than 7 sharps or flats")
        for letter in ("FCGDAEB"[:n] if n > 0 else "BEADGCF"[:-n]):
            out[letter] = 1 if n > 0 else -1
    for acc, letter in re.findall(r"(\^\^|\^|__|_|=)([A-Ga-g])(?![A-Za-z])", rest):
        out[letter.upper()] = _ACC[acc]
    return out


def _length(s: str, i: int) -> tuple[float, int]:
    """A length multiplier (``2``, ``/2``, ``/``, ``//``, ``3/2``) at ``s[i]`` and the index after it."""
    m = _LEN.match(s, i)
    num, slashes, den = m.groups()
    if not num and not slashes:
        return 1.0, i
    d = (int(den) * 2 ** (len(slashes) - 1) if den else 2 ** len(slashes)) if slashes else 1
    if d == 0 or (num and int(num) == 0):
        raise AbcError(f"bad note length {m.group(0)!r}")
    return (int(num) if num else 1) / d, m.end()


def _strip_comment(line: str) -> str:
    k = line.find("%")
    while k > 0 and line[k - 1] == "\\":
        k = line.find("%", k + 1)
    return line if k < 0 else line[:k]


class _Reader:
    """State of one tune being read: time, accidentals, ties, tuplets, broken rhythm, voices."""

    def __init__(self, meter, unit, key):
        self.meter, self.unit, self.key = meter, unit, key
        self.t = 0.0                         # quarter notes
        self.notes: list[list] = []          # [onset, duration, pitch]
        self.bars = [0.0]
        self.meters = [(0.0, meter)]
        self.bar_acc: dict[int, int] = {}    # natural pitch -> alteration until the bar line
        self.tie_from: int | None = None     # index of a note whose tie waits for its partner
        self.tie_nat = -1                    # natural pitch of the last note (its accidental carries over a tie)
        self.last: tuple[int, float] | None = None   # (note index or -1 for a rest, length) for broken rhythm
        self.next_factor = 1.0
        self.tuplet_left, self.tuplet_factor = 0, 1.0
        self.voice: str | None = None        # the voice read (the first one named)
        self.other_voice = False             # inside another voice
        self.overlay = False                 # inside a voice overlay (until the bar line)

    def field(self, letter: str, value: str) -> None:
        if letter == "K":
            self.key, self.bar_acc = key_signature(value), {}
        elif letter == "M":
            self.meter = parse_meter(value)
            self.meters.append((self.t, self.meter))
        elif letter == "L":
            self.unit = parse_length(value)
        elif letter == "V":
            vid = (value.split() or [""])[0]
            if self.voice is None:
                self.voice = vid
            self.other_voice = vid != self.voice

    def bar(self) -> None:
        if self.t > self.bars[-1] + EPS:
            self.bars.append(self.t)
        self.bar_acc = {}
        self.overlay = False

    def pitch(self, acc: str | None, letter: str, octave: str) -> tuple[int, int]:
        """(sounding pitch, natural pitch) of a note."""
        nat = _BASE[letter.upper()] + (12 if letter.islower() else 0) + 12 * (octave.count("'") - octave.count(","))
        if acc is not None:
            alter = self.bar_acc[nat] = _ACC[acc]
        elif nat in self.bar_acc:
            alter = self.bar_acc[nat]
        elif self.tie_from is not None and nat == self.tie_nat:
            return self.notes[self.tie_from][2], nat
        else:
            alter = self.key.get(letter.upper(), 0)
        if not 0 <= nat + alter < 128:
            raise AbcError(f"pitch {nat + alter} is out of the MIDI range")
        return nat + alter, nat

    def event(self, pitch: int | None, length: float, nat: int = -1) -> None:
        """A note (or a rest when ``pitch`` is None) of ``length`` quarters before broken rhythm and tuplets."""
        length *= self.next_factor
        self.next_factor = 1.0
        if self.tuplet_left:
            length *= self.tuplet_factor
            self.tuplet_left -= 1
        idx = -1
        if pitch is not None:
            tf = self.tie_from
            if tf is not None and self.notes[tf][2] == pitch and abs(sum(self.notes[tf][:2]) - self.t) < EPS:
                self.notes[tf][1] += length
                idx = tf
            else:
                self.notes.append([self.t, length, pitch])
                idx = len(self.notes) - 1
        self.tie_from = None
        self.last = (idx, length)
        self.t += length
        self.tie_nat = nat

    def broken(self, run: str) -> None:
        """``>`` / ``<`` (or ``>>``...) between two notes."""
        if self.last is None:
            return
        short = 0.5 ** len(run)
        prev, nxt = (2 - short, short) if run[0] == ">" else (short, 2 - short)
        idx, length = self.last
        delta = length * (prev - 1)
        self.t += delta
        if idx >= 0:
            self.notes[idx][1] += delta
        self.last = (idx, length * prev)
        self.next_factor = nxt

    def tie(self) -> None:
        if self.last is not None and self.last[0] >= 0:
            self.tie_from = self.last[0]

    def tuplet(self, m) -> None:
        """``(p``, ``(p:q``, ``(p:q:r``: the next r notes take q/p of their length."""
        p = int(m.group(1))
        if p < 2:
            return
        if m.group(2):
            q = int(m.group(2))
        elif p in (2, 4, 8):
            q = 3
        elif p in (3, 6):
            q = 2
        else:
            num, den = self.meter
            q = 3 if den == 8 and num % 3 == 0 and num > 3 else 2
        self.tuplet_factor, self.tuplet_left = q / p, int(m.group(3)) if m.group(3) else p

    def chord(self, s: str, i: int) -> int:
        """Read ``[...]`` from ``s[i] == "["``, keeping the top note. Returns the index after the chord."""
        end = s.find("]", i)
        if end < 0:
            raise AbcError("a chord is not closed")
        top, top_nat, first_len, tie, j = None, -1, None, False, i + 1
        while j < end:
            m = _NOTE.match(s, j)
            if m:
                p, nat = self.pitch(*m.groups())
                units, j = _length(s, m.end())
                if first_len is None:
                    first_len = units
                if top is None or p > top:
                    top, top_nat = p, nat
            else:
                tie |= s[j] == "-"
                j += 1
        mult, j = _length(s, end + 1)
        if top is not None:
            self.event(top, (first_len or 1.0) * mult * self.unit, top_nat)
        if tie:
            self.tie()
        return j

    def line(self, s: str) -> None:
        """One line of music."""
        i, n = 0, len(s)
        while i < n:
            c = s[i]
            if c == "[" and i + 2 < n and s[i + 2] == ":" and s[i + 1].isalpha():      # inline field
                end = s.find("]", i)
                if end < 0:
                    raise AbcError("an inline field is not closed")
                self.field(s[i + 1], s[i + 3:end])
                i = end + 1
            elif self.other_voice:
                i += 1
            elif c == '"':                                                         # chord symbol, annotation
                end = s.find('"', i + 1)
                if end < 0:
                    raise AbcError("a quoted string is not closed")
                i = end + 1
            elif c in "|:" or (c == "[" and i + 1 < n and s[i + 1] in "|123456789"):
                m = _BAR.match(s, i)
                if m and ("|" in m.group(0) or "::" in m.group(0)):
                    self.bar()
                i = m.end() if m and m.end() > i else i + 1
            elif self.overlay:
                i += 1
            elif (m := _NOTE.match(s, i)) is not None:
                p, nat = self.pitch(*m.groups())
                units, i = _length(s, m.end())
                self.event(p, units * self.unit, nat)
            elif c in "zxZX":
                units, i = _length(s, i + 1)
                if c in "ZX":                                                      # multi-measure rest
                    num, den = self.meter
                    bar_q, start = num * 4.0 / den, self.t
                    self.event(None, units * bar_q)
                    self.bars += [start + k * bar_q for k in range(1, int(round(units)))]
                else:
                    self.event(None, units * self.unit)
            elif c == "[":
                i = self.chord(s, i)
            elif c == "{":                                                         # grace notes
                end = s.find("}", i)
                if end < 0:
                    raise AbcError("a grace-note group is not closed")
                i = end + 1
            elif c in "!+":                                                        # !trill! +trill+
                m = _DECO.match(s, i)
                i = m.end() if m else i + 1
            elif c == "(":
                m = _TUPLET.match(s, i)
                if m:
                    self.tuplet(m)
                i = m.end() if m else i + 1
            elif c in "<>":
                j = i
                while j < n and s[j] == c:
                    j += 1
                self.broken(s[i:j])
                i = j
            else:
                if c == "-":
                    self.tie()
                elif c == "&":
                    self.overlay = True
                i += 1                         # decorations (~ . T u v H ...), spaces, slurs, backslash, digits

    def measures(self) -> list[Measure]:
        offs = self.bars + ([self.t] if self.t > self.bars[-1] + EPS else [])
        out = []
        for a, b in zip(offs, offs[1:]):
            num, den = [m for off, m in self.meters if off <= a + EPS][-1]
            out.append(Measure(a, b - a, num, den))
        return out


def parse_tune(text: str) -> Tune:
    """One tune (``X:`` to the end of its body). Raises AbcError when it cannot be read."""
    number, title, meter, unit, bpm, key, voice = "", "", None, None, None, None, None
    lines = text.splitlines()
    body_at = None
    for k, raw in enumerate(lines):
        line = _strip_comment(raw)
        m = _FIELD.match(line)
        if not m:
            continue                                   # e.g. the tail of a continued %% directive
        letter, value = m.groups()
        if letter == "X":
            number = value.strip()
        elif letter == "T" and not title:
            title = value.strip()
        elif letter == "M":
            meter = parse_meter(value)
        elif letter == "L":
            unit = parse_length(value)
        elif letter == "Q":
            bpm = parse_tempo(value)
        elif letter == "V" and voice is None:
            voice = value
        elif letter == "K":
            key = key_signature(value)
            body_at = k + 1
            break
    if body_at is None:
        raise AbcError("no K: field")
    meter = meter or (4, 4)
    if unit is None:                                   # ABC 2.1: 1/16 below 3/4, else 1/8
        unit = 0.25 if meter[0] / meter[1] < 0.75 else 0.5
    r = _Reader(meter, unit, key)
    if voice is not None:
        r.field("V", voice)
    for raw in lines[body_at:]:
        line = _strip_comment(raw)
        m = _FIELD.match(line)
        if m and m.group(1) in _BODY_FIELDS:
            if m.group(1) in "KMLV":
                r.field(*m.groups())
            continue
        r.line(line)
    if not r.notes:
        raise AbcError("no notes")
    return Tune(number, title, meter, bpm or DEFAULT_BPM, [tuple(x) for x in r.notes], r.measures())


def read_book(source) -> tuple[list[Tune], list[str]]:
    """Every tune of a book (a ``Path`` or the ABC text): ``(tunes, failures)``, one message per tune that could not
    be read. Raises OSError when a path cannot be read."""
    text = Path(source).read_text(encoding="utf-8", errors="replace") if isinstance(source, Path) else source
    tunes, failed = [], []
    for k, chunk in enumerate(split_tunes(text)):
        try:
            tunes.append(parse_tune(chunk))
        except AbcError as e:
            head = chunk.split("\n", 1)[0]
            failed.append(f"{head.strip() or f'tune {k + 1}'}: {e}")
    return tunes, failed
