"""Unique jobs (SPEC §8): a held key creates nothing and names its holder, on both backends."""

from __future__ import annotations

import json

import pytest


def test_a_held_key_prints_the_holder_and_a_finished_job_frees_it(cli):
    first = cli.json("run", "true", "--unique-key", "sync-42")
    assert first["created"] is True
    again = cli("run", "true", "--unique-key", "sync-42")
    assert again.returncode == 0
    assert again.stdout.strip() == first["id"]
    assert again.stderr.strip() == (
        f"queuectl: a job with unique key 'sync-42' is already live: {first['id']}"
    )
    assert cli.json("run", "true", "--unique-key", "sync-42") == {
        "id": first["id"],
        "created": False,
    }
    assert [job["unique_key"] for job in cli.json("list")] == ["sync-42"]
    cli.ok("cancel", first["id"])
    freed = cli.json("run", "true", "--unique-key", "sync-42")
    assert freed["created"] is True and freed["id"] != first["id"]
    # The canceled job cannot take the key back while the new one holds it.
    refused = cli("requeue", first["id"])
    assert refused.returncode == 1
    assert "unique key 'sync-42' is held by job" in refused.stderr
    assert cli.state(first["id"]) == "canceled"


def test_a_batch_gives_the_holders_id_for_a_held_key(cli):
    holder = cli.ok("run", "true", "--unique-key", "k1").strip()
    lines = "\n".join(
        json.dumps(job)
        for job in ({"command": "true", "unique_key": "k1"}, {"command": "true", "id": "fresh"})
    )
    out = cli("enqueue", "-", "--json", input=lines)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {"ids": [holder, "fresh"], "created": [False, True]}
    assert sorted(job["id"] for job in cli.json("list")) == sorted([holder, "fresh"])


def test_the_same_key_twice_in_a_batch_inserts_nothing(cli):
    lines = "\n".join(json.dumps({"command": "true", "unique_key": "twice"}) for _ in range(2))
    out = cli("enqueue", "-", input=lines)
    assert out.returncode == 1
    assert "unique key 'twice' is used twice in this batch" in out.stderr
    assert cli.json("list") == []


@pytest.mark.parametrize("many", [("--array", "1-3"), ("--each-line", "-")])
def test_unique_key_with_an_array_or_each_line_is_a_usage_error(cli, many):
    out = cli("run", "echo {}", *many, "--unique-key", "k", input="a\n")
    assert out.returncode == 2
    assert "--unique-key" in out.stderr and "Traceback" not in out.stderr
    assert cli.json("list") == []


def test_concurrent_enqueues_with_one_key_create_one_job(cli):
    for round_number in range(3):
        key = f"same-{round_number}"
        runs = [cli.popen("run", "true", "--unique-key", key) for _ in range(8)]
        printed = [run.communicate(timeout=120)[0].strip() for run in runs]
        assert [run.returncode for run in runs] == [0] * 8
        holders = [job["id"] for job in cli.json("list") if job["unique_key"] == key]
        assert len(holders) == 1
        assert printed == holders * 8
