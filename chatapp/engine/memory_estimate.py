"""How much memory a model will take before it is loaded, and the context size that fits.

Read from the GGUF header only. The figures follow what llama.cpp allocates:
the weights (mapped from the file), the KV cache (f16 keys and values for every
layer and every context cell, cells padded to 256), and the compute buffer
(the logits of one batch plus the attention scores of one batch over the
context). Checked against llama.cpp's own log for SmolLM2-135M: KV 45.0 MiB at
2,048 cells (estimate 45.0), compute 99 / 166 MiB at 2,048 / 8,192 (estimate
118 / 172). It is an upper bound on purpose: the weights are counted whole.
"""

from __future__ import annotations

from dataclasses import dataclass

from chatapp.engine.gguf_meta import GGUFInfo

# The automatic context size is at most this: a longer one is slow to fill on a CPU and
# the memory builder fills whatever it is given. The user can set any size per model.
AUTO_CONTEXT_CAP = 8192
MIN_CONTEXT = 512
# share of the free memory the automatic context size may plan to use
USABLE_SHARE = 0.8


@dataclass(frozen=True)
class MemoryEstimate:
    weights: int  # bytes
    kv_cache: int
    compute: int
    n_ctx: int

    @property
    def total(self) -> int:
        return self.weights + self.kv_cache + self.compute

    def describe(self) -> str:
        return (
            f"about {gib(self.total)} (weights {gib(self.weights)}, "
            f"context of {self.n_ctx:,} tokens {gib(self.kv_cache + self.compute)})"
        )


def gib(n: float) -> str:
    return f"{n / 2**30:.1f} GB" if n >= 2**30 / 10 else f"{n / 2**20:.0f} MB"


def _int(meta: dict, key: str, default: int = 0) -> int:
    value = meta.get(key)
    return (
        int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else default
    )


def shape(info: GGUFInfo) -> tuple[int, int, int, int, int]:
    """(layers, KV bytes per token, attention heads, embedding width, vocabulary size)."""
    meta, arch = info.metadata, info.architecture
    layers = info.block_count or _int(meta, f"{arch}.block_count", 1)
    n_embd = _int(meta, f"{arch}.embedding_length", 4096)
    heads = _int(meta, f"{arch}.attention.head_count", 32) or 32
    # a per-layer array is stored as its length only: the plain head count is the safe side
    heads_kv = _int(meta, f"{arch}.attention.head_count_kv", heads) or heads
    heads_kv = min(heads_kv, heads)
    k_len = _int(meta, f"{arch}.attention.key_length", n_embd // heads)
    v_len = _int(meta, f"{arch}.attention.value_length", n_embd // heads)
    kv_per_token = layers * heads_kv * (k_len + v_len) * 2  # f16
    vocab = _int(meta, f"{arch}.vocab_size") or _int(meta, "tokenizer.ggml.tokens", 32000)
    return layers, kv_per_token, heads, n_embd, vocab


def _padded(n_ctx: int) -> int:
    return -(-n_ctx // 256) * 256


def estimate(info: GGUFInfo, n_ctx: int, n_batch: int = 512) -> MemoryEstimate:
    _layers, kv_per_token, heads, n_embd, vocab = shape(info)
    cells = _padded(max(1, n_ctx))
    batch = max(1, min(n_batch, cells))
    compute = 4 * batch * (vocab + 4 * n_embd) + 2 * batch * cells * heads
    return MemoryEstimate(
        weights=info.file_size, kv_cache=cells * kv_per_token, compute=compute, n_ctx=n_ctx
    )


def available_memory() -> int | None:
    """Bytes of memory the system can give without swapping; None when unknown."""
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except Exception:  # noqa: BLE001 (psutil missing or unsupported: no check, not a wrong one)
        return None


def auto_context(info: GGUFInfo, available: int | None, n_batch: int = 512) -> int:
    """The smaller of the trained context length and what fits in the free memory, at most
    AUTO_CONTEXT_CAP, in steps of 256 and never below MIN_CONTEXT."""
    trained = info.context_length or 4096
    best = min(trained, AUTO_CONTEXT_CAP)
    if available is None:
        return max(MIN_CONTEXT, best // 256 * 256)
    budget = available * USABLE_SHARE
    fits = MIN_CONTEXT
    n = 256
    while n <= best:
        if estimate(info, n, n_batch).total <= budget:
            fits = n
        else:
            break
        n += 256
    if best % 256 and estimate(info, best, n_batch).total <= budget:
        fits = best
    return max(MIN_CONTEXT, min(fits, best))


def too_large(
    info: GGUFInfo, n_ctx: int, n_batch: int, available: int | None
) -> MemoryEstimate | None:
    """The estimate when it exceeds the free memory (loading would swap or freeze); else None."""
    if available is None:
        return None
    est = estimate(info, n_ctx, n_batch)
    return est if est.total > available else None
