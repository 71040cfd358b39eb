"""Backends are registered by URL scheme: a location names one, and its capabilities are
known without importing it."""

from __future__ import annotations

import pytest

from queuectl.errors import UserError
from queuectl.store import BACKENDS, _store_class, backend_of, resolve_location
from queuectl.store.base import Store
from tests.conftest import import_driver


def test_a_location_names_its_backend_by_scheme_else_it_is_a_file():
    assert backend_of("postgresql://u@h/db").name == "postgres"
    assert backend_of("Postgres://u@h/db").name == "postgres"
    assert backend_of("/tmp/queue.db").name == backend_of("queue.db").name == "sqlite"
    assert backend_of("/tmp/queue.db").local_disk and not backend_of("postgres://h/d").local_disk


def test_one_backend_takes_file_paths_and_no_scheme_names_two():
    assert len([backend for backend in BACKENDS if not backend.schemes]) == 1
    schemes = [scheme for backend in BACKENDS for scheme in backend.schemes]
    assert len(schemes) == len(set(schemes))


def test_an_unknown_url_is_refused_with_the_ways_to_name_a_store():
    with pytest.raises(UserError) as caught:
        resolve_location("mysql://u:secret@h/db")
    assert str(caught.value) == (
        "unsupported store URL 'mysql://u:***@h/db': give a file path "
        "(SQLite) or a postgresql:// URL"
    )


@pytest.mark.parametrize("backend", BACKENDS, ids=lambda backend: backend.name)
def test_every_backend_names_a_store_class(backend):
    if backend.driver:
        import_driver(backend.driver)
    assert issubclass(_store_class(backend), Store)
