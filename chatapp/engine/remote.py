"""A backend that talks to an OpenAI-compatible server (llama.cpp's server, vLLM, Ollama,
LM Studio, a company endpoint): streamed chat completions over server-sent events.

Token counts use the server's tokenize endpoint where it has one (llama.cpp's
servers); the few tokens a chat template adds per message are estimated, and
without such an endpoint the whole count is a conservative estimate. Either way
ModelInfo says the counts are estimated.
"""

from __future__ import annotations

import json
import socket
import ssl
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from chatapp.domain import ChatMessage, GenerationSettings
from chatapp.engine.backend import ModelInfo, ModelSpec, ReplyResult, TextCallback
from chatapp.errors import GenerationError, ModelLoadError

# tokens a chat template adds around one message, at most, for common templates: the prompt is
# never counted exactly here, so the bound (memory.builder's MESSAGE_OVERHEAD is the typical 6)
TEMPLATE_OVERHEAD = 8
CHARS_PER_TOKEN_FLOOR = 2.5  # without a tokenizer: over-count rather than overflow the context


@dataclass(frozen=True)
class Endpoint:
    name: str
    base_url: str  # e.g. http://127.0.0.1:8000/v1
    model: str = ""  # empty: the server's first model
    api_key: str | None = None
    timeout: float = 60.0
    n_ctx: int = 4096

    @property
    def root(self) -> str:
        """The server's root (llama.cpp's extras live beside /v1)."""
        parts = urlsplit(self.base_url.rstrip("/"))
        path = parts.path.removesuffix("/v1")
        return f"{parts.scheme}://{parts.netloc}{path}"


class ReplyInterrupted(GenerationError):
    """The server stopped answering mid-reply; what had streamed is kept."""


class RemoteBackend:
    def __init__(self) -> None:
        self.info: ModelInfo | None = None
        self.endpoint: Endpoint | None = None
        self._model = ""
        self._can_tokenize = False
        self.counts_estimated = True

    # -- plumbing ---------------------------------------------------------

    def _request(self, url: str, body: dict[str, Any] | None = None, timeout: float | None = None):  # type: ignore[no-untyped-def]
        assert self.endpoint is not None
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json, text/event-stream",
        }
        if self.endpoint.api_key:
            headers["Authorization"] = f"Bearer {self.endpoint.api_key}"
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            url, data=data, headers=headers, method="POST" if data else "GET"
        )
        return urllib.request.urlopen(request, timeout=timeout or self.endpoint.timeout)

    def _explain(self, exc: BaseException, what: str) -> str:
        ep = self.endpoint
        where = f"{ep.name} ({ep.base_url})" if ep else "the server"
        if isinstance(exc, urllib.error.HTTPError):
            if exc.code == 401 or exc.code == 403:
                return (
                    f"{where} refused the API key (HTTP {exc.code}). "
                    "Check the key in the endpoint's settings."
                )
            if exc.code == 404:
                return (
                    f"{where} has no such address (HTTP 404) for {what}. "
                    "Is the base URL right (it usually ends in /v1)?"
                )
            return f"{where} answered HTTP {exc.code} for {what}: {exc.reason}"
        reason = getattr(exc, "reason", exc)
        if isinstance(reason, ssl.SSLCertVerificationError) or isinstance(
            exc, ssl.SSLCertVerificationError
        ):
            return (
                f"The certificate of {where} is not trusted: "
                f"{getattr(reason, 'verify_message', reason)}."
            )
        if isinstance(reason, (TimeoutError, socket.timeout)) or isinstance(
            exc, (TimeoutError, socket.timeout)
        ):
            return f"{where} did not answer within {ep.timeout:g} seconds ({what})."
        if isinstance(reason, ConnectionRefusedError):
            return f"Nothing answers at {where}: is the server running?"
        return f"{where} could not be reached for {what}: {reason}"

    # -- the protocol -------------------------------------------------------

    def load(self, spec: ModelSpec) -> ModelInfo:
        if spec.endpoint is None:
            raise ModelLoadError("No server endpoint was given.")
        self.endpoint = ep = spec.endpoint
        started = time.perf_counter()
        models = self.models()
        if ep.model and ep.model not in models:
            raise ModelLoadError(
                f"{ep.name} has no model '{ep.model}'. It has: {', '.join(models[:10])}."
            )
        self._model = ep.model or models[0]
        self._can_tokenize = self._probe_tokenizer()
        self.counts_estimated = True
        self.info = ModelInfo(
            path=ep.base_url,
            name=f"{self._model} @ {ep.name}",
            n_ctx=ep.n_ctx,
            n_ctx_train=ep.n_ctx,
            device=f"server {urlsplit(ep.base_url).netloc}",
            on_gpu=False,
            gpu_layers=0,
            total_layers=0,
            n_threads=0,
            load_seconds=time.perf_counter() - started,
            template_notice=None
            if self._can_tokenize
            else "token counts are estimated (the server cannot tokenize)",
        )
        return self.info

    def models(self, endpoint: Endpoint | None = None) -> list[str]:
        """The model ids the server lists (/v1/models); ModelLoadError says why not."""
        if endpoint is not None:
            self.endpoint = endpoint
        ep = self.endpoint
        assert ep is not None
        try:
            with self._request(ep.base_url.rstrip("/") + "/models") as response:
                listing = json.loads(response.read().decode("utf-8"))
        except json.JSONDecodeError as exc:
            raise ModelLoadError(
                f"{ep.name} answered with something that is not JSON.", detail=str(exc)
            ) from exc
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise ModelLoadError(self._explain(exc, "the model list")) from exc
        models = (
            [m.get("id") for m in listing.get("data", []) if isinstance(m, dict)]
            if isinstance(listing, dict)
            else []
        )
        models = [m for m in models if isinstance(m, str) and m]
        if not models:
            raise ModelLoadError(f"{ep.name} lists no models.")
        return models

    def _probe_tokenizer(self) -> bool:
        try:
            self._server_count("hello")
            return True
        except (urllib.error.URLError, OSError, ValueError, KeyError):
            return False

    def _server_count(self, text: str) -> int:
        assert self.endpoint is not None
        with self._request(
            self.endpoint.root + "/extras/tokenize/count", {"input": text, "model": self._model}
        ) as r:
            return int(json.loads(r.read().decode("utf-8"))["count"])

    def count_text_tokens(self, text: str) -> int:
        if self._can_tokenize:
            try:
                return self._server_count(text)
            except (urllib.error.URLError, OSError, ValueError, KeyError):
                pass
        return int(len(text) / CHARS_PER_TOKEN_FLOOR) + 1

    def count_tokens(self, messages: Sequence[ChatMessage]) -> int:
        """The messages' text counted by the server, plus the template's per-message tokens."""
        text = "\n".join(m.content for m in messages)
        return self.count_text_tokens(text) + TEMPLATE_OVERHEAD * len(messages) + 4

    def generate(
        self,
        messages: Sequence[ChatMessage],
        settings: GenerationSettings,
        cancel: threading.Event,
        on_text: TextCallback,
    ) -> ReplyResult:
        if self.info is None or self.endpoint is None:
            raise GenerationError("No model is loaded.")
        started = time.perf_counter()
        prompt_tokens = self.count_tokens(messages)
        body = {
            "model": self._model,
            "messages": [m.as_dict() for m in messages],
            "stream": True,
            "temperature": settings.temperature,
            "top_p": settings.top_p,
            "max_tokens": settings.max_tokens,
        }
        if settings.seed is not None:
            body["seed"] = settings.seed
        extra = {
            "top_k": settings.top_k,
            "min_p": settings.min_p,
            "repeat_penalty": settings.repeat_penalty,
        }
        body.update(extra)  # llama.cpp, vLLM and Ollama read these; others ignore them
        pieces: list[str] = []
        chunks = 0
        first = last = None
        finish = "stop"
        ended = False  # [DONE] or a finish_reason arrived: the stream was complete
        usage_completion = None
        try:
            response = self._request(self.endpoint.base_url.rstrip("/") + "/chat/completions", body)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise GenerationError(self._explain(exc, "a reply")) from exc
        try:
            for raw in response:
                if cancel.is_set():
                    finish = "cancelled"
                    break
                line = raw.decode("utf-8", errors="replace").strip()
                if not line or line.startswith(":") or not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    ended = True
                    break
                try:
                    event = json.loads(data)
                except json.JSONDecodeError as exc:
                    raise GenerationError(
                        f"{self.endpoint.name} sent something that is not JSON in its reply.",
                        detail=data[:200],
                    ) from exc
                if isinstance(event, dict) and event.get("error"):
                    raise GenerationError(
                        f"{self.endpoint.name} reported an error: {event['error']}"
                    )
                choices = event.get("choices") or [{}] if isinstance(event, dict) else [{}]
                choice = choices[0] if choices else {}
                text = (choice.get("delta") or {}).get("content") or ""
                if text:
                    now = time.perf_counter()
                    first = first or now
                    last = now
                    pieces.append(text)
                    chunks += 1
                    on_text(text)
                if choice.get("finish_reason"):
                    finish = choice["finish_reason"]
                    ended = True
                usage = event.get("usage") if isinstance(event, dict) else None
                if usage and usage.get("completion_tokens"):
                    usage_completion = int(usage["completion_tokens"])
        except (urllib.error.URLError, OSError, ValueError, http_incomplete()) as exc:
            if cancel.is_set():
                finish = "cancelled"
            else:
                raise ReplyInterrupted(
                    f"{self.endpoint.name} stopped answering in the middle of the reply; "
                    "what arrived is kept.",
                    detail=str(exc),
                ) from exc
        finally:
            response.close()  # closing the stream tells the server to stop
        if cancel.is_set():
            finish = "cancelled"
        elif not ended:
            raise ReplyInterrupted(
                f"{self.endpoint.name} stopped answering in the middle of the reply; "
                "what arrived is kept.",
                detail="the stream ended without its closing event",
            )
        end = time.perf_counter()
        completion = usage_completion or chunks
        decode = (last or end) - (first or end)
        return ReplyResult(
            text="".join(pieces),
            finish_reason=finish,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion,
            seconds=end - started,
            time_to_first_token=(first or end) - started,
            tokens_per_second=(chunks - 1) / decode if chunks > 1 and decode > 0 else 0.0,
        )

    def unload(self) -> None:
        self.info = None


def http_incomplete() -> type[Exception]:
    import http.client

    return http.client.HTTPException
