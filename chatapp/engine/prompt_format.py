"""The chat template applied and tokenized, with control tokens only where the template put them.

llama.cpp turns every control-token string it meets (`<|im_end|>`, `<start_of_turn>`) into
the control token when asked to parse special tokens. The rendered prompt holds both the
template's own markup and the text of messages, so a message that contains
`<|im_end|>\\n<|im_start|>system` would otherwise open a real system turn. Here message
text is masked before rendering (each control string becomes one private-use character),
the template's markup stays, and the masked text is tokenized as plain text.

Used in the model process (generation) and in the app's process (token counts for the
context builder) with the same vocabulary, so both sides count the same tokens.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from chatapp.domain import ChatMessage
from chatapp.engine.templates import CHATML as CHATML_TEMPLATE
from chatapp.errors import GenerationError

# llama.cpp parses tokens with these attributes only when asked for special tokens
# (user-defined tokens are parsed either way, so they cannot be forged)
_ATTR_UNKNOWN = 1 << 0
_ATTR_CONTROL = 1 << 3
_MASK_BASE = 0xF0000  # Supplementary Private Use Area-A: one code point per control string


@dataclass(frozen=True)
class Rendered:
    prompt: str  # the text as the template wrote it (message text unmasked)
    tokens: list[int]
    stop: list[str]


class PromptFormat:
    """A model's chat template and tokenizer. `model` is a llama_cpp._internals.LlamaModel
    (a full model or a vocabulary-only one)."""

    def __init__(self, model: Any, template: str | None) -> None:
        import llama_cpp
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        self._model = model
        self.notice: str | None = None
        if not template:
            template = CHATML_TEMPLATE
            self.notice = (
                "This model has no chat template; chatapp uses the ChatML format. "
                "If replies look wrong, set the model's template in its settings."
            )
        eos_id, bos_id = model.token_eos(), model.token_bos()
        eos = model.token_get_text(eos_id) if eos_id != -1 else ""
        bos = model.token_get_text(bos_id) if bos_id != -1 else ""
        self._bos_id = bos_id
        self._formatter = Jinja2ChatFormatter(
            template=template, eos_token=eos, bos_token=bos, stop_token_ids=[eos_id]
        )
        vocab = llama_cpp.llama_model_get_vocab(model.model)
        self._vocab = vocab
        self._llama_tokenize = llama_cpp.llama_tokenize
        self._token_array = llama_cpp.llama_token
        control: dict[str, int] = {}
        for token in range(llama_cpp.llama_vocab_n_tokens(vocab)):
            if llama_cpp.llama_vocab_get_attr(vocab, token) & (_ATTR_CONTROL | _ATTR_UNKNOWN):
                text = llama_cpp.llama_vocab_get_text(vocab, token).decode("utf-8", "replace")
                if text and text not in control:
                    control[text] = token
        self.control = control  # control-token string -> id
        ordered = sorted(control, key=len, reverse=True)  # the longest match wins, as in llama.cpp
        self._masks = {text: chr(_MASK_BASE + i) for i, text in enumerate(ordered)}
        self._unmask = {mask: text for text, mask in self._masks.items()}
        self._control_re = re.compile("|".join(map(re.escape, ordered))) if ordered else None
        self._mask_re = re.compile("[" + "".join(self._unmask) + "]") if self._unmask else None

    def _mask(self, text: str) -> str:
        if self._control_re is None:
            return text
        return self._control_re.sub(lambda m: self._masks[m.group(0)], text)

    def _unmasked(self, text: str) -> str:
        if self._mask_re is None:
            return text
        return self._mask_re.sub(lambda m: self._unmask[m.group(0)], text)

    def render(self, messages: Sequence[ChatMessage]) -> Rendered:
        """The template applied in llama-cpp-python's sandbox, and the exact tokens for
        llama.cpp; a template that fails gives a GenerationError that says so."""
        masked = [{"role": m.role, "content": self._mask(m.content)} for m in messages]
        try:
            result = self._formatter(messages=masked)
        except Exception as exc:
            raise GenerationError(
                "The model's chat template failed on this conversation.", detail=str(exc)
            ) from exc
        stop = result.stop if isinstance(result.stop, list) else [result.stop]
        stop = [s for s in stop if s]
        add_bos = not result.added_special
        text = result.prompt
        if self._mask_re is None or not self._mask_re.search(text):
            # no message carried a control string: llama.cpp's own parse is exactly right
            tokens = self._tokenize(text.encode("utf-8"), add_bos, True)
            return Rendered(text, tokens, stop)
        tokens = [self._bos_id] if add_bos and self._bos_id != -1 else []
        start = 0
        for match in self._control_re.finditer(text):  # type: ignore[union-attr]
            tokens += self._text_tokens(text[start : match.start()])
            tokens.append(self.control[match.group(0)])
            start = match.end()
        tokens += self._text_tokens(text[start:])
        return Rendered(self._unmasked(text), tokens, stop)

    def _text_tokens(self, masked: str) -> list[int]:
        if not masked:
            return []
        return self._tokenize(self._unmasked(masked).encode("utf-8"), False, False)

    def count(self, messages: Sequence[ChatMessage]) -> int:
        return len(self.render(messages).tokens)

    def count_text(self, text: str) -> int:
        return len(self._tokenize(text.encode("utf-8"), False, False))

    def _tokenize(self, data: bytes, add_bos: bool, special: bool) -> list[int]:
        """llama_tokenize with a buffer sized to the text (never more tokens than bytes, plus
        BOS/EOS): llama-cpp-python's own allocates the trained context length per call, and
        a vocabulary-only model reports 0 there, which makes every call run twice."""
        size = len(data) + 8
        buffer = (self._token_array * size)()
        n = self._llama_tokenize(self._vocab, data, len(data), buffer, size, add_bos, special)
        if n < 0:  # cannot happen with this size; kept for safety
            size = -n
            buffer = (self._token_array * size)()
            n = self._llama_tokenize(self._vocab, data, len(data), buffer, size, add_bos, special)
            if n < 0:
                raise GenerationError(
                    "The text could not be tokenized.", detail=f"llama_tokenize: {n}"
                )
        return buffer[:n]
