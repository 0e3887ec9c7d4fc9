"""Errors a user can cause or meet (shown as messages; the app goes on).

Anything else raised in chatapp is a bug and reaches the crash handler.
"""

from __future__ import annotations


class UserFacingError(Exception):
    """An expected problem with a message meant for the person using the app."""

    def __init__(self, message: str, *, detail: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail

    def __str__(self) -> str:
        return f"{self.message}\n{self.detail}" if self.detail else self.message


class ModelLoadError(UserFacingError):
    """The model file could not be loaded (missing, not GGUF, truncated, too large...)."""


class ModelTooLarge(ModelLoadError):
    """The model would not fit the free memory; the user may choose to load it anyway."""

    def __init__(self, message: str, *, detail: str = "", estimate: object = None) -> None:
        super().__init__(message, detail=detail)
        self.estimate = estimate


class GenerationError(UserFacingError):
    """A reply could not be produced (context overflow, engine failure)."""


class StorageError(UserFacingError):
    """The database could not be read or written (disk full, locked, read-only)."""


class DatabaseCorrupt(StorageError):
    """The database file is damaged; it is never overwritten, a backup may be restored."""

    def __init__(self, message: str, *, path: str, detail: str = "") -> None:
        super().__init__(message, detail=detail)
        self.path = path


class DatabaseTooNew(StorageError):
    """The database was written by a newer chatapp; it is left untouched."""
