"""The dashboard under connection load (issues 9 and 11): a cap below the file limit with a
503 past it, accept() pausing when descriptors run out instead of spinning, a deadline for
a slowly sent request, hang-ups logged in one line, and each answer sent in one write."""

from __future__ import annotations

import os
import select
import signal
import socket
import struct
import subprocess
import sys
import textwrap
from pathlib import Path

from queuectl.dashboard.connections import REQUEST_DEADLINE, connection_cap
from tests.conftest import (
    MAX_SPIN_CPU,
    ROOT,
    cpu_used_while_idle,
    linux_only,
    one_at_a_time,
    wait_for,
)

FILE_LIMIT = 64  # the `ulimit -n 64` of issue 9
# SO_LINGER on, for 0 s: close() resets the connection. Windows packs it as two shorts.
LINGER_NONE = struct.pack("HH" if sys.platform == "win32" else "ii", 1, 0)


def _limit_files(count: int):
    def apply() -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_NOFILE, (count, count))

    return apply


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
    return [
        line for line in stderr.splitlines() if line and not line.startswith("queuectl: dashboard")
    ]


@linux_only
@one_at_a_time
def test_past_the_cap_it_answers_503_and_does_not_spin_under_a_low_file_limit(dashboard):
    dash = dashboard(preexec_fn=_limit_files(FILE_LIMIT))
    cap = connection_cap(FILE_LIMIT)
    idle = [_connect(dash.host, dash.port) for _ in range(FILE_LIMIT + 6)]
    try:
        refused = idle[cap:]
        for sock in refused:
            head = _answered(sock).split(b"\r\n")[0]
            assert head == b"HTTP/1.1 503 Service Unavailable", head
        assert not select.select(idle[:cap], [], [], 0)[0]  # held open, not answered
        assert cpu_used_while_idle(dash.proc.pid) < MAX_SPIN_CPU
        reply = dash.get("/api/status")
        assert reply.status == 503 and reply.headers["Retry-After"] == "1"
        assert reply.json()["status"] == 503 and f"{cap} connections" in reply.json()["error"]
        assert reply.headers["Content-Security-Policy"]
    finally:
        for sock in idle:
            sock.close()
    wait_for(
        lambda: dash.get("/api/status").status == 200,
        timeout=20,
        message="an answer once the idle connections closed",
    )
    lines = _server_lines(_stop(dash))
    assert len(lines) == 1 and "answering 503" in lines[0], lines


# What `queuectl dashboard` serves with, given a cap it cannot keep: accept() runs out of
# descriptors before the cap is reached.
ACCEPT_SERVER = textwrap.dedent("""
    import sys
    from queuectl.dashboard.connections import ConnectionHandler, LimitedServer

    class Hello(ConnectionHandler):
        def do_GET(self):
            self.send_answer(200, {"Content-Type": "text/plain"}, b"hello")

    server = LimitedServer(("127.0.0.1", 0), Hello, 1000, b"")
    print(server.server_address[1], flush=True)
    server.serve_forever()
""")


@linux_only
@one_at_a_time
def test_accept_pauses_when_descriptors_run_out_and_resumes_when_they_free(tmp_path: Path):
    limit = 32
    proc = subprocess.Popen(
        [sys.executable, "-c", ACCEPT_SERVER],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_limit_files(limit),
    )
    try:
        port = int(proc.stdout.readline())
        idle = []
        for _ in range(limit + 8):
            sock = socket.socket()
            sock.setblocking(False)  # the connects past the limit wait in the backlog
            sock.connect_ex(("127.0.0.1", port))
            idle.append(sock)
        wait_for(
            lambda: len(os.listdir(f"/proc/{proc.pid}/fd")) >= limit,
            timeout=20,
            message="the server to run out of descriptors",
        )
        assert cpu_used_while_idle(proc.pid) < MAX_SPIN_CPU
        for sock in idle:
            sock.close()
        with _connect("127.0.0.1", port) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            assert _answered(sock).endswith(b"\r\n\r\nhello")
    finally:
        proc.kill()
        stderr = proc.communicate(timeout=15)[1]
    assert stderr.count("cannot accept connections: Too many open files") == 1, stderr
    assert "Traceback" not in stderr


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
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_NONE)
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
            length = next(
                int(line.split(b":")[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
            assert len(body) == length, (path, len(body), length)
