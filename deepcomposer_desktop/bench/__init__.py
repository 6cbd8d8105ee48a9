"""`deepcomposer bench`: the home of every speed figure. Prints measured numbers; asserts nothing about time.

Each area is a module ``deepcomposer_desktop.bench.<area>`` with ``run(quick: bool) -> list[Figure]``.
"""
from __future__ import annotations

import importlib
import platform
import sys
from dataclasses import dataclass

AREAS = ("core", "audio", "midi", "gui", "gan", "arcnn", "transformer", "audition")


@dataclass(frozen=True)
class Figure:
    name: str
    value: float
    unit: str
    goal: str = ""


def _load(area: str):
    try:
        return importlib.import_module(f"{__name__}.{area}")
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith(f"{__name__}.{area}"):
            return None
        raise


def format_table(area: str, figures: list[Figure]) -> str:
    rows = [f"[{area}]"]
    for f in figures:
        value = f"{f.value:,.3f}" if abs(f.value) < 1000 else f"{f.value:,.0f}"
        rows.append(f"  {f.name:<58} {value:>14} {f.unit:<10} {('goal ' + f.goal) if f.goal else ''}")
    return "\n".join(rows)


def run_benchmarks(areas: list[str] | None = None, quick: bool = False) -> int:
    areas = list(areas or AREAS)
    unknown = [a for a in areas if a not in AREAS]
    if unknown:
        print(f"deepcomposer bench: unknown area(s) {', '.join(unknown)}; known: {', '.join(AREAS)}",
              file=sys.stderr)
        return 2
    print(f"# deepcomposer bench on {platform.machine()} {platform.processor() or ''}, Python "
          f"{platform.python_version()}{' (quick)' if quick else ''}")
    for area in areas:
        mod = _load(area)
        if mod is None:
            print(f"[{area}]\n  (not available yet)")
            continue
        print(format_table(area, mod.run(quick)), flush=True)
    return 0
