"""The dashboard's connections under load: how many it takes, how long a client may take to
send a request, and what happens when the process runs out of file descriptors.

* At most `connection_cap()` connections are open at once, each served by its own thread;
  one more is answered 503 and closed at once. The cap stays below the process's limit on
  open files, so past it a client gets an answer rather than accept() failing.
* If accept() fails anyway for want of descriptors, the server pauses before trying again
  instead of spinning on a listening socket that stays readable (issue 9).
* A kept-alive connection may wait `IDLE_TIMEOUT` seconds for its next request, then it is
  closed quietly. From the first byte of a request, its request line, headers and body must
  all arrive within `REQUEST_DEADLINE` seconds, however the client spaces them out.
"""

from __future__ import annotations

import contextlib
import errno
import io
import socket
import sys
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# A browser opens at most 6 connections to a host; the rest is for scripts and scrapers.
# Each holds a thread while it is open.
MAX_CONNECTIONS = 64
# Files the process keeps besides its connections: the standard streams, the listening
# socket, the stores kept between requests (dashboard/stores.py: 4, three files each for
# SQLite), and room for the interpreter's own.
RESERVED_FILES = 32
# A connection's socket, and the three files (db, -wal, -shm) of the SQLite store it opens
# for its request when every kept store is busy.
FILES_PER_CONNECTION = 4
# Connections the kernel completes while the server is busy accepting others: past it, a
# connect waits a whole second to retry. With 5, 28 of 200 quick connects did; with 128,
# one. The kernel lowers it to net.core.somaxconn where that is smaller.
LISTEN_BACKLOG = 1024
ACCEPT_PAUSE = 0.1  # seconds without accept() after it failed for want of descriptors
IDLE_TIMEOUT = 60  # seconds a kept-alive connection may wait for its next request
REQUEST_DEADLINE = 10  # seconds from a request's first byte to the end of its body
SEND_TIMEOUT = 60  # seconds a client may take to receive one answer
LOG_EVERY = 60  # seconds between two log lines about one limit: a busy server meets it often
OUT_OF_DESCRIPTORS = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}


class HttpError(Exception):
    """An answer with an error status, raised from wherever a request is refused."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.headers = headers or {}


def log(message: str) -> None:
    """A line about the server, not about one request, in the request log's format."""
    sys.stderr.write(f"- - - [{time.strftime('%d/%b/%Y %H:%M:%S')}] {message}\n")


class OccasionalLog:
    """A log line said at most once every LOG_EVERY seconds."""

    def __init__(self) -> None:
        self._next = 0.0

    def say(self, message: str) -> None:
        now = time.monotonic()
        if now >= self._next:
            self._next = now + LOG_EVERY
            log(message)


def file_limit() -> int | None:
    """The soft limit on this process's open files; None where there is none to respect."""
    try:
        import resource
    except ImportError:  # Windows: sockets are handles, outside any such limit
        return None
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return None if soft == resource.RLIM_INFINITY else soft


def connection_cap(files: int | None) -> int:
    """MAX_CONNECTIONS, or as many as `files` open files leave room for (at least one)."""
    if files is None:
        return MAX_CONNECTIONS
    return max(1, min(MAX_CONNECTIONS, (files - RESERVED_FILES) // FILES_PER_CONNECTION))


def response_head(status: int, headers: dict[str, str]) -> bytes:
    """The status line and headers of an HTTP/1.1 answer, ending in the blank line."""
    lines = [
        f"HTTP/1.1 {status} {HTTPStatus(status).phrase}",
        *(f"{name}: {value}" for name, value in headers.items()),
        "",
        "",
    ]
    return "\r\n".join(lines).encode("latin-1")


class RequestStream(io.RawIOBase):
    """What a handler reads its connection through (wrapped in a BufferedReader).

    A per-recv timeout alone lets a client that sends a byte every few seconds hold its
    connection, and its thread, for ever; so the time left to REQUEST_DEADLINE is what
    every recv of a request may wait. Running out of it raises socket.timeout, which
    BaseHTTPRequestHandler logs in one line before it closes the connection. Waiting
    IDLE_TIMEOUT for a request that never starts reads as the end of the stream: the
    client is gone as far as the handler can tell, and the connection closes quietly."""

    def __init__(self, sock: socket.socket) -> None:
        super().__init__()
        self._sock = sock
        self._deadline: float | None = None  # set by the first byte of a request

    def readable(self) -> bool:
        return True

    def next_request(self) -> None:
        self._deadline = None

    def readinto(self, buffer: Any) -> int:
        if self._deadline is None:
            self._sock.settimeout(IDLE_TIMEOUT)
            try:
                count = self._sock.recv_into(buffer)
            except socket.timeout:
                return 0
            if count:
                self._deadline = time.monotonic() + REQUEST_DEADLINE
            return count
        late = socket.timeout(f"the request took over {REQUEST_DEADLINE} s to arrive")
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise late
        self._sock.settimeout(left)
        try:
            return self._sock.recv_into(buffer)
        except socket.timeout:
            raise late from None


class LimitedServer(ThreadingHTTPServer):
    """A thread per connection, at most `cap` at once: past that, `refusal` (a whole HTTP
    answer) is sent and the connection closed, without a thread."""

    daemon_threads = True
    request_queue_size = LISTEN_BACKLOG

    def __init__(self, address: tuple[str, int], handler: type, cap: int, refusal: bytes) -> None:
        self.cap = cap
        self._refusal = refusal
        self._slots = threading.BoundedSemaphore(cap)
        self._refusals = OccasionalLog()
        self._accept_failures = OccasionalLog()
        super().__init__(address, handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        try:
            return super().get_request()
        except OSError as exc:
            if exc.errno in OUT_OF_DESCRIPTORS:
                self._pause_accepting(exc)
            raise  # socketserver drops the attempt; the connection waits in the backlog

    def _pause_accepting(self, exc: OSError) -> None:
        # The listening socket stays readable while the connection waits to be accepted:
        # retrying at once would spin a core until a descriptor frees up.
        self._accept_failures.say(
            f"cannot accept connections: {exc.strerror}; trying again every {ACCEPT_PAUSE} s"
        )
        time.sleep(ACCEPT_PAUSE)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            self._refuse(request)
            return
        try:
            super().process_request(request, client_address)  # starts its thread
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)  # closes the socket
        finally:
            self._slots.release()

    def _refuse(self, request: socket.socket) -> None:
        self._refusals.say(
            f"{self.cap} connections are open, the most this dashboard "
            "takes: answering 503 to new ones"
        )
        request.setblocking(False)  # the accepting thread must not wait on this client
        # What the client has sent already is read first: closing a socket with unread data
        # resets the connection, and the client might lose the answer.
        with contextlib.suppress(OSError):  # nothing has arrived yet
            request.recv(65536)
        with contextlib.suppress(OSError):  # the client is gone already
            request.send(self._refusal)  # a few hundred bytes into an empty send buffer
        self.shutdown_request(request)


class ConnectionHandler(BaseHTTPRequestHandler):
    """A request handler that reads through a RequestStream, sends each answer in one
    write, and logs a client that hangs up in one line rather than a traceback."""

    protocol_version = "HTTP/1.1"
    # Each answer goes out in one write, but one larger than a TCP segment still ends in a
    # small one, which Nagle's algorithm would hold back until the client's delayed ACK.
    disable_nagle_algorithm = True

    def setup(self) -> None:
        super().setup()
        self.rfile.close()  # the plain one: left open, it would keep the socket open too
        self.stream = RequestStream(self.connection)
        self.rfile = io.BufferedReader(self.stream)

    def handle(self) -> None:
        try:
            super().handle()
        except ConnectionError as exc:
            self.log_message("the client hung up (%s)", type(exc).__name__)

    def handle_one_request(self) -> None:
        self.stream.next_request()
        super().handle_one_request()

    def send_answer(self, status: int, headers: dict[str, str], body: bytes) -> None:
        """Send a whole answer, in one write: headers sent apart from the body would wait
        for the client's delayed ACK under Nagle's algorithm, 40 ms per kept-alive request.
        `headers` gets Server, Date, Content-Length and, when closing, Connection."""
        fields = {
            "Server": self.version_string(),
            "Date": self.date_time_string(),
            **headers,
            "Content-Length": str(len(body)),
        }
        if self.close_connection:
            fields["Connection"] = "close"
        answer = response_head(status, fields) + (body if self.command != "HEAD" else b"")
        self.connection.settimeout(SEND_TIMEOUT)
        self.wfile.write(answer)
        self.log_request(status)
