"""A real dashboard in a subprocess (`queuectl dashboard --port 0`), an HTTP client for it,
and a store holding jobs in all six states, made by real workers."""

from __future__ import annotations

import http.client
import json
import re
import select
import signal
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message
from typing import Any, Callable
from urllib.parse import urlsplit

import pytest

from tests.conftest import Cli, wait_for

# The command carries markup, and so does its output: both must reach the page as text.
XSS_COMMAND = "echo '<img src=x onerror=window.pwned=1><script>window.pwned=2</script>'"
XSS_OUTPUT = "<img src=x onerror=window.pwned=1><script>window.pwned=2</script>\n"


@dataclass
class Response:
    status: int
    headers: Message
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Dashboard:
    """A running `queuectl dashboard` and a stdlib HTTP client for it."""

    def __init__(self, cli: Cli, *extra: str, **popen: Any) -> None:
        self.proc = cli.popen("dashboard", "--port", "0", *extra, **popen)
        line = self._first_line(self.proc)
        match = re.search(r" at (http://\S+/) ", line)
        assert match, f"the dashboard did not start: {line!r}"
        self.url = match.group(1)
        parts = urlsplit(self.url)
        self.host, self.port = parts.hostname, parts.port
        self.origin = self.url.rstrip("/")
        self.log: list[str] = []
        self._log_reader: threading.Thread | None = None

    @staticmethod
    def _first_line(proc: subprocess.Popen, timeout: float = 30.0) -> str:
        ready, _, _ = select.select([proc.stderr], [], [], timeout)
        return proc.stderr.readline() if ready else ""

    def request(
        self,
        method: str,
        path: str,
        body: bytes | str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            reply = conn.getresponse()
            return Response(reply.status, reply.headers, reply.read())
        finally:
            conn.close()

    def get(self, path: str, **headers: str) -> Response:
        return self.request("GET", path, headers=headers)

    def get_json(self, path: str, **headers: str) -> Any:
        reply = self.get(path, **headers)
        assert reply.status == 200, (path, reply.status, reply.body)
        assert reply.headers["Content-Type"] == "application/json; charset=utf-8"
        return reply.json()

    def post(
        self, path: str, data: Any = None, headers: dict[str, str] | None = None, csrf: bool = True
    ) -> Response:
        sent = {"Content-Type": "application/json"} if data is not None else {}
        if csrf:
            sent["X-CSRF-Token"] = self.csrf_token()
        sent.update(headers or {})
        return self.request("POST", path, None if data is None else json.dumps(data), sent)

    def csrf_token(self, **headers: str) -> str:
        page = self.get("/", **headers).body.decode()
        match = re.search(r'<meta name="csrf-token" content="([^"]+)">', page)
        assert match, page
        return match.group(1)

    def keep_reading_log(self) -> None:
        """Read its stderr as it comes, into `log`: it logs every 4xx answer, and a pipe
        left full would block the server's threads once they log."""
        self._log_reader = threading.Thread(
            target=self.log.extend, args=(self.proc.stderr,), daemon=True
        )
        self._log_reader.start()

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self._log_reader is not None:
            self._log_reader.join()
        self.proc.stdout.close()
        self.proc.stderr.close()
        return self.proc.returncode


@pytest.fixture
def dashboard(cli: Cli) -> Iterator[Callable[..., Dashboard]]:
    started: list[Dashboard] = []

    def start(*extra: str, **popen: Any) -> Dashboard:
        """A dashboard started with these arguments; `popen` goes to subprocess.Popen."""
        started.append(Dashboard(cli, *extra, **popen))
        return started[-1]

    yield start
    for item in started:
        assert item.stop() == 0


@pytest.fixture
def jobs_in_every_state(fast_config: Cli, pool) -> Iterator[dict[str, str]]:
    """One job per state (state -> job id), plus `xss` (completed) whose command and
    output are markup. `running` sleeps until the fixture cancels it."""
    cli = fast_config
    cli.configure(backoff_base="100")  # `flaky` stays failed for 100 s
    cli.ok(
        "enqueue",
        "-",
        input="\n".join(
            json.dumps(job)
            for job in (
                {"id": "done", "command": "echo all good"},
                {"id": "xss", "command": XSS_COMMAND, "queue": "web"},
                {"id": "broken", "command": "echo boom >&2; exit 3", "max_retries": 0},
                {"id": "flaky", "command": "exit 1", "max_retries": 5, "queue": "web"},
                {"id": "running", "command": "sleep 120"},
                {"id": "later", "command": "true", "delay": "1h", "queue": "mail"},
                {"id": "dropped", "command": "true", "delay": "1h"},
            )
        )
        + "\n",
    )
    cli.ok("cancel", "dropped")
    pool(1)
    ids = {
        "completed": "done",
        "dead": "broken",
        "failed": "flaky",
        "processing": "running",
        "pending": "later",
        "canceled": "dropped",
    }
    wait_for(
        lambda: (
            all(cli.state(job_id) == state for state, job_id in ids.items())
            and cli.state("xss") == "completed"
        ),
        timeout=30,
        message="every state",
    )
    yield ids
    if cli.state("running") == "processing":
        cli.ok("cancel", "running")
