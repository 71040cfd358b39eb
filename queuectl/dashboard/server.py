"""The dashboard's HTTP layer: a threaded stdlib server, routing, security headers and
JSON errors. Who may ask is `auth.py`'s business, what the API answers `api.py`'s.

Security model (SPEC §5, README "Dashboard"):

* It listens on 127.0.0.1 by default; any address that is not loopback needs ``--token``.
* On loopback, the ``Host`` header must name a loopback address or the host given, so a
  web page that re-points its own domain name at 127.0.0.1 (DNS rebinding) is refused.
* With a token, every request but the login form and the static files needs
  ``Authorization: Bearer TOKEN`` or the session cookie that ``POST /login`` sets
  (HttpOnly, SameSite=Strict).
* A request is refused when a proxy could frame or route it another way: two
  Content-Length or Host headers, no Host in HTTP/1.1, a malformed Host.
* A POST from a browser (it carries the cookie or an ``Origin``), and every POST when no
  token is set, needs the per-process CSRF token in ``X-CSRF-Token``; an ``Origin`` must be
  the dashboard's own (``http://`` and the Host, nothing more). A script with the bearer
  token and no cookie needs no CSRF token.
* Every response carries a Content-Security-Policy without inline scripts, and the page
  writes job strings with ``textContent`` only.

How many connections it takes and how long a request may take: `connections.py`.
"""

from __future__ import annotations

import html
import json
import re
import signal
import socket
import socketserver
import sys
import threading
import traceback
from http import HTTPStatus
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from queuectl import service
from queuectl.dashboard import api, auth, connections, metrics, openapi
from queuectl.dashboard.connections import HttpError, response_head
from queuectl.dashboard.openapi import CSRF_HEADER, SESSION_COOKIE
from queuectl.dashboard.stores import StorePool
from queuectl.errors import Conflict, NotFound, StoreError, UserError, quote
from queuectl.inputs import load_json, whole_number

MAX_BODY = 64 * 1024
STATIC_FILES = {
    "app.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
    "img-src 'self'; connect-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",  # no-referrer would make forms send Origin: null
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}
READS = {
    "status": api.status,
    "jobs": api.jobs,
    "workers": api.workers,
    "stats": api.stats,
    "throughput": api.throughput,
    "groups": api.groups,
    "queues": api.queues,
    "locks": api.locks,
    "schedules": api.schedules,
}
# Path pattern -> {method: name of the Handler method that serves it}.
ROUTES = [
    (re.compile(pattern), methods)
    for pattern, methods in (
        (r"/", {"GET": "page"}),
        (r"/login", {"GET": "login_form", "POST": "login"}),
        (r"/logout", {"POST": "logout"}),
        (r"/static/(?P<name>[A-Za-z0-9_.-]+)", {"GET": "static"}),
        (r"/api/openapi\.json", {"GET": "openapi"}),
        (
            r"/api/(?P<name>status|jobs|workers|stats|throughput|groups|queues|locks|schedules)",
            {"GET": "read"},
        ),
        (r"/api/jobs/(?P<job_id>[^/]+)", {"GET": "read_job"}),
        (r"/api/jobs/(?P<job_id>[^/]+)/explain", {"GET": "explain"}),
        (r"/api/jobs/(?P<job_id>[^/]+)/cancel", {"POST": "cancel"}),
        (r"/api/jobs/(?P<job_id>[^/]+)/(?P<verb>hold|release|requeue)", {"POST": "job_verb"}),
        (r"/api/groups/(?P<group>[^/]+)", {"GET": "read_group"}),
        (
            r"/api/groups/(?P<group>[^/]+)/(?P<verb>hold|release|requeue|cancel)",
            {"POST": "group_verb"},
        ),
        (r"/api/queues/(?P<queue>[^/]+)/(?P<verb>pause|resume)", {"POST": "queue_verb"}),
        (r"/api/schedules/(?P<schedule>[^/]+)", {"GET": "read_schedule"}),
        (
            r"/api/schedules/(?P<schedule>[^/]+)/(?P<verb>pause|resume|run)",
            {"POST": "schedule_verb"},
        ),
        # The same with the id in the query, where a browser cannot change it: it resolves
        # a path segment of ".", "..", "%2E" or "%2E%2E" before sending the request. A group,
        # a queue or a schedule may be called "." too.
        (r"/api/job", {"GET": "read_job_by_query"}),
        (r"/api/job/explain", {"GET": "explain_by_query"}),
        (r"/api/job/cancel", {"POST": "cancel_by_query"}),
        (r"/api/job/(?P<verb>hold|release|requeue)", {"POST": "job_verb_by_query"}),
        (r"/api/group", {"GET": "read_group_by_query"}),
        (r"/api/group/(?P<verb>hold|release|requeue|cancel)", {"POST": "group_verb_by_query"}),
        (r"/api/queue/(?P<verb>pause|resume)", {"POST": "queue_verb_by_query"}),
        (r"/api/schedule", {"GET": "read_schedule_by_query"}),
        (r"/api/schedule/(?P<verb>pause|resume|run)", {"POST": "schedule_verb_by_query"}),
        (r"/api/dlq/retry", {"POST": "dlq_retry"}),
        (r"/metrics", {"GET": "metrics"}),
    )
]


def _json_bytes(data: Any) -> bytes:
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    # Job strings may hold markup; escaped this way the JSON stays inert even where a
    # client ignores its content type.
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return text.encode("utf-8", "replace")


def _resolve(host: str) -> tuple[int, bool]:
    """(address family, whether every address `host` names is loopback)."""
    try:
        infos = socket.getaddrinfo(
            host or None, None, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except socket.gaierror as exc:
        raise UserError(f"cannot listen on {quote(host)}: {exc.strerror}") from None
    return infos[0][0], all(auth.is_loopback(str(info[4][0])) for info in infos)


def _allowed(methods: Any) -> str:
    """An Allow header's value: these methods, and HEAD wherever GET is."""
    return ", ".join(sorted({*methods, "HEAD"} if "GET" in methods else set(methods)))


def _job_id(query: api.Query) -> tuple[api.Query, str]:
    """The `id` parameter of a job route that takes it in the query, and the others."""
    return _named(query, "id", "job", "ID")


def _group_name(query: api.Query) -> tuple[api.Query, str]:
    """The `name` parameter of a group route that takes it in the query, and the others."""
    return _named(query, "name", "group", "NAME")


def _queue_name(query: api.Query) -> tuple[api.Query, str]:
    """The `name` parameter of a queue route that takes it in the query, and the others."""
    return _named(query, "name", "queue", "NAME")


def _schedule_name(query: api.Query) -> tuple[api.Query, str]:
    """The `name` parameter of a schedule route that takes it in the query, and the others."""
    return _named(query, "name", "schedule", "NAME")


def _named(query: api.Query, key: str, what: str, example: str) -> tuple[api.Query, str]:
    values = query.get(key, [])
    if len(values) != 1 or not values[0]:
        raise HttpError(400, f"name the {what} once, as ?{key}={example}")
    return {k: v for k, v in query.items() if k != key}, values[0]


def _read_static(name: str) -> str:
    return (resources.files("queuectl.dashboard") / "static" / name).read_text("utf-8")


def _refusal(cap: int) -> bytes:
    """The answer to a connection past the cap."""
    body = _json_bytes(
        {
            "error": f"the dashboard has {cap} connections open, the most it "
            "takes; try again shortly",
            "status": 503,
        }
    )
    return (
        response_head(
            503,
            {
                **SECURITY_HEADERS,
                "Cache-Control": "no-store",
                "Retry-After": "1",
                "Content-Type": "application/json; charset=utf-8",
                "Content-Length": str(len(body)),
                "Connection": "close",
            },
        )
        + body
    )


class DashboardServer(connections.LimitedServer):
    """One thread per connection, up to a cap: a slow client holds only its own thread."""

    def __init__(self, location: str, host: str, port: int, token: str | None) -> None:
        family, self.loopback = _resolve(host)
        if not self.loopback and token is None:
            raise UserError(
                f"refusing to listen on {host or 'every address'} without "
                "--token: anyone who can reach it could cancel and retry jobs "
                "(use --token SECRET, or the default --host 127.0.0.1)"
            )
        self.address_family = family
        self.location = location
        self.stores = StorePool(location)
        self.access = auth.Access(token, host, self.loopback)
        self.index = _read_static("index.html")
        self.login_page = _read_static("login.html")
        self.files = {name: _read_static(name).encode("utf-8") for name in STATIC_FILES}
        cap = connections.connection_cap(connections.file_limit())
        try:
            super().__init__((host, port), Handler, cap, _refusal(cap))
        except OSError as exc:
            raise UserError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
        # Cookies ignore the port: dashboards of two stores on one host keep apart.
        self.access.cookie_name = f"{SESSION_COOKIE}_{self.server_address[1]}"
        document = openapi.document(self.access.cookie_name, token=token is not None)
        self.openapi = _json_bytes(document)

    def server_bind(self) -> None:
        # HTTPServer.server_bind looks up the host's FQDN, a DNS query that can hang.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def server_close(self) -> None:
        super().server_close()
        self.stores.close()

    @property
    def url(self) -> str:
        host, port = str(self.server_address[0]), self.server_address[1]
        return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


class Handler(connections.ConnectionHandler):
    server: DashboardServer
    server_version = "queuectl-dashboard"

    # --- entry points (one per HTTP method) --------------------------------------------

    def do_GET(self) -> None:
        self._handle("GET")

    def do_HEAD(self) -> None:
        self._handle("HEAD")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def do_OPTIONS(self) -> None:
        self._handle("OPTIONS")

    def _handle(self, method: str) -> None:
        self._body = b""
        try:
            if len(self.headers.get_all("Content-Length") or []) > 1:
                # Which one a proxy in front used is anyone's guess: request smuggling.
                self.close_connection = True
                raise HttpError(400, "send one Content-Length header, not several")
            if method == "POST":
                self._body = self._read_body()
            url = urlsplit(self.path)
            self.server.access.check_host(self.headers, self.server.url, self.request_version)
            name, params = self._route(url.path, "GET" if method == "HEAD" else method)
            try:
                query = parse_qs(url.query, keep_blank_values=True, max_num_fields=20)
            except ValueError:
                raise HttpError(400, "too many query parameters") from None
            getattr(self, f"_on_{name}")(query, **params)
        except (ConnectionError, socket.timeout):
            raise  # the connection is over; handle() and handle_one_request() say so
        except HttpError as exc:
            self._error(exc.status, str(exc), exc.headers)
        except NotFound as exc:
            self._error(404, str(exc))
        except Conflict as exc:
            self._error(409, str(exc))
        except UserError as exc:
            self._error(400, str(exc))
        except StoreError as exc:
            self._error(503, str(exc))
        except Exception:
            self.log_message("%s", traceback.format_exc().rstrip())
            self._error(500, "internal error; the dashboard's log has the details")

    def _route(self, path: str, method: str) -> tuple[str, dict[str, str]]:
        for pattern, methods in ROUTES:
            match = pattern.fullmatch(path)
            if match is None:
                continue
            if method not in methods:
                allowed = _allowed(methods)
                raise HttpError(
                    405, f"{method} is not allowed here; use {allowed}", {"Allow": allowed}
                )
            return methods[method], {k: unquote(v) for k, v in match.groupdict().items()}
        raise HttpError(404, f"no such page: {quote(path)}")

    def _allowed_here(self) -> str:
        """The Allow header for this request's path: what its route takes, or what any
        route takes when none matches (CONNECT's target is no path at all)."""
        path = urlsplit(self.path).path if self.path.startswith("/") else ""
        for pattern, methods in ROUTES:
            if pattern.fullmatch(path):
                return _allowed(methods)
        return _allowed({method for _, methods in ROUTES for method in methods})

    def _read_body(self) -> bytes:
        if "Transfer-Encoding" in self.headers:
            self.close_connection = True
            raise HttpError(411, "send the body with a Content-Length")
        text = (self.headers.get("Content-Length") or "0").strip()
        length = whole_number(text)
        if length is None:
            self.close_connection = True
            raise HttpError(400, f"Content-Length must be a whole number, not {quote(text)}")
        if length > MAX_BODY:
            self.close_connection = True
            raise HttpError(413, f"the body must be at most {MAX_BODY} bytes")
        body = self.rfile.read(length)
        if len(body) < length:
            self.close_connection = True
            raise HttpError(400, "the body ended before its Content-Length")
        return body

    # --- responses ---------------------------------------------------------------------

    def _send(
        self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_answer(
            status,
            {
                **SECURITY_HEADERS,
                "Cache-Control": "no-store",
                **(headers or {}),
                "Content-Type": content_type,
            },
            body,
        )

    def _authorize(self, mutating: bool = False) -> None:
        self.server.access.authorize(self.headers, mutating)

    def _json(self, data: Any, status: int = 200) -> None:
        csrf = self.server.access.csrf_token
        headers = {CSRF_HEADER: csrf} if self.path.startswith("/api/") else {}
        self._send(status, _json_bytes(data), "application/json; charset=utf-8", headers)

    def _error(self, status: int, message: str, headers: dict[str, str] | None = None):
        self._send(
            status,
            _json_bytes({"error": message, "status": status}),
            "application/json; charset=utf-8",
            headers,
        )

    def _html(self, text: str, status: int = 200, headers: dict[str, str] | None = None):
        self._send(status, text.encode("utf-8"), "text/html; charset=utf-8", headers)

    def _redirect(self, location: str, headers: dict[str, str] | None = None) -> None:
        self._send(303, b"", "text/plain; charset=utf-8", {"Location": location, **(headers or {})})

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """The base class's errors (a malformed request line, an unknown method) as JSON,
        and as 4xx: the client sent something this server will not take."""
        headers = {}
        if code == HTTPStatus.NOT_IMPLEMENTED:
            allowed = self._allowed_here()
            code, message = (
                HTTPStatus.METHOD_NOT_ALLOWED,
                f"{self.command} is not allowed; use {allowed}",
            )
            headers["Allow"] = allowed
        elif code == HTTPStatus.HTTP_VERSION_NOT_SUPPORTED:
            code = HTTPStatus.BAD_REQUEST
        if getattr(self, "request_version", "") == "HTTP/0.9":
            # A malformed request line leaves the version at 0.9, which has no status line.
            self.request_version = "HTTP/1.0"
        self.close_connection = True
        self._error(code, message or HTTPStatus(code).phrase, headers)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        if isinstance(code, HTTPStatus):
            code = code.value
        if isinstance(code, int) and code >= 400:
            super().log_request(code, size)

    # --- routes ------------------------------------------------------------------------

    def _on_page(self, query: api.Query) -> None:
        access = self.server.access
        if not access.authenticated(self.headers):
            self._login_form()
            return
        self._html(
            self.server.index.replace("{{csrf_token}}", html.escape(access.csrf_token)).replace(
                "{{auth}}", "token" if access.token else "none"
            )
        )

    def _on_login_form(self, query: api.Query) -> None:
        access = self.server.access
        if access.token is None or access.authenticated(self.headers):
            self._redirect("/")
        else:
            self._login_form()

    def _login_form(self, message: str = "", status: int = 200) -> None:
        self._html(self.server.login_page.replace("{{message}}", html.escape(message)), status)

    def _on_login(self, query: api.Query) -> None:
        access = self.server.access
        access.check_origin(self.headers)
        if access.token is None:
            self._redirect("/")
            return
        form = parse_qs(self._body.decode("utf-8", "replace"), max_num_fields=5)
        session = access.log_in(form.get("token", [""])[0])
        if session is None:
            self._login_form("Wrong token.", 401)
            return
        self._redirect("/", {"Set-Cookie": access.cookie(session)})

    def _on_logout(self, query: api.Query) -> None:
        self._authorize(mutating=True)
        self.server.access.log_out(self.headers)
        self._send(
            200,
            _json_bytes({"logged_out": True}),
            "application/json; charset=utf-8",
            {"Set-Cookie": self.server.access.cookie("", max_age=0)},
        )

    def _on_static(self, query: api.Query, name: str) -> None:
        if name not in STATIC_FILES:
            raise HttpError(404, f"no such file: {quote(name)}")
        self._send(200, self.server.files[name], STATIC_FILES[name], {"Cache-Control": "no-cache"})

    def _on_openapi(self, query: api.Query) -> None:
        self._send(200, self.server.openapi, "application/json; charset=utf-8")

    def _on_read(self, query: api.Query, name: str) -> None:
        self._authorize()
        with self.server.stores.store() as store:
            answer = READS[name](store, query)
        self._json(answer)  # sent with the store back in the pool: a slow client pins none

    def _on_read_job(self, query: api.Query, job_id: str) -> None:
        self._authorize()
        with self.server.stores.store() as store:
            answer = api.job(store, job_id, query)
        self._json(answer)

    def _on_cancel(self, query: api.Query, job_id: str) -> None:
        self._authorize(mutating=True)
        with self.server.stores.store() as store:
            answer = api.cancel(store, job_id, query)
        self._json(answer)

    def _on_read_job_by_query(self, query: api.Query) -> None:
        rest, job_id = _job_id(query)
        self._on_read_job(rest, job_id)

    def _on_cancel_by_query(self, query: api.Query) -> None:
        rest, job_id = _job_id(query)
        self._on_cancel(rest, job_id)

    def _on_explain(self, query: api.Query, job_id: str) -> None:
        self._authorize()
        with self.server.stores.store() as store:
            answer = api.explain(store, job_id, query)
        self._json(answer)

    def _on_explain_by_query(self, query: api.Query) -> None:
        rest, job_id = _job_id(query)
        self._on_explain(rest, job_id)

    def _on_job_verb(self, query: api.Query, job_id: str, verb: str) -> None:
        self._authorize(mutating=True)
        with self.server.stores.store() as store:
            answer = api.job_verb(store, verb, job_id, query)
        self._json(answer)

    def _on_job_verb_by_query(self, query: api.Query, verb: str) -> None:
        rest, job_id = _job_id(query)
        self._on_job_verb(rest, job_id, verb)

    def _on_read_group(self, query: api.Query, group: str) -> None:
        self._authorize()
        with self.server.stores.store() as store:
            answer = api.group(store, group, query)
        self._json(answer)

    def _on_read_group_by_query(self, query: api.Query) -> None:
        rest, group = _group_name(query)
        self._on_read_group(rest, group)

    def _on_group_verb(self, query: api.Query, group: str, verb: str) -> None:
        self._authorize(mutating=True)
        with self.server.stores.store() as store:
            answer = api.group_verb(store, verb, group, query)
        self._json(answer)

    def _on_group_verb_by_query(self, query: api.Query, verb: str) -> None:
        rest, group = _group_name(query)
        self._on_group_verb(rest, group, verb)

    def _on_queue_verb(self, query: api.Query, queue: str, verb: str) -> None:
        self._authorize(mutating=True)
        with self.server.stores.store() as store:
            answer = api.queue_verb(store, verb, queue, query)
        self._json(answer)

    def _on_queue_verb_by_query(self, query: api.Query, verb: str) -> None:
        rest, queue = _queue_name(query)
        self._on_queue_verb(rest, queue, verb)

    def _on_read_schedule(self, query: api.Query, schedule: str) -> None:
        self._authorize()
        with self.server.stores.store() as store:
            answer = api.schedule(store, schedule, query)
        self._json(answer)

    def _on_read_schedule_by_query(self, query: api.Query) -> None:
        rest, schedule = _schedule_name(query)
        self._on_read_schedule(rest, schedule)

    def _on_schedule_verb(self, query: api.Query, schedule: str, verb: str) -> None:
        self._authorize(mutating=True)
        with self.server.stores.store() as store:
            answer = api.schedule_verb(store, verb, schedule, query)
        self._json(answer)

    def _on_schedule_verb_by_query(self, query: api.Query, verb: str) -> None:
        rest, schedule = _schedule_name(query)
        self._on_schedule_verb(rest, schedule, verb)

    def _on_dlq_retry(self, query: api.Query) -> None:
        self._authorize(mutating=True)
        content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if content_type != "application/json":
            raise HttpError(415, "send the body as application/json")
        try:
            body = load_json(self._body.decode("utf-8"))
        except ValueError as exc:  # UnicodeDecodeError is one too
            raise HttpError(400, f"the body is not valid JSON: {exc}") from None
        with self.server.stores.store() as store:
            answer = api.dlq_retry(store, body, query)
        self._json(answer)

    def _on_metrics(self, query: api.Query) -> None:
        self._authorize()
        with self.server.stores.store() as store:
            text = metrics.render(store)
        self._send(200, text.encode("utf-8"), metrics.CONTENT_TYPE)


def serve(location: str, host: str, port: int, token: str | None) -> int:
    """Serve the dashboard until SIGINT (Ctrl-C) or SIGTERM; returns the exit status."""
    auth.check_token(token)
    # Create or upgrade it now, so errors show at start-up.
    service.open_location(location, only_reads=True).close()
    server = DashboardServer(location, host, port, token)
    stop = threading.Event()

    def request_stop(signum: int, frame: object) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    thread = threading.Thread(target=server.serve_forever, name="dashboard", daemon=True)
    thread.start()
    print(
        f"queuectl: dashboard of {service.shown_location(location)} at {server.url} "
        "(Ctrl-C to stop)",
        file=sys.stderr,
        flush=True,
    )
    try:
        # A timed wait: on Windows an untimed one would keep the Ctrl-C handler from running.
        while not stop.wait(0.5):
            continue
    finally:
        server.shutdown()
        server.server_close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print("queuectl: dashboard stopped", file=sys.stderr, flush=True)
    return 0
