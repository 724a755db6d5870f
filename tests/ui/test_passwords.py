"""Analyst passwords: salted scrypt hashes, the analysts list, the CLI helper."""

from __future__ import annotations

import io
import sys

import pytest

from ui.passwords import (
    PasswordFormatError,
    hash_password,
    main,
    parse_analysts,
    parse_hash,
    verify_password,
)

pytestmark = pytest.mark.unit


def test_a_hash_verifies_its_password_and_refuses_others() -> None:
    stored = hash_password("correct horse battery")

    assert verify_password("correct horse battery", stored)
    assert not verify_password("correct horse batterY", stored)
    assert not verify_password("", stored)


def test_the_same_password_hashes_differently_each_time() -> None:
    first, second = hash_password("s3cret-pass"), hash_password("s3cret-pass")

    assert first != second
    assert parse_hash(first).salt != parse_hash(second).salt


def test_a_hash_holds_no_character_that_env_files_or_compose_interpret() -> None:
    stored = hash_password("pa$$word:with,odd=chars")

    assert not set(stored) & set("$:,= \"'#")


def test_an_empty_password_cannot_be_hashed() -> None:
    with pytest.raises(ValueError, match="empty"):
        hash_password("")


@pytest.mark.parametrize(
    ("stored", "problem"),
    [
        ("plain-text-password", "not a hash"),
        ("scrypt.16384.8.1.c2FsdA", "not a hash"),
        ("scrypt.1000.8.1.c2FsdHNhbHQ.ZGlnZXN0ZGlnZXN0ZGlnZXN0", "power of two"),
        ("scrypt.16384.8.1.!!!.ZGlnZXN0ZGlnZXN0ZGlnZXN0", "unreadable"),
        ("scrypt.16384.64.1.c2FsdHNhbHQ.ZGlnZXN0ZGlnZXN0ZGlnZXN0", "out of range"),
    ],
)
def test_a_malformed_hash_is_refused_with_the_reason(stored: str, problem: str) -> None:
    with pytest.raises(PasswordFormatError, match=problem):
        parse_hash(stored)


def test_the_analysts_list_maps_each_name_to_its_hash() -> None:
    alice, bob = hash_password("alice-pass"), hash_password("bob-pass")

    analysts = parse_analysts(f" alice:{alice} , bob@fraud-ops:{bob},")

    assert analysts == {"alice": alice, "bob@fraud-ops": bob}
    assert parse_analysts("") == {}


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("alice", r"entry 1 \('alice'\): expected NAME:HASH"),
        ("alice:HASH_PLACEHOLDER", r"entry 1 \('alice'\): the hash is not a hash"),
        ("-alice:{h}", "a name is 1-64 letters"),
        ("alice:{h},alice:{h}", r"entry 2 \('alice'\): alice is listed twice"),
    ],
)
def test_a_bad_analysts_entry_names_its_position(raw: str, problem: str) -> None:
    with pytest.raises(PasswordFormatError, match=problem):
        parse_analysts(raw.format(h=hash_password("whatever1")))


def test_the_helper_prints_an_entry_for_a_password_read_from_stdin(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("long-enough-password\n"))

    assert main(["carol"]) == 0

    name, _, stored = capsys.readouterr().out.strip().partition(":")
    assert name == "carol"
    assert verify_password("long-enough-password", stored)


def test_the_helper_refuses_a_short_password(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("short\n"))

    assert main(["carol"]) == 2
    assert "at least 8 characters" in capsys.readouterr().err


def test_the_helper_can_generate_a_password_and_shows_it_once(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["dave", "--generate"]) == 0

    captured = capsys.readouterr()
    password = captured.err.strip().rpartition(": ")[2]
    stored = captured.out.strip().partition(":")[2]
    assert verify_password(password, stored)
    assert password not in captured.out
