"""The dashboard's store pool: kept stores are reused, from any request's thread, and one
that met an unexpected error is closed instead. Runs on every backend."""

from __future__ import annotations

import contextlib
import threading

import pytest

from queuectl.dashboard.stores import StorePool
from queuectl.errors import NotFound, StoreError
from queuectl.model import NewJob


@pytest.fixture
def pool(location: str):
    from queuectl.store import open_store

    open_store(location).close()  # the dashboard creates the schema before it serves
    stores = StorePool(location, keep=2)
    yield stores
    stores.close()


def test_a_store_is_kept_for_the_next_request(pool):
    with pool.store() as first:
        first.counts()
    with pool.store() as second:
        assert second is first


def test_requests_at_the_same_time_get_stores_of_their_own(pool):
    with pool.store() as first, pool.store() as second, pool.store() as third:
        earlier = [first, second, third]  # held, so no new store can reuse an id
        assert len({id(store) for store in earlier}) == 3
    with pool.store() as first, pool.store() as second, pool.store() as third:
        reused = [store for store in (first, second, third) if any(store is old for old in earlier)]
    assert len(reused) == 2  # only `keep` of the three were kept


def test_a_refused_request_keeps_its_store(pool):
    with pytest.raises(NotFound), pool.store() as refused:
        refused.get_job("nope")
    with pool.store() as store:
        assert store is refused


def test_a_kept_store_serves_a_request_on_another_thread(pool):
    with pool.store() as opened_here:
        opened_here.counts()
    seen: list[object] = []

    def request() -> None:
        with pool.store() as store:
            seen.append((store, store.counts()))

    thread = threading.Thread(target=request)
    thread.start()
    thread.join(10)
    [(store, counts)] = seen
    assert store is opened_here and counts == {}


def test_a_store_that_met_an_error_is_closed_not_kept(pool):
    with pytest.raises(StoreError), pool.store() as failed:
        raise StoreError("the request failed half way")
    with pool.store() as store:
        assert store is not failed
        assert store.counts() == {}


def test_a_kept_store_whose_file_was_replaced_is_not_reused(tmp_path):
    from queuectl.store import open_store

    location = str(tmp_path / "queue.db")
    open_store(location).close()
    stores = StorePool(location, keep=2)
    try:
        with stores.store() as old:
            old.counts()
        for path in tmp_path.glob("queue.db*"):
            path.unlink()
        replacement = open_store(location)
        replacement.enqueue([NewJob(id="new", command="true", max_retries=0)], 0.0)
        replacement.close()
        with stores.store() as store:
            assert store is not old  # it would read the deleted file, and write into it
            assert store.get_job("new").state == "pending"
    finally:
        stores.close()


def test_a_page_refresh_reuses_a_kept_store_for_each_of_its_requests(location):
    from queuectl.store import open_store

    open_store(location).close()
    stores = StorePool(location)  # as the dashboard makes it
    try:
        with contextlib.ExitStack() as refresh:  # the page's five requests at once
            first = [refresh.enter_context(stores.store()) for _ in range(5)]
        with contextlib.ExitStack() as refresh:
            again = [refresh.enter_context(stores.store()) for _ in range(5)]
        assert {id(store) for store in again} == {id(store) for store in first}
    finally:
        stores.close()
