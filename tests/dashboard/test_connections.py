"""The dashboard's connections (issue 11): each answer sent in one write."""

from __future__ import annotations

import select
import socket


def _connect(host: str, port: int) -> socket.socket:
    return socket.create_connection((host, port), timeout=10)


def _answered(sock: socket.socket) -> bytes:
    """Everything readable on `sock` now (after waiting for it to be readable)."""
    ready, _, _ = select.select([sock], [], [], 10)
    assert ready, "no answer within 10 s"
    return sock.recv(1 << 20)


def test_each_answer_on_a_kept_alive_connection_comes_in_one_piece(dashboard):
    """Headers and body sent in separate writes meet Nagle's algorithm and the client's
    delayed ACK: 40 ms per kept-alive request. Sent as one, the first read gets it all."""
    dash = dashboard()
    with _connect(dash.host, dash.port) as sock:
        for path in ("/api/status", "/", "/static/style.css") * 5:
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
            head, _, body = _answered(sock).partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200 "), head
            length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length:"))
            assert len(body) == length, (path, len(body), length)
