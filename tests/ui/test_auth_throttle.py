"""Sign-in throttling: failures per analyst name and per browser session, with a
clock the test moves by hand."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from pydantic import ValidationError

from ui.auth import lockout_message
from ui.passwords import hash_password
from ui.settings import WorkbenchSettings
from ui.throttle import Refusal, SignInThrottle, ThrottleRules

pytestmark = pytest.mark.unit
RULES = ThrottleRules(max_failures=5, window_s=15 * 60, lockout_s=10 * 60)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def throttle(clock: Clock) -> SignInThrottle:
    return SignInThrottle(RULES, clock=clock)


def fail(throttle: SignInThrottle, name: str, session: str, times: int) -> None:
    for _ in range(times):
        throttle.record_failure(name, session)


def test_the_fifth_failure_locks_the_name_out_until_the_cool_down_ends(
    throttle: SignInThrottle, clock: Clock
) -> None:
    for number in range(1, 5):
        outcome = throttle.record_failure("alice", f"tab-{number}")
        assert outcome.failures == number and outcome.lockouts == ()
        assert throttle.refusal("alice", "another-tab") is None

    fifth = throttle.record_failure("alice", "tab-5")

    assert fifth.lockouts == (Refusal("analyst", clock.now + 600),)
    refusal = throttle.refusal("alice", "a-fresh-tab")
    assert refusal == Refusal("analyst", clock.now + 600)
    assert refusal.wait_minutes(clock.now) == 10
    clock.advance(599)
    last_second = throttle.refusal("alice", "a-fresh-tab")
    assert last_second is not None and last_second.wait_minutes(clock.now) == 1
    clock.advance(1)
    assert throttle.refusal("alice", "a-fresh-tab") is None
    # After the cool-down the count starts again from zero.
    assert throttle.record_failure("alice", "tab-6").failures == 1


def test_failures_older_than_the_window_do_not_count(
    throttle: SignInThrottle, clock: Clock
) -> None:
    for _ in range(4):
        throttle.record_failure("alice", "tab")
        clock.advance(4 * 60)  # the first failure leaves the 15-minute window
    outcome = throttle.record_failure("alice", "other-tab")

    assert outcome.failures == 4 and outcome.lockouts == ()
    assert throttle.refusal("alice", "other-tab") is None


def test_one_browser_session_is_locked_out_across_names(
    throttle: SignInThrottle, clock: Clock
) -> None:
    names = ["alice", "bob", "carol", "dave"]
    for name in names:
        assert throttle.record_failure(name, "tab").lockouts == ()
    fifth = throttle.record_failure("erin", "tab")

    assert fifth.lockouts == (Refusal("session", clock.now + 600),)
    # Every name is refused from that tab; the names themselves are not locked.
    assert throttle.refusal("frank", "tab") == Refusal("session", clock.now + 600)
    assert throttle.refusal("alice", "another-tab") is None


def test_unknown_and_known_names_are_throttled_alike(
    throttle: SignInThrottle, clock: Clock
) -> None:
    # The throttle has no list of analysts: any name typed is counted the same.
    for name in ("alice", "nobody-by-this-name"):
        for attempt in range(5):
            throttle.record_failure(name, f"{name}-{attempt}")
        assert throttle.refusal(name, "new") == Refusal("analyst", clock.now + 600)


def test_a_success_clears_the_name_and_the_session(
    throttle: SignInThrottle, clock: Clock
) -> None:
    fail(throttle, "alice", "tab", 4)
    throttle.record_success("alice", "tab")

    assert throttle.record_failure("alice", "tab").failures == 1
    assert throttle.refusal("alice", "tab") is None


def test_names_are_compared_trimmed_and_capped(throttle: SignInThrottle) -> None:
    long_name = "x" * 500
    fail(throttle, " alice ", "tab-1", 2)
    fail(throttle, "alice", "tab-2", 3)
    fail(throttle, long_name, "tab-3", 5)

    assert throttle.refusal("alice", "new") is not None
    assert throttle.refusal("x" * 64 + "different tail", "new") is not None


def test_the_number_of_counters_stays_bounded_and_lockouts_survive_a_spray(
    clock: Clock,
) -> None:
    throttle = SignInThrottle(RULES, clock=clock, max_tracked=50)
    fail(throttle, "alice", "attacker", 5)
    for number in range(200):
        throttle.record_failure(f"sprayed-{number}", f"tab-{number}")

    assert len(throttle._tallies) <= 50
    assert throttle.refusal("alice", "new") is not None


def test_the_lockout_message_says_when_without_naming_the_analyst() -> None:
    assert "Try again in 1 minute," in lockout_message(1)
    assert "Try again in 15 minutes," in lockout_message(15)


def settings(**values: object) -> WorkbenchSettings:
    required = {
        "sentinel_url": "http://127.0.0.1:1",
        "scout_url": "http://127.0.0.1:2",
        "sentinel_api_key": "k1",
        "scout_api_key": "k2",
        "workbench_cookie_secret": "s",
        "workbench_analysts": f"alice:{hash_password('alice-password')}",
    }
    return WorkbenchSettings(**{**required, **values})  # type: ignore[arg-type]


def test_throttle_and_state_settings_have_defaults_and_limits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable in ("DATA_DIR", "WORKBENCH_STATE_DIR"):
        monkeypatch.delenv(variable, raising=False)
    plain = settings()
    assert plain.workbench_signin_max_failures == 5
    assert plain.workbench_signin_window_s == plain.workbench_signin_lockout_s == 900
    assert plain.state_dir == Path("workbench-state")
    assert settings(data_dir=tmp_path).state_dir == tmp_path / "workbench"
    chosen = tmp_path / "elsewhere"
    assert settings(data_dir=tmp_path, workbench_state_dir=chosen).state_dir == chosen
    with pytest.raises(ValidationError, match="workbench_signin_max_failures"):
        settings(workbench_signin_max_failures=0)


def test_sign_in_logs_each_failure_and_the_lockout_without_the_password(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Streamlit's session state and resource cache also work outside a server run.
    from ui import auth

    config = settings(workbench_state_dir=tmp_path, workbench_signin_lockout_s=120)
    name = "alice"
    with caplog.at_level(logging.INFO, logger="ui.auth"):
        results = [auth.sign_in(config, name, f"wrong-{n}-secret") for n in range(6)]

    assert [r.signed_in for r in results] == [False] * 6
    assert [r.locked_for_minutes for r in results] == [0, 0, 0, 0, 2, 2]
    records = [record for record in caplog.records if record.name == "ui.auth"]
    events = [record.message for record in records]
    assert events == ["sign_in_refused"] * 5 + [
        "sign_in_lockout_started",
        "sign_in_lockout_started",  # the name and this browser session
        "sign_in_locked_out",
    ]
    assert all(record.analyst == name for record in records)  # type: ignore[attr-defined]
    assert not any("-secret" in str(vars(record)) for record in records)
    assert [r.failures for r in records[:5]] == [1, 2, 3, 4, 5]  # type: ignore[attr-defined]
    # The right password is refused too while the lock lasts.
    assert not auth.sign_in(config, name, "alice-password").signed_in
