"""The dashboard's connections: how long a client may take to send a request, and how an
answer goes out on the wire.

* A kept-alive connection may wait `IDLE_TIMEOUT` seconds for its next request, then it is
  closed quietly. From the first byte of a request, its request line, headers and body must
  all arrive within `REQUEST_DEADLINE` seconds, however the client spaces them out.
"""

from __future__ import annotations

import io
import socket
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import Any

IDLE_TIMEOUT = 60  # seconds a kept-alive connection may wait for its next request
REQUEST_DEADLINE = 10  # seconds from a request's first byte to the end of its body
SEND_TIMEOUT = 60  # seconds a client may take to receive one answer


def response_head(status: int, headers: dict[str, str]) -> bytes:
    """The status line and headers of an HTTP/1.1 answer, ending in the blank line."""
    lines = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}",
             *(f"{name}: {value}" for name, value in headers.items()), "", ""]
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
        fields = {"Server": self.version_string(), "Date": self.date_time_string(),
                  **headers, "Content-Length": str(len(body))}
        if self.close_connection:
            fields["Connection"] = "close"
        answer = response_head(status, fields) + (body if self.command != "HEAD" else b"")
        self.connection.settimeout(SEND_TIMEOUT)
        self.wfile.write(answer)
        self.log_request(status)
