"""GGUF headers read without loading weights; odd files give clear messages."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from chatapp.engine.gguf_meta import read_header, scan, split_parts
from chatapp.errors import ModelLoadError


def write_gguf(
    path: Path, arch: str = "madeuparch", tensors: bool = True, template: str | None = None
) -> Path:
    import gguf

    writer = gguf.GGUFWriter(str(path), arch)
    writer.add_name("Test model")
    writer.add_block_count(2)
    writer.add_context_length(2048)
    writer.add_file_type(1)
    writer.add_tokenizer_model("llama")
    writer.add_token_list([b"<s>", b"</s>", b"hello"])
    if template:
        writer.add_chat_template(template)
    if tensors:
        writer.add_tensor("token_embd.weight", np.zeros((3, 8), dtype=np.float16))
        writer.add_tensor("output.weight", np.zeros((8, 3), dtype=np.float16))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def test_default_model_header(default_model: Path) -> None:
    info = read_header(default_model)
    assert (info.architecture, info.quantization, info.context_length, info.block_count) == (
        "llama",
        "Q4_1",
        8192,
        30,
    )
    assert info.parameters_label == "134.5M" and info.has_chat_template and not info.vocab_only
    assert info.file_size == default_model.stat().st_size


def test_written_model_header(tmp_path: Path) -> None:
    info = read_header(write_gguf(tmp_path / "m.gguf", template="{{ messages }}"))
    assert (info.name, info.architecture, info.parameters, info.quantization) == (
        "Test model",
        "madeuparch",
        48,
        "F16",
    )
    assert info.has_chat_template and info.context_length == 2048


def test_vocab_only_file(tmp_path: Path) -> None:
    info = read_header(write_gguf(tmp_path / "vocab.gguf", tensors=False))
    assert info.vocab_only and info.parameters == 0


def test_damaged_and_foreign_files(tmp_path: Path, default_model: Path) -> None:
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(default_model.read_bytes()[:50_000])
    with pytest.raises(ModelLoadError, match="damaged or incomplete"):
        read_header(cut)
    text = tmp_path / "x.gguf"
    text.write_text("hello")
    with pytest.raises(ModelLoadError, match="not a GGUF"):
        read_header(text)
    with pytest.raises(ModelLoadError, match="does not exist"):
        read_header(tmp_path / "gone.gguf")


def test_split_files_count_once(tmp_path: Path, default_model: Path) -> None:
    folder = tmp_path / "models"
    folder.mkdir()
    for n in (1, 2, 3):
        shutil.copy(default_model, folder / f"big-0000{n}-of-00003.gguf")
    (folder / "junk.gguf").write_text("nope")
    found, failed = scan([folder])
    assert len(found) == 1 and found[0].parts == 3
    assert found[0].file_size == 3 * default_model.stat().st_size
    assert [p.name for p, _why in failed] == ["junk.gguf"]
    assert split_parts(folder / "big-00002-of-00003.gguf") == (
        folder / "big-00001-of-00003.gguf",
        3,
    )
    assert split_parts(folder / "single.gguf") is None
