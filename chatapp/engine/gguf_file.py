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
        raise ModelLoadError(
            f"The model file {p} does not exist.", detail="It may have been moved or deleted."
        )
    if p.is_dir():
        raise ModelLoadError(f"{p} is a folder, not a model file.", detail="Choose a .gguf file.")
    try:
        with open(p, "rb") as fh:
            magic = fh.read(4)
    except OSError as exc:
        raise ModelLoadError(
            f"The model file {p} cannot be read.", detail=exc.strerror or str(exc)
        ) from exc
    if magic != GGUF_MAGIC:
        raise not_gguf_error(p, magic)
    return p.resolve()


def not_gguf_error(path: Path, magic: bytes) -> ModelLoadError:
    """Why a file without the GGUF signature cannot be used. A name that already ends in
    .gguf must not be told to end in .gguf: there it is the content that is wrong."""
    if not path.name.lower().endswith(".gguf"):
        return ModelLoadError(
            f"{path.name} is not a GGUF model file.",
            detail="chatapp runs models in the GGUF format (files ending in .gguf).",
        )
    if not magic:
        why = "The file is empty (an interrupted download?)."
    elif magic.lstrip()[:1] in (b"<", b"{"):
        why = "It holds text (a web page or an error saved under the model's name?), not a model."
    else:
        why = "It may be a partial download, or a model in another format renamed to .gguf."
    return ModelLoadError(
        f"{path.name} ends in .gguf, but its content is not a GGUF model.",
        detail=f"{why} Download the model again, or choose another file.",
    )
