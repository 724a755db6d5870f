"""Analyst sign-in: password check, a signed session cookie, and signing out.

Streamlit keeps session state per browser tab and loses it on reload, so a signed
cookie (HMAC with WORKBENCH_COOKIE_SECRET) carries the sign-in across reloads and new
tabs. The signature covers the analyst's current password hash: changing a password
or removing an analyst ends their sessions. Signing out revokes the token until it
expires (ui.revocations, kept on disk across restarts); repeated failures lock a name
or a browser session out for a while (ui.throttle).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import streamlit as st

from ui.passwords import PasswordFormatError, verify_password
from ui.revocations import RevocationStore
from ui.settings import WorkbenchSettings
from ui.throttle import SignInThrottle, ThrottleRules

logger = logging.getLogger(__name__)

COOKIE = "workbench_session"
_ANALYST = "analyst"
_TOKEN = "session_token"  # noqa: S105 - a session-state key, not a secret
_SIGNED_OUT = "signed_out"
_COOKIE_WRITE = "cookie_write"
_BROWSER_SESSION = "browser_session"


def issue_token(analyst: str, stored_hash: str, secret: str, expires_at: float) -> str:
    """`NAME.EXPIRES.SIGNATURE`, the name in URL-safe base64 (names may hold dots)."""
    payload = f"{_b64(analyst.encode())}.{int(expires_at)}"
    return f"{payload}.{_signature(payload, stored_hash, secret)}"


def read_token(
    token: str, analysts: dict[str, str], secret: str, now: float
) -> str | None:
    """The analyst a token names, or None when it is forged, stale or expired."""
    parts = token.split(".")
    if len(parts) != 3 or not parts[1].isdigit():
        return None
    try:
        analyst = base64.urlsafe_b64decode(parts[0] + "=" * (-len(parts[0]) % 4))
        name = analyst.decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    stored_hash = analysts.get(name)
    if stored_hash is None or int(parts[1]) <= now:
        return None
    expected = _signature(f"{parts[0]}.{parts[1]}", stored_hash, secret)
    return name if hmac.compare_digest(expected, parts[2]) else None


def check_credentials(analysts: dict[str, str], name: str, password: str) -> bool:
    """True when the analyst exists and the password matches its hash."""
    stored = analysts.get(name.strip())
    if stored is None or not password:
        return False
    try:
        return verify_password(password, stored)
    except PasswordFormatError:
        return False


def cookie_script(token: str | None, max_age_s: int) -> str:
    """JavaScript that sets (or, with no token, deletes) the session cookie."""
    value = json.dumps(token or "")
    age = max_age_s if token else 0
    return (
        f"<script>document.cookie = '{COOKIE}=' + {value} + "
        f"'; path=/; max-age={age}; SameSite=Strict';</script>"
    )


# --- Streamlit glue --------------------------------------------------------------

# The cookie is written by a script, so it cannot be HttpOnly: a Streamlit 1.x page
# runs over a WebSocket (no HTTP response to carry Set-Cookie) and st.context.cookies
# is read-only; only a custom ASGI server (st.App with our own route) could set one.


@st.cache_resource
def _revoked(state_dir: str) -> RevocationStore:
    return RevocationStore(Path(state_dir))


@st.cache_resource
def _throttle(max_failures: int, window_s: float, lockout_s: float) -> SignInThrottle:
    # Known shortcoming: counts live in this process; a restart forgets them.
    return SignInThrottle(ThrottleRules(max_failures, window_s, lockout_s))


def revocations(settings: WorkbenchSettings) -> RevocationStore:
    return _revoked(str(settings.state_dir))


def throttle(settings: WorkbenchSettings) -> SignInThrottle:
    return _throttle(
        settings.workbench_signin_max_failures,
        settings.workbench_signin_window_s,
        settings.workbench_signin_lockout_s,
    )


def browser_session() -> str:
    """An id for this browser session (tab), kept in its session state."""
    if _BROWSER_SESSION not in st.session_state:
        st.session_state[_BROWSER_SESSION] = secrets.token_hex(8)
    return str(st.session_state[_BROWSER_SESSION])


def current_analyst(settings: WorkbenchSettings) -> str | None:
    """The signed-in analyst of this browser session, from state or the cookie."""
    analyst = st.session_state.get(_ANALYST)
    if analyst in settings.analysts:
        return str(analyst)
    if st.session_state.get(_SIGNED_OUT):
        return None
    token = st.context.cookies.get(COOKIE)
    if not token or revocations(settings).is_revoked(token):
        return None
    secret = settings.workbench_cookie_secret.get_secret_value()
    analyst = read_token(token, settings.analysts, secret, time.time())
    if analyst is not None:
        st.session_state[_ANALYST] = analyst
        st.session_state[_TOKEN] = token
    return analyst


@dataclass(frozen=True)
class SignInResult:
    signed_in: bool
    locked_for_minutes: int = 0  # > 0: refused by the throttle, try again after


def sign_in(settings: WorkbenchSettings, name: str, password: str) -> SignInResult:
    name = name.strip()
    guard = throttle(settings)
    session = browser_session()
    refusal = guard.refusal(name, session)
    if refusal is not None:
        minutes = refusal.wait_minutes(time.time())
        logger.warning(
            "sign_in_locked_out",
            extra={
                "analyst": name[:64],
                "browser_session": session,
                "scope": refusal.scope,
                "retry_in_min": minutes,
            },
        )
        return SignInResult(False, minutes)
    if not check_credentials(settings.analysts, name, password):
        return SignInResult(False, _record_failure(guard, name, session))
    guard.record_success(name, session)
    expires_at = time.time() + settings.workbench_session_hours * 3600
    secret = settings.workbench_cookie_secret.get_secret_value()
    token = issue_token(name, settings.analysts[name], secret, expires_at)
    st.session_state[_ANALYST] = name
    st.session_state[_TOKEN] = token
    st.session_state[_SIGNED_OUT] = False
    st.session_state[_COOKIE_WRITE] = cookie_script(
        token, int(settings.workbench_session_hours * 3600)
    )
    logger.info("signed_in", extra={"analyst": name, "browser_session": session})
    return SignInResult(True)


def _record_failure(guard: SignInThrottle, name: str, session: str) -> int:
    """Count a failed attempt and log it; minutes to wait when it locked one out."""
    outcome = guard.record_failure(name, session)
    logger.warning(
        "sign_in_refused",
        extra={
            "analyst": name[:64],
            "browser_session": session,
            "failures": outcome.failures,
        },
    )
    now = time.time()
    for lockout in outcome.lockouts:
        logger.warning(
            "sign_in_lockout_started",
            extra={
                "analyst": name[:64],
                "browser_session": session,
                "scope": lockout.scope,
                "until": _iso(lockout.until),
                "lockout_s": guard.rules.lockout_s,
            },
        )
    if not outcome.lockouts:
        return 0
    return max(lockout.wait_minutes(now) for lockout in outcome.lockouts)


def lockout_message(minutes: int) -> str:
    """The same words whether or not the name exists."""
    unit = "minute" if minutes == 1 else "minutes"
    return (
        f"Too many failed sign-in attempts. Try again in {minutes} {unit}, or ask "
        "an administrator to check your analyst entry."
    )


def sign_in_form(settings: WorkbenchSettings) -> None:
    """The sign-in page: shown instead of any page until an analyst signs in."""
    st.title("Sentinel & Scout workbench")
    st.caption("Sign in with the analyst name and password you were given.")
    with st.form("sign_in", border=True, width=420):
        name = st.text_input("Analyst", autocomplete="username")
        password = st.text_input(
            "Password", type="password", autocomplete="current-password"
        )
        submitted = st.form_submit_button("Sign in", type="primary")
    if not submitted:
        return
    result = sign_in(settings, name, password)
    if result.signed_in:
        st.rerun()
    if result.locked_for_minutes:
        st.error(lockout_message(result.locked_for_minutes))
        return
    st.error("Unknown analyst or wrong password. Check both and try again.")
    st.caption(
        "A first analyst is created by `make run` on a fresh checkout (see its "
        "output); others are added to WORKBENCH_ANALYSTS with `python -m "
        "ui.passwords NAME`."
    )


def sign_out(settings: WorkbenchSettings) -> None:
    analyst = st.session_state.get(_ANALYST)
    token = st.session_state.get(_TOKEN)
    if token:
        revocations(settings).revoke(token, _expiry(token))
    session = st.session_state.get(_BROWSER_SESSION)
    for key in list(st.session_state.keys()):
        del st.session_state[key]
    if session is not None:
        st.session_state[_BROWSER_SESSION] = session
    st.session_state[_SIGNED_OUT] = True
    st.session_state[_COOKIE_WRITE] = cookie_script(None, 0)
    logger.info("signed_out", extra={"analyst": analyst})


def write_pending_cookie() -> None:
    """Send the cookie change decided on the previous run to the browser."""
    script = st.session_state.pop(_COOKIE_WRITE, None)
    if script:
        st.html(script, unsafe_allow_javascript=True)


def _expiry(token: str) -> float:
    parts = token.split(".")
    return float(parts[1]) if len(parts) == 3 and parts[1].isdigit() else time.time()


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="seconds")


def _signature(payload: str, stored_hash: str, secret: str) -> str:
    message = f"{payload}|{stored_hash}".encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return _b64(digest)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
