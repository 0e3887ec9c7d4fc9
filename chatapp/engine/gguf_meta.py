"""Reading a GGUF file's header (metadata and tensor shapes) without touching its weights.

The format (ggml's docs/gguf.md): magic "GGUF", version, tensor count, metadata
count, then typed key/value pairs, then one info record per tensor. Only the
header is read, so listing a folder of large models is quick.
"""

from __future__ import annotations

import mmap
import re
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chatapp.engine.gguf_file import not_gguf_error
from chatapp.errors import ModelLoadError

# value types
_SCALARS = {
    0: "<B",
    1: "<b",
    2: "<H",
    3: "<h",
    4: "<I",
    5: "<i",
    6: "<f",
    7: "<?",
    10: "<Q",
    11: "<q",
    12: "<d",
}
_STRING, _ARRAY = 8, 9
_U64 = struct.Struct("<Q")
# llama.cpp's general.file_type values (enum llama_ftype)
FILE_TYPES = {
    0: "F32",
    1: "F16",
    2: "Q4_0",
    3: "Q4_1",
    7: "Q8_0",
    8: "Q5_0",
    9: "Q5_1",
    10: "Q2_K",
    11: "Q3_K_S",
    12: "Q3_K_M",
    13: "Q3_K_L",
    14: "Q4_K_S",
    15: "Q4_K_M",
    16: "Q5_K_S",
    17: "Q5_K_M",
    18: "Q6_K",
    19: "IQ2_XXS",
    20: "IQ2_XS",
    21: "Q2_K_S",
    22: "IQ3_XS",
    23: "IQ3_XXS",
    24: "IQ1_S",
    25: "IQ4_NL",
    26: "IQ3_S",
    27: "IQ3_M",
    28: "IQ2_S",
    29: "IQ2_M",
    30: "IQ4_XS",
    31: "IQ1_M",
    32: "BF16",
    36: "TQ1_0",
    37: "TQ2_0",
    38: "MXFP4",
}
_SPLIT = re.compile(r"^(?P<stem>.+)-(?P<n>\d{5})-of-(?P<total>\d{5})\.gguf$", re.IGNORECASE)
MAX_STRING = 64 * 1024 * 1024  # a header string beyond this means a damaged file


@dataclass(frozen=True)
class GGUFInfo:
    path: str
    name: str
    architecture: str
    parameters: int
    quantization: str
    file_size: int  # all parts of a split model
    context_length: int
    block_count: int
    has_chat_template: bool
    vocab_only: bool
    parts: int
    metadata: dict[str, Any]

    @property
    def parameters_label(self) -> str:
        n = self.parameters
        for unit, size in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("K", 1e3)):
            if n >= size:
                return f"{n / size:.1f}{unit}".replace(".0", "")
        return str(n)


def split_parts(path: Path) -> tuple[Path, int] | None:
    """For `x-00001-of-00003.gguf`: (first part, 3); None for a single file."""
    m = _SPLIT.match(path.name)
    if not m:
        return None
    return path.with_name(f"{m.group('stem')}-00001-of-{m.group('total')}.gguf"), int(
        m.group("total")
    )


class _Reader:
    """Parses from a memory map by offset: no read call per value (vocabularies have 100k
    strings)."""

    def __init__(self, buf: Any, version: int, pos: int) -> None:
        self.buf = buf
        self.version = version
        self.pos = pos
        self.size = len(buf)

    def read(self, fmt: str) -> Any:
        n = struct.calcsize(fmt)
        if self.pos + n > self.size:
            raise EOFError
        value = struct.unpack_from(fmt, self.buf, self.pos)[0]
        self.pos += n
        return value

    def count(self) -> int:
        return self.read("<Q") if self.version >= 2 else self.read("<I")

    def string(self) -> str:
        n = self.count()
        if n > MAX_STRING or self.pos + n > self.size:
            raise EOFError
        data = bytes(self.buf[self.pos : self.pos + n])
        self.pos += n
        return data.decode("utf-8", errors="replace")

    def skip_string(self) -> None:
        n = self.count()
        if n > MAX_STRING or self.pos + n > self.size:
            raise EOFError
        self.pos += n

    def value(self, kind: int) -> Any:
        if kind in _SCALARS:
            return self.read(_SCALARS[kind])
        if kind == _STRING:
            return self.string()
        if kind == _ARRAY:
            item = self.read("<I")
            n = self.count()
            if item in _SCALARS:
                self.pos += struct.calcsize(_SCALARS[item]) * n
            elif item == _STRING and self.version >= 2:
                buf, pos, length = self.buf, self.pos, _U64.unpack_from
                for _ in range(n):  # the hot loop of a listing: vocabularies
                    pos += 8 + length(buf, pos)[0]
                self.pos = pos
            elif item == _STRING:
                for _ in range(n):
                    self.skip_string()
            else:
                for _ in range(n):
                    self.value(item)
            if self.pos > self.size:
                raise EOFError
            return n  # arrays (vocabularies, merges) are only counted
        raise ValueError(f"unknown value type {kind}")


def read_header(path: str | Path) -> GGUFInfo:
    """The model's metadata, or ModelLoadError naming what is wrong with the file."""
    path = Path(path)
    first = path
    parts = 1
    split = split_parts(path)
    if split:
        first, parts = split
    try:
        with open(first, "rb") as fh:
            magic = fh.read(4)
            if magic != b"GGUF":
                raise not_gguf_error(first, magic)
            buf = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        try:
            version = struct.unpack_from("<I", buf, 4)[0]
            if version not in (1, 2, 3):
                raise ModelLoadError(
                    f"{path.name} uses GGUF version {version}, which chatapp cannot read."
                )
            r = _Reader(buf, version, 8)
            n_tensors = r.count()
            n_kv = r.count()
            meta: dict[str, Any] = {}
            for _ in range(n_kv):
                key = r.string()
                meta[key] = r.value(r.read("<I"))
            params = 0
            for _ in range(n_tensors):
                r.skip_string()
                dims = r.read("<I")
                count = 1
                for _d in range(dims):
                    count *= r.count()
                r.pos += 4 + 8  # type, offset
                params += count
        finally:
            buf.close()
    except FileNotFoundError as exc:
        raise ModelLoadError(f"The model file {first} does not exist.") from exc
    except PermissionError as exc:
        raise ModelLoadError(f"The model file {first} cannot be read: permission denied.") from exc
    except IsADirectoryError as exc:
        raise ModelLoadError(f"{first} is a folder, not a model file.") from exc
    except (EOFError, ValueError, struct.error, MemoryError, OSError) as exc:
        raise ModelLoadError(
            f"{path.name} is damaged or incomplete (its header cannot be read)."
        ) from exc
    size = (
        path.stat().st_size
        if parts == 1
        else sum(
            p.stat().st_size
            for p in first.parent.glob(first.name.replace("-00001-of-", "-*-of-"))
            if p.is_file()
        )
    )
    arch = str(meta.get("general.architecture", "unknown"))
    ftype = meta.get("general.file_type")
    return GGUFInfo(
        path=str(first),
        name=str(
            meta.get("general.name") or _SPLIT.sub(r"\g<stem>", first.name).removesuffix(".gguf")
        ),
        architecture=arch,
        parameters=int(params),
        quantization=FILE_TYPES.get(ftype, f"type {ftype}")
        if ftype is not None
        else _guess_quant(first.name),
        file_size=size,
        context_length=int(meta.get(f"{arch}.context_length", 0) or 0),
        block_count=int(meta.get(f"{arch}.block_count", 0) or 0),
        has_chat_template=bool(meta.get("tokenizer.chat_template")),
        vocab_only=n_tensors == 0,
        parts=parts,
        metadata=meta,
    )


def _guess_quant(name: str) -> str:
    m = re.search(r"(I?Q\d_[A-Z0-9_]+|F16|F32|BF16)", name.upper())
    return m.group(1) if m else "unknown"


def scan(folders: list[Path]) -> tuple[list[GGUFInfo], list[tuple[Path, str]]]:
    """All models in the folders (split files count once), and the files that failed, with why."""
    found: list[GGUFInfo] = []
    failed: list[tuple[Path, str]] = []
    seen: set[str] = set()
    for folder in folders:
        if not folder.is_dir():
            continue
        for path in sorted(folder.rglob("*.gguf")):
            split = split_parts(path)
            key = str(split[0] if split else path)
            if key in seen:
                continue
            seen.add(key)
            try:
                found.append(read_header(path))
            except ModelLoadError as exc:
                failed.append((path, exc.message))
    return found, failed
