"""File names made from names a musician typed (track names, song titles)."""
from __future__ import annotations

import re


def file_stem(name: str, fallback: str, limit: int = 60) -> str:
    """``name`` with only letters, digits, '-', '_' and single spaces kept, cut to ``limit`` characters;
    ``fallback`` when nothing is left. Safe as a file name on every platform."""
    stem = re.sub(r"\s+", " ", re.sub(r"[^\w\- ]+", "", name or "")).strip()[:limit].strip()
    return stem or fallback
