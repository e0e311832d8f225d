"""Origin and Host checks: a web page elsewhere must not make a visitor's browser use the service (docs/service.md,
"Origin and Host").

- **Cross-origin POSTs** (CSRF): a multipart POST is a "simple" request, so a browser sends it from any page
  without a CORS preflight; the page cannot read the answer, but the service still receives and scores the
  upload. Browsers always send ``Origin`` with a POST; a POST whose ``Origin`` is present and is neither the
  service's own origin (its ``host[:port]`` equals the ``Host`` header) nor in ``allow_origins`` gets 403.
  Clients that send no ``Origin`` (curl, scripts) are not browsers acting for someone else and pass.
- **DNS rebinding**: a page on ``evil.example`` can make its name resolve to 127.0.0.1; its requests are then
  same-origin (``Origin`` and ``Host`` both ``evil.example:8000``) and reach a loopback-only service. Only the
  ``Host`` header tells them apart, so with ``allowed_hosts`` set, any request whose ``Host`` (port ignored) is
  not in it gets 403. ``avanomaly serve`` sets it when bound to loopback (:func:`default_allowed_hosts`).

No web framework is imported here; :class:`OriginHostGuard` is a plain ASGI middleware.
"""

from __future__ import annotations

from typing import Callable, Iterable
from urllib.parse import urlsplit

#: Host names a loopback-bound service answers to by default (plus the name it is bound to)
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")
#: methods that never change anything and carry no upload: not subject to the Origin check
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: ``allowed_hosts`` entry meaning "any Host"
ANY_HOST = "*"


def host_name(host_header: str) -> str:
    """``Host`` header -> the lowercase host name without port (``[::1]:8000`` -> ``::1``)."""
    host = host_header.strip().lower()
    if host.startswith("["):  # IPv6 literal
        return host[1:host.find("]")] if "]" in host else host[1:]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def normalise_origin(origin: str) -> str:
    """``Scheme://Host:port/`` -> ``scheme://host:port`` (as browsers serialise an Origin)."""
    parts = urlsplit(origin.strip())
    if not parts.scheme or not parts.netloc:
        raise ValueError(f"an origin looks like https://host[:port], got {origin!r}")
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


def default_allowed_hosts(bind_host: str, extra: Iterable[str] = ()) -> frozenset[str] | None:
    """The Host names accepted by a service bound to ``bind_host``: LOOPBACK_HOSTS, the bound name and ``extra``;
    None (any Host) when ``extra`` holds ``*``."""
    extra = [e.strip() for e in extra]
    if ANY_HOST in extra:
        return None
    return frozenset(host_name(h) for h in (*LOOPBACK_HOSTS, bind_host, *extra) if h)


class Guard:
    """The decisions, without ASGI: ``problem(method, host, origin)`` -> ``(reason, detail)`` or None."""

    def __init__(self, allowed_hosts: Iterable[str] | None, allow_origins: Iterable[str] = ()):
        hosts = None if allowed_hosts is None else [h for h in allowed_hosts]
        self.allowed_hosts = None if hosts is None or ANY_HOST in hosts else frozenset(host_name(h) for h in hosts)
        self.allow_origins = frozenset(normalise_origin(o) for o in allow_origins)

    def problem(self, method: str, host: str | None, origin: str | None) -> tuple[str, str] | None:
        if self.allowed_hosts is not None and host is not None and host_name(host) not in self.allowed_hosts:
            return ("forbidden-host", f"Host {host!r} is not one this service answers to (DNS-rebinding "
                                      "defence); start it with --allowed-host NAME to accept it")
        if origin is None or method.upper() in SAFE_METHODS:
            return None
        try:
            origin_n = normalise_origin(origin)
        except ValueError:  # "null" (sandboxed frames, file: pages) or garbage: never our own origin
            origin_n = origin.strip().lower()
        if origin_n in self.allow_origins:
            return None
        if host is not None and urlsplit(origin_n).netloc == host.strip().lower():
            return None  # the service's own page
        return ("forbidden-origin", f"cross-origin request from {origin[:200]!r} refused; start the service with "
                                    "--allow-origin ORIGIN to accept that page")


class OriginHostGuard:
    """ASGI middleware: answers ``respond(403, reason, detail)`` to what :class:`Guard` refuses, before the app
    reads anything of the request."""

    def __init__(self, app, guard: Guard, respond: Callable):
        self.app = app
        self.guard = guard
        self.respond = respond

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            headers = {}
            for name, value in scope.get("headers", ()):
                headers.setdefault(name.lower(), value.decode("latin-1"))
            problem = self.guard.problem(scope["method"], headers.get(b"host"), headers.get(b"origin"))
            if problem is not None:
                response = self.respond(403, *problem)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
