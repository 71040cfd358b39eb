"""`queuectl run` starts quickly (issue 15; its time is measured by `python -m bench`, not
here): what it imports is checked instead. Neither `dataclasses` nor `inspect` (a third of
the start-up once), `typing` (4 ms) and `json` (1.4 ms), nor the use cases and modules of other
commands."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import Cli

# Run the CLI's main as the console script does, then name the modules it imported: those
# loaded before it (by site, or a .pth file such as an editable install's) do not count.
MODULES_AFTER = (
    "import sys\n"
    "before = set(sys.modules)\n"
    "from queuectl.cli import main\n"
    "status = main(sys.argv[1:])\n"
    "print(' '.join(sorted(set(sys.modules) - before)), file=sys.stderr)\n"
    "sys.exit(status)\n"
)
NOT_FOR_RUN = {
    "dataclasses",
    "inspect",
    "json",
    "logging",
    "pathlib",
    "socket",
    "subprocess",
    "typing",
    "queuectl.cron",
    "queuectl.logs",
    "queuectl.service.doctor",
    "queuectl.service.schedules",
    "queuectl.service.workflows",
    "queuectl.store.porting",
    "queuectl.worker",
}


def _run_under(script: str, tmp_path, *args: str) -> tuple[Cli, subprocess.CompletedProcess]:
    """`script` (which calls main) with `args`, default `run true`, on a fresh store."""
    home = tmp_path / "home"
    home.mkdir()
    cli = Cli(str(tmp_path / "queuectl.db"), home)
    result = subprocess.run(
        [sys.executable, "-c", script, *(args or ("run", "true"))],
        capture_output=True,
        text=True,
        env=cli.env,
        cwd=home,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return cli, result


def test_run_imports_only_what_it_needs(tmp_path):
    cli, result = _run_under(MODULES_AFTER, tmp_path)
    assert cli.ok("show", result.stdout.strip())
    assert not NOT_FOR_RUN & set(result.stderr.split())


# The start-up's objects live to the exit: main collects no garbage while the command runs,
# and freezes the modules and the parser out of the collection at exit.
GC_AFTER = (
    "import gc, sys\n"
    "from queuectl.cli import START_UP_THRESHOLD, main\n"
    "status = main(sys.argv[1:])\n"
    "print(gc.get_threshold()[0] == START_UP_THRESHOLD, gc.get_freeze_count() > 0)\n"
    "sys.exit(status)\n"
)


def test_run_leaves_its_objects_to_the_exit(tmp_path):
    _, result = _run_under(GC_AFTER, tmp_path)
    assert result.stdout.split()[-2:] == ["True", "True"]


def test_run_closes_its_store(tmp_path):
    """What the command made is still collected at exit: the store's connection (in a cycle
    with its statement cache) is closed, which checkpoints its WAL and removes it."""
    home = tmp_path / "home"
    home.mkdir()
    cli = Cli(str(tmp_path / "queuectl.db"), home)
    cli.ok("run", "true")
    assert not (tmp_path / "queuectl.db-wal").exists()


# A pool and the dashboard run for long: they collect their garbage as any program does.
GC_OF_LONG_COMMANDS = (
    "import gc, sys\n"
    "usual = gc.get_threshold()\n"
    "import queuectl.cli.dashboard as dashboard\n"
    "from queuectl.worker import launch\n"
    "from queuectl.cli import main\n"
    "seen = []\n"
    "dashboard.serve = lambda *args: seen.append(gc.get_threshold()) or 0\n"
    "launch.run_attached = lambda *args: seen.append(gc.get_threshold()) or 0\n"
    "main(sys.argv[1:3] + ['dashboard'])\n"
    "main(sys.argv[1:3] + ['worker', 'start', '--foreground'])\n"
    "print(seen == [usual, usual], seen, usual)\n"
)


def test_a_pool_and_the_dashboard_collect_garbage_as_usual(tmp_path):
    _, result = _run_under(GC_OF_LONG_COMMANDS, tmp_path, "--db", str(tmp_path / "q.db"))
    assert result.stdout.split()[0] == "True", result.stdout
