"""Helpers for testing code that uses framecast: deadlines, leak checks, remote clients.

These are used by framecast's own tests and are public, so that projects built on
framecast can test against a real server the same way.
"""

from __future__ import annotations

import multiprocessing
import socket
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any, TypedDict

__all__ = [
    "ClientReport",
    "port_is_listening",
    "threads_started_since",
    "wait_until",
    "watch_in_subprocess",
]


def wait_until(condition: Callable[[], bool], *, timeout: float = 5.0, what: str = "") -> None:
    """Poll ``condition`` until it is true; ``TimeoutError`` after ``timeout`` seconds.

    For conditions that no event signals (a thread ending, a port closing). The poll
    interval grows from 1 ms to 50 ms, so a fast condition costs almost nothing.
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
    from .client import Client  # imported in the child, after spawn

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
