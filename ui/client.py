"""HTTP clients for Sentinel and Scout; every failure becomes a readable ApiError."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from api.common.headers import API_KEY_HEADER


class ApiError(Exception):
    """What went wrong calling an API, worded for an analyst, with what to do."""

    def __init__(
        self, service: str, message: str, hint: str, status: int | None = None
    ):
        super().__init__(f"{service}: {message}")
        self.service = service
        self.message = message
        self.hint = hint
        self.status = status


@dataclass
class ApiClient:
    """One API (Sentinel or Scout) reached with its key and a timeout."""

    service: str
    base_url: str
    api_key: str
    timeout_s: float = 5.0

    def __post_init__(self) -> None:
        self._http = httpx.Client(
            base_url=self.base_url,
            headers={API_KEY_HEADER: self.api_key},
            timeout=self.timeout_s,
        )

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TimeoutException as error:
            raise ApiError(
                self.service,
                f"did not answer within {self.timeout_s:g} s",
                "It may be overloaded or stuck: try again in a moment; if it "
                "persists, see the System page and the service's log.",
            ) from error
        except httpx.HTTPError as error:
            raise ApiError(
                self.service,
                "cannot be reached",
                f"Check that {self.service} runs (`make run`) at {self.base_url}.",
            ) from error
        if response.status_code >= 400:
            raise _error_from_response(self.service, response)
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError as error:
            raise ApiError(
                self.service,
                f"answered {path} with something that is not JSON",
                f"Check that {self.base_url} is {self.service}, not another program.",
                response.status_code,
            ) from error

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.request("POST", path, **kwargs)


def _error_from_response(service: str, response: httpx.Response) -> ApiError:
    detail = _detail(response)
    status = response.status_code
    if status == 401:
        hint = "The workbench's API key is not accepted; check the keys in .env."
    elif status == 404:
        hint = "It may have been removed or never existed; check the id."
    elif status in (409, 422):
        hint = "Correct the input and try again."
    elif status == 503:
        hint = f"{service} is running but not ready; see the System page."
    else:
        hint = f"Look in {service}'s log for this request."
    return ApiError(service, f"{detail} (HTTP {status})", hint, status)


def _detail(response: httpx.Response) -> str:
    """The API's own explanation: its detail, or each invalid field and why."""
    try:
        body = response.json()
    except ValueError:
        return response.reason_phrase or "error"
    if not isinstance(body, dict):
        return response.reason_phrase or "error"
    problems = body.get("problems")
    if isinstance(problems, list) and problems:
        return "; ".join(
            f"{item.get('field', '?')}: {item.get('problem', 'invalid')}"
            for item in problems
            if isinstance(item, dict)
        )
    detail = body.get("detail")
    return detail if isinstance(detail, str) else response.reason_phrase or "error"
