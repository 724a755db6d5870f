"""Signed-out sessions, kept in a small file so a sign-out survives a UI restart.

A sign-in cookie stays valid until it expires; signing out deletes it from the
browser, but a copy taken before would still work. So the workbench remembers each
signed-out token until its expiry: as a SHA-256 id (the file holds no usable
token), with the expiry, in WORKBENCH_STATE_DIR/revoked_sessions.json. Each change
rewrites the file atomically (a temporary file, then a rename); expired entries are
pruned then. A file that cannot be read is logged and replaced, never shown.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

logger = logging.getLogger(__name__)

FILE_NAME = "revoked_sessions.json"
FORMAT_VERSION = 1


def token_id(token: str) -> str:
    """What the file keeps of a token: enough to recognise it, useless to replay."""
    return hashlib.sha256(token.encode()).hexdigest()


class RevocationStore:
    """Token ids signed out before their expiry; one store per UI process."""

    def __init__(self, folder: Path, clock: Callable[[], float] = time.time) -> None:
        self.path = folder / FILE_NAME
        self._clock = clock
        self._lock = threading.Lock()
        self._revoked = self._read()

    def revoke(self, token: str, expires_at: float) -> None:
        """Remember the token until `expires_at`; on a write error, in memory only."""
        with self._lock:
            now = self._clock()
            self._revoked = {t: e for t, e in self._revoked.items() if e > now}
            if expires_at > now:
                self._revoked[token_id(token)] = float(expires_at)
            self._write()

    def is_revoked(self, token: str) -> bool:
        with self._lock:
            expires_at = self._revoked.get(token_id(token))
        return expires_at is not None and expires_at > self._clock()

    def __len__(self) -> int:
        with self._lock:
            now = self._clock()
            return sum(1 for e in self._revoked.values() if e > now)

    def _read(self) -> dict[str, float]:
        try:
            raw = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except OSError as error:
            self._warn("cannot be read", str(error))
            return {}
        try:
            revoked = _parse(raw)
        except ValueError as error:
            self._warn("is corrupt; starting with no signed-out session", str(error))
            return {}
        now = self._clock()
        return {t: e for t, e in revoked.items() if e > now}

    def _write(self) -> None:
        body = json.dumps({"version": FORMAT_VERSION, "revoked": self._revoked})
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(
                dir=self.path.parent, prefix=".revoked-", suffix=".tmp"
            )
            try:
                with os.fdopen(handle, "w", encoding="utf-8") as file:
                    file.write(body)
                    file.flush()
                    os.fsync(file.fileno())
                os.replace(temporary, self.path)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise
        except OSError as error:
            logger.error(
                "revoked_sessions_not_saved",
                extra={"path": str(self.path), "reason": str(error)[:300]},
            )

    def _warn(self, problem: str, reason: str) -> None:
        logger.warning(
            "revoked_sessions_unreadable",
            extra={"path": str(self.path), "problem": problem, "reason": reason[:300]},
        )


def _parse(raw: str) -> dict[str, float]:
    """The file's entries; ValueError saying what is wrong with it."""
    try:
        document = json.loads(raw)
    except json.JSONDecodeError as error:
        raise ValueError(f"not JSON ({error})") from None
    if not isinstance(document, dict) or document.get("version") != FORMAT_VERSION:
        raise ValueError(f"not a version {FORMAT_VERSION} revocation file")
    entries = document.get("revoked")
    if not isinstance(entries, dict):
        raise ValueError("'revoked' is not an object")
    revoked = {}
    for key, expires_at in entries.items():
        if not isinstance(expires_at, int | float) or isinstance(expires_at, bool):
            raise ValueError(f"entry {key[:16]}...: expiry is not a number")
        revoked[str(key)] = float(expires_at)
    return revoked
