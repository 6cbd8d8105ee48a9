"""Checkpoints that rebuild themselves (nanoGPT-style): model kind + args + state_dict + metadata.

Files are plain ``torch.save`` dicts of tensors and builtins, always loaded with ``weights_only=True`` so a
malicious pickle is refused without running any of its code.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .common import ModelError

FORMAT = "deepcomposer-desktop-model"


def save_checkpoint(path: str | os.PathLike, *, technique: str, name: str, model_args: dict[str, Any],
                    state_dict: dict, meta: dict[str, Any] | None = None, extra: dict[str, Any] | None = None) -> None:
    """Write atomically (temp file + rename). ``model_args``/``meta`` must hold only builtins (str, int, float,
    bool, list, dict, None); ``extra`` may hold tensors (e.g. optimizer state for resuming)."""
    import torch
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"format": FORMAT, "version": 1, "technique": technique, "name": name, "model_args": model_args,
               "state_dict": {k: v.detach().cpu() for k, v in state_dict.items()}, "meta": meta or {}}
    if extra:
        payload["extra"] = extra
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        torch.save(payload, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def load_checkpoint(path: str | os.PathLike, technique: str | None = None) -> dict[str, Any]:
    """Load a checkpoint dict; raises ModelError (never runs code from the file)."""
    import pickle

    import torch
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"Model file {path.name} not found")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise ModelError(f"{path.name} is not a safe model file: it contains code or objects that are refused "
                         f"({str(exc).splitlines()[0][:160]})") from None
    except Exception as exc:  # zip errors, truncated files, EOF, RuntimeError from torch ...
        raise ModelError(f"{path.name} is damaged or not a model file ({type(exc).__name__})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ModelError(f"{path.name} is not a DeepComposer Desktop model")
    if technique is not None and payload.get("technique") != technique:
        raise ModelError(f"{path.name} is a {payload.get('technique')} model, not a {technique} model")
    return payload
