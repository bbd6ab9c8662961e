"""The rate cap shared by the broadcaster and per-client streams (pure logic, no clock)."""

from __future__ import annotations

import bisect
import itertools
import random
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from framecast._support import mailbox as mailbox_module
from framecast._support.mailbox import Pending, paced
from framecast._support.pacing import Pacer


def _sends(pacer: Pacer, writes: list[float], delay: float = 0.0) -> list[float]:
    """Simulate a sender: each write is sent when allowed (plus ``delay`` of work), and
    writes that arrive while one waits merge into it. Returns the send times."""
    sent: list[float] = []
    pending: float | None = None
    clock = 0.0
    queue = sorted(writes)
    while queue or pending is not None:
        if pending is None:
            pending = clock = max(clock, queue.pop(0))
        allowed = clock + pacer.delay(clock)
        while queue and queue[0] <= allowed:
            queue.pop(0)  # merged, latest wins
        clock = allowed + delay
        pacer.spend(clock)
        sent.append(clock)
        pending = None
    return sent


def test_an_idle_sender_sends_at_once_and_a_busy_one_waits_one_interval() -> None:
    pacer = Pacer(0.1)
    assert pacer.delay(5.0) == 0.0
    pacer.spend(5.0)
    assert pacer.delay(5.04) == pytest.approx(0.06)
    assert pacer.delay(5.1) == 0.0
    assert pacer.delay(9.0) == 0.0  # idle for long: at once
    pacer.spend(9.0)
    # The bank is full after the idle time, but the minimum gap still holds.
    assert pacer.delay(9.0) == pytest.approx(0.075)


def test_a_producer_far_faster_than_the_cap_gets_one_send_per_interval() -> None:
    writes = [i / 1000 for i in range(10_000)]  # 1 kHz for 10 s
    sent = _sends(Pacer(1 / 30), writes)
    assert 10 * 30 - 2 <= len(sent) <= 10 * 30 + 2
    for second in range(10):
        assert sum(second <= t < second + 1 for t in sent) <= 31
    gaps = [b - a for a, b in itertools.pairwise(sent)]
    assert min(gaps) >= 0.75 / 30 - 1e-9


def test_sends_saved_up_while_idle_are_capped_at_the_burst() -> None:
    """An hour idle banks no more than ``burst`` sends: then a flat-out producer gets one
    per interval again, not the hour's worth at the minimum gap."""
    interval = 0.1
    pacer = Pacer(interval, burst=2.0)
    pacer.spend(0.0)
    start = 3600.0
    writes = [start + i / 1000 for i in range(10_000)]  # 1 kHz for 10 s after the idle hour
    sent = _sends(pacer, writes)
    # 100 intervals in the window, plus the two banked: uncapped, the 0.75-interval minimum
    # gap alone would let 133 through.
    assert len(sent) <= 10 / interval + 2 + 1, len(sent)


def _lags(sent: list[float], writes: list[float]) -> list[float]:
    return [send - writes[bisect.bisect_right(writes, send) - 1] for send in sent]


def test_a_producer_at_exactly_the_cap_is_sent_at_once_and_recovers_from_a_late_write() -> None:
    """Each send takes 0.5 ms after its write, and one write comes half an interval late:
    the lag must not stay (with a plain last-send rule it sweeps up to a whole interval)."""
    interval = 1 / 30
    writes = [i * interval for i in range(300)]
    writes[100] += interval / 2
    sent = _sends(Pacer(interval), writes, delay=0.0005)
    lags = _lags(sent, writes)
    assert len(sent) == 300
    assert max(lags[:100]) < 0.001
    assert max(lags[104:]) < 0.001, "the lag after one late write did not recover"
    assert max(lags) < interval / 2


def test_with_random_jitter_the_lag_stays_small() -> None:
    rng = random.Random(1)
    interval = 1 / 30
    writes = [i * interval + rng.uniform(0, 0.3) * interval for i in range(3000)]
    lags = sorted(_lags(_sends(Pacer(interval), writes, delay=0.0005), writes))
    assert lags[len(lags) // 2] < 0.001
    assert lags[int(len(lags) * 0.95)] < 0.2 * interval


def test_zero_interval_never_waits_and_bad_settings_are_refused() -> None:
    pacer = Pacer(0)
    for t in range(100):
        pacer.spend(t * 1e-6)
        assert pacer.delay(t * 1e-6) == 0.0
    with pytest.raises(ValueError, match="interval"):
        Pacer(-1)
    with pytest.raises(ValueError, match="interval"):
        Pacer(float("nan"))
    with pytest.raises(ValueError, match="slack"):
        Pacer(1, slack=1)
    with pytest.raises(ValueError, match="burst"):
        Pacer(1, burst=0.5)
    with pytest.raises(ValueError, match="tolerance"):
        Pacer(1, tolerance=1)


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class _SimulatedMailbox:
    """A mailbox fed by ``writes`` (times) on a simulated clock: what ``paced`` reads."""

    def __init__(self, writes: list[float], clock: _Clock) -> None:
        self._writes = sorted(writes)
        self._clock = clock
        self._pending: float | None = None
        self.closed = False

    def _arrive(self) -> None:
        while self._writes and self._writes[0] <= self._clock.now:
            self._pending = self._writes.pop(0)  # merged, latest wins

    def wait_pending(self) -> bool:
        self._arrive()
        if self._pending is None:
            if not self._writes:
                return False
            self._clock.now = self._writes[0]
            self._arrive()
        return True

    def wait_closed(self, seconds: float) -> bool:
        self._clock.now += seconds
        self._arrive()
        return False

    def take(self, timeout: float | None = None) -> Pending[float, float] | None:
        self._arrive()
        written, self._pending = self._pending, None
        return None if written is None else Pending(False, {"w": written}, written, None)


def _paced_lags(
    monkeypatch: pytest.MonkeyPatch, writes: list[float], interval: float
) -> list[tuple[float, float]]:
    """(send time, lag behind the latest write it carries) of each update ``paced`` yields."""
    clock = _Clock()
    monkeypatch.setattr(mailbox_module, "time", SimpleNamespace(monotonic=clock))
    box: Any = _SimulatedMailbox(writes, clock)
    stream: Iterator[Pending[float, float]] = paced(box, interval)
    return [(clock.now, clock.now - pending.meta) for pending in stream]


def test_a_stream_at_exactly_the_cap_does_not_lock_onto_its_first_send(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The snapshot a subscriber starts with goes at a random phase; the 30 Hz updates
    after it must still go as they arrive (charging the snapshot locked them a constant
    fraction of an interval behind), early ones included."""
    interval = 1 / 30
    rng = random.Random(2)
    writes = [0.0137] + [k * interval + rng.uniform(-0.2, 0.2) * interval for k in range(1, 600)]
    sends = _paced_lags(monkeypatch, writes, interval)
    lags = sorted(lag for _, lag in sends[1:])
    assert len(sends) == len(writes)
    assert lags[len(lags) // 2] < 1e-9
    assert lags[int(len(lags) * 0.95)] < 0.1 * interval


def test_a_stream_keeps_the_long_run_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    interval = 1 / 30
    writes = [i / 1000 for i in range(10_000)]  # 1 kHz for 10 s
    times = [t for t, _ in _paced_lags(monkeypatch, writes, interval)]
    assert len(times) <= 10 / interval + 4  # + burst, tolerance and the free snapshot
    for second in range(10):
        assert sum(second <= t < second + 1 for t in times) <= 32
