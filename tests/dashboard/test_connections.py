"""The dashboard's connections (issue 11): a deadline for a slowly sent request, hang-ups
logged in one line, and each answer sent in one write."""

from __future__ import annotations

import select
import signal
import socket
import struct

from queuectl.dashboard.connections import REQUEST_DEADLINE


def _connect(host: str, port: int) -> socket.socket:
    return socket.create_connection((host, port), timeout=10)


def _answered(sock: socket.socket) -> bytes:
    """Everything readable on `sock` now (after waiting for it to be readable)."""
    ready, _, _ = select.select([sock], [], [], 10)
    assert ready, "no answer within 10 s"
    return sock.recv(1 << 20)


def _stop(dash) -> str:
    """Stop the dashboard with Ctrl-C; its stderr."""
    dash.proc.send_signal(signal.SIGINT)
    assert dash.proc.wait(15) == 0
    return dash.proc.stderr.read()


def _server_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines()
            if line and not line.startswith("queuectl: dashboard")]


def test_a_request_sent_a_byte_at_a_time_is_cut_off_at_the_deadline(dashboard):
    dash = dashboard()
    with _connect(dash.host, dash.port) as sock:
        sock.sendall(b"GET /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        closed = False
        for _ in range(3 * REQUEST_DEADLINE):  # a byte a second: no recv waits long
            try:
                sock.sendall(b"a")
                if select.select([sock], [], [], 1.0)[0]:
                    closed = sock.recv(1024) == b""
                    break
            except ConnectionError:
                closed = True
                break
        assert closed
    assert dash.get("/api/status").status == 200
    lines = _server_lines(_stop(dash))
    assert len(lines) == 1 and f"took over {REQUEST_DEADLINE} s" in lines[0], lines


def test_clients_that_hang_up_cost_one_quiet_line_each(dashboard):
    dash = dashboard()
    count = 40
    for number in range(count):
        sock = _connect(dash.host, dash.port)
        if number % 2:  # a reset as soon as the request is out: the answer cannot be sent
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.sendall(b"GET /static/app.js HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        else:  # gone in the middle of the headers
            sock.sendall(b"GET /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Hal")
        sock.close()
    assert dash.get("/api/status").status == 200
    lines = _server_lines(_stop(dash))
    assert len(lines) <= count and all("the client hung up" in line for line in lines), lines


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
