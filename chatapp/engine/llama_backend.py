"""The llama.cpp backend (llama-cpp-python). Create, use and close it on one thread."""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import logging
import re
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from chatapp.domain import ChatMessage, GenerationSettings
from chatapp.engine import device, llama_log, memory_estimate
from chatapp.engine.backend import ModelInfo, ModelSpec, ProgressCallback, ReplyResult, TextCallback
from chatapp.engine.gguf_file import check_model_file
from chatapp.engine.gguf_meta import read_header
from chatapp.engine.prompt_format import PromptFormat, Rendered
from chatapp.errors import GenerationError, ModelLoadError, ModelTooLarge

log = logging.getLogger("chatapp.engine")


@dataclasses.dataclass(frozen=True)
class LoadPlan:
    path: Path
    header: Any
    spec: ModelSpec  # with the context size decided
    layers: int  # GPU layers to ask for (-1: all)
    fallback: str | None
    threads: int


def plan_load(spec: ModelSpec, extra_free: int = 0) -> LoadPlan:
    """What a load will ask llama.cpp for, checked before it does: the file, its header, the
    context size, the GPU layers, and (on the CPU) whether it fits the free memory.
    `extra_free`: bytes that unloading the current model gives back."""
    path = check_model_file(spec.path)
    header = read_header(path)  # fast, and names problems llama.cpp would only log
    if header.vocab_only:
        raise ModelLoadError(
            f"{path.name} holds only a vocabulary, no model weights: it cannot chat.",
            detail="Files like this are used by tools; choose the full model file.",
        )
    llama_log.install()
    gpu_ok = device.gpu_offload_supported()
    layers, fallback = device.requested_gpu_layers(spec, gpu_ok)
    threads = spec.n_threads or device.default_threads()
    free = memory_estimate.available_memory()
    if free is not None:
        free += extra_free
    n_ctx = (
        spec.n_ctx if spec.n_ctx > 0 else memory_estimate.auto_context(header, free, spec.n_batch)
    )
    spec = dataclasses.replace(spec, n_ctx=n_ctx)
    if layers == 0:
        LlamaBackend._check_memory(
            header, spec, free
        )  # before unloading: a refusal keeps the old model
    return LoadPlan(path, header, spec, layers, fallback, threads)


class LlamaBackend:
    """A GGUF model run by llama.cpp, on the GPU when it can be and on the CPU otherwise."""

    # True in the model process: llama-cpp-python then leaves stderr alone while loading,
    # so an abort's last words reach the process's log instead of /dev/null
    verbose = False
    reports_reading = True  # generate() takes on_progress: how much of the prompt is read

    def __init__(self) -> None:
        self.info: ModelInfo | None = None
        self._llm: Any = None
        self._format_: PromptFormat | None = None
        self._cancel: threading.Event = threading.Event()  # the running reply's cancel flag
        self.last_reused_tokens = 0  # prompt tokens of the last reply found in the KV cache
        self._footprint = 0  # estimated bytes the loaded model holds
        self._abort_cb: Any = None
        self._no_abort_cb: Any = None

    # -- loading --------------------------------------------------------

    def load(self, spec: ModelSpec, extra_free: int = 0) -> ModelInfo:
        """Load `spec`, replacing any loaded model; ModelLoadError says why it failed.
        `extra_free`: bytes that another process gives back once this model is loaded."""
        try:
            import llama_cpp
        except Exception as exc:  # e.g. a CUDA build without the NVIDIA driver
            raise ModelLoadError(
                "llama.cpp (llama-cpp-python) could not be started.", detail=str(exc)
            ) from exc
        plan = plan_load(spec, self._footprint + extra_free)
        path, header, spec, layers, fallback, threads = (
            plan.path,
            plan.header,
            plan.spec,
            plan.layers,
            plan.fallback,
            plan.threads,
        )
        from chatapp.engine import rpc

        rpc.add_servers(spec.rpc_servers or "")  # ggml aborts on a silent server: checked first
        self.unload()
        started = time.perf_counter()
        mark = llama_log.mark()
        try:
            llm = self._create(llama_cpp, path, spec, layers, threads)
        except Exception as exc:
            if layers == 0:
                raise self._load_error(path, exc, mark) from exc
            reason = self._reason(exc, mark)
            log.warning("loading %s on the GPU failed (%s); loading on the CPU", path, reason)
            fallback = f"loading on the GPU failed: {reason}"
            layers = 0
            self._check_memory(
                header, spec, memory_estimate.available_memory()
            )  # nothing is loaded now
            mark = llama_log.mark()
            try:
                llm = self._create(llama_cpp, path, spec, 0, threads)
            except Exception as exc2:
                raise self._load_error(path, exc2, mark) from exc2
        load_seconds = time.perf_counter() - started
        self._llm = llm
        self._footprint = (
            memory_estimate.estimate(header, spec.n_ctx, spec.n_batch).total if layers == 0 else 0
        )
        try:
            self._format_ = PromptFormat(
                llm._model, spec.chat_template or llm.metadata.get("tokenizer.chat_template")
            )
            notice = self._format_.notice
        except Exception as exc:
            self.unload()
            raise ModelLoadError(
                f"The chat template of {path.name} cannot be used.", detail=str(exc)
            ) from exc
        self._install_abort(llama_cpp)
        done, total, dev_name = device.parse_offload(llama_log.since(mark))
        meta = llm.metadata
        arch = meta.get("general.architecture", "")
        total = total or int(meta.get(f"{arch}.block_count", 0) or 0) + 1
        on_gpu = layers != 0 and (done or 0) > 0
        if on_gpu:
            label = f"{dev_name or 'GPU'}, {done}/{total} layers"
            if (done or 0) < total:
                label += f" (rest on CPU, {threads} threads)"
        else:
            label = f"CPU, {threads} threads"
            if layers != 0 and fallback is None:
                fallback = "llama.cpp put no layer on the GPU"
        self.info = ModelInfo(
            path=str(path),
            name=path.stem,  # what the user recognises; general.name is often a training run's
            n_ctx=llm.n_ctx(),
            n_ctx_train=llm._model.n_ctx_train(),
            device=label,
            on_gpu=on_gpu,
            gpu_layers=done or 0 if on_gpu else 0,
            total_layers=total,
            n_threads=threads,
            load_seconds=load_seconds,
            fallback_reason=fallback,
            template_notice=notice,
            n_params=llm._model.n_params(),
        )
        log.info("loaded %s: %s, n_ctx=%d, %.2fs", path.name, label, self.info.n_ctx, load_seconds)
        return self.info

    @staticmethod
    def _check_memory(header: Any, spec: ModelSpec, free: int | None) -> None:
        """A model that would not fit the free memory is refused before llama.cpp maps it
        (the machine would swap or freeze); ModelSpec.check_memory=False loads it anyway."""
        if not spec.check_memory:
            return
        est = memory_estimate.too_large(header, spec.n_ctx, spec.n_batch, free)
        if est is not None:
            raise ModelTooLarge(
                f"{Path(spec.path).name} needs {est.describe()}, but only "
                f"{memory_estimate.gib(free or 0)} of memory is free.",
                detail="Choose a smaller context size in the model's settings, a smaller "
                "quantization of the model, or load it anyway (the computer may become very slow).",
                estimate=est,
            )

    def _create(
        self, llama_cpp: Any, path: Path, spec: ModelSpec, layers: int, threads: int
    ) -> Any:
        kwargs: dict[str, Any] = {
            "model_path": str(path),
            "n_ctx": spec.n_ctx,
            "n_gpu_layers": layers,
            "n_threads": threads,
            "n_threads_batch": threads,
            "n_batch": spec.n_batch,
            "flash_attn": spec.flash_attn,
            "verbose": self.verbose,
        }
        if layers == 0:
            kwargs["op_offload"] = False  # with 0 layers, large batches would still go to the GPU
        return llama_cpp.Llama(**kwargs)

    def _reason(self, exc: Exception, mark: int) -> str:
        """llama.cpp's own words: its first error lines say why (the exception only says that)."""
        errors = [line.strip() for line in llama_log.since(mark, logging.ERROR)]
        said = "; ".join(dict.fromkeys(errors[:3]))
        text = str(exc)
        return f"{text} ({said})" if said and said not in text else text

    def _load_error(self, path: Path, exc: Exception, mark: int) -> ModelLoadError:
        reason = self._reason(exc, mark)
        arch = re.search(r"unknown model architecture: '([^']*)'", reason)
        if arch:
            message = (
                f"{path.name} is a '{arch.group(1)}' model, an architecture this version of "
                "llama.cpp does not support. Updating llama-cpp-python may help."
            )
        elif "Failed to load model" in str(exc):
            message = (
                f"{path.name} could not be loaded: the file is damaged or incomplete, "
                "or its model type is not supported by this llama.cpp."
            )
        elif "llama_context" in str(exc):
            message = f"{path.name} was read but there is not enough memory for its context."
        else:
            message = f"{path.name} could not be loaded."
        return ModelLoadError(message, detail=f"llama.cpp said: {reason}")

    def _install_abort(self, llama_cpp: Any) -> None:
        """Let a cancel interrupt prompt processing too (CPU and Metal call this; CUDA does not)."""

        @llama_cpp.ggml_abort_callback
        def _should_abort(_data: Any) -> bool:
            return self._cancel.is_set()

        self._abort_cb = _should_abort
        self._no_abort_cb = llama_cpp.ggml_abort_callback()  # NULL: no call per graph node

    def _set_abort(self, on: bool) -> None:
        import llama_cpp

        ctx = self._llm._ctx.ctx
        llama_cpp.llama_set_abort_callback(ctx, self._abort_cb if on else self._no_abort_cb, None)

    def unload(self) -> None:
        """Free the model; no reference to the closed Llama may survive (using it would crash)."""
        llm, self._llm = self._llm, None
        self.info = None
        self._footprint = 0
        self._format_ = None
        if llm is not None:
            try:
                llm.close()
            finally:
                del llm
                gc.collect()

    @property
    def footprint(self) -> int:
        """Estimated bytes the loaded model holds in RAM (0 on a GPU)."""
        return self._footprint

    def save_state(self) -> Any:
        return self._require().save_state()

    def load_state(self, state: Any) -> None:
        self._require().load_state(state)

    @contextlib.contextmanager
    def keeping_cache(self) -> Iterator[None]:
        """Run side work (a summary) without losing the chat's KV cache: save the
        state first and put it back after."""
        llm = self._require()
        state = llm.save_state()
        try:
            yield
        finally:
            if self._llm is llm:
                llm.load_state(state)

    # -- tokens ---------------------------------------------------------

    def _require(self) -> Any:
        if self._llm is None:
            raise GenerationError("No model is loaded.")
        return self._llm

    def prompt_tokens(self, messages: Sequence[ChatMessage]) -> list[int]:
        """The exact tokens llama.cpp is given for these messages (template applied)."""
        return self._render(messages).tokens

    def _render(self, messages: Sequence[ChatMessage]) -> Rendered:
        self._require()
        assert self._format_ is not None
        return self._format_.render(messages)

    def render_prompt(self, messages: Sequence[ChatMessage]) -> str:
        """The prompt text exactly as the chat template renders it for llama.cpp."""
        return self._render(messages).prompt

    def count_tokens(self, messages: Sequence[ChatMessage]) -> int:
        return len(self.prompt_tokens(messages))

    def count_text_tokens(self, text: str) -> int:
        self._require()
        assert self._format_ is not None
        return self._format_.count_text(text)

    # -- generation -----------------------------------------------------

    def generate(
        self,
        messages: Sequence[ChatMessage],
        settings: GenerationSettings,
        cancel: threading.Event,
        on_text: TextCallback,
        on_progress: ProgressCallback | None = None,
    ) -> ReplyResult:
        started = time.perf_counter()
        rendered = self._render(messages)
        return self.generate_tokens(
            rendered.tokens,
            rendered.stop,
            settings,
            cancel,
            on_text,
            started=started,
            on_progress=on_progress,
        )

    def generate_tokens(
        self,
        prompt: list[int],
        stop: list[str],
        settings: GenerationSettings,
        cancel: Any,
        on_text: TextCallback,
        *,
        started: float | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> ReplyResult:
        """Generate from a prompt already tokenized (by `prompt_tokens`, here or in the app's
        process). `cancel` is anything with `is_set()`. `on_progress(done, total)` hears how
        many of the prompt's tokens are read, after each batch, when it takes more than one."""
        import llama_cpp

        llm = self._require()
        started = time.perf_counter() if started is None else started
        n_ctx = llm.n_ctx()
        if len(prompt) >= n_ctx:
            raise GenerationError(
                f"The conversation ({len(prompt)} tokens) does not fit the model's context "
                f"({n_ctx} tokens).",
                detail="Shorten the system prompt or raise the context size.",
            )
        max_tokens = (
            settings.max_tokens if settings.max_tokens and settings.max_tokens > 0 else None
        )
        room = n_ctx - len(prompt)
        if max_tokens is None or max_tokens > room:
            max_tokens = room
        seen_lengths: list[int] = []
        first_at: float | None = None
        last_at = started

        def stopping(input_ids: Any, _logits: Any) -> bool:
            # llama.cpp calls this before each sampled token is used, with the tokens
            # evaluated so far (one more each time), and once more at the end.
            seen_lengths.append(len(input_ids))
            return cancel.is_set()

        pieces: list[str] = []
        finish = "stop"
        self.last_reused_tokens = _common_prefix(llm.input_ids[: llm.n_tokens].tolist(), prompt)
        self._cancel = cancel
        self._set_abort(True)
        try:
            if on_progress is not None:
                _read_prompt(llm, prompt, cancel, on_progress)
            if cancel.is_set():
                raise _StoppedReading
            stream = llm.create_completion(
                prompt=prompt,
                max_tokens=max_tokens,
                temperature=settings.temperature,
                top_p=settings.top_p,
                top_k=settings.top_k,
                min_p=settings.min_p,
                repeat_penalty=settings.repeat_penalty,
                seed=settings.seed,
                stop=stop,
                stream=True,
                stopping_criteria=llama_cpp.StoppingCriteriaList([stopping]),
            )
            try:
                for chunk in stream:
                    now = time.perf_counter()
                    if first_at is None:
                        first_at = now
                        self._set_abort(False)
                    choice = chunk["choices"][0]
                    text = choice.get("text") or ""
                    if text:
                        pieces.append(text)
                        on_text(text)
                        last_at = now
                    if choice.get("finish_reason"):
                        finish = choice["finish_reason"]
                    if cancel.is_set():
                        break
            finally:
                stream.close()
        except _StoppedReading:
            pass
        except RuntimeError as exc:
            if not cancel.is_set():
                raise GenerationError("The model failed while replying.", detail=str(exc)) from exc
        except ValueError as exc:
            raise GenerationError("The model could not reply.", detail=str(exc)) from exc
        finally:
            self._set_abort(False)
        if cancel.is_set():
            finish = "cancelled"
        sampled = max(seen_lengths) - min(seen_lengths) + 1 if seen_lengths else 0
        if finish == "stop" and sampled:
            sampled -= 1  # the end-of-generation token is not part of the reply
        end = time.perf_counter()
        if first_at is None:
            first_at = end
        decode_time = last_at - first_at
        rate = (sampled - 1) / decode_time if sampled > 1 and decode_time > 0 else 0.0
        return ReplyResult(
            text="".join(pieces),
            finish_reason=finish,
            prompt_tokens=len(prompt),
            completion_tokens=sampled,
            seconds=end - started,
            time_to_first_token=first_at - started,
            tokens_per_second=rate,
        )


class _StoppedReading(Exception):
    """A stop came while the prompt was being read: no token is sampled."""


def _read_prompt(llm: Any, prompt: list[int], cancel: Any, on_progress: ProgressCallback) -> None:
    """Evaluate a prompt longer than one batch here, batch by batch, telling the progress and
    looking at `cancel` between batches (CUDA never calls the abort callback). What this
    leaves is what llama-cpp-python's generate() would have done itself: the whole prompt in
    the KV cache with the last token's logits, so it samples at once."""
    total = len(prompt)
    cached = llm.input_ids[: llm.n_tokens].tolist()
    same = 0
    for a, b in zip(cached, prompt):
        if a != b:
            break
        same += 1
    keep = same - 1 if same == total else same  # the last token is read again for its logits
    if total - keep <= llm.n_batch:
        return  # one batch: nothing to tell, generate() reads it as usual
    if keep > 0 and llm._ctx.kv_cache_seq_rm(-1, keep, -1):
        llm.n_tokens = keep
    else:
        llm.reset()
    on_progress(llm.n_tokens, total)
    while llm.n_tokens < total:
        if cancel.is_set():
            return
        llm.eval(prompt[llm.n_tokens : llm.n_tokens + llm.n_batch])
        on_progress(llm.n_tokens, total)


def _common_prefix(cached: list[int], prompt: list[int]) -> int:
    """How much of the prompt llama-cpp-python can take from its KV cache (it keeps the
    longest common prefix and evaluates the rest)."""
    n = 0
    for a, b in zip(cached, prompt):
        if a != b:
            break
        n += 1
    return min(n, len(prompt) - 1) if prompt else 0
