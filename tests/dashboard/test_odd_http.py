"""Odd HTTP the dashboard refuses (issue 11, point 17): framing a proxy could read another
way (two Content-Length or Host headers), a missing or malformed Host, an Origin that is
not the page's own, and methods http.server has no handler for, answered 405 with Allow."""

from __future__ import annotations

import json
import socket

import pytest


def _raw(dash, request: str) -> tuple[int, dict[str, str], dict]:
    """Send `request` ("{port}" is the dashboard's) on a new connection: the status,
    headers (lower-case names) and JSON body of the answer."""
    with socket.create_connection((dash.host, dash.port), timeout=10) as sock:
        sock.sendall(request.replace("{port}", str(dash.port)).encode("latin-1"))
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    assert headers["content-type"] == "application/json; charset=utf-8", head
    return int(status_line.split()[1]), headers, json.loads(body)


@pytest.fixture
def dash(cli, dashboard):
    cli.ok("run", "true", "--id", "later", "--delay", "1h")
    yield dashboard()
    assert cli.state("later") == "pending"  # nothing refused here changed it


def _cancel(host: str, extra: str = "", csrf: str = "") -> str:
    return (
        "POST /api/jobs/later/cancel HTTP/1.1\r\n"
        f"{host}X-CSRF-Token: {csrf}\r\n{extra}Content-Length: 0\r\nConnection: close\r\n\r\n"
    )


HOST = "Host: 127.0.0.1:{port}\r\n"
GET = "GET /api/status HTTP/1.1\r\n{headers}Connection: close\r\n\r\n"


@pytest.mark.parametrize(
    ("request_text", "needle"),
    [
        pytest.param(
            "POST /api/dlq/retry HTTP/1.1\r\n" + HOST + "Content-Type: application/json\r\n"
            "Content-Length: 2\r\nContent-Length: 13\r\n\r\n{}",
            "one Content-Length",
            id="two-content-lengths",
        ),
        pytest.param(GET.format(headers=HOST + HOST), "one Host", id="two-hosts"),
        pytest.param(GET.format(headers=""), "needs a Host", id="no-host-in-1.1"),
        pytest.param(
            GET.format(headers="Host: 127.0.0.1:{port}.evil.example\r\n"),
            "malformed Host",
            id="port-then-name",
        ),
        pytest.param(
            GET.format(headers="Host: 127.0.0.1:abc\r\n"), "malformed Host", id="port-not-digits"
        ),
        pytest.param(
            GET.format(headers="Host: [::1]evil.example:{port}\r\n"),
            "malformed Host",
            id="name-after-brackets",
        ),
        pytest.param(GET.format(headers="Host: \r\n"), "malformed Host", id="empty-host"),
    ],
)
def test_ambiguous_framing_and_bad_hosts_are_400(dash, request_text, needle):
    status, _, body = _raw(dash, request_text)
    assert (status, body["status"]) == (400, 400), body
    assert needle in body["error"], body


def test_http_1_0_without_a_host_is_still_served(dash):
    status, _, body = _raw(dash, "GET /api/status HTTP/1.0\r\n\r\n")
    assert status == 200 and "counts" in body


@pytest.mark.parametrize(
    "origin",
    [
        "https://127.0.0.1:{port}",
        "http://127.0.0.1:{port}/x",
        "http://127.0.0.1:{port}/",
        "http://127.0.0.1:{port}?a",
        "http://127.0.0.1:{port}#a",
        "http://127.0.0.1",
        "http://user@127.0.0.1:{port}",
        "ws://127.0.0.1:{port}",
        "null",
    ],
)
def test_an_origin_of_another_scheme_port_or_with_a_path_is_403(dash, origin):
    request_text = _cancel(HOST, f"Origin: {origin}\r\n", dash.csrf_token())
    status, _, body = _raw(dash, request_text)
    assert (status, body["status"]) == (403, 403), body
    assert "cross-origin" in body["error"]


def test_the_pages_own_origin_passes(cli, dashboard):
    cli.ok("run", "true", "--id", "later", "--delay", "1h")
    dash = dashboard()
    request_text = _cancel(HOST, "Origin: http://127.0.0.1:{port}\r\n", dash.csrf_token())
    status, _, body = _raw(dash, request_text)
    assert status == 200 and body == {"id": "later", "result": "canceled"}


@pytest.mark.parametrize(
    ("request_line", "allowed"),
    [
        ("TRACE /api/status HTTP/1.1", "GET, HEAD"),
        ("PROPFIND /api/jobs/later/cancel HTTP/1.1", "POST"),
        ("PROPFIND /login HTTP/1.1", "GET, HEAD, POST"),
        ("CONNECT 127.0.0.1:{port} HTTP/1.1", "GET, HEAD, POST"),
        ("TRACE /no/such/page HTTP/1.1", "GET, HEAD, POST"),
    ],
)
def test_methods_without_a_handler_are_405_with_allow(dash, request_line, allowed):
    status, headers, body = _raw(dash, f"{request_line}\r\n{HOST}Connection: close\r\n\r\n")
    assert (status, body["status"]) == (405, 405), body
    assert headers["allow"] == allowed
    assert allowed in body["error"]


def test_dot_ids_reach_the_api_percent_encoded_in_the_path_or_in_the_query(cli, dashboard):
    for job_id in (".", ".."):
        cli.ok("run", "true", "--id", job_id, "--delay", "1h")
    dash = dashboard()
    for job_id, encoded in ((".", "%2E"), ("..", "%2e%2E")):
        assert dash.get_json(f"/api/jobs/{encoded}")["job"]["id"] == job_id
        assert dash.get_json(f"/api/job?id={encoded}")["job"]["id"] == job_id
    canceled = dash.post("/api/job/cancel?id=..")
    assert canceled.status == 200 and canceled.json() == {"id": "..", "result": "canceled"}
    assert [cli.state(".."), cli.state(".")] == ["canceled", "pending"]
