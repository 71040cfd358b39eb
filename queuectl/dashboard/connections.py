"""The dashboard's connections: how an answer goes out on the wire."""

from __future__ import annotations

from http import HTTPStatus
from http.server import BaseHTTPRequestHandler


def response_head(status: int, headers: dict[str, str]) -> bytes:
    """The status line and headers of an HTTP/1.1 answer, ending in the blank line."""
    lines = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}",
             *(f"{name}: {value}" for name, value in headers.items()), "", ""]
    return "\r\n".join(lines).encode("latin-1")


class ConnectionHandler(BaseHTTPRequestHandler):
    """A request handler that sends each answer in one write."""

    protocol_version = "HTTP/1.1"
    # Each answer goes out in one write, but one larger than a TCP segment still ends in a
    # small one, which Nagle's algorithm would hold back until the client's delayed ACK.
    disable_nagle_algorithm = True

    def send_answer(self, status: int, headers: dict[str, str], body: bytes) -> None:
        """Send a whole answer, in one write: headers sent apart from the body would wait
        for the client's delayed ACK under Nagle's algorithm, 40 ms per kept-alive request.
        `headers` gets Server, Date, Content-Length and, when closing, Connection."""
        fields = {"Server": self.version_string(), "Date": self.date_time_string(),
                  **headers, "Content-Length": str(len(body))}
        if self.close_connection:
            fields["Connection"] = "close"
        answer = response_head(status, fields) + (body if self.command != "HEAD" else b"")
        self.wfile.write(answer)
        self.log_request(status)
