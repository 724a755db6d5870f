"""Analyst sign-in: password check, a signed session cookie, and signing out.

Streamlit keeps session state per browser tab and loses it on reload, so a signed
cookie (HMAC with WORKBENCH_COOKIE_SECRET) carries the sign-in across reloads and new
tabs. The signature covers the analyst's current password hash: changing a password
or removing an analyst ends their sessions.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import threading
import time

import streamlit as st

from ui.passwords import PasswordFormatError, verify_password
from ui.settings import WorkbenchSettings

logger = logging.getLogger(__name__)

COOKIE = "workbench_session"
_ANALYST = "analyst"
_TOKEN = "session_token"  # noqa: S105 - a session-state key, not a secret
_SIGNED_OUT = "signed_out"
_COOKIE_WRITE = "cookie_write"


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


class _RevokedTokens:
    """Tokens signed out in this server process (a cookie copied before sign-out)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[str, float] = {}

    def add(self, token: str, expires_at: float) -> None:
        with self._lock:
            now = time.time()
            self._tokens = {t: e for t, e in self._tokens.items() if e > now}
            self._tokens[token] = expires_at

    def __contains__(self, token: object) -> bool:
        with self._lock:
            return token in self._tokens


@st.cache_resource
def _revoked() -> _RevokedTokens:
    return _RevokedTokens()


def current_analyst(settings: WorkbenchSettings) -> str | None:
    """The signed-in analyst of this browser session, from state or the cookie."""
    analyst = st.session_state.get(_ANALYST)
    if analyst in settings.analysts:
        return str(analyst)
    if st.session_state.get(_SIGNED_OUT):
        return None
    token = st.context.cookies.get(COOKIE)
    if not token or token in _revoked():
        return None
    secret = settings.workbench_cookie_secret.get_secret_value()
    analyst = read_token(token, settings.analysts, secret, time.time())
    if analyst is not None:
        st.session_state[_ANALYST] = analyst
        st.session_state[_TOKEN] = token
    return analyst


def sign_in(settings: WorkbenchSettings, name: str, password: str) -> bool:
    name = name.strip()
    if not check_credentials(settings.analysts, name, password):
        logger.warning("sign_in_refused", extra={"analyst": name[:64]})
        return False
    expires_at = time.time() + settings.workbench_session_hours * 3600
    secret = settings.workbench_cookie_secret.get_secret_value()
    token = issue_token(name, settings.analysts[name], secret, expires_at)
    st.session_state[_ANALYST] = name
    st.session_state[_TOKEN] = token
    st.session_state[_SIGNED_OUT] = False
    st.session_state[_COOKIE_WRITE] = cookie_script(
        token, int(settings.workbench_session_hours * 3600)
    )
    logger.info("signed_in", extra={"analyst": name})
    return True


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
    if sign_in(settings, name, password):
        st.rerun()
    st.error("Unknown analyst or wrong password. Check both and try again.")
    st.caption(
        "A first analyst is created by `make run` on a fresh checkout (see its "
        "output); others are added to WORKBENCH_ANALYSTS with `python -m "
        "ui.passwords NAME`."
    )


def sign_out() -> None:
    analyst = st.session_state.get(_ANALYST)
    token = st.session_state.get(_TOKEN)
    if token:
        _revoked().add(token, _expiry(token))
    for key in list(st.session_state.keys()):
        del st.session_state[key]
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


def _signature(payload: str, stored_hash: str, secret: str) -> str:
    message = f"{payload}|{stored_hash}".encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return _b64(digest)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
