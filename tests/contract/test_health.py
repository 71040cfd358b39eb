"""What a store tells `queuectl doctor` about itself (SPEC §10), on every backend."""

from __future__ import annotations

import pytest

from queuectl.store import backend_of


def test_schema_versions_are_this_releases_once_open(store):
    version, newest = store.schema_versions()
    assert version == newest >= 1


def test_a_file_has_a_journal_mode_and_a_server_its_facts(store):
    if backend_of(store.location).local_disk:
        assert store.journal_mode() == "wal"
        assert store.server_facts() is None
        return
    assert store.journal_mode() is None
    facts = store.server_facts()
    assert facts.max_connections > 0 and facts.connections >= 1  # this store's own
    assert facts.uncertainty >= 0
    assert abs(facts.clock_offset) < 5 + facts.uncertainty  # one machine, one clock


def test_a_notification_reaches_a_listener_on_a_server(store):
    if backend_of(store.location).local_disk:  # its workers are woken by a doorbell
        with pytest.raises(NotImplementedError):
            store.notify_delay(timeout=1)
        return
    delay = store.notify_delay(timeout=30)
    assert delay is not None and delay >= 0
