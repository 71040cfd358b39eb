"""`queuectl completion bash|zsh|fish`: scripts generated from the parser, run in the real
shells (zsh and fish when installed), with job ids read from a real store."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from queuectl.cli.completion import MAX_IDS
from queuectl.store import open_store
from tests.conftest import Cli

SHELLS = ("bash", "zsh", "fish")


@pytest.fixture
def sqlite_cli(tmp_path: Path) -> Cli:
    """A CLI on a SQLite store holding two jobs, with `queuectl` on its PATH (the scripts
    run it by that name for job ids)."""
    home = tmp_path / "home"
    home.mkdir()
    cli = Cli(str(tmp_path / "store" / "queue.db"), home)
    open_store(cli.location).close()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    program = bin_dir / "queuectl"
    program.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m queuectl "$@"\n')
    program.chmod(0o755)
    cli.env["PATH"] = f"{bin_dir}{os.pathsep}{cli.env['PATH']}"
    for job_id in ("alpha-1", "alpha-2", "beta-1"):
        cli.ok("run", "--id", job_id, "true")
    return cli


def script(cli: Cli, shell: str) -> Path:
    path = cli.home / f"queuectl.{shell}"
    path.write_text(cli.ok("completion", shell))
    return path


def run_shell(cli: Cli, argv: list[str]) -> str:
    result = subprocess.run(argv, capture_output=True, text=True, env=cli.env, timeout=60)
    assert result.returncode == 0, (argv, result.stdout, result.stderr)
    return result.stdout


def bash_complete(cli: Cli, *words: str) -> list[str]:
    """What bash offers at the last word, as `complete -F` would ask the script."""
    program = (
        f"source {shlex.quote(str(script(cli, 'bash')))}\n"
        f"COMP_WORDS=({' '.join(shlex.quote(word) for word in words)})\n"
        f"COMP_CWORD={len(words) - 1}\n"
        '_queuectl\nprintf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    return [line for line in run_shell(cli, ["bash", "--norc", "-c", program]).splitlines() if line]


@pytest.mark.parametrize(
    "words, offered",
    [
        (["queuectl", "wor"], ["worker"]),
        (["queuectl", "list", "--st"], ["--state"]),
        (["queuectl", "worker", ""], ["start", "stop", "list"]),
        (["queuectl", "worker", "start", "--fo"], ["--foreground"]),
        (["queuectl", "list", "--state", "d"], ["dead"]),
        (["queuectl", "purge", "--state", ""], ["completed", "dead", "canceled"]),
        (["queuectl", "config", "get", "log_"], ["log_max_size"]),
        (["queuectl", "completion", "f"], ["fish"]),
        (["queuectl", "run", "--queue", "worker", "--wa"], ["--wait"]),  # a value, not a command
    ],
)
def test_bash_completes_commands_options_and_choices(sqlite_cli, words, offered):
    assert bash_complete(sqlite_cli, *words) == offered


def test_bash_offers_job_ids_from_the_store(sqlite_cli):
    assert sorted(bash_complete(sqlite_cli, "queuectl", "show", "")) == [
        "alpha-1",
        "alpha-2",
        "beta-1",
    ]
    assert sorted(bash_complete(sqlite_cli, "queuectl", "cancel", "alpha-1", "al")) == [
        "alpha-1",
        "alpha-2",
    ]
    assert bash_complete(sqlite_cli, "queuectl", "dlq", "retry", "b") == ["beta-1"]


def test_bash_reads_ids_from_the_db_typed_and_never_creates_it(sqlite_cli, tmp_path):
    other = tmp_path / "other.db"
    assert bash_complete(sqlite_cli, "queuectl", "--db", str(other), "logs", "") == []
    assert not other.exists()
    typed = Cli(str(other), sqlite_cli.home)
    typed.ok("run", "--id", "gamma-1", "true")
    words = ["queuectl", "--db", str(other), "logs", ""]
    assert bash_complete(sqlite_cli, *words) == ["gamma-1"]


def test_ids_are_bounded_and_quiet_on_errors(sqlite_cli, tmp_path):
    lines = "".join(json.dumps({"id": f"many-{n}", "command": "true"}) + "\n" for n in range(210))
    sqlite_cli.ok("enqueue", "-", input=lines)
    listed = sqlite_cli.ok("completion", "--ids", "many-").splitlines()
    assert len(listed) == MAX_IDS and "many-209" in listed  # the newest
    garbage = tmp_path / "garbage.db"
    garbage.write_text("not a database")
    for db in (str(garbage), str(tmp_path / "missing.db"), "postgresql://nobody@127.0.0.1:1/x"):
        result = sqlite_cli("--db", db, "completion", "--ids", "")
        assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    assert not (tmp_path / "missing.db").exists()


def test_a_missing_or_unknown_shell_is_an_error(sqlite_cli):
    result = sqlite_cli("completion")
    assert result.returncode == 1 and len(result.stderr.splitlines()) == 1
    assert "bash, zsh or fish" in result.stderr
    assert sqlite_cli("completion", "tcsh").returncode == 2


def test_run_does_not_import_the_completion_module(sqlite_cli):
    program = (
        "import sys; from queuectl.cli import main; main(['run', 'true']); "
        "print(*sorted(name for name in sys.modules if name.startswith('queuectl.cli.')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, env=sqlite_cli.env
    )
    assert result.returncode == 0, result.stderr
    loaded = result.stdout.splitlines()[-1].split()  # after the new job's id
    assert "queuectl.cli.jobs" in loaded and "queuectl.cli.completion" not in loaded


@pytest.mark.parametrize("shell", SHELLS)
def test_each_script_is_valid_for_its_shell(sqlite_cli, shell):
    path = script(sqlite_cli, shell)
    text = path.read_text()
    for command in ("worker", "dlq", "config", "completion", "state", "foreground"):
        assert command in text
    if shutil.which(shell) is None:
        pytest.skip(f"{shell} is not installed")
    run_shell(sqlite_cli, [shell, "-n", str(path)])


def zsh_complete(cli: Cli, *words: str) -> list[str]:
    """What the zsh widget offers at the last word that starts with it. Outside a
    completion widget (no compinit here) `words`, `CURRENT` and `PREFIX` are set by hand,
    and compadd and _files stand in for the builtins: compadd would filter by PREFIX."""
    program = (
        f"compdef() {{ }}; source {shlex.quote(str(script(cli, 'zsh')))}\n"
        'compadd() { [[ $1 == -- ]] && shift; print -l -- "$@"; }\n'
        "_files() { print @files; }\n"
        f"words=({' '.join(shlex.quote(word) for word in words)})\n"
        "CURRENT=${#words}; PREFIX=${words[CURRENT]}; _queuectl\n"
    )
    out = run_shell(cli, ["zsh", "-f", "-c", program]).split()
    return [item for item in out if item.startswith(words[-1])]


def test_zsh_completes_as_bash_does(sqlite_cli):
    if shutil.which("zsh") is None:
        pytest.skip("zsh is not installed")
    assert zsh_complete(sqlite_cli, "queuectl", "wor") == ["worker"]
    assert zsh_complete(sqlite_cli, "queuectl", "list", "--st") == ["--state"]
    assert zsh_complete(sqlite_cli, "queuectl", "worker", "") == ["start", "stop", "list"]
    assert sorted(zsh_complete(sqlite_cli, "queuectl", "show", "al")) == ["alpha-1", "alpha-2"]
    assert zsh_complete(sqlite_cli, "queuectl", "--db", "") == ["@files"]


def fish_complete(cli: Cli, line: str) -> list[str]:
    source = shlex.quote(str(script(cli, "fish")))
    program = f"source {source}; complete -C {shlex.quote(line)}"
    out = run_shell(cli, ["fish", "--no-config", "-c", program])
    return sorted(entry.split("\t")[0] for entry in out.splitlines() if entry)


def test_fish_completes_commands_options_choices_and_ids(sqlite_cli):
    if shutil.which("fish") is None:
        pytest.skip("fish is not installed")
    assert fish_complete(sqlite_cli, "queuectl wor") == ["worker"]
    assert fish_complete(sqlite_cli, "queuectl list --st") == ["--state"]
    assert fish_complete(sqlite_cli, "queuectl worker ") == ["list", "start", "stop"]
    assert "dead" in fish_complete(sqlite_cli, "queuectl list --state ")
    assert fish_complete(sqlite_cli, "queuectl show al") == ["alpha-1", "alpha-2"]
