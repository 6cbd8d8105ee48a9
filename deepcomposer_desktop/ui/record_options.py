"""Recording options of the studio (Transport > Recording): replace or overdub, input quantize with strength,
and what happens to the takes of a loop recording. ``take_into_song`` is the pure part: takes in, new Song out.
GUI thread only.
"""
from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import QMenu

from ..core.edits import quantize_notes
from ..core.song import Control, Note, Song
from ..midi.recorder import (OVERDUB, REPLACE, Recording as Takes, Take, apply_take, grid_ticks, settle_controls,
                             takes_as_tracks)

GRIDS = ("off", "1/8", "1/16", "1/8T")
STRENGTHS = (0.5, 0.75, 1.0)


@dataclass
class RecordOptions:
    mode: str = OVERDUB            # overdub onto the track (nothing lost), or replace the recorded range
    grid: str = "off"              # input quantize grid
    strength: float = 1.0          # how far notes move toward the grid


def take_into_song(song: Song, track_index: int, passes: list[tuple[list[Note], list[Control]]], start_tick: int,
                   end_tick: int, loop: tuple[int, int] | None, options: RecordOptions) -> tuple[Song, str]:
    """The song with what was played recorded into track ``track_index``; and a description for the undo step.

    Each pass (one per loop pass when loop recording: its notes and controller changes) is input-quantized; the last goes into the track by ``options.mode``; with several passes every one is also kept
    as a muted "take N" track, so none is lost. A bend or mod wheel a pass leaves moved is put back at its end.
    """
    if options.grid != "off":
        step = grid_ticks(options.grid, song.ppq)
        passes = [(list(quantize_notes(n, step, options.strength)), c) for n, c in passes]
    a, b = loop if loop is not None else (start_tick, max(end_tick, start_tick + 1))
    takes = tuple(Take(i, a, b, tuple(sorted(n)), controls=settle_controls(sorted(c, key=lambda c: c.tick), b))
                  for i, (n, c) in enumerate(passes))
    track = song.tracks[track_index]
    new = song.replace_track(track_index, apply_take(track, takes[-1], options.mode))
    count = sum(len(n) for n, _ in passes)
    text = f"Record {len(takes[-1].notes)} notes"
    if len(takes) > 1:
        extra = takes_as_tracks(track, Takes(takes))
        new = new.with_tracks(new.tracks + extra)
        text = f"Record {len(takes)} loop takes ({count} notes)"
    return new, text


def build_record_menu(options: RecordOptions, parent) -> QMenu:
    """Transport > Recording: mode, input quantize grid and strength (checkable, applied to the next take)."""
    menu = QMenu("Recording", parent)

    def group(title: str, items, current, setter) -> None:
        menu.addSection(title)
        g = QActionGroup(menu)
        for label, value in items:
            act = QAction(label, menu, checkable=True)
            act.setChecked(value == current)
            act.triggered.connect(lambda _=False, v=value: setter(v))
            g.addAction(act)
            menu.addAction(act)

    group("Mode", (("Replace", REPLACE), ("Overdub", OVERDUB)), options.mode,
          lambda v: setattr(options, "mode", v))
    group("Input quantize", ((("Off" if g == "off" else g), g) for g in GRIDS), options.grid,
          lambda v: setattr(options, "grid", v))
    group("Quantize strength", ((f"{int(s * 100)} %", s) for s in STRENGTHS), options.strength,
          lambda v: setattr(options, "strength", v))
    return menu
