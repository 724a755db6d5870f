"""Sign-in throttling: too many failures for one analyst name, or from one browser
session, lock further attempts out for a while.

Failures count for any name typed, known or not, and a locked-out attempt is refused
before its password is checked, so neither the answer nor its timing tells whether
a name exists. Pure logic with an injected clock; ui.auth keeps one per process.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

# Names are free text on the sign-in form: keys are capped, and so is their number.
KEY_CHARS = 64
MAX_TRACKED = 10_000


@dataclass(frozen=True)
class ThrottleRules:
    max_failures: int = 5
    window_s: float = 15 * 60
    lockout_s: float = 15 * 60


@dataclass(frozen=True)
class Refusal:
    """Why an attempt is refused: which counter locked, and until when."""

    scope: str  # "analyst" or "session"
    until: float

    def wait_minutes(self, now: float) -> int:
        return max(1, math.ceil((self.until - now) / 60))


@dataclass(frozen=True)
class FailureOutcome:
    failures: int  # the analyst name's failures in the current window
    lockouts: tuple[Refusal, ...]  # counters this failure has just locked


@dataclass
class _Tally:
    failures: deque[float] = field(default_factory=deque)
    locked_until: float = 0.0


class SignInThrottle:
    """Counts failed sign-ins per analyst name and per browser session."""

    def __init__(
        self,
        rules: ThrottleRules,
        clock: Callable[[], float] = time.time,
        max_tracked: int = MAX_TRACKED,
    ) -> None:
        self.rules = rules
        self._clock = clock
        self._max_tracked = max_tracked
        self._lock = threading.Lock()
        self._tallies: dict[tuple[str, str], _Tally] = {}

    def refusal(self, analyst: str, session: str) -> Refusal | None:
        """The lock-out that refuses this attempt now, if any (latest one wins)."""
        now = self._clock()
        with self._lock:
            locks = [
                Refusal(scope, tally.locked_until)
                for scope, tally in self._tallies_of(analyst, session)
                if tally.locked_until > now
            ]
        return max(locks, key=lambda lock: lock.until) if locks else None

    def record_failure(self, analyst: str, session: str) -> FailureOutcome:
        now = self._clock()
        rules = self.rules
        lockouts = []
        failures = 0
        with self._lock:
            self._forget_stale(now)
            for scope, key in (("analyst", analyst), ("session", session)):
                tally = self._tallies.setdefault((scope, _key(key)), _Tally())
                _drop_old(tally, now - rules.window_s)
                tally.failures.append(now)
                if scope == "analyst":
                    failures = len(tally.failures)
                if len(tally.failures) >= rules.max_failures:
                    tally.locked_until = now + rules.lockout_s
                    tally.failures.clear()
                    lockouts.append(Refusal(scope, tally.locked_until))
        return FailureOutcome(failures, tuple(lockouts))

    def record_success(self, analyst: str, session: str) -> None:
        with self._lock:
            self._tallies.pop(("analyst", _key(analyst)), None)
            self._tallies.pop(("session", _key(session)), None)

    def _tallies_of(self, analyst: str, session: str) -> list[tuple[str, _Tally]]:
        found = []
        for scope, key in (("analyst", analyst), ("session", session)):
            tally = self._tallies.get((scope, _key(key)))
            if tally is not None:
                found.append((scope, tally))
        return found

    def _forget_stale(self, now: float) -> None:
        """Drop counters with nothing recent; at the cap, the oldest go first (a
        lock-out ends in the future, so it outlives a spray of new names)."""
        if len(self._tallies) + 2 <= self._max_tracked:
            return
        horizon = now - self.rules.window_s
        for key, tally in list(self._tallies.items()):
            _drop_old(tally, horizon)
            if not tally.failures and tally.locked_until <= now:
                del self._tallies[key]
        excess = len(self._tallies) + 2 - self._max_tracked
        if excess > 0:
            oldest = sorted(self._tallies, key=lambda k: _last_seen(self._tallies[k]))
            for key in oldest[:excess]:
                del self._tallies[key]


def _drop_old(tally: _Tally, horizon: float) -> None:
    while tally.failures and tally.failures[0] <= horizon:
        tally.failures.popleft()


def _last_seen(tally: _Tally) -> float:
    return max(tally.failures[-1] if tally.failures else 0.0, tally.locked_until)


def _key(text: str) -> str:
    return text.strip()[:KEY_CHARS]
