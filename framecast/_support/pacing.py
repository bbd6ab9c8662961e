"""The rate cap shared by the session's broadcaster and each client's frame stream.

A change is sent as soon as it is written if the sender has been quiet for one interval;
otherwise it waits until about one interval after the last send. Measured against the last
send alone, though, a producer ticking at exactly the cap (30 Hz into a 30 Hz broadcaster)
never recovers from a late frame: once one send is late, every later write comes a little
before the next allowed send and waits for it, and one late frame a minute is enough for
the latency to sweep up to a whole interval, as badly as a fixed tick.

So the cap has two parts:

* a token bucket for the long run: one token per interval, each send spends one, and the
  bucket holds ``burst`` tokens. Over any window of ``w`` seconds at most
  ``w / interval + burst`` sends happen, so a 1 kHz producer into a 30 Hz cap gets 30 sends
  per second. Time lost to a late send stays banked, so the sends after it may catch up;
* a minimum gap of ``(1 - slack) * interval`` between two sends, so catching up never
  becomes a burst: two updates are never closer than three quarters of an interval.
"""

from __future__ import annotations

import math

__all__ = ["DEFAULT_BURST", "DEFAULT_SLACK", "MAX_INTERVAL", "Pacer", "check_interval"]

#: The longest interval a sender may be asked for: longer is surely a mistake (or an
#: attack on the timer: waits past about 3e8 s overflow).
MAX_INTERVAL = 3600.0


def check_interval(value: float, what: str, *, allow_zero: bool = True) -> float:
    """``value`` if it is a usable interval in seconds; ``ValueError`` naming ``what``."""
    low = "0" if allow_zero else "above 0"
    if not (
        math.isfinite(value) and (value >= 0 if allow_zero else value > 0) and value <= MAX_INTERVAL
    ):
        raise ValueError(f"{what} must be {low} and at most {MAX_INTERVAL:g} seconds, got {value}")
    return value


#: How much earlier than one interval after the previous send a catching-up send may go.
DEFAULT_SLACK = 0.25

#: Tokens the bucket holds: up to one whole interval lost to a late send is made up later.
DEFAULT_BURST = 2.0

# A wait of exactly the computed delay can refill to 0.999...: close enough to send.
_EPSILON = 1e-9


class Pacer:
    """At most one send per ``interval`` seconds in the long run (0: no limit); with
    ``tolerance``, at most ``tolerance`` more sends over any window.

    Not thread-safe: each sender owns one. Times are ``time.monotonic()`` values.
    """

    def __init__(
        self,
        interval: float,
        *,
        slack: float = DEFAULT_SLACK,
        burst: float = DEFAULT_BURST,
        tolerance: float = 0.0,
    ) -> None:
        if not interval >= 0:
            raise ValueError(f"interval must be >= 0 seconds, got {interval}")
        for name, value in (("slack", slack), ("tolerance", tolerance)):
            if not 0 <= value < 1:
                raise ValueError(f"{name} must be in [0, 1), got {value}")
        if not burst >= 1:
            raise ValueError(f"burst must be >= 1 token, got {burst}")
        self.interval = interval
        self._min_gap = (1.0 - slack) * interval
        self._burst = burst
        # A send may go with this much less than a whole token (a bounded debt): a sender
        # fed at exactly the cap then absorbs an early update instead of waiting for it,
        # and locking onto that wait (see :func:`framecast._support.mailbox.paced`).
        self._tolerance = tolerance
        self._tokens = 1.0  # a sender that never sent may send once, at once
        self._stamp: float | None = None
        self._last_send: float | None = None

    def _refill(self, now: float) -> None:
        if self._stamp is not None and now > self._stamp:
            self._tokens = min(self._burst, self._tokens + (now - self._stamp) / self.interval)
        self._stamp = now if self._stamp is None else max(self._stamp, now)

    def delay(self, now: float) -> float:
        """Seconds from ``now`` until a send is allowed; 0.0 when it is allowed now."""
        if self.interval == 0:
            return 0.0
        self._refill(now)
        wait = max(0.0, (1.0 - self._tolerance - self._tokens) * self.interval)
        if self._last_send is not None:
            wait = max(wait, self._last_send + self._min_gap - now)
        return 0.0 if wait <= _EPSILON * self.interval else wait

    def spend(self, now: float) -> None:
        """Record a send at ``now``."""
        if self.interval == 0:
            return
        self._refill(now)
        self._tokens -= 1.0
        self._last_send = now
