"""Qt-free persistence: one SQLite file per data dir."""

from chatapp.store.db import open_database
from chatapp.store.store import Store

__all__ = ["Store", "open_database"]
