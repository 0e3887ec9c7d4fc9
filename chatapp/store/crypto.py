"""Encryption at rest: the database key, where it is kept, and keyed connections.

A new data folder's database is encrypted with SQLCipher under a random 256-bit key (a raw
key, so opening costs no key derivation). The key lives in the OS keyring; where no keyring
backend works (CI, a headless `--send`, a minimal desktop) it goes to a file readable only by
the user in the config folder, apart from the data folder, so a copied data folder or its
backups alone cannot be read. Keys are kept under a random id written beside the database
(`chatapp.key-id`), so a moved data folder still finds its key. Instead of a kept key, the
key may be derived from a passphrase asked at start (SQLCipher's own KDF, once per start).
An existing plain database stays plain until converted.

Plain databases use the standard library's sqlite3, encrypted ones sqlcipher3: their
exception classes differ, so callers catch `ERRORS`, never one module's `Error`.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import sqlite3
from pathlib import Path
from typing import Any

import platformdirs

from chatapp.errors import DatabaseCorrupt, StorageError

log = logging.getLogger("chatapp.store")

try:  # a maintained wheel with SQLCipher 4 and FTS5
    from sqlcipher3 import dbapi2 as cipher
except ImportError:  # pragma: no cover - sqlcipher3 is a dependency; kept for odd installs
    cipher = None  # type: ignore[assignment]

ERRORS: tuple[type[BaseException], ...] = (sqlite3.Error,) + ((cipher.Error,) if cipher else ())
ENV_CONFIG = "CHATAPP_CONFIG_HOME"
ENV_KEYRING = "CHATAPP_KEYRING"  # "0": never use the OS keyring (tests, CI)
ENV_PASSPHRASE = "CHATAPP_PASSPHRASE"
SERVICE = "chatapp"
PASSPHRASE = "passphrase"  # in the id file: the key is derived from a passphrase
KDF_ITER = 256_000  # SQLCipher 4's default
# Against a stolen copy a passphrase is guessed offline, ~5,000 tries a second per GPU with
# SQLCipher's 256,000 PBKDF2-SHA512 rounds: 8 lower-case letters (2e11) fall to a few GPUs in
# days, 12 (1e17) take longer than anyone has. Shorter ones are warned about, not refused.
PASSPHRASE_MIN_LENGTH = 12
SHORT_PASSPHRASE = (
    "This passphrase has {length} characters. One shorter than {minimum} can be found by a "
    "computer trying passphrases on a copy of your files (a lost laptop, a synced backup "
    "folder); four unrelated words are long enough."
)
MAGIC = b"SQLite format 3\x00"
CACHE_KIB = 64 * 1024
PAGE_BYTES = 4096  # SQLCipher 4's page size


class KeyMissing(DatabaseCorrupt):
    """An encrypted database whose key this computer does not have, or a damaged file (the
    two look alike: SQLCipher's file is random bytes). Like a damaged database it is never
    written over; restoring a backup moves it aside first."""


class WrongKey(StorageError):
    """The key found does not open the database."""


class PassphraseNeeded(StorageError):
    """The database is keyed by a passphrase: ask for it (a dialog, a tty prompt or
    CHATAPP_PASSPHRASE), then open with `key_from_passphrase`."""


def available() -> bool:
    return cipher is not None


def config_dir() -> Path:
    """chatapp's config folder (CHATAPP_CONFIG_HOME beats platformdirs), apart from its data."""
    override = os.environ.get(ENV_CONFIG)
    path = (
        Path(override)
        if override
        else Path(platformdirs.user_config_dir("chatapp", appauthor=False))
    )
    return path.expanduser().resolve()


def state(db_path: Path) -> str:
    """'missing' (absent or empty), 'plain' (SQLite's header) or 'encrypted' (anything else:
    SQLCipher's first bytes are a random salt)."""
    try:
        with open(db_path, "rb") as fh:
            head = fh.read(16)
    except FileNotFoundError:
        return "missing"
    except OSError as exc:
        raise StorageError(f"chatapp cannot read its database {db_path}.", detail=str(exc)) from exc
    if not head:
        return "missing"
    return "plain" if head == MAGIC else "encrypted"


def whole_pages(db_path: Path) -> bool:
    """Whether the file is a whole number of SQLCipher pages (4 KiB, its default, which chatapp
    keeps): an intact encrypted database always is, so for anything else no key or passphrase
    can help, and none is asked for."""
    try:
        size = Path(db_path).stat().st_size
    except OSError:
        return False
    return size > 0 and size % PAGE_BYTES == 0


def id_file(db_path: Path) -> Path:
    """Beside the database: the random id its key is kept under. It moves with the data
    folder, so a moved or renamed folder still finds its key (the id is no secret)."""
    db_path = Path(db_path)
    return db_path.with_name(db_path.stem + ".key-id")


def _id_lines(db_path: Path) -> list[str]:
    try:
        return id_file(db_path).read_text(encoding="ascii").split()
    except (OSError, UnicodeDecodeError):
        return []


def database_id(db_path: Path, *, create: bool = False) -> str | None:
    """The database's id (made and written durably first when `create`), or None."""
    lines = _id_lines(db_path)
    found = lines[0] if lines else ""
    if len(found) == 32 and all(c in "0123456789abcdef" for c in found):
        return found
    if not create:
        return None
    made = secrets.token_hex(16)
    _write_id(db_path, [made])
    return made


def _write_id(db_path: Path, words: list[str]) -> None:
    path = id_file(db_path)
    tmp = path.with_name(path.name + ".tmp")
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(tmp, "w", encoding="ascii") as fh:
        fh.write("\n".join(words) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def uses_passphrase(db_path: Path) -> bool:
    """Whether the database's key is derived from a passphrase asked at start (said in the
    id file: no secret, and it travels with the folder)."""
    return PASSPHRASE in _id_lines(db_path)[1:]


def set_passphrase_mark(db_path: Path, on: bool) -> None:
    """Say (or stop saying) that the database is keyed by a passphrase. Written right after
    the database itself was converted; a kept random key is never removed, so a conversion
    stopped before the mark still leaves a key or a passphrase that opens it (chatapp tries
    the kept key, and a missing or wrong key's message says how to give the passphrase)."""
    ident = database_id(db_path, create=True)
    assert ident is not None
    _write_id(db_path, [ident, PASSPHRASE] if on else [ident])


# -- passphrases ---------------------------------------------------------------------------


def derive_key(passphrase: str, salt: bytes) -> str:
    """SQLCipher 4's own key derivation (PBKDF2-HMAC-SHA512, 256,000 iterations, the file's
    salt), done once per start: the raw key plus salt it returns opens the database, its
    readers and its backups without deriving again, and those files open with the passphrase
    alone under SQLCipher's default settings."""
    raw = hashlib.pbkdf2_hmac("sha512", passphrase.encode("utf-8"), salt, KDF_ITER, 32)
    return raw.hex() + salt.hex()


def new_salt() -> bytes:
    return secrets.token_bytes(16)


def salt_of(db_path: Path) -> bytes:
    """An encrypted database's salt (its first 16 bytes); a new random one when there is no
    database yet."""
    if state(db_path) != "encrypted":
        return new_salt()
    with open(db_path, "rb") as fh:
        return fh.read(16)


def key_from_passphrase(db_path: Path, passphrase: str) -> str:
    if not passphrase:
        raise StorageError("The passphrase is empty; nothing was opened or changed.")
    return derive_key(passphrase, salt_of(db_path))


def passphrase_from_env() -> str | None:
    """CHATAPP_PASSPHRASE, for starts with no one at the keyboard (`--send`, scripts)."""
    return os.environ.get(ENV_PASSPHRASE) or None


def _account(db_path: Path, ident: str | None = None) -> str:
    ident = ident or database_id(db_path)
    return f"database-id:{ident}" if ident else _path_account(db_path)


def _path_account(db_path: Path) -> str:
    """How keys were first kept: by the database's absolute path (lost when it moved)."""
    return f"database:{Path(db_path).resolve()}"


def key_file(db_path: Path, ident: str | None = None) -> Path:
    """Where the key goes without a keyring: named after the database's id."""
    ident = ident or database_id(db_path)
    if ident is None:
        return _path_key_file(db_path)
    return config_dir() / "keys" / f"{ident}.key"


def _path_key_file(db_path: Path) -> Path:
    digest = hashlib.sha256(_path_account(db_path).encode()).hexdigest()[:24]
    return config_dir() / "keys" / f"{digest}.key"


def _keyring() -> Any | None:
    """The OS keyring when a real backend works here, else None."""
    if os.environ.get(ENV_KEYRING, "1") == "0":
        return None
    try:
        import keyring

        backend = keyring.get_keyring()
    except Exception as exc:  # noqa: BLE001 - any keyring failure means "no keyring"
        log.info("no keyring: %s", exc)
        return None
    module = type(backend).__module__
    if (
        module.startswith(("keyring.backends.fail", "keyring.backends.null"))
        or getattr(backend, "priority", 1) <= 0
    ):
        return None
    return keyring


def _lookup(account: str, path: Path) -> tuple[str, str] | None:
    ring = _keyring()
    if ring is not None:
        try:
            found = ring.get_password(SERVICE, account)
        except Exception as exc:  # noqa: BLE001
            log.warning("the keyring could not be read: %s", exc)
            found = None
        if found:
            return found.strip(), "keyring"
    try:
        text = path.read_text(encoding="ascii").split()[0]
    except (OSError, IndexError, UnicodeDecodeError):
        return None
    return text, str(path)


def find_key(db_path: Path) -> tuple[str, str] | None:
    """(hex key, where it was found: 'keyring' or the key file's path), or None.

    A key kept under the database's old absolute path is kept again under its id (the old
    entry stays: a backup elsewhere may still look there)."""
    ident = database_id(db_path)
    if ident is not None:
        found = _lookup(_account(db_path, ident), key_file(db_path, ident))
        if found is not None:
            return found
    old = _lookup(_path_account(db_path), _path_key_file(db_path))
    if old is None:
        return None
    try:
        where = store_key(db_path, old[0])
    except OSError as exc:  # a read-only folder: the old entry still works where it is
        log.warning("the key could not be kept under the database's id: %s", exc)
        return old
    log.info("database key moved from its path entry to its id (%s)", where)
    return old[0], where


def store_key(db_path: Path, key: str) -> str:
    """Keep `key` for this database: the keyring, else a 0600 file; returns where."""
    ident = database_id(db_path, create=True)
    account = _account(db_path, ident)
    ring = _keyring()
    if ring is not None:
        try:
            ring.set_password(SERVICE, account, key)
            if ring.get_password(SERVICE, account) == key:
                return "keyring"
        except Exception as exc:  # noqa: BLE001
            log.warning("the keyring refused the key, using a key file: %s", exc)
    path = key_file(db_path, ident)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(f"{key}\n{Path(db_path).resolve()}\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return str(path)


def new_key() -> str:
    return secrets.token_hex(32)


def key_for(db_path: Path, *, create: bool = True) -> str | None:
    """The key to open `db_path` with: None for a plain database; the stored key for an
    encrypted one (KeyMissing when there is none); for a new database, a new key (kept
    first, so no database is ever written under a key that was not kept)."""
    found = state(db_path)
    if found == "plain":
        return None
    if uses_passphrase(db_path) and (found == "encrypted" or create):
        raise PassphraseNeeded(f"The database {db_path} is protected by a passphrase.")
    if found == "encrypted":
        known = find_key(db_path)
        if known is None:
            raise KeyMissing(missing_message(db_path), path=str(db_path))
        return known[0]
    if not available() or not create:
        return None
    known = find_key(db_path)  # a deleted database's key stays: its backups need it
    if known is not None:
        return known[0]
    key = new_key()
    where = store_key(db_path, key)
    log.info("new database key kept in %s", where)
    return key


def missing_message(db_path: Path) -> str:
    return (
        f"The database {db_path} is encrypted (or damaged), and this computer has no key for it: "
        f"neither the keyring nor {key_file(db_path)} holds one (keys are found by the id in "
        f"{id_file(db_path).name}, beside the database). It has not been changed, and "
        "chatapp will not start a new database over it. If it comes from another computer, "
        "bring its key file along (or start chatapp there and decrypt it with "
        "`chatapp decrypt`). If you protected it with a passphrase, start chatapp with "
        f"{ENV_PASSPHRASE} set to it. Or restore a backup made with a key this computer has."
    )


def wrong_key_message(db_path: Path) -> str:
    return (
        f"The database {db_path} cannot be opened with the key kept for it (the key was changed, "
        "or the file was replaced or damaged). It has not been changed; nothing was written. "
        f"If you protected it with a passphrase, start chatapp with {ENV_PASSPHRASE} set to it."
    )


def connect(target: str | Path, key: str | None, **kwargs: Any) -> Any:
    """A connection to a plain database (key None) or an encrypted one; the key is set before
    anything else reads the file. `target` may be a URI when uri=True is passed."""
    if key is None:
        return sqlite3.connect(target, **kwargs)
    if cipher is None:
        raise StorageError(
            "This database is encrypted, but this chatapp lacks SQLCipher (the sqlcipher3 "
            "package). Reinstall chatapp."
        )
    conn = cipher.connect(str(target), **kwargs)
    conn.execute("PRAGMA cipher_log_level = NONE")  # a wrong key is said by chatapp, once
    conn.execute(f"PRAGMA key = \"x'{_checked(key)}'\"")
    return conn


def _checked(key: str) -> str:
    """64 hex digits (a raw key), or 96 (a key derived from a passphrase, then its salt)."""
    if len(key) not in (64, 96) or any(c not in "0123456789abcdefABCDEF" for c in key):
        raise StorageError("The database key kept for chatapp is malformed (not 64 hex digits).")
    return key


def conversions(db_path: Path, key: str | None) -> list[tuple[str, str, str]]:
    """What Settings ▸ Privacy offers: (button, target for convert.run, what will happen)."""
    after = (
        " chatapp closes, writes the converted copy of your conversations and backups, checks "
        "it (integrity, row counts, a search) before it takes the old file's place, and starts "
        "again. Nothing is lost; stopped half-way, the old or the new file is complete."
    )
    encrypt = (
        "Encrypt my conversations…",
        "encrypted",
        "Encrypt your conversations, memory and backups with a random key kept in the system "
        "keyring (or a file only you can read where no keyring works)." + after,
    )
    passphrase = (
        "Use a passphrase…" if key is not None else "Encrypt with a passphrase…",
        "passphrase",
        "Encrypt your conversations, memory and backups with a passphrase that chatapp asks "
        "for at each start and keeps nowhere (forgotten, they cannot be read). You type it "
        "after the restart." + after,
    )
    decrypt = (
        "Decrypt my conversations…",
        "plain",
        "Store your conversations, memory and backups unencrypted again: any program running "
        "as you can then read them." + after,
    )
    kept = (
        "Keep a key instead of the passphrase…",
        "key",
        "Stop asking for the passphrase: a random key kept in the system keyring (or a file "
        "only you can read) encrypts your conversations instead." + after,
    )
    if key is None:
        return [encrypt, passphrase]
    if uses_passphrase(db_path):
        return [kept, decrypt]
    return [passphrase, decrypt]


def describe(db_path: Path, key: str | None) -> str:
    """A sentence or three for Settings ▸ Privacy: how the conversations are kept on disk."""
    if key is None:
        return (
            f"Your conversations, memory and backups are stored unencrypted in {db_path.parent}: "
            "any program running as you, a synced backup folder or a lost laptop can read them. "
            "Encrypt them below (or quit chatapp and run `chatapp encrypt`): the encrypted copy "
            "is checked before it takes the database's place; nothing is lost."
        )
    exported = " Exported files are not encrypted."
    if uses_passphrase(db_path):
        return (
            "Your conversations, memory and backups are encrypted (SQLCipher, AES-256) with a "
            "key derived from your passphrase, asked at each start and kept nowhere. A key "
            "kept before (keyring or key file) is not deleted: copies and backups made under it "
            "may need it." + exported
        )
    found = find_key(db_path)
    if found is not None and found[1] == "keyring":
        return (
            "Your conversations, memory and backups are encrypted (SQLCipher, AES-256) with a "
            "random key kept in the system keyring." + exported
        )
    where = found[1] if found is not None else str(key_file(db_path))
    return (
        "Your conversations, memory and backups are encrypted (SQLCipher, AES-256) with a random "
        f"key kept in {where}, readable only by you: no system keyring works here. That is "
        "weaker than a keyring, since any program running as you can read the key; keep that "
        "file out of synced or shared folders, or use a passphrase instead (below). A copy of "
        "the data folder alone cannot be read." + exported
    )
