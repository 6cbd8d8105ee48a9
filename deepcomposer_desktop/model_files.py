"""Share a model as ONE file: export an installed model (checkpoint + its card) and import one into the user's folder;
remove one of the user's own models (``remove_model``; a built-in one cannot be removed).

A shared model file (``<technique>-<name>.dcmodel``) is an ordinary checkpoint (``ml.checkpoint``) whose meta also
carries the card's text. Reading one never runs code: ``torch.load(weights_only=True)``; a file that carries
pickled code or foreign objects is refused with a clear message before anything of it is used. No Qt here.
"""
from __future__ import annotations

import importlib
import os
import re
import tempfile
import time
from pathlib import Path

from .ml.common import ModelError, hides_shipped

EXT = ".dcmodel"
NAME_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}\Z")


class ModelExists(ModelError):
    """A model with this technique and name is already in the user's folder (import with overwrite or rename)."""

    def __init__(self, message: str, path: Path) -> None:
        super().__init__(message)
        self.path = path


def export_model(technique: str, name: str, dest) -> Path:
    """Write the installed model ``technique``/``name`` and its card to ``dest`` (``.dcmodel`` added when missing;
    a folder gets ``TECHNIQUE-NAME.dcmodel``).

    Raises ModelError (model not installed, damaged) and OSError (cannot write ``dest``).
    """
    from .ml.checkpoint import load_checkpoint, save_checkpoint
    from .ml.registry import find_model
    info = find_model(technique, name)
    payload = load_checkpoint(info.path, technique)
    dest = Path(dest)
    if dest.is_dir():
        dest = dest / f"{technique}-{name}{EXT}"
    elif dest.suffix.lower() not in (EXT, ".pt"):
        dest = dest.with_name(dest.name + EXT)
    meta = dict(payload.get("meta") or {})
    try:
        meta["card"] = info.card.read_text(encoding="utf-8")
    except OSError:
        meta["card"] = ""
    meta["exported"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    save_checkpoint(dest, technique=technique, name=payload.get("name") or name,
                    model_args=payload["model_args"], state_dict=payload["state_dict"], meta=meta)
    return dest


def read_model_file(path) -> dict:
    """The checkpoint dict of a shared model file, checked: safe to load, a known technique, a usable name,
    tensors only in its weights. Raises ModelError with a message for the user (never runs code from the file).
    """
    from .ml.checkpoint import load_checkpoint
    from .ml.registry import TECHNIQUES
    path = Path(path)
    if path.is_file() and path.stat().st_size == 0:
        raise ModelError(f"{path.name} is empty: it is not a model file")
    _sniff(path)
    try:
        payload = load_checkpoint(path)
    except ModelError as exc:
        if "not a safe model file" in str(exc):
            raise ModelError(f"{path.name} was refused: it carries program code or objects that a model file never "
                             f"needs. Nothing in it was run; delete it unless you trust where it came from.") from None
        raise
    technique = payload.get("technique")
    if technique not in TECHNIQUES:
        raise ModelError(f"{path.name} holds a model of an unknown kind ({technique!r}); this version knows "
                         f"{', '.join(TECHNIQUES)}")
    name = str(payload.get("name") or "")
    if not NAME_RE.match(name):
        raise ModelError(f"{path.name} names its model {name!r}, which is not a usable name")
    import torch
    sd = payload.get("state_dict")
    if not isinstance(sd, dict) or not sd or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise ModelError(f"{path.name} has no usable weights")
    if not isinstance(payload.get("model_args"), dict) or not isinstance(payload.get("meta", {}), dict):
        raise ModelError(f"{path.name} is damaged (its description is missing)")
    return payload


def _sniff(path: Path) -> None:
    """Clear words for files that are plainly something else (before torch sees them)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(4)
    except OSError:
        raise ModelError(f"{path.name} cannot be read (missing, or no permission)") from None
    if head == b"MThd":
        raise ModelError(f"{path.name} is a MIDI file, not a model: open or import it as a song instead")
    if not (head.startswith(b"PK\x03\x04") or head[:1] == b"\x80"):     # torch zip, or torch's legacy pickle
        raise ModelError(f"{path.name} is not a model file (it is damaged or another kind of file)")


def import_model(path, name: str | None = None, overwrite: bool = False, folder=None) -> Path:
    """Install a shared model file into the user's model folder (``folder`` in tests); returns the model's path.

    ``name`` renames it. The model is rebuilt once before it is installed, so a file that does not fit this
    version is refused. Raises ModelError (bad file), ModelExists (name taken and not ``overwrite``).
    """
    from .ml.checkpoint import save_checkpoint
    from .ml.registry import user_models_dir
    payload = read_model_file(path)
    technique = payload["technique"]
    name = name or payload["name"]
    if not NAME_RE.match(name):
        raise ModelError("Name the model with lower-case letters, digits, '-' or '_' (e.g. my-genre)")
    folder = Path(folder) if folder else user_models_dir()
    folder.mkdir(parents=True, exist_ok=True)
    dest = folder / f"{technique}-{name}.pt"
    if dest.exists() and not overwrite:
        raise ModelExists(f"You already have a {technique} model called '{name}'; replace it or import under "
                          f"another name", dest)
    if not overwrite and hides_shipped(dest):
        raise ModelExists(f"'{name}' is a built-in {technique} model, and an imported one of that name would take "
                          f"its place everywhere; import under another name, or choose to replace it", dest)
    meta = dict(payload.get("meta") or {})
    card = meta.pop("card", "") or ""
    meta.pop("exported", None)
    fd, tmp = tempfile.mkstemp(prefix=".import-", suffix=".part", dir=folder)
    os.close(fd)
    try:
        save_checkpoint(tmp, technique=technique, name=name, model_args=payload["model_args"],
                        state_dict=payload["state_dict"], meta=meta)
        _check_loads(technique, Path(tmp), Path(path).name)
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    if not isinstance(card, str) or not card.strip():
        card = f"# {technique} model: {name}\n\nImported from {Path(path).name} (it came without a card).\n"
    dest.with_suffix(".md").write_text(card, encoding="utf-8")
    return dest


def remove_model(spec: str, folder=None) -> tuple[str, str, list[Path]]:
    """Delete one of the user's own models: ``spec`` is ``TECHNIQUE/NAME`` or a ``NAME`` that only one technique
    has among the user's models (``folder``: the user's model folder, in tests). Its model file, card and what its
    training left beside it (resume state, log, samples, run folder) go; a built-in model of that name, if any,
    is used again. Returns (technique, name, the paths removed).

    Raises ModelError: a built-in model (those cannot be removed), no such model of the user's, an ambiguous name.
    """
    import shutil

    from .ml.registry import SHIPPED_DIR, TECHNIQUES, user_models_dir
    folder = Path(folder) if folder else user_models_dir()
    technique, sep, name = spec.partition("/") if "/" in spec else ("", "", spec)
    if sep and technique not in TECHNIQUES:
        raise ModelError(f"Unknown technique {technique!r}; models are {', '.join(TECHNIQUES)}")
    if not NAME_RE.match(name):
        raise ModelError(f"{name!r} is not a model name (e.g. gan/my-genre)")
    techniques = [technique] if technique else [t for t in TECHNIQUES if (folder / f"{t}-{name}.pt").is_file()]
    if len(techniques) > 1:
        raise ModelError(f"You have several models called '{name}' ({', '.join(techniques)}): say which, e.g. "
                         f"{techniques[0]}/{name}")
    mine = [t for t in techniques if (folder / f"{t}-{name}.pt").is_file()]
    if not mine:
        shipped = [t for t in ([technique] if technique else TECHNIQUES) if (SHIPPED_DIR / f"{t}-{name}.pt").is_file()]
        if shipped:
            raise ModelError(f"'{name}' is a built-in {shipped[0]} model: it ships with the app and cannot be removed")
        raise ModelError(f"You have no {technique + ' ' if technique else ''}model called '{name}' to remove "
                         f"(see `deepcomposer models`)")
    technique = mine[0]
    base = folder / f"{technique}-{name}"
    removed = []
    for path in (base.with_suffix(".pt"), base.with_suffix(".md"), base.with_suffix(".state"),
                 base.with_suffix(".log"), folder / f"{base.name}-samples", folder / f"{base.name}-run"):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()
        else:
            continue
        removed.append(path)
    return technique, name, removed


def _check_loads(technique: str, path: Path, shown: str) -> None:
    """Rebuild the network from the file with its technique's own loader; ModelError when it does not fit."""
    try:
        gen = importlib.import_module(f"{__package__}.ml.{technique}.generate")
    except ImportError:                             # pragma: no cover - every technique ships its generator
        return
    try:
        gen.load_model(path)
    except ModelError as exc:                      # (the loader names the file it read: our temporary one)
        raise ModelError(f"{shown}: {str(exc).replace(path.name + ': ', '').replace(path.name, shown)}") from None
    except Exception as exc:  # noqa: BLE001 - any failure to rebuild means the file does not fit
        raise ModelError(f"{shown} does not fit this version's {technique} model ({type(exc).__name__})") from None
