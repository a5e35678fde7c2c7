"""API keys: created once, shown once, stored only as a salted SHA-256 digest in the workspace.

A key reads ``cl_<key id>_<secret>``: the id (8 hex characters) is public and names the key in
``keys list``, logs and metrics; the secret (256 random bits) is never stored. Because the secret is
random and long, one salted SHA-256 is enough (no slow KDF needed) and keeps a check under 2 µs.

Keys live in ``<workspace>/api_keys.json`` (mode 0600), not in the DuckDB file, so keys can be
created or revoked while a batch run holds the database and while the service runs: the service
re-reads the file when its modification time changes, so a revocation takes effect at once.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import hmac
import json
import os
import secrets
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from chainlight.errors import InputError, NotFound

KEYS_FILE = "api_keys.json"
PREFIX = "cl"
Role = Literal["analyst", "decider"]
ROLES: tuple[str, ...] = ("analyst", "decider")
# what each role may do: analysts read; deciders read and post applications
PERMISSIONS: dict[str, frozenset[str]] = {"analyst": frozenset({"read"}), "decider": frozenset({"read", "decide"})}


@dataclass(frozen=True)
class ApiKey:
    key_id: str
    role: str
    salt: str
    digest: str
    created_at: str
    label: str = ""
    revoked_at: str | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def may(self, permission: str) -> bool:
        return permission in PERMISSIONS.get(self.role, frozenset())


def _digest(salt: str, secret: str) -> str:
    return hashlib.sha256(f"{salt}:{secret}".encode()).hexdigest()


def parse_token(token: str) -> tuple[str, str] | None:
    """(key id, secret) of a well-formed key, else None."""
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != PREFIX or len(parts[1]) != 8 or len(parts[2]) < 20:
        return None
    return parts[1], parts[2]


class KeyStore:
    """The workspace's key file; safe for concurrent CLI writers (file lock) and many readers."""

    def __init__(self, workspace: Path | str) -> None:
        self.root = Path(workspace)
        if not self.root.is_dir():
            raise InputError("workspace does not exist", file=str(self.root))
        self.path = self.root / KEYS_FILE
        self._cache: dict[str, ApiKey] = {}
        self._stamp: tuple[int, int] | None = None

    # -- reading ----------------------------------------------------------------------------------
    def _read(self) -> dict[str, ApiKey]:
        if not self.path.exists():
            return {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return {k["key_id"]: ApiKey(**k) for k in data.get("keys", [])}
        except (OSError, ValueError, TypeError, KeyError) as exc:
            raise InputError(f"cannot read API keys: {exc}", file=str(self.path)) from exc

    def keys(self) -> dict[str, ApiKey]:
        """Current keys, re-read only when the file changed (one stat per call)."""
        try:
            st = os.stat(self.path)
            stamp: tuple[int, int] | None = (st.st_mtime_ns, st.st_size)
        except FileNotFoundError:
            stamp = None
        if stamp != self._stamp:
            self._cache, self._stamp = (self._read() if stamp else {}), stamp
        return self._cache

    def authenticate(self, token: str) -> ApiKey | None:
        """The active key this token proves, else None (unknown, malformed, revoked or wrong secret)."""
        parsed = parse_token(token)
        if parsed is None:
            return None
        key = self.keys().get(parsed[0])
        if key is None or not key.active:
            return None
        return key if hmac.compare_digest(key.digest, _digest(key.salt, parsed[1])) else None

    def list(self) -> list[ApiKey]:
        return sorted(self.keys().values(), key=lambda k: (k.created_at, k.key_id))

    # -- writing ----------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict[str, ApiKey]]:
        with open(self.root / f".{KEYS_FILE}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            keys = self._read()
            yield keys
            payload = json.dumps({"keys": [asdict(k) for k in keys.values()]}, ensure_ascii=False, indent=1)
            fd, tmp = tempfile.mkstemp(dir=self.root, prefix=f".{KEYS_FILE}.")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    handle.write(payload)
                os.chmod(tmp, 0o600)
                os.replace(tmp, self.path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise

    def create(self, role: str, label: str = "") -> tuple[ApiKey, str]:
        """A new key; the returned token is the only time the secret exists outside the caller."""
        if role not in ROLES:
            raise InputError(f"role must be one of {', '.join(ROLES)}", field="role")
        with self._locked() as keys:
            key_id = secrets.token_hex(4)
            while key_id in keys:
                key_id = secrets.token_hex(4)
            secret, salt = secrets.token_urlsafe(32), secrets.token_hex(16)
            key = ApiKey(key_id=key_id, role=role, salt=salt, digest=_digest(salt, secret),
                         created_at=datetime.now(UTC).isoformat(timespec="seconds"), label=label)
            keys[key_id] = key
        return key, f"{PREFIX}_{key_id}_{secret}"

    def revoke(self, key_id: str) -> ApiKey:
        with self._locked() as keys:
            key = keys.get(key_id)
            if key is None:
                raise NotFound(f"no API key with id {key_id!r}")
            if key.active:
                key = ApiKey(**{**asdict(key), "revoked_at": datetime.now(UTC).isoformat(timespec="seconds")})
                keys[key_id] = key
        return key
