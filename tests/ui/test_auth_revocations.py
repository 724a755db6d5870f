"""Signed-out sessions on disk: they survive a restart, expire, and a damaged file
is logged and replaced rather than shown."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest

from ui.revocations import FILE_NAME, RevocationStore, token_id

pytestmark = pytest.mark.unit
TOKEN = "YWxpY2U.1900000000.c2lnbmF0dXJl"


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def test_a_sign_out_survives_a_restart(tmp_path: Path) -> None:
    clock = Clock()
    RevocationStore(tmp_path, clock).revoke(TOKEN, clock.now + 3600)

    restarted = RevocationStore(tmp_path, clock)

    assert restarted.is_revoked(TOKEN)
    assert not restarted.is_revoked(TOKEN + "x")


def test_the_file_keeps_a_token_id_and_expiry_not_the_token(tmp_path: Path) -> None:
    clock = Clock()
    RevocationStore(tmp_path, clock).revoke(TOKEN, clock.now + 3600)

    text = (tmp_path / FILE_NAME).read_text()
    assert TOKEN not in text
    assert json.loads(text)["revoked"] == {token_id(TOKEN): clock.now + 3600}
    assert oct((tmp_path / FILE_NAME).stat().st_mode & 0o777) == "0o600"


def test_expired_entries_are_pruned_on_write_and_on_read(tmp_path: Path) -> None:
    clock = Clock()
    store = RevocationStore(tmp_path, clock)
    store.revoke("old-token", clock.now + 60)
    store.revoke("new-token", clock.now + 7200)

    clock.now += 120
    assert not store.is_revoked("old-token") and store.is_revoked("new-token")
    assert len(RevocationStore(tmp_path, clock)) == 1
    store.revoke("third-token", clock.now + 60)
    kept = json.loads((tmp_path / FILE_NAME).read_text())["revoked"]
    assert set(kept) == {token_id("new-token"), token_id("third-token")}


def test_an_already_expired_token_is_not_written(tmp_path: Path) -> None:
    clock = Clock()
    RevocationStore(tmp_path, clock).revoke(TOKEN, clock.now - 1)

    assert json.loads((tmp_path / FILE_NAME).read_text())["revoked"] == {}


@pytest.mark.parametrize(
    "content",
    [
        "{not json",
        "[]",
        '{"version": 99, "revoked": {}}',
        '{"version": 1, "revoked": []}',
        '{"version": 1, "revoked": {"abc": "tomorrow"}}',
        "",
    ],
)
def test_a_corrupt_file_is_logged_and_the_store_starts_empty(
    tmp_path: Path, content: str, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / FILE_NAME).write_text(content)
    clock = Clock()

    with caplog.at_level(logging.WARNING, logger="ui.revocations"):
        store = RevocationStore(tmp_path, clock)

    assert len(store) == 0
    assert [r.message for r in caplog.records] == ["revoked_sessions_unreadable"]
    assert caplog.records[0].path == str(tmp_path / FILE_NAME)  # type: ignore[attr-defined]
    # The next sign-out replaces the damaged file with a good one.
    store.revoke(TOKEN, clock.now + 60)
    assert RevocationStore(tmp_path, clock).is_revoked(TOKEN)


def test_a_write_leaves_no_temporary_file_and_replaces_atomically(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock()
    store = RevocationStore(tmp_path, clock)
    store.revoke("first", clock.now + 60)
    before = (tmp_path / FILE_NAME).read_text()

    def refuse(source: str, target: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", refuse)
    store.revoke("second", clock.now + 60)

    # The old file is intact, no temporary file is left, memory still has both.
    assert (tmp_path / FILE_NAME).read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [FILE_NAME]
    assert store.is_revoked("first") and store.is_revoked("second")


def test_a_missing_folder_is_created(tmp_path: Path) -> None:
    folder = tmp_path / "data" / "workbench"
    clock = Clock()
    RevocationStore(folder, clock).revoke(TOKEN, clock.now + 60)

    assert RevocationStore(folder, clock).is_revoked(TOKEN)
