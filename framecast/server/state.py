"""Shared state: a JSON key/value dictionary with per-key locks."""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager

from .._codec import encode_json
from .._names import check_name
from ..errors import StateLockedError
from .limits import DEFAULT_LIMITS, LimitExceededError, Limits
from .mailbox import Mailbox, MailboxSet

__all__ = ["SERVER_TOKEN", "MAX_LOCK_SECONDS", "SharedState", "StateSubscription"]

#: The access token of writes made from Python on the server side.
SERVER_TOKEN = "framecast-server"

#: Locks are leases: a client that vanishes cannot hold a key for longer than this.
MAX_LOCK_SECONDS = 24 * 3600.0

#: A pending state change: key -> encoded JSON, or None for a removal.
StateSubscription = Mailbox["bytes | None", None]


class SharedState:
    """Keys to JSON values, changed atomically, with leases that lock keys per token.

    Every change is validated as a whole before anything is applied: a malformed value, a
    bad key, or a key locked by another token refuses the entire change. Subscribers get
    the whole state first, then changes merged latest-wins per key.

    Python code on the server side uses it as a mutable mapping (writes use
    ``SERVER_TOKEN``); reads return fresh copies, so callers cannot mutate the state
    behind its back.
    """

    def __init__(
        self, *, clock: Callable[[], float] = time.monotonic, limits: Limits = DEFAULT_LIMITS
    ) -> None:
        self._clock = clock
        self._limits = limits
        self._lock = threading.Lock()
        self._encoded: dict[str, bytes] = {}
        self._locks: dict[str, tuple[str, float]] = {}
        self._subscribers: MailboxSet[bytes | None, None] = MailboxSet(self._lock)

    # -- changes ----------------------------------------------------------------------------------
    def update(
        self,
        token: str,
        updates: Mapping[str, object] | None = None,
        removals: Iterable[str] = (),
    ) -> None:
        """Apply ``updates`` and ``removals`` as one change on behalf of ``token``.

        Raises ``ValueError``/``TypeError`` for a bad key or a value that is not JSON,
        and :class:`~framecast.errors.StateLockedError` when a key is locked by another
        token. In every error case nothing is applied.
        """
        self._name(token, "access token")
        encoded = {self._name(k, "state key"): encode_json(v) for k, v in (updates or {}).items()}
        self.apply_encoded(token, encoded, removals)

    def _name(self, name: object, what: str) -> str:
        return check_name(name, what=what, max_length=self._limits.max_name_length)

    def apply_encoded(
        self, token: str, encoded: Mapping[str, bytes], removals: Iterable[str]
    ) -> None:
        """Like :meth:`update` with values already encoded as validated JSON.

        Raises :class:`~framecast.server.limits.LimitExceededError`, applying nothing, when
        the change would make more than ``Limits.max_state_keys`` keys.
        """
        for key in encoded:
            self._name(key, "state key")
        removed = [self._name(key, "state key") for key in removals]
        with self._lock:
            self._refuse_locked(token, [*encoded, *removed])
            added = len(encoded.keys() - self._encoded.keys())
            if added and len(self._encoded) + added > self._limits.max_state_keys:
                raise LimitExceededError(
                    f"the shared state holds {len(self._encoded)} keys; {added} more would "
                    f"pass the limit of {self._limits.max_state_keys} (Limits.max_state_keys)"
                )
            change: dict[str, bytes | None] = dict(encoded)
            self._encoded.update(encoded)
            for key in removed:
                if key not in encoded and self._encoded.pop(key, None) is not None:
                    change[key] = None
            mailboxes = self._subscribers.members()
        if change:
            for mailbox in mailboxes:
                mailbox.put(change, reset=False, meta=None)

    def update_locks(
        self,
        token: str,
        acquire: Mapping[str, float] | None = None,
        release: Iterable[str] = (),
    ) -> None:
        """Take (or extend) leases on ``acquire`` keys and drop those on ``release`` keys.

        Durations are seconds, ``0 < d <= MAX_LOCK_SECONDS``. Raises
        :class:`~framecast.errors.StateLockedError` and changes nothing when any key is
        locked by another token.
        """
        self._name(token, "access token")
        durations: dict[str, float] = {}
        for key, seconds in (acquire or {}).items():
            self._name(key, "state key")
            if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
                raise TypeError(f"lock duration of {key!r} must be a number of seconds")
            if not (math.isfinite(seconds) and 0 < seconds <= MAX_LOCK_SECONDS):
                raise ValueError(
                    f"lock duration of {key!r} must be in (0, {MAX_LOCK_SECONDS:g}] "
                    f"seconds, got {seconds}"
                )
            durations[key] = float(seconds)
        released = [self._name(key, "state key") for key in release]
        with self._lock:
            self._refuse_locked(token, [*durations, *released])
            now = self._clock()
            # Expired leases are dropped here, so that locks cannot pile up.
            self._locks = {k: lease for k, lease in self._locks.items() if lease[1] > now}
            added = len(durations.keys() - self._locks.keys())
            if added and len(self._locks) + added > self._limits.max_state_keys:
                raise LimitExceededError(
                    f"{len(self._locks)} keys are locked; {added} more would pass the limit "
                    f"of {self._limits.max_state_keys} (Limits.max_state_keys)"
                )
            for key, seconds in durations.items():
                self._locks[key] = (token, now + seconds)
            for key in released:
                if key not in durations:
                    self._locks.pop(key, None)

    def lock(self, key: str, duration: float, *, token: str = SERVER_TOKEN) -> None:
        """Lock one key for ``duration`` seconds on behalf of ``token``."""
        self.update_locks(token, {key: duration})

    def unlock(self, key: str, *, token: str = SERVER_TOKEN) -> None:
        """Release ``token``'s lock on ``key`` (nothing happens if it holds none)."""
        self.update_locks(token, release=[key])

    def lock_holder(self, key: str) -> str | None:
        """The token holding an unexpired lock on ``key``, or None."""
        with self._lock:
            holder = self._locks.get(key)
            if holder is None or holder[1] <= self._clock():
                return None
            return holder[0]

    def _refuse_locked(self, token: str, keys: Iterable[str]) -> None:
        now = self._clock()
        locked = {
            key
            for key in keys
            if (holder := self._locks.get(key)) is not None
            and holder[0] != token
            and holder[1] > now
        }
        if locked:
            raise StateLockedError(locked)

    # -- reading ----------------------------------------------------------------------------------
    def __getitem__(self, key: str) -> object:
        with self._lock:
            data = self._encoded[key]
        return json.loads(data)

    def get(self, key: str, default: object = None) -> object:
        """The value of ``key`` (a fresh copy), or ``default``."""
        try:
            return self[key]
        except KeyError:
            return default

    def __setitem__(self, key: str, value: object) -> None:
        self.update(SERVER_TOKEN, {key: value})

    def __delitem__(self, key: str) -> None:
        with self._lock:
            present = key in self._encoded
        if not present:
            raise KeyError(key)
        self.update(SERVER_TOKEN, removals=[key])

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._encoded

    def __iter__(self) -> Iterator[str]:
        with self._lock:
            return iter(list(self._encoded))

    def __len__(self) -> int:
        with self._lock:
            return len(self._encoded)

    def keys(self) -> list[str]:
        """The keys, in insertion order."""
        return list(self)

    def to_dict(self) -> dict[str, object]:
        """A copy of the whole state."""
        with self._lock:
            encoded = dict(self._encoded)
        return {key: json.loads(data) for key, data in encoded.items()}

    def __repr__(self) -> str:
        return f"SharedState({self.to_dict()!r})"

    # -- subscribers ------------------------------------------------------------------------------
    @contextmanager
    def subscribe(self) -> Iterator[StateSubscription]:
        """A mailbox that starts with the whole state (as a reset) and then gets changes."""
        initial: dict[str, bytes | None] = {}
        with self._subscribers.member(
            lambda: (initial | self._encoded, None),
            limit=self._limits.max_state_subscribers,
            what="state subscribers (Limits.max_state_subscribers)",
        ) as mailbox:
            yield mailbox

    @property
    def subscriber_count(self) -> int:
        """How many subscribers are registered now."""
        with self._lock:
            return len(self._subscribers)

    def close(self) -> None:
        """End every subscription."""
        self._subscribers.close()
