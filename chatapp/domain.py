"""Plain dataclasses shared by the store, the engine and the GUI (no Qt here)."""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass, field
from typing import Any, TypeVar


class Role(str, enum.Enum):
    SYSTEM = "system"
    USER = "user"
    ASSISTANT = "assistant"


def speaker(role: Role | str, model: str | None = None) -> str:
    """Who wrote a message, named the same in the window, its accessible text and every
    export: "You", "System", or the model's name ("Assistant" when it is not known)."""
    if role == Role.USER:
        return "You"
    if role == Role.SYSTEM:
        return "System"
    return model or "Assistant"


class MessageStatus(str, enum.Enum):
    COMPLETE = "complete"
    STREAMING = "streaming"
    STOPPED = "stopped"
    ERROR = "error"


T = TypeVar("T")


def from_known_fields(cls: type[T], data: Any) -> T:
    """`cls` made from the keys of `data` it knows; anything unusable gives the defaults
    (settings outlive the code that wrote them)."""
    if not isinstance(data, dict):
        return cls()
    known = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    try:
        return cls(**{k: v for k, v in data.items() if k in known})
    except TypeError:
        return cls()


@dataclass(frozen=True)
class GenerationSettings:
    """Sampling settings of a thread; None means "the model's default"."""

    temperature: float = 0.7
    top_p: float = 0.95
    top_k: int = 40
    min_p: float = 0.05
    repeat_penalty: float = 1.1
    max_tokens: int = 512
    seed: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> GenerationSettings:
        """Unknown keys are ignored and missing ones take defaults, so old settings still load."""
        return from_known_fields(cls, data)


@dataclass(frozen=True)
class ChatMessage:
    """One message as the model sees it."""

    role: str
    content: str

    def as_dict(self) -> dict[str, str]:
        return {"role": self.role, "content": self.content}


@dataclass(frozen=True)
class Message:
    """A stored message: one node of a thread's version tree."""

    id: int
    thread_id: int
    parent_id: int | None
    role: Role
    content: str
    created_at: float  # UTC seconds since the epoch
    status: MessageStatus = MessageStatus.COMPLETE
    model: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    settings: dict[str, Any] | None = None
    error: str | None = None
    depth: int = 0
    version_index: int = 1  # 1-based position among its siblings
    version_count: int = 1


@dataclass(frozen=True)
class Thread:
    id: int
    title: str
    created_at: float
    updated_at: float
    system_prompt: str = ""
    model: str | None = None  # a model file path, or None for the app default
    settings: GenerationSettings = field(default_factory=GenerationSettings)
    pinned: bool = False
    title_auto: bool = True
    deleted_at: float | None = None
    message_count: int = 0


@dataclass(frozen=True)
class SearchHit:
    thread_id: int
    thread_title: str
    message_id: int
    role: Role
    created_at: float
    snippet: str  # text with the matches between \x02 and \x03
    on_path: bool = True  # False: another version than the one its thread shows
