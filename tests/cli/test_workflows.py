"""Workflows end to end (SPEC §7): the real CLI and real pools on every backend; what ran,
and in which order, is read from what the jobs themselves wrote."""

from __future__ import annotations

import json

import pytest

from tests.conftest import wait_for


def ran(log) -> list[str]:
    return log.read_text().split() if log.exists() else []


def test_a_chain_of_fifty_runs_in_order(cli, pool, tmp_path):
    log = tmp_path / "order"
    cli.ok("run", "--id", "c0", "--", f"echo c0 >> {log}")
    for i in range(1, 50):
        cli.ok("run", "--id", f"c{i}", "--after", f"c{i - 1}", "--", f"echo c{i} >> {log}")
    pool(3)
    assert cli("wait", "c49", "--timeout", "120").returncode == 0
    assert ran(log) == [f"c{i}" for i in range(50)]


def test_a_diamond_joins_once_both_sides_completed(cli, pool, tmp_path):
    log = tmp_path / "order"
    cli.ok("run", "--id", "a", "--", f"sleep 0.3; echo a >> {log}")
    cli.ok("run", "--id", "b", "--after", "a", "--", f"echo b >> {log}")
    cli.ok("run", "--id", "c", "--after", "a", "--", f"sleep 0.5; echo c >> {log}")
    cli.ok("run", "--id", "d", "--after", "b,c", "--", f"echo d >> {log}")
    pool(3)
    assert cli("wait", "d", "--timeout", "60").returncode == 0
    order = ran(log)
    assert order[0] == "a" and order[-1] == "d" and sorted(order[1:3]) == ["b", "c"]


def test_a_failure_cancels_everything_downstream_and_runs_its_handlers(cli, pool, tmp_path):
    log = tmp_path / "order"
    cli.ok("run", "--id", "build", "--max-retries", "0", "--", f"echo build >> {log}; exit 2")
    cli.ok("run", "--id", "test", "--after", "build", "--", f"echo test >> {log}")
    cli.ok("run", "--id", "deploy", "--after", "test", "--", f"echo deploy >> {log}")
    cli.ok("run", "--id", "notify", "--after-failure", "test", "--", f"echo notify >> {log}")
    cli.ok("run", "--id", "tar", "--after-any", "test", "--", f"echo tar >> {log}")
    pool(2)
    assert cli("wait", "notify", "tar", "--timeout", "60").returncode == 0
    assert sorted(ran(log)) == ["build", "notify", "tar"]
    assert cli.job("test")["last_error"] == "dependency 'build' ended dead"
    assert cli.job("deploy")["last_error"] == "dependency 'test' ended canceled"
    assert cli.state("deploy") == "canceled"


def test_a_condition_that_can_never_be_met_is_refused_and_nothing_stored(cli, pool):
    pool(1)
    assert cli(
        "run", "--id", "dead", "--max-retries", "0", "--wait", "--quiet", "exit 1"
    ).returncode
    refused = cli("run", "--id", "never", "--after", "dead", "true")
    assert refused.returncode == 1
    assert refused.stderr.strip().endswith("'dead' is dead")
    assert cli("show", "never").returncode == 1
    for args, message in (
        (["--after", "nope"], "no job with id 'nope'"),
        (["--id", "self", "--after", "self"], "cannot wait for itself"),
        (["--after", "group:nobody"], "no job in group 'nobody'"),
    ):
        result = cli("run", *args, "true")
        assert result.returncode == 1 and message in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
    assert [job["id"] for job in cli.json("list")] == ["dead"]


def test_a_cycle_in_a_batch_is_refused(cli):
    batch = "\n".join(
        json.dumps({"id": a, "command": "true", "after": [b]})
        for a, b in (("x", "z"), ("y", "x"), ("z", "y"))
    )
    result = cli("enqueue", "-", input=batch)
    assert result.returncode == 1 and "cycle" in result.stderr
    assert cli.json("list") == []


@pytest.mark.parametrize(
    "array,message",
    [
        ("1-", "invalid array range"),
        ("5-1", "counts up"),
        ("1-200000", "at most 100,000"),
        ("x", "invalid array range"),
    ],
)
def test_a_malformed_range_is_a_usage_error_and_changes_nothing(cli, array, message):
    result = cli("run", "--array", array, "true")
    assert result.returncode == 2 and message in result.stderr
    assert "Traceback" not in result.stderr
    assert cli.json("list") == []


def test_an_array_runs_each_index_with_its_variable(cli, pool, tmp_path):
    out = tmp_path / "frames"
    group = cli.ok(
        "run", "--array", "1-5,8", "--group", "frames", "--", f"echo $QUEUECTL_ARRAY_INDEX >> {out}"
    )
    assert group.strip() == "frames"
    status = cli.json("status", "--group", "frames")
    assert status["total"] == 6 and status["counts"]["pending"] == 6
    pool(2)
    assert cli("wait", "--group", "frames", "--timeout", "60").returncode == 0
    assert sorted(map(int, ran(out))) == [1, 2, 3, 4, 5, 8]
    assert cli.job("frames.8")["index"] == 8 and cli.job("frames.8")["group"] == "frames"
    assert cli.json("status", "--group", "frames")["progress"] == 1.0


def test_each_line_quotes_the_line_and_requeue_reruns_only_the_failed(cli, pool, tmp_path):
    lines = tmp_path / "items.txt"
    lines.write_text("one\nit's two\n\nbad\n")
    out = tmp_path / "seen"
    marker = tmp_path / "fixed"
    command = f'test {{}} != bad -o -e {marker} && echo "$QUEUECTL_ITEM" >> {out}'
    made = json.loads(
        cli.ok(
            "run",
            "--json",
            "--each-line",
            str(lines),
            "--group",
            "fetch",
            "--max-retries",
            "0",
            "--",
            command,
        )
    )
    assert made == {"group": "fetch", "ids": ["fetch.1", "fetch.2", "fetch.3"]}
    pool(2)
    assert cli("wait", "--group", "fetch", "--timeout", "60").returncode == 1
    assert sorted(out.read_text().splitlines()) == ["it's two", "one"]
    assert cli.state("fetch.3") == "dead"
    marker.touch()
    requeued = cli.json("requeue", "--group", "fetch")
    assert requeued == {"ids": ["fetch.3"], "skipped": 2}
    assert cli("wait", "--group", "fetch", "--timeout", "60").returncode == 0
    assert sorted(out.read_text().splitlines()) == ["bad", "it's two", "one"]


def test_hold_release_and_explain(cli, pool):
    cli.ok("run", "--id", "first", "true")
    cli.ok("run", "--id", "later", "--after", "first", "true")
    cli.ok("hold", "first")
    explained = cli.json("explain", "later")
    assert explained["runnable"] is False
    assert [reason["code"] for reason in explained["reasons"]] == ["dependency", "no_worker"]
    held = cli.json("explain", "first")
    assert [r["code"] for r in held["reasons"]] == ["held", "no_worker"] and not held["runnable"]
    refused = cli("hold", "first", "nope")
    assert refused.returncode == 1 and "'nope'" in refused.stderr
    pool(1)
    wait = cli("wait", "first", "--timeout", "1")
    assert wait.returncode == 124  # held: not claimed
    cli.ok("release", "first")
    assert cli("wait", "later", "--timeout", "60").returncode == 0
    done = cli.json("explain", "later")
    assert done["reasons"][0]["code"] == "finished" and done["runnable"] is False


def test_requeue_refuses_an_unfinished_job_and_changes_nothing(cli):
    cli.ok("run", "--id", "waiting", "true")
    result = cli("requeue", "waiting")
    assert result.returncode == 1 and "only completed, dead or canceled" in result.stderr
    assert cli("hold", "--group", "nope").returncode == 1
    both = cli("hold", "waiting", "--group", "g")
    assert both.returncode == 1 and "one of them" in both.stderr


def test_edit_changes_a_waiting_job_validated_as_at_enqueue(cli, pool, tmp_path):
    out = tmp_path / "out"
    cli.ok("run", "--id", "e", "--env", "A=1", "--", "echo old")
    cli.ok("hold", "e")
    edited = cli.json(
        "edit", "e", "--command", f"echo $A $B > {out}", "--env", "B=2", "--priority", "7"
    )
    assert (edited["priority"], edited["env"], edited["held"]) == (7, {"A": "1", "B": "2"}, True)
    for args, message in (
        (["--queue", "bad queue"], "invalid queue"),
        (["--command", " "], "non-empty"),
        ([], "nothing to change"),
    ):
        result = cli("edit", "e", *args)
        assert result.returncode == 1 and message in result.stderr, result.stderr
    assert cli.job("e")["priority"] == 7  # the refused edits changed nothing
    pool(1)
    cli.ok("release", "e")
    assert cli("wait", "e", "--timeout", "60").returncode == 0
    assert out.read_text() == "1 2\n"
    finished = cli("edit", "e", "--priority", "1")
    assert finished.returncode == 1 and "'e' is completed" in finished.stderr


def _most_at_once(intervals: list[tuple[float, float]]) -> int:
    events = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    running = most = 0
    for _, step in events:  # at a tie an end comes first: -1 sorts before 1
        running += step
        most = max(most, running)
    return most


def test_six_workers_never_run_more_of_an_array_than_its_limit(cli, pool_of, tmp_path):
    times = tmp_path / "times"
    stamp = f'python3 -c "import time; print(time.time())" >> {times}'
    record = f"{stamp}.$QUEUECTL_ARRAY_INDEX.start; sleep 0.3; {stamp}.$QUEUECTL_ARRAY_INDEX.end"
    cli.ok("run", "--array", "1-12%2", "--group", "limited", "--", record)
    cli.ok("run", "--id", "free", "--", "true")  # other work is not held up by the full group
    pool_of(cli, 3)
    pool_of(cli, 3)  # two pools: six workers compete for the two slots
    assert cli("wait", "free", "--timeout", "60").returncode == 0
    assert cli("wait", "--group", "limited", "--timeout", "120").returncode == 0
    intervals = []
    for index in range(1, 13):
        (start,) = map(float, (tmp_path / f"times.{index}.start").read_text().split())
        (end,) = map(float, (tmp_path / f"times.{index}.end").read_text().split())
        intervals.append((start, end))
    assert _most_at_once(intervals) == 2


def test_explain_names_a_full_groups_limit_and_its_running_jobs(cli, pool, tmp_path):
    gate = tmp_path / "gate"
    cli.ok(
        "run",
        "--array",
        "1-3%1",
        "--group",
        "one",
        "--",
        f"while ! test -e {gate}; do sleep 0.05; done",
    )
    pool(2)
    wait_for(lambda: cli.state("one.1") == "processing", message="one.1 to run")
    explained = cli.json("explain", "one.2")
    assert explained["runnable"] is False
    [limit] = [reason for reason in explained["reasons"] if reason["code"] == "limit"]
    assert limit["message"] == "its group one runs at most 1 at once and 1 run: one.1"
    gate.touch()
    assert cli("wait", "--group", "one", "--timeout", "60").returncode == 0


def test_a_malformed_limit_or_a_limit_without_an_array_is_refused(cli):
    for args, message in (
        (["--array", "1-5%0"], "invalid array limit"),
        (["--array", "1-5%x"], "invalid array limit"),
        (["--max-running", "2"], "--max-running limits the jobs of --array"),
        (["--array", "1-3%2", "--max-running", "3"], "give the limit once"),
        (["--array", "1-3:0"], "the step is at least 1"),
        (["--after", "group:"], "names no group"),
    ):
        result = cli("run", *args, "true")
        assert result.returncode in (1, 2) and message in result.stderr, result.stderr
    assert cli.json("list") == []


def test_a_limited_groups_limit_cannot_change_while_it_has_unfinished_jobs(cli):
    cli.ok("run", "--array", "1-3%1", "--group", "g", "true")
    refused = cli("run", "--array", "4-6%3", "--group", "g", "true")
    assert refused.returncode == 1 and "a limit of 1" in refused.stderr
    assert cli("show", "g.4").returncode == 1
    cli.ok("run", "--array", "4-6%1", "--group", "g", "true")  # the same limit: fine


def test_release_hold_and_requeue_refuse_what_does_not_apply(cli, pool):
    cli.ok("run", "--id", "free", "--delay", "1h", "true")
    released = cli("release", "free")
    assert released.returncode == 1 and "'free' is not held" in released.stderr
    assert cli.json("hold", "free", "free") == {"ids": ["free"], "skipped": 0}
    cli.ok("run", "--id", "done", "true")
    pool(1)
    assert cli("wait", "done", "--timeout", "60").returncode == 0
    misplaced = cli("requeue", "done", "--state", "dead")
    assert misplaced.returncode == 1 and "with --group" in misplaced.stderr
    assert cli.state("done") == "completed"


def test_a_purged_dependency_neither_blocks_a_requeue_nor_is_listed_as_unmet(cli, pool):
    cli.ok("run", "--id", "y", "true")
    cli.ok("run", "--id", "z", "--after", "y", "--delay", "1h", "true")
    pool(1)
    assert cli("wait", "y", "--timeout", "60").returncode == 0
    cli.ok("cancel", "z")
    cli.ok("purge", "--state", "completed")  # y is gone
    cli.ok("requeue", "z")
    explained = cli.json("explain", "z")
    assert "dependency" not in [reason["code"] for reason in explained["reasons"]]
    assert cli("wait", "z", "--timeout", "60").returncode == 0
