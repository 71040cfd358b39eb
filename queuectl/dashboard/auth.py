"""Who may use the dashboard, and from where: the Host check, the token and its login
sessions, and CSRF. The security model is in `server.py`'s docstring; this module decides
each request from its headers alone, and refuses with an `HttpError`.
"""

from __future__ import annotations

import hmac
import ipaddress
import re
import secrets
import threading
from email.message import Message
from http.cookies import CookieError, SimpleCookie
from urllib.parse import urlsplit

from queuectl.dashboard.connections import HttpError
from queuectl.dashboard.openapi import CSRF_HEADER, SESSION_COOKIE
from queuectl.errors import UserError, quote

MIN_TOKEN_LENGTH = 16
TOKEN_PATTERN = re.compile(rf"[\x21-\x7e]{{{MIN_TOKEN_LENGTH},}}")  # visible ASCII
MAX_SESSIONS = 100  # logins kept at once; the oldest is dropped beyond
# A Host header (RFC 9110 7.2): a name or IPv4 address, or an IPv6 one in brackets, and an
# optional port of digits. Anything else is refused rather than guessed at, since
# urlsplit() reads `127.0.0.1:1.evil.example` as the host 127.0.0.1.
HOST_PATTERN = re.compile(
    r"(?:[A-Za-z0-9._~-]+|\[[0-9A-Fa-f:.]+(?:%25[A-Za-z0-9._~-]+)?\])(?::[0-9]{1,5})?"
)

Headers = Message  # a request's headers, as http.server parses them


def check_token(token: str | None) -> None:
    """Refuse a token an Authorization header cannot carry intact (spaces are trimmed)."""
    if token is not None and not TOKEN_PATTERN.fullmatch(token):
        raise UserError(
            f"--token must be at least {MIN_TOKEN_LENGTH} characters of visible "
            "ASCII, without spaces; make one with: "
            "python -c 'import secrets; print(secrets.token_urlsafe())'"
        )


def is_loopback(name: str) -> bool:
    try:
        return ipaddress.ip_address(name.split("%")[0]).is_loopback
    except ValueError:
        return False


def _same_secret(given: str, secret: str) -> bool:
    """A comparison whose time does not tell how much of `given` was right."""
    return hmac.compare_digest(given.encode("utf-8", "replace"), secret.encode("utf-8"))


def _hostname(host_header: str) -> str:
    try:
        return urlsplit("//" + host_header).hostname or ""
    except ValueError:
        return ""


class Sessions:
    """Login sessions: a new random id at each login, ended by logout; past MAX_SESSIONS the
    oldest is dropped. They live in memory, so a restart logs everyone out."""

    def __init__(self) -> None:
        self._ids: dict[str, None] = {}  # insertion-ordered: the oldest first
        self._lock = threading.Lock()

    def start(self) -> str:
        session = secrets.token_urlsafe(32)
        with self._lock:
            self._ids[session] = None
            while len(self._ids) > MAX_SESSIONS:
                del self._ids[next(iter(self._ids))]
        return session

    def valid(self, session: str) -> bool:
        # A keyed-hash lookup of 256-bit random ids: its timing tells nothing usable.
        with self._lock:
            return session in self._ids

    def end(self, session: str) -> None:
        with self._lock:
            self._ids.pop(session, None)


class Access:
    """The rules for one dashboard: its token (None on loopback without one), the names
    it answers to, its CSRF token and login sessions."""

    def __init__(self, token: str | None, host: str, loopback: bool) -> None:
        self.token = token
        self.loopback = loopback
        self.local_names = {"localhost", host.lower()}
        self.csrf_token = secrets.token_urlsafe(32)
        self.sessions = Sessions()
        self.cookie_name = SESSION_COOKIE  # set per port once the server is bound

    def check_host(self, headers: Headers, url: str, version: str) -> None:
        """One well-formed Host, required from HTTP/1.1 on. On loopback, a Host that names
        another machine is a page that re-pointed its own domain at 127.0.0.1 (DNS
        rebinding): refused."""
        hosts = headers.get_all("Host") or []
        if len(hosts) > 1:
            raise HttpError(400, "send one Host header, not several")
        if not hosts:
            if version == "HTTP/1.0":
                return
            raise HttpError(400, f"an {version} request needs a Host header")
        host = hosts[0].strip()
        if not HOST_PATTERN.fullmatch(host):
            raise HttpError(400, f"malformed Host {quote(host)}: open the dashboard at {url}")
        if not self.loopback:
            return
        name = _hostname(host)
        if name not in self.local_names and not is_loopback(name):
            raise HttpError(403, f"unexpected Host {quote(host)}: open the dashboard at {url}")

    def session_cookie(self, headers: Headers) -> str | None:
        cookie: SimpleCookie = SimpleCookie()
        try:
            cookie.load(headers.get("Cookie") or "")
        except CookieError:
            return None
        morsel = cookie.get(self.cookie_name)
        return None if morsel is None else morsel.value

    def authenticated(self, headers: Headers) -> bool:
        if self.token is None:
            return True
        scheme, _, value = (headers.get("Authorization") or "").partition(" ")
        if scheme.lower() == "bearer" and _same_secret(value.strip(), self.token):
            return True
        cookie = self.session_cookie(headers)
        return cookie is not None and self.sessions.valid(cookie)

    def check_origin(self, headers: Headers) -> None:
        """An Origin, if sent, must be the dashboard's own: http (it serves nothing else),
        the Host's name and port, and nothing after them."""
        origin = headers.get("Origin")
        if origin is None:
            return
        host = (headers.get("Host") or "").strip().lower()
        if not host or origin.strip().lower() != f"http://{host}":
            raise HttpError(403, "cross-origin request refused")

    def authorize(self, headers: Headers, mutating: bool = False) -> None:
        """Refuse a request that is not authenticated, or that changes something without
        what proves it came from the dashboard's own page (or from a script)."""
        if mutating:
            self.check_origin(headers)
        if not self.authenticated(headers):
            raise HttpError(
                401,
                "authentication required: send 'Authorization: Bearer TOKEN', or log in at /login",
                {"WWW-Authenticate": 'Bearer realm="queuectl"'},
            )
        if not mutating:
            return
        # A script with the bearer token and no cookie needs no CSRF token: a browser
        # cannot send that header cross-site.
        browser = (
            self.token is None
            or headers.get("Origin") is not None
            or self.session_cookie(headers) is not None
        )
        if browser and not _same_secret(headers.get(CSRF_HEADER) or "", self.csrf_token):
            raise HttpError(
                403,
                f"missing or wrong CSRF token: send the page's token in the {CSRF_HEADER} header",
            )

    def log_in(self, given: str) -> str | None:
        """A new session's cookie value if `given` is the token, else None."""
        if self.token is None or not _same_secret(given, self.token):
            return None
        return self.sessions.start()

    def log_out(self, headers: Headers) -> None:
        cookie = self.session_cookie(headers)
        if cookie is not None:
            self.sessions.end(cookie)  # a copy of the cookie kept elsewhere dies too

    def cookie(self, value: str, max_age: int | None = None) -> str:
        """A Set-Cookie value for the session cookie."""
        age = "" if max_age is None else f"; Max-Age={max_age}"
        return f"{self.cookie_name}={value}; Path=/{age}; HttpOnly; SameSite=Strict"
