"""The server's thread pool: threads on demand, never queued behind streams, ended when idle."""

from __future__ import annotations

import threading

import pytest

from framecast.testing import wait_until
from framecast.transports.grpc.pool import ElasticExecutor


def test_every_task_gets_a_thread_while_others_block_and_idle_threads_end() -> None:
    pool = ElasticExecutor(50, idle=0.2, name="test-pool")
    release = threading.Event()
    started = threading.Semaphore(0)

    def stream() -> str:  # like a streaming RPC: runs until released
        started.release()
        release.wait(30)
        return "done"

    futures = [pool.submit(stream) for _ in range(40)]
    for _ in futures:
        assert started.acquire(timeout=10), "a task waited behind the blocked ones"
    assert pool.thread_count == 40
    release.set()
    assert [f.result(10) for f in futures] == ["done"] * 40
    wait_until(lambda: pool.thread_count == 0, timeout=10, what="idle threads ended")
    assert not [t for t in threading.enumerate() if t.name.startswith("test-pool")]
    assert pool.submit(lambda: 7).result(10) == 7  # a new burst makes threads again
    pool.shutdown(wait=True)
    assert pool.thread_count == 0


def test_errors_reach_the_future_and_shutdown_refuses_new_work() -> None:
    pool = ElasticExecutor(2, idle=5.0)

    def fail() -> None:
        raise KeyError("boom")

    with pytest.raises(KeyError, match="boom"):
        pool.submit(fail).result(10)
    pool.shutdown(wait=True)
    assert pool.thread_count == 0
    with pytest.raises(RuntimeError, match="after shutdown"):
        pool.submit(lambda: None)
    with pytest.raises(ValueError, match="max_workers"):
        ElasticExecutor(0)


def test_past_the_cap_tasks_queue_and_run_when_a_thread_frees() -> None:
    pool = ElasticExecutor(1, idle=5.0)
    gate = threading.Event()
    first = pool.submit(gate.wait, 30)
    second = pool.submit(lambda: "second")
    assert not second.done()
    gate.set()
    assert first.result(10) is True
    assert second.result(10) == "second"
    pool.shutdown(wait=True)
