"""framecast's pytest plugin: fixtures for tests of code that uses framecast.

Load it with ``pytest_plugins = ["framecast.testing.fixtures"]`` in a ``conftest.py``:
``no_leaks`` fails a test that leaves a thread running; ``session`` is a running session on a
free port of 127.0.0.1 (an argon box), ``client`` a client of it; ``nats_server`` a real
``nats-server`` on loopback (the ``nats`` extra). Every failed test's phase reports stay on
its item (``item.rep_call``), so a fixture can tell a test failed.
"""

from __future__ import annotations

import threading
from collections.abc import Generator, Iterator

import pytest

import framecast
from framecast.testing import threads_started_since, wait_until
from framecast.testing.nats import NatsServer

__all__ = ["client", "nats_server", "no_leaks", "pytest_runtest_makereport", "session"]


@pytest.fixture
def no_leaks() -> Iterator[None]:
    """Fail the test if it leaves a thread running (checked after its own cleanup)."""
    before = set(threading.enumerate())
    yield
    wait_until(
        lambda: not threads_started_since(before),
        timeout=10.0,
        what="threads started by the test have ended",
    )


@pytest.fixture
def session(no_leaks: None) -> Iterator[framecast.Session]:
    """A session on a free port showing a small argon box, closed after the test."""
    with framecast.Session(framecast.demo.argon(200), port=0) as running:
        yield running


@pytest.fixture
def client(session: framecast.Session) -> Iterator[framecast.Client]:
    """A client of ``session``, closed before the session."""
    with framecast.Client(f"127.0.0.1:{session.port}") as connected:
        yield connected


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Keep each phase's report on the item, so fixtures can tell a failed test."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    """A real ``nats-server`` on a free port of 127.0.0.1, stopped after the test."""
    with NatsServer(tmp_path_factory.mktemp("nats")) as server:
        yield server
