"""Which models are installed: ``models/`` shipped with the app plus the user's model folder.

A model is ``<technique>-<name>.pt`` (e.g. ``gan-rock.pt``) with a card ``<technique>-<name>.md`` beside it;
the card's first prose line is the one-line summary. No torch here: listing reads file names and cards only.
The user's folder is ``$DEEPCOMPOSER_MODELS`` or ``~/.local/share/deepcomposer-desktop/models``; a user model
with the same technique and name as a shipped one takes precedence.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .common import ModelError

TECHNIQUES = ("gan", "arcnn", "transformer")
SHIPPED_DIR = Path(__file__).resolve().parents[2] / "models"


@dataclass(frozen=True)
class ModelInfo:
    """One installed model: ``technique`` (gan/arcnn/transformer), ``name`` (e.g. rock), file ``path``,
    ``card`` path (may not exist), one-line ``summary`` and whether it is the user's own (``user``)."""

    technique: str
    name: str
    path: Path
    card: Path
    summary: str
    user: bool = False


def user_models_dir() -> Path:
    """The folder where trained custom models go (not created here)."""
    env = os.environ.get("DEEPCOMPOSER_MODELS")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "deepcomposer-desktop" / "models"


def model_dirs() -> list[tuple[Path, bool]]:
    """(folder, is_user) in increasing precedence: shipped first, then the user's."""
    return [(SHIPPED_DIR, False), (user_models_dir(), True)]


def card_summary(card: Path) -> str:
    """First non-heading, non-empty line of a markdown card, stripped of markup (\"\" if unreadable); a longer one
    is cut at a word and ends in "…" (160 characters at most)."""
    try:
        text = card.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", "|", "---", "```", "<!--")):
            continue
        line = line.lstrip(">*-_ ").replace("**", "").replace("`", "").strip()
        if len(line) > 160:                    # cut at a word, and say so
            line = line[:160].rsplit(None, 1)[0].rstrip(",;:-–—( ")[:159] + "…"
        if line:
            return line
    return ""


def split_name(stem: str) -> tuple[str, str] | None:
    """``gan-my-genre`` -> (\"gan\", \"my-genre\"); None when the stem names no known technique."""
    technique, sep, name = stem.partition("-")
    if not sep or technique not in TECHNIQUES or not name:
        return None
    return technique, name


def list_models(technique: str | None = None) -> list[ModelInfo]:
    """Installed models sorted by technique and name (user models override shipped ones of the same name)."""
    found: dict[tuple[str, str], ModelInfo] = {}
    for folder, is_user in model_dirs():
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.pt")):
            parts = split_name(path.stem)
            if parts is None or (technique is not None and parts[0] != technique):
                continue
            card = path.with_suffix(".md")
            summary = card_summary(card) or ("your own model" if is_user else "(no model card)")
            found[parts] = ModelInfo(parts[0], parts[1], path, card, summary, is_user)
    return [found[k] for k in sorted(found)]


def find_model(technique: str, name: str) -> ModelInfo:
    """The installed model ``technique``/``name``; raises ModelError listing what is there instead."""
    for m in list_models(technique):
        if m.name == name:
            return m
    have = ", ".join(m.name for m in list_models(technique)) or "none"
    raise ModelError(f"No {technique} model called {name!r} is installed (installed: {have})")
