"""How a worker starts a command (worker/spawning.py): posix_spawn gives the command what
Popen gave it: a new session, the job's folder, stdin empty, one pipe for its output,
nothing of the worker's open, and SIGPIPE back to its default."""

from __future__ import annotations

import os
import sys

import pytest

from queuectl.worker import runner, spawning
from tests.conftest import wait_for

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX process start")


def _run(command: str, cwd: str, env: dict[str, str] | None = None) -> runner.RunResult:
    return runner.run_command(
        command,
        cwd,
        dict(os.environ) if env is None else env,
        {"QUEUECTL_JOB_ID": "t"},
        timeout=30,
        output_limit=65536,
        kill_grace=1,
        on_spawn=lambda pid: None,
        on_tick=lambda output: None,
    )


def test_the_command_runs_in_its_folder_and_the_worker_stays_in_its_own(tmp_path):
    job_folder = tmp_path / "job"
    job_folder.mkdir()
    before = os.getcwd()
    result = _run("pwd; echo $QUEUECTL_JOB_ID; cat; echo end", str(job_folder))
    assert result.output.decode().splitlines() == [str(job_folder), "t", "end"]
    assert (result.exit_code, result.error) == (0, None)
    assert os.getcwd() == before


def test_the_worker_comes_back_to_the_folder_it_is_in_now(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert _run("true", "/").exit_code == 0
    later = tmp_path / "later"
    later.mkdir()
    os.chdir(later)  # a worker run in process (tests, an embedding program) may move
    assert _run("true", "/").exit_code == 0
    assert os.getcwd() == str(later)


def test_the_command_leads_its_own_session_with_stdout_and_stderr_in_one_pipe(tmp_path):
    result = _run("ps -o sid= -p $$; echo $$; echo oops >&2; exit 3", str(tmp_path))
    session, pid, oops = result.output.decode().split()
    assert session == pid and oops == "oops"
    assert (result.exit_code, result.error) == (3, "exit code 3")


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="reads /proc")
def test_the_command_gets_sigpipe_back_though_python_ignores_it(tmp_path):
    result = _run("grep SigIgn /proc/$$/status", str(tmp_path))
    label, mask = result.output.decode().split()
    assert label == "SigIgn:" and not int(mask, 16) & (1 << (13 - 1)), mask


def test_a_missing_folder_or_a_line_the_os_refuses_is_a_failed_start(tmp_path):
    gone = _run("true", str(tmp_path / "missing"))
    assert gone.exit_code is None and gone.error == f"no such directory: {tmp_path / 'missing'}"
    nul = _run("echo a\0b", str(tmp_path))
    assert nul.exit_code is None and nul.error.startswith("cannot start the command")


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="reads /proc")
def test_a_pool_workers_commands_hold_none_of_its_descriptors(fast_config, pool):
    """A worker inherits multiprocessing's pipes and holds its store's files or socket;
    posix_spawn closes only what is marked close-on-exec."""
    cli = fast_config
    pool(1)
    job_id = cli.ok("run", "ls /proc/$$/fd").strip()
    wait_for(lambda: cli.state(job_id) == "completed", timeout=60)
    assert cli.ok("logs", job_id).split() == ["0", "1", "2"]


def test_posix_spawn_starts_commands_here_and_popen_where_it_cannot(tmp_path, monkeypatch):
    started = spawning.start("true", str(tmp_path), dict(os.environ))
    assert isinstance(started, spawning.Started)  # not a silent fall back to Popen
    assert started.stdout is not None
    started.stdout.close()
    os.waitpid(started.pid, 0)

    def without_setsid(*args, **kwargs):
        raise NotImplementedError("setsid is unsupported on this platform")

    monkeypatch.setattr(spawning._spawner, "usable", True)  # put back after the test
    monkeypatch.setattr(os, "posix_spawn", without_setsid)
    result = _run("echo by Popen; ps -o sid= -p $$; echo $$", str(tmp_path))
    by, popen, session, pid = result.output.decode().split()
    assert (by, popen, result.exit_code) == ("by", "Popen", 0)
    assert session == pid  # Popen's start_new_session, as posix_spawn's setsid
    assert not spawning._spawner.usable  # asked once: later starts go to Popen at once
