"""Sign-in: credentials against the hashes, and the signed session cookie."""

from __future__ import annotations

import time

import pytest

from ui.auth import check_credentials, cookie_script, issue_token, read_token
from ui.passwords import hash_password

pytestmark = pytest.mark.unit
SECRET = "cookie-secret-for-tests"


@pytest.fixture(scope="module")
def analysts() -> dict[str, str]:
    return {"alice": hash_password("alice-password"), "b.o.b": hash_password("bob-pw")}


def test_only_a_known_analyst_with_the_right_password_signs_in(
    analysts: dict[str, str],
) -> None:
    assert check_credentials(analysts, "alice", "alice-password")
    assert check_credentials(analysts, " alice ", "alice-password")
    assert not check_credentials(analysts, "alice", "bob-pw")
    assert not check_credentials(analysts, "mallory", "alice-password")
    assert not check_credentials(analysts, "alice", "")


def test_a_token_names_its_analyst_until_it_expires(analysts: dict[str, str]) -> None:
    now = time.time()
    token = issue_token("b.o.b", analysts["b.o.b"], SECRET, now + 60)

    assert read_token(token, analysts, SECRET, now) == "b.o.b"
    assert read_token(token, analysts, SECRET, now + 61) is None


def test_a_forged_or_foreign_token_is_refused(analysts: dict[str, str]) -> None:
    now = time.time()
    token = issue_token("alice", analysts["alice"], SECRET, now + 60)
    name, expires, signature = token.split(".")
    other_name = issue_token("b.o.b", analysts["b.o.b"], SECRET, now + 60).split(".")[0]

    assert read_token(token, analysts, "another-secret", now) is None
    assert (
        read_token(f"{other_name}.{expires}.{signature}", analysts, SECRET, now) is None
    )
    assert (
        read_token(f"{name}.{int(expires) + 999}.{signature}", analysts, SECRET, now)
        is None
    )
    assert read_token("garbage", analysts, SECRET, now) is None
    assert read_token("###.123.abc", analysts, SECRET, now) is None


def test_changing_a_password_or_removing_the_analyst_ends_the_session(
    analysts: dict[str, str],
) -> None:
    now = time.time()
    token = issue_token("alice", analysts["alice"], SECRET, now + 60)

    changed = {**analysts, "alice": hash_password("a-new-password")}
    removed = {"b.o.b": analysts["b.o.b"]}
    assert read_token(token, changed, SECRET, now) is None
    assert read_token(token, removed, SECRET, now) is None


def test_the_cookie_script_sets_and_deletes_the_session_cookie() -> None:
    setting = cookie_script("abc.123.def", 3600)
    deleting = cookie_script(None, 3600)

    assert '"abc.123.def"' in setting and "max-age=3600" in setting
    assert "SameSite=Strict" in setting
    assert "max-age=0" in deleting and '""' in deleting
