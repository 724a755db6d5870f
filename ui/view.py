"""What every page shares: the error boundary, API error messages, page context."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import streamlit as st

from ui.client import ApiError
from ui.formatting import timezone
from ui.services import ConfigurationProblem, Services, get_services

logger = logging.getLogger(__name__)

# Paths of the pages, relative to ui/app.py, for st.switch_page.
QUEUE_PAGE = "views/queue.py"
CASE_PAGE = "views/case.py"
WHAT_IF_PAGE = "views/what_if.py"
FLASH = "flash_message"


@dataclass(frozen=True)
class PageContext:
    services: Services
    analyst: str
    zone: ZoneInfo


def page_context() -> PageContext:
    """Services, the signed-in analyst and the browser's time zone."""
    services = get_services()
    analyst = str(st.session_state.get("analyst", ""))
    return PageContext(services, analyst, timezone(st.context.timezone))


def run_page(title: str, body: Callable[[PageContext], None]) -> None:
    """Render a page; a failure shows a message, never a traceback."""
    if not st.session_state.get("analyst"):  # only app.py's sign-in sets it
        st.warning("Sign in first: open the workbench's home page.")
        st.stop()
    st.title(title)
    show_flash()
    try:
        body(page_context())
    except ConfigurationProblem as problem:
        st.error(f"The workbench is not configured: {problem}")
        st.info("Set the variables in .env (see .env.example), then restart it.")
    except ApiError as error:
        show_api_error(error)
    except Exception:  # the boundary: log it, tell the analyst, keep the app alive
        reference = uuid.uuid4().hex[:8]
        logger.exception("page_failed", extra={"page": title, "reference": reference})
        st.error(
            f"This page hit an unexpected problem (reference {reference}). "
            "The other pages keep working; try again, and if it persists give "
            "the reference to your administrator (it is in the workbench log)."
        )


@contextmanager
def section(what: str) -> Iterator[None]:
    """A part of a page whose API failure leaves the rest of the page working."""
    try:
        yield
    except ApiError as error:
        show_api_error(error, what)


def show_api_error(error: ApiError, what: str | None = None) -> None:
    prefix = f"{what}: " if what else ""
    st.error(f"{prefix}{error.service} {error.message}.", icon=":material/error:")
    st.caption(f"What to do: {error.hint}")


def describe_error(error: ApiError) -> str:
    """The error and what to do, in one line (for messages shown after a rerun)."""
    return f"{error.service} {error.message}. What to do: {error.hint}"


def flash(message: str, kind: str = "success") -> None:
    """A message shown once at the top of the next page run."""
    st.session_state[FLASH] = (kind, message)


def show_flash() -> None:
    pending = st.session_state.pop(FLASH, None)
    if not pending:
        return
    kind, message = pending
    show = {"success": st.success, "info": st.info, "warning": st.warning}
    show.get(kind, st.error)(message)


def open_case(case_id: str) -> None:
    """Go to the Case page showing this case."""
    st.session_state["case_id"] = case_id
    st.switch_page(CASE_PAGE, query_params={"case": case_id})
