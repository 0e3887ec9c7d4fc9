"""Checks of a model file before llama.cpp sees it, for clear messages."""

from __future__ import annotations

import os
from pathlib import Path

from chatapp.errors import ModelLoadError

GGUF_MAGIC = b"GGUF"


def check_model_file(path: str | os.PathLike[str]) -> Path:
    """The path if it looks like a readable GGUF file, else ModelLoadError naming the problem."""
    p = Path(path).expanduser()
    if not p.exists():
        raise ModelLoadError(f"The model file {p} does not exist.", detail="It may have been moved or deleted.")
    if p.is_dir():
        raise ModelLoadError(f"{p} is a folder, not a model file.", detail="Choose a .gguf file.")
    try:
        with open(p, "rb") as fh:
            magic = fh.read(4)
    except OSError as exc:
        raise ModelLoadError(f"The model file {p} cannot be read.", detail=exc.strerror or str(exc)) from exc
    if magic != GGUF_MAGIC:
        raise ModelLoadError(
            f"{p.name} is not a GGUF model file.",
            detail="chatapp runs models in the GGUF format (files ending in .gguf).",
        )
    return p.resolve()
