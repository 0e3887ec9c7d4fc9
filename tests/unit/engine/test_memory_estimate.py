"""The memory a model will take, from its header, and the context size that fits."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from chatapp.engine import memory_estimate as me
from chatapp.engine.gguf_meta import read_header

MiB = 2**20


def test_kv_cache_of_the_default_model_is_what_llama_cpp_allocates(default_model: Path) -> None:
    info = read_header(default_model)
    # llama.cpp's log for SmolLM2-135M: "KV buffer size = 45.00 MiB" at 2048 cells, 180.00 at 8192
    assert me.estimate(info, 2048).kv_cache == 45 * MiB
    assert me.estimate(info, 8192).kv_cache == 180 * MiB
    assert me.estimate(info, 2000).kv_cache == 45 * MiB  # cells are padded to 256
    est = me.estimate(info, 4096)
    assert est.weights == default_model.stat().st_size
    assert est.total == est.weights + est.kv_cache + est.compute
    assert "4,096 tokens" in est.describe()


def test_automatic_context_is_the_trained_length_when_memory_allows(default_model: Path) -> None:
    info = read_header(default_model)
    assert info.context_length == 8192
    assert me.auto_context(info, 64 * 2**30) == 8192
    assert me.auto_context(info, None) == 8192  # unknown free memory: no limit from it


def test_automatic_context_shrinks_to_what_fits(default_model: Path) -> None:
    info = read_header(default_model)
    free = int(me.estimate(info, 3072).total / me.USABLE_SHARE) - 1  # 3,072 cells just miss
    n = me.auto_context(info, free)
    assert n % 256 == 0 and me.MIN_CONTEXT <= n < 3072
    assert me.estimate(info, n).total <= free * me.USABLE_SHARE
    assert me.estimate(info, n + 256).total > free * me.USABLE_SHARE


def test_automatic_context_is_capped_for_long_context_models(default_model: Path) -> None:
    info = dataclasses.replace(read_header(default_model), context_length=131072)
    assert me.auto_context(info, 512 * 2**30) == me.AUTO_CONTEXT_CAP


def test_a_model_bigger_than_the_free_memory_is_flagged(default_model: Path) -> None:
    huge = dataclasses.replace(read_header(default_model), file_size=40 * 2**30)
    est = me.too_large(huge, 4096, 512, 16 * 2**30)
    assert est is not None and est.total > 40 * 2**30
    assert me.too_large(huge, 4096, 512, 64 * 2**30) is None
    assert me.too_large(huge, 4096, 512, None) is None  # unknown: never a false refusal


def test_free_memory_is_known_here() -> None:
    free = me.available_memory()
    assert free is not None and free > 0
