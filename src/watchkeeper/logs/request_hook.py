"""The request-id hook: a request id for every log line of a request.

``instrument()`` installs it first, so it begins before the other hooks (their
lines carry the id) and ends after them. For each request it

- continues the caller's ``X-Request-ID`` when it is safe (``request_ids.py``) or
  makes a fresh one, and echoes it in the response's ``X-Request-ID`` header;
- makes it the request's log context (``binding.py``) before the app runs, so it
  is on every line of the request: across awaits, in the threadpool, in threads
  started with ``copy_context()``, in background tasks after the response;
- clears the context when the request ends (WSGI servers reuse threads).
"""

from __future__ import annotations

from contextvars import Token
from typing import TYPE_CHECKING

from watchkeeper.logs.binding import RequestContext, begin_request, end_request
from watchkeeper.logs.request_ids import new_request_id, valid_request_id

if TYPE_CHECKING:  # instrument imports this module: no import cycle at run time
    from watchkeeper.instrument.hooks import RequestEnd, RequestInfo

__all__ = ["HEADER", "RequestIdHook"]

HEADER = "x-request-id"


# (the response headers to add, the context token to reset): a tuple, not an object,
# because this runs for every request.
_State = tuple[tuple[tuple[str, str]], Token[RequestContext | None]]


class RequestIdHook:
    """``RequestIdHook(trust_incoming=True)``; see the module doc."""

    def __init__(self, *, trust_incoming: bool = True) -> None:
        # Behind a proxy that sets the header, continue it; at the edge, a service
        # may prefer its own ids only.
        self.trust_incoming = trust_incoming

    def begin(self, request: RequestInfo) -> _State:
        rid = valid_request_id(request.header(HEADER)) if self.trust_incoming else None
        if rid is None:
            rid = new_request_id()
        return ((HEADER, rid),), begin_request(rid)[1]

    def response_headers(self, state: _State) -> tuple[tuple[str, str]]:
        return state[0]

    def end(self, state: _State, outcome: RequestEnd) -> None:
        end_request(state[1])
