"""Helpers for testing code that uses framecast: deadlines, leak checks, remote clients.

These are used by framecast's own tests and are public, so that projects built on
framecast can test against a real server the same way.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import socket
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any, TypedDict

__all__ = [
    "ClientReport",
    "ListenerProcess",
    "in_ci",
    "one_key_race",
    "port_is_listening",
    "threads_started_since",
    "wait_until",
    "watch_in_subprocess",
]


#: Values of the ``CI`` variable that mean "not CI" (any other non-empty value means CI).
_NOT_CI = frozenset({"", "0", "false", "no", "off"})


def in_ci() -> bool:
    """True when the ``CI`` environment variable is set to anything but an empty, ``0``,
    ``false``, ``no`` or ``off`` value (any case): ``CI=true`` and ``CI=1`` alike. In CI a
    missing browser, extra or NanoVer is a failure, not a skip."""
    return os.environ.get("CI", "").strip().lower() not in _NOT_CI


def wait_until(condition: Callable[[], bool], *, timeout: float = 30.0, what: str = "") -> None:
    """Poll ``condition`` until it is true; ``TimeoutError`` after ``timeout`` seconds.

    For conditions that no event signals (a thread ending, a port closing). The poll
    interval grows from 1 ms to 50 ms, so a fast condition costs almost nothing. The
    default deadline is generous: it only matters when the condition never comes true,
    and a busy machine must not fail a test that is right.
    """
    deadline = time.monotonic() + timeout
    pause = 0.001
    waiter = threading.Event()
    while not condition():
        if time.monotonic() >= deadline:
            raise TimeoutError(f"not true within {timeout:g} s: {what or condition!r}")
        waiter.wait(pause)
        pause = min(pause * 2, 0.05)


def threads_started_since(before: set[threading.Thread]) -> list[threading.Thread]:
    """The threads alive now that were not alive in ``before``."""
    return [t for t in threading.enumerate() if t not in before and t.is_alive()]


def port_is_listening(port: int, host: str = "127.0.0.1") -> bool:
    """True when something accepts TCP connections on ``host:port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(1.0)
        return probe.connect_ex((host, port)) == 0


class ClientReport(TypedDict):
    """What a client process saw: one entry per update, in order."""

    updates: list[tuple[int, bool, list[str], float]]  # index, reset, fields, latency s
    seconds: float
    error: str


def _watch_main(address: str, seconds: float, interval: float, pipe: Connection) -> None:
    from framecast.client.client import Client  # imported in the child, after spawn

    report: ClientReport = {"updates": [], "seconds": seconds, "error": ""}
    try:
        with Client(address) as client:
            done = threading.Event()

            def record(update: Any) -> None:
                latency = update.receive_time - update.publish_time
                report["updates"].append(
                    (update.frame_index, update.reset, sorted(update.fields), latency)
                )

            client.subscribe_frames(record, interval=interval)
            pipe.send("subscribed")
            done.wait(seconds)
    except Exception as error:  # noqa: BLE001 - reported to the parent, which asserts
        report["error"] = f"{type(error).__name__}: {error}"
    pipe.send(report)


def watch_in_subprocess(address: str, seconds: float, *, interval: float = 1 / 30) -> ClientReport:
    """Run a :class:`~framecast.Client` in a fresh process for ``seconds`` and report.

    The recording window starts when the child has subscribed.
    """
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe(duplex=False)
    process = context.Process(
        target=_watch_main, args=(address, seconds, interval, child), daemon=True
    )
    process.start()
    try:
        deadline = seconds + 60.0  # spawn and import take a few seconds on a busy machine
        if not parent.poll(deadline):
            raise TimeoutError("client process did not report")
        first = parent.recv()
        if first != "subscribed":
            report: ClientReport = first
            return report
        if not parent.poll(deadline):
            raise TimeoutError("client process did not report")
        final: ClientReport = parent.recv()
        return final
    finally:
        process.join(10.0)
        if process.is_alive():
            process.kill()
            process.join(5.0)


def _listeners_main(address: str, sessions: dict[str, int], follow: bool, pipe: Connection) -> None:
    from framecast.client.client import Client  # imported in the child, after spawn

    clients: list[Any] = []
    listeners: list[Any] = []
    try:
        for name, count in sessions.items():
            for _ in range(count):
                client = Client(address)
                clients.append(client)
                if follow:
                    client.subscribe_frames()
                listeners.append((name, client.join(name, follow=follow)))
        pipe.send(("joined", len(listeners)))
        while True:
            command = pipe.recv()
            if command == "exit":
                break
            report = []
            for name, listener in listeners:
                events: list[tuple[Any, ...]] = []
                with contextlib.suppress(TimeoutError):
                    while True:
                        event = listener.next_event(timeout=0)
                        if hasattr(event, "transition"):
                            events.append(("transition", event.timeline, event.transition))
                        else:
                            events.append(("selection", event.particles))
                report.append((name, events))
            pipe.send(("report", report))
    except Exception as error:  # noqa: BLE001 - reported to the parent, which asserts
        pipe.send(("error", f"{type(error).__name__}: {error}"))
    finally:
        for client in clients:
            client.close()


class ListenerProcess:
    """Clients in another process, each joined to a named session, that report events.

    ``ListenerProcess(address, {"default": 1, "test": 4})`` starts one process with five
    clients and returns once all of them are counted by the server.
    """

    def __init__(self, address: str, sessions: dict[str, int], *, follow: bool = False) -> None:
        context = multiprocessing.get_context("spawn")
        self._pipe, child = context.Pipe()
        self.process = context.Process(
            target=_listeners_main, args=(address, sessions, follow, child), daemon=True
        )
        self.process.start()
        self.events: list[tuple[str, list[tuple[Any, ...]]]] = [
            (name, []) for name, count in sessions.items() for _ in range(count)
        ]
        kind, value = self._receive(60.0)
        if kind != "joined":
            self.kill()
            raise RuntimeError(f"listener process failed: {value}")

    def _receive(self, timeout: float) -> tuple[str, Any]:
        if not self._pipe.poll(timeout):
            raise TimeoutError("listener process did not answer")
        message: tuple[str, Any] = self._pipe.recv()
        return message

    def poll(self) -> list[tuple[str, list[tuple[Any, ...]]]]:
        """Collect the events received since the last poll, per listener; return all so far."""
        self._pipe.send("report")
        kind, value = self._receive(30.0)
        if kind != "report":
            raise RuntimeError(f"listener process failed: {value}")
        for (_, seen), (_, new) in zip(self.events, value, strict=True):
            seen.extend(new)
        return self.events

    def wait_for(
        self,
        condition: Callable[[list[tuple[str, list[tuple[Any, ...]]]]], bool],
        *,
        timeout: float = 10.0,
    ) -> list[tuple[str, list[tuple[Any, ...]]]]:
        """Poll until ``condition(events)`` holds; ``TimeoutError`` otherwise."""
        wait_until(lambda: condition(self.poll()), timeout=timeout, what="listener events")
        return self.events

    def kill(self) -> None:
        """Kill the process without letting its clients leave (as a crash would)."""
        self.process.kill()
        self.process.join(10)

    def close(self) -> None:
        """Let the clients leave and end the process."""
        if self.process.is_alive():
            with contextlib.suppress(OSError):
                self._pipe.send("exit")
            self.process.join(10)
            if self.process.is_alive():
                self.kill()
        self._pipe.close()

    def __enter__(self) -> ListenerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _one_key_writer(address: str, rounds: int, barrier: Any, pipe: Connection) -> None:
    from framecast.client.client import Client

    name = str(multiprocessing.current_process().pid)
    stale = 0
    with Client(address) as client:
        view = client.shared_state
        for i in range(rounds):
            barrier.wait(60)
            view[f"fresh{i}"] = name  # every writer writes one new key at once
            barrier.wait(60)
            # The server then writes the value it holds; a view that has that write has
            # seen every change before it, so it must show the server's value too.
            settled = f"settled{i}"
            try:
                view.wait_for(lambda d, key=settled: key in d, timeout=10)  # type: ignore[misc]
            except TimeoutError:
                stale += 1
                continue
            stale += view[f"fresh{i}"] != view[settled]
    pipe.send(stale)


def one_key_race(state: Any, address: str, *, writers: int, rounds: int) -> int:
    """Race ``writers`` client processes on one fresh key per round; return how many of
    their views ended a round different from the server's (0 when views converge).

    ``state`` is the server's ``session.shared_state``: after each round it writes
    ``settled<i>`` with the value it holds for ``fresh<i>``.
    """
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(writers + 1)
    pipes, processes = [], []
    for _ in range(writers):
        parent, child = context.Pipe(duplex=False)
        process = context.Process(target=_one_key_writer, args=(address, rounds, barrier, child))
        process.start()
        child.close()
        pipes.append(parent)
        processes.append(process)
    try:
        for i in range(rounds):
            barrier.wait(120)
            barrier.wait(60)  # every write of this round has been answered
            state[f"settled{i}"] = state[f"fresh{i}"]
        return sum(pipe.recv() if pipe.poll(120) else rounds for pipe in pipes)
    finally:
        for process in processes:
            process.join(10)
            if process.is_alive():
                process.kill()
