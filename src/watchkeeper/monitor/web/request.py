"""Reading API requests and writing API responses the way Prometheus does.

Parameters come from the query string and url-encoded POST bodies merged, as Go's
``r.Form``; every failure is a ``ParamError`` answered as ``bad_data``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response

from watchkeeper.monitor.model import Matcher
from watchkeeper.monitor.web.json import dumps, error_body
from watchkeeper.monitor.web.params import ParamError, parse_matchers, parse_time_ms

__all__ = ["RequestParams", "error_response", "json_response"]

# Prometheus' HTTP status for each API error type.
_STATUS = {
    "bad_data": 400,
    "execution": 422,
    "canceled": 503,
    "timeout": 503,
    "unavailable": 503,
    "not_found": 404,
    "internal": 500,
}


def json_response(body: Any, status: int = 200) -> Response:
    return Response(dumps(body), status_code=status, media_type="application/json")


def error_response(kind: str, message: str) -> Response:
    return json_response(error_body(kind, message), _STATUS.get(kind, 500))


class RequestParams:
    """Query-string and url-encoded form parameters merged, as Go's ``r.Form`` does."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self._pairs = pairs

    @classmethod
    async def read(cls, request: Request) -> RequestParams:
        pairs: list[tuple[str, str]] = []
        if request.method == "POST":
            ctype = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
            if ctype == "application/x-www-form-urlencoded":
                body = (await request.body()).decode("utf-8", "replace")
                pairs.extend(parse_qsl(body, keep_blank_values=True))
        pairs.extend(request.query_params.multi_items())
        return cls(pairs)

    def get(self, name: str) -> str:
        for key, value in self._pairs:
            if key == name:
                return value
        return ""

    def get_all(self, name: str) -> list[str]:
        return [value for key, value in self._pairs if key == name]

    def optional_time(self, name: str, default: int) -> int:
        """An optional time parameter, with Prometheus' parseTimeParam wording on errors."""
        text = self.get(name)
        if text == "":
            return default
        try:
            return parse_time_ms(text, name)
        except ParamError:
            raise ParamError(
                f"invalid parameter \"{name}\": Invalid time value for '{name}': "
                f'cannot parse "{text}" to a valid timestamp'
            ) from None

    def matcher_sets(self, *, required: bool) -> list[list[Matcher]]:
        """The ``match[]`` selectors, each as a list of matchers."""
        selectors = self.get_all("match[]")
        if required and not selectors:
            raise ParamError("no match[] parameter provided")
        return [parse_matchers(s) for s in selectors]
