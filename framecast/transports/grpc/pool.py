"""A thread pool that gives its threads back.

The sync gRPC server holds one pool thread per open stream. ``ThreadPoolExecutor`` never
ends a thread it made, so after a burst of 500 subscriptions the server would keep 500 idle
threads for the rest of its life. Here a thread that has had no work for ``idle`` seconds
ends, so threads return to their baseline after a burst.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any, ParamSpec, TypeVar

__all__ = ["ElasticExecutor"]

P = ParamSpec("P")
T = TypeVar("T")

_Task = tuple[Future[Any], Callable[..., Any], tuple[Any, ...], dict[str, Any]]


class ElasticExecutor(Executor):
    """Up to ``max_workers`` threads, made when every thread is busy, ended when idle.

    A task never waits for another task to finish while fewer than ``max_workers``
    threads exist: streaming RPCs run for as long as a client listens, so a queued
    stream would wait behind them indefinitely.
    """

    def __init__(self, max_workers: int, *, idle: float = 5.0, name: str = "worker") -> None:
        if max_workers < 1:
            raise ValueError(f"max_workers must be >= 1, got {max_workers}")
        self._max_workers = max_workers
        self._idle_timeout = idle
        self._name = name
        self._ready = threading.Condition()
        self._tasks: deque[_Task] = deque()
        self._workers: set[threading.Thread] = set()
        self._idle = 0  # threads waiting for a task
        self._made = 0
        self._shutdown = False

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        """Run ``fn(*args, **kwargs)`` on a pool thread; raises ``RuntimeError`` after
        :meth:`shutdown`."""
        future: Future[T] = Future()
        with self._ready:
            if self._shutdown:
                raise RuntimeError("cannot schedule new futures after shutdown")
            self._tasks.append((future, fn, args, kwargs))
            # Each idle thread takes one task; make a thread for each task beyond those.
            if len(self._tasks) > self._idle and len(self._workers) < self._max_workers:
                self._made += 1
                worker = threading.Thread(
                    target=self._work, name=f"{self._name}-{self._made}", daemon=True
                )
                self._workers.add(worker)
                worker.start()
            self._ready.notify()
        return future

    def _work(self) -> None:
        me = threading.current_thread()
        while True:
            with self._ready:
                self._idle += 1
                self._ready.wait_for(lambda: self._tasks or self._shutdown, self._idle_timeout)
                self._idle -= 1
                if not self._tasks:  # idle for too long, or shut down
                    self._workers.discard(me)
                    return
                future, fn, args, kwargs = self._tasks.popleft()
            if not future.set_running_or_notify_cancel():
                continue
            try:
                result = fn(*args, **kwargs)
            except BaseException as error:  # noqa: BLE001 - handed to the future
                future.set_exception(error)
            else:
                future.set_result(result)
            del future, fn, args, kwargs  # drop references while idle

    @property
    def thread_count(self) -> int:
        """Threads alive in the pool now."""
        with self._ready:
            return len(self._workers)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Refuse new tasks; end each thread when the queue is empty (joined if ``wait``).

        Queued tasks still run unless ``cancel_futures``.
        """
        with self._ready:
            self._shutdown = True
            if cancel_futures:
                while self._tasks:
                    self._tasks.popleft()[0].cancel()
            workers = list(self._workers)
            self._ready.notify_all()
        if wait:
            for worker in workers:
                worker.join()
