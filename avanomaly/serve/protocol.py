"""uvicorn's HTTP protocol with JSON errors: requests the HTTP parser rejects get the service's error JSON.

uvicorn answers a request its parser cannot read (a negative or non-numeric ``Content-Length``, a malformed
request line, headers too large...) itself, before the application sees it, with a plain-text
``400 Invalid HTTP request received.``. :class:`JSONErrorProtocol` sends the same status as every other error
of the service: ``{"error": "bad-request", "detail": ...}`` with the service's security headers, then closes
the connection as uvicorn does. Pass it as ``uvicorn.run(app, http=JSONErrorProtocol)`` (``avanomaly serve``
and ``avanomaly.serve.testing.background_server`` do). Needs the ``serve`` extra.
"""

from __future__ import annotations

import http
import json

from uvicorn.protocols.http.auto import AutoHTTPProtocol

#: status and reason of a request the HTTP parser rejects (as the application's own 400s)
BAD_REQUEST_STATUS = 400
BAD_REQUEST_REASON = "bad-request"
BAD_REQUEST_DETAIL = ("malformed HTTP request: the request line or a header could not be parsed (e.g. an invalid "
                      "Content-Length)")


def bad_request_bytes(default_headers=(), detail: str = BAD_REQUEST_DETAIL) -> bytes:
    """The whole HTTP/1.1 response (status line, headers, JSON body) sent for an unparsable request."""
    from avanomaly.serve.app import SECURITY_HEADERS

    body = json.dumps({"error": BAD_REQUEST_REASON, "detail": detail}).encode("utf-8")
    phrase = http.HTTPStatus(BAD_REQUEST_STATUS).phrase
    lines = [f"HTTP/1.1 {BAD_REQUEST_STATUS} {phrase}".encode("ascii")]
    lines += [name + b": " + value for name, value in default_headers]  # uvicorn's date (and server) headers
    lines += [f"{name}: {value}".encode("latin-1") for name, value in SECURITY_HEADERS.items()]
    lines += [b"content-type: application/json", f"content-length: {len(body)}".encode("ascii"),
              b"connection: close"]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


class JSONErrorProtocol(AutoHTTPProtocol):  # type: ignore[misc,valid-type]
    """uvicorn's default HTTP/1.1 protocol (h11, or httptools when installed), with JSON parse errors."""

    def send_400_response(self, msg: str) -> None:  # both uvicorn implementations call this on a parse error
        self.transport.write(bad_request_bytes(self.server_state.default_headers))
        self.transport.close()


__all__ = ["JSONErrorProtocol", "bad_request_bytes"]
