"""What the local server lets in: request bodies read in bounded memory, Host/Origin checks, the admin token.

People run ``routerlab serve`` on their laptops, next to a browser. So, before a request reaches a route:

- **Host** must name this machine (``127.0.0.1``, ``localhost``, ``::1`` or a name given with
  ``--allow-host``): a foreign name is what a DNS-rebinding page sends, and gets a 403.
- **Origin**, when a browser sends one, must be the server's own (``http://127.0.0.1:PORT`` or
  ``http://localhost:PORT``) or one given with ``--allow-origin``; a cross-origin page (a ``text/plain``
  form POST needs no CORS preflight) gets a 403. SDK clients send no Origin.
- **Admin routes** (``/_admin/...``) need the server's admin token, sent as ``Authorization: Bearer
  <token>`` or ``X-Admin-Token: <token>``: a 401 otherwise. The Python API of an in-process
  :class:`~routerlab.server.ProviderServer` (``set_faults``, ``log``, ...) needs none.
- **The body** is at most ``max_body`` bytes (default :data:`DEFAULT_MAX_BODY`): a larger one gets a 413
  before a byte of it is buffered (the rest is read and dropped 64 KiB at a time, so the client sees the
  413 instead of a reset connection); a ``Content-Length`` that is not one decimal number gets a 400;
  ``Transfer-Encoding: chunked`` is read under the same limit.

Example::

    >>> parse_size("8MiB"), parse_size("10MB"), parse_size("512")
    (8388608, 10000000, 512)
    >>> access = Access.build(admin_token="from-the-command-line")
    >>> access.host_problem("127.0.0.1:8000") is None, access.host_problem("evil.example:8000") is None
    (True, False)
    >>> access.admin_ok("Bearer from-the-command-line", None), access.admin_ok(None, None)
    (True, False)
"""

from __future__ import annotations

import hmac
import io
import re
import secrets
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from email.message import Message
from urllib.parse import urlsplit

from ..errors import ConfigError

__all__ = ["CHUNKED", "DEFAULT_MAX_BODY", "LOOPBACK_HOSTS", "Access", "Rejected", "declared_length", "linger",
           "new_admin_token", "parse_size", "pending_body", "read_body", "too_large"]

DEFAULT_MAX_BODY = 8 * 1024 * 1024
"""8 MiB: twice the text of a prompt over the largest context window in the catalog (gemini-1.5-flash,
1,048,576 tokens ≈ 4 MB of English), so context-overflow tests fit; the server's work on an accepted body
peaks at ~10-15× its size in memory (tokenising, answering, the JSON reply), ~100 MB at this limit."""

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
_CHUNK = 64 * 1024
_DIGITS = re.compile(r"[0-9]+")
_SIZE = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([kmgt]?)(i?)b?\s*", re.IGNORECASE)
_MAX_CHUNK_LINE = 4096
_MAX_TRAILERS = 64


class Rejected(Exception):
    """A request refused before its route runs: ``status``, a message for the client, and ``unread``,
    the body bytes still on the wire (``None``: unknown, read until the client stops sending)."""

    def __init__(self, status: int, message: str, *, unread: int | None = 0, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.unread = unread
        self.code = code


def parse_size(text: str | int) -> int:
    """Bytes from ``"8MiB"``, ``"10MB"``, ``"64k"`` or a plain number (K/M/G/T are powers of 1000, with
    ``i`` of 1024). Raises :class:`~routerlab.errors.ConfigError` naming the value.

    Example::

        >>> parse_size("1KiB"), parse_size(2048)
        (1024, 2048)
    """
    if isinstance(text, int) and not isinstance(text, bool):
        value = text
    else:
        m = _SIZE.fullmatch(str(text))
        if m is None:
            raise ConfigError(f"size {text!r}: expected bytes such as 8388608, 8MiB, 10MB or 512k")
        base = 1024 if m[3] else 1000
        value = int(float(m[1]) * base ** " kmgt".index((m[2] or " ").lower()))
    if value <= 0:
        raise ConfigError(f"size {text!r}: must be at least 1 byte")
    return value


def new_admin_token() -> str:
    """A fresh random admin token (192 bits, URL-safe)."""
    return secrets.token_urlsafe(24)


def _split_host(value: str) -> str:
    """The host name of a ``Host`` header value (``[::1]:8000`` → ``::1``, ``Localhost:80`` → ``localhost``)."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1:value.find("]")] if "]" in value else value
    name, sep, port = value.rpartition(":")
    return name if sep and _DIGITS.fullmatch(port) else value


@dataclass(frozen=True)
class Access:
    """Who may talk to the server: the admin token, extra host names and origins beyond loopback.

    ``allowed_hosts`` are host names (no port) accepted in ``Host`` besides :data:`LOOPBACK_HOSTS`;
    ``allowed_origins`` are full origins (``http://127.0.0.1:8888``) accepted besides the server's own.
    """

    admin_token: str = field(default_factory=new_admin_token, repr=False)
    allowed_hosts: frozenset[str] = frozenset()
    allowed_origins: frozenset[str] = frozenset()

    @classmethod
    def build(cls, admin_token: str | None = None, allowed_hosts: Iterable[str] = (),
              allowed_origins: Iterable[str] = ()) -> Access:
        """Validated settings (an empty token or a malformed origin is a ConfigError)."""
        if admin_token is not None and len(admin_token.strip()) < 8:
            raise ConfigError("admin_token: use at least 8 characters (or leave it out for a random one)")
        origins = frozenset(o.strip().rstrip("/").lower() for o in allowed_origins)
        for o in origins:
            parts = urlsplit(o)
            if parts.scheme not in ("http", "https") or not parts.hostname or parts.path:
                raise ConfigError(f"allowed origin {o!r}: expected scheme://host[:port], e.g. http://127.0.0.1:8888")
        return cls(admin_token=admin_token.strip() if admin_token else new_admin_token(),
                   allowed_hosts=frozenset(h.strip().lower() for h in allowed_hosts if h.strip()),
                   allowed_origins=origins)

    def check(self, headers: Message, *, port: int, http11: bool, admin: bool) -> Rejected | None:
        """The refusal of a request (None to let it in): 400 without exactly one ``Host`` (HTTP/1.1),
        403 for a foreign ``Host`` or ``Origin``, 401 for an admin route without the token."""
        hosts = headers.get_all("host") or []
        if len(hosts) > 1 or (http11 and not hosts):
            return Rejected(400, "the request needs exactly one Host header", unread=pending_body(headers))
        problem = self.host_problem(hosts[0] if hosts else None) or self.origin_problem(headers.get("origin"), port)
        if problem is not None:
            return Rejected(403, problem, unread=pending_body(headers), code="forbidden")
        if admin and not self.admin_ok(headers.get("authorization"), headers.get("x-admin-token")):
            return Rejected(401, "admin routes need the token that `routerlab serve` printed at start (or "
                            "--admin-token): send 'Authorization: Bearer <token>'", unread=pending_body(headers),
                            code="unauthorized")
        return None

    def host_problem(self, host: str | None) -> str | None:
        """Why a ``Host`` header is refused (None when it names this machine or an allowed host, or is absent)."""
        if host is None:
            return None
        name = _split_host(host)
        if name in LOOPBACK_HOSTS or name in self.allowed_hosts:
            return None
        allowed = ", ".join(sorted(LOOPBACK_HOSTS | self.allowed_hosts))
        return (f"Host {host!r} is not this machine (allowed: {allowed}); a foreign Host is what a DNS-rebinding "
                "page sends. Start the server with --allow-host NAME to accept another name.")

    def origin_problem(self, origin: str | None, port: int) -> str | None:
        """Why a browser's ``Origin`` is refused (None for no Origin, the server's own, or an allowed one)."""
        if origin is None:
            return None
        o = origin.strip().rstrip("/").lower()
        own = {f"http://{h}:{port}" for h in ("127.0.0.1", "localhost", "[::1]")}
        if o in own or o in self.allowed_origins:
            return None
        return (f"Origin {origin!r} is another site: the local server takes no cross-origin requests. "
                "Start it with --allow-origin ORIGIN to accept one.")

    def admin_ok(self, authorization: str | None, token_header: str | None) -> bool:
        """Whether the request carries the admin token (compared in constant time)."""
        given = (token_header or "").strip()
        if not given and authorization and authorization[:7].lower() == "bearer ":
            given = authorization[7:].strip()
        return bool(given) and hmac.compare_digest(given.encode(), self.admin_token.encode())


CHUNKED = -1


def declared_length(headers: Message) -> int:
    """The body length a request announces: its ``Content-Length``, 0 for none, :data:`CHUNKED` for
    ``Transfer-Encoding: chunked``. Raises :class:`Rejected` (400) for a malformed or contradictory
    ``Content-Length`` and (501) for a transfer coding other than chunked."""
    encodings = headers.get_all("transfer-encoding") or []
    lengths = headers.get_all("content-length") or []
    if encodings:
        coding = ",".join(encodings).strip().lower()
        if lengths:  # both: the classic request-smuggling ambiguity
            raise Rejected(400, "the request has both Content-Length and Transfer-Encoding; send one", unread=None)
        if coding != "chunked":
            raise Rejected(501, f"Transfer-Encoding {coding!r} is not supported; send a Content-Length or chunked",
                           unread=None)
        return CHUNKED
    values = {v.strip() for item in lengths for v in str(item).split(",")}
    if not values:
        return 0
    if len(values) != 1 or not _DIGITS.fullmatch(next(iter(values))):
        shown = ", ".join(repr(v) for v in lengths)
        raise Rejected(400, f"malformed Content-Length {shown}: expected one decimal number of bytes", unread=None,
                       code="invalid_content_length")
    return int(next(iter(values)))


def pending_body(headers: Message) -> int | None:
    """The body bytes a request announces (None: chunked or unknown), without raising."""
    try:
        n = declared_length(headers)
    except Rejected:
        return None
    return None if n == CHUNKED else n


def too_large(limit: int, size: str, unread: int | None) -> Rejected:
    """The 413 for a body of ``size`` (words) over ``limit`` bytes."""
    return Rejected(413, f"request body too large: {size} exceeds this server's limit of {limit:,} bytes; send a "
                    "smaller request, or start `routerlab serve` with a larger --max-body", unread=unread,
                    code="request_too_large")


def read_body(rfile: io.BufferedIOBase, headers: Message, limit: int) -> bytes:
    """The request body, at most ``limit`` bytes in memory; :class:`Rejected` (413) past it, before
    buffering anything when a ``Content-Length`` announces more; (400) when the body ends early."""
    length = declared_length(headers)
    if length == CHUNKED:
        return _read_chunked(rfile, limit)
    if length > limit:
        raise too_large(limit, f"{length:,} bytes", length)
    data = rfile.read(length) if length else b""
    if len(data) < length:
        raise Rejected(400, f"the body ended after {len(data):,} of the {length:,} bytes its Content-Length "
                       "announced", unread=0)
    return data


def _read_chunked(rfile: io.BufferedIOBase, limit: int) -> bytes:
    body = bytearray()
    while True:
        line = rfile.readline(_MAX_CHUNK_LINE + 1)
        size_text = line.split(b";", 1)[0].strip()
        if len(line) > _MAX_CHUNK_LINE or not re.fullmatch(rb"[0-9a-fA-F]{1,16}", size_text):
            raise Rejected(400, f"malformed chunk size line {line[:40]!r} in a chunked body", unread=None)
        size = int(size_text, 16)
        if size == 0:
            break
        if len(body) + size > limit:
            raise too_large(limit, f"a chunked body of more than {len(body) + size:,} bytes", None)
        chunk = rfile.read(size)
        if len(chunk) < size or rfile.read(2) != b"\r\n":
            raise Rejected(400, "a chunk of the chunked body is cut short or not followed by CRLF", unread=None)
        body += chunk
    for _ in range(_MAX_TRAILERS):  # trailers end with an empty line
        if rfile.readline(_MAX_CHUNK_LINE + 1).strip() == b"":
            return bytes(body)
    raise Rejected(400, "too many trailer lines after a chunked body", unread=None)


def linger(rfile: io.BufferedIOBase, sock: socket.socket, unread: int | None, *, total: float = 30.0,
           idle: float = 2.0) -> int:
    """After an early answer, read and drop what the client still sends (64 KiB at a time), so it sees the
    answer rather than a reset connection; stop after ``unread`` bytes (None: at end of stream), ``idle``
    seconds of silence or ``total`` seconds. Returns the bytes dropped."""
    try:
        sock.shutdown(socket.SHUT_WR)  # the answer is complete: the client may read it while it sends
    except OSError:
        return 0
    dropped, deadline = 0, time.monotonic() + total
    try:
        sock.settimeout(idle)
        while (unread is None or dropped < unread) and time.monotonic() < deadline:
            want = _CHUNK if unread is None else min(_CHUNK, unread - dropped)
            data = rfile.read1(want)
            if not data:
                break
            dropped += len(data)
    except OSError:  # timeout or reset: the client is done or gone
        pass
    return dropped
