"""Shared state: a JSON key/value dictionary with versions, per-key locks and owned keys."""

from __future__ import annotations

import json
import math
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager

from framecast._support.mailbox import Mailbox, MailboxSet
from framecast._support.names import check_name
from framecast._support.taps import Taps
from framecast.core.creators import Creators
from framecast.core.limits import DEFAULT_LIMITS, LimitExceededError, Limits
from framecast.core.owners import SERVER, Owner, ServerOwner
from framecast.errors import AbsentClientError, StateLockedError
from framecast.wire.codec import encode_json

__all__ = [
    "MAX_LOCK_SECONDS",
    "SERVER",
    "STATE_PART_BYTES",
    "Owner",
    "ServerOwner",
    "SharedState",
    "StateSubscription",
    "entry_size",
]

#: Locks are leases: a client cannot hold a key for longer than this, even while present.
MAX_LOCK_SECONDS = 24 * 3600.0


#: A pending state change: key -> encoded JSON, or None for a removal; the meta is the
#: state version the values are as of.
StateSubscription = Mailbox["bytes | None", int]


#: A state message carries at most about this many bytes of keys and values (and always
#: at least one entry): a large snapshot goes in parts, so a client that does not read
#: makes the server hold one part, not a serialized copy of the whole state.
STATE_PART_BYTES = 1024 * 1024


def entry_size(key: str, value: bytes | None) -> int:
    """What one entry counts against ``Limits.max_state_bytes``: its key and value bytes."""
    return len(key.encode("utf-8", "surrogatepass")) + (0 if value is None else len(value))


class SharedState:
    """Keys to JSON values, changed atomically, with versions, leases and owned keys.

    Every change is validated as a whole before anything is applied: a malformed value, a
    bad key, a key locked by another owner, or a change past a limit refuses the entire
    change. Every applied change gets the next :attr:`version`; subscribers get the whole
    state first, then changes merged latest-wins per key, each part tagged with the
    version its values are as of, so a client can order them against its own writes.

    Locks and owned keys belong to *present* clients: a client is present while at least
    one :meth:`client` block for its token is open (the servicer opens one for each state
    stream that names the token). When its last block ends, its leases are released and
    the keys it owns are removed, as one change.

    Python code on the server side uses it as a mutable mapping, as :data:`SERVER`: its
    writes and locks are never refused by a per-client quota and no client can act as it.
    Reads return fresh copies, so callers cannot mutate the state behind its back.
    """

    def __init__(
        self, *, clock: Callable[[], float] = time.monotonic, limits: Limits = DEFAULT_LIMITS
    ) -> None:
        self._clock = clock
        self._limits = limits
        self._lock = threading.Lock()
        self._encoded: dict[str, bytes] = {}
        self._bytes = 0
        self._version = 0
        self._locks: dict[str, tuple[Owner, float]] = {}
        self._owned: dict[str, str] = {}
        #: Keys a client created and nobody else wrote since, by key, and their count by
        #: client: ``Limits.max_keys_per_client`` bounds the count.
        self._creators = Creators(self._limits.max_keys_per_client)
        self._present: Counter[str] = Counter()
        self._subscribers: MailboxSet[bytes | None, int] = MailboxSet(self._lock)
        #: Called, under the state's lock, with each applied change (key to JSON bytes,
        #: None for a removed key).
        self.taps: Taps[[Mapping[str, bytes | None]]] = Taps()
        #: Key prefix -> a check of each new value of a key with that prefix (key, decoded
        #: value), run before a change is applied; what it raises refuses the whole change.
        self.validators: dict[str, Callable[[str, object], None]] = {}

    # -- changes ----------------------------------------------------------------------------------
    def update(
        self,
        owner: Owner,
        updates: Mapping[str, object] | None = None,
        removals: Iterable[str] = (),
        *,
        owned: bool = False,
    ) -> int:
        """Apply ``updates`` and ``removals`` as one change on behalf of ``owner``.

        Returns the version of the change. Raises ``ValueError``/``TypeError`` for a bad
        key or a value that is not JSON, and :class:`~framecast.errors.StateLockedError`
        when a key is locked by someone else. In every error case nothing is applied.
        """
        encoded = {self._name(k, "state key"): encode_json(v) for k, v in (updates or {}).items()}
        return self.apply_encoded(owner, encoded, removals, owned=owned)

    def _name(self, name: object, what: str) -> str:
        return check_name(name, what=what, max_length=self._limits.max_name_length)

    def check_token(self, token: object) -> str:
        """``token`` if it is a usable access token (the rules of every name), else an error."""
        return self._name(token, "access_token")

    def _owner(self, owner: Owner) -> Owner:
        return owner if isinstance(owner, ServerOwner) else self.check_token(owner)

    def apply_encoded(
        self,
        owner: Owner,
        encoded: Mapping[str, bytes],
        removals: Iterable[str],
        *,
        owned: bool | frozenset[str] = False,
    ) -> int:
        """Like :meth:`update` with values already encoded as validated JSON.

        With ``owned``, the updated keys (or those of them in ``owned``, a set) belong to
        client ``owner`` (it must be present: :class:`~framecast.errors.AbsentClientError`
        otherwise) and are removed when it leaves; a key written and not owned belongs to
        no one. Raises
        :class:`~framecast.core.limits.LimitExceededError`, applying nothing, when the
        change would pass ``Limits.max_state_keys`` or ``Limits.max_state_bytes``.
        """
        owner = self._owner(owner)
        for key in encoded:
            self._name(key, "state key")
        removed = [self._name(key, "state key") for key in removals]
        self._validate(encoded)
        with self._lock:
            if owned:
                self._require_present(owner, "own keys")
            self._refuse_locked(owner, [*encoded, *removed])
            change: dict[str, bytes | None] = dict(encoded)
            for key in removed:
                if key not in encoded and key in self._encoded:
                    change[key] = None
            self._check_size(change)
            new = {key for key in encoded if key not in self._encoded}
            self._creators.check(owner, len(new))
            mine = set(encoded) if owned is True else set(owned or ()) & set(encoded)
            for key in encoded:
                if key in mine:
                    assert isinstance(owner, str)  # _require_present refused the server
                    self._owned[key] = owner
                else:
                    self._owned.pop(key, None)
            self._creators.wrote(owner, encoded, new)
            return self._apply(change)

    def _validate(self, encoded: Mapping[str, bytes]) -> None:
        """Run :attr:`validators` on the values they check; ``ValueError`` names the key."""
        for prefix, check in list(self.validators.items()):
            for key, value in encoded.items():
                if key.startswith(prefix):
                    try:
                        check(key, json.loads(value))
                    except (TypeError, ValueError) as error:
                        raise ValueError(f"{key[:64]!r}: {error}") from None

    def _check_size(self, change: Mapping[str, bytes | None]) -> None:
        """Refuse ``change`` (lock held) if it would pass the key count or the size limit."""
        added = sum(
            1 for key, value in change.items() if value is not None and key not in self._encoded
        )
        if added and len(self._encoded) + added > self._limits.max_state_keys:
            raise LimitExceededError(
                f"the shared state holds {len(self._encoded)} keys; {added} more would "
                f"pass the limit of {self._limits.max_state_keys} (Limits.max_state_keys)"
            )
        size = self._bytes + sum(
            entry_size(key, value) - self._entry_size(key) for key, value in change.items()
        )
        if size > self._limits.max_state_bytes and size > self._bytes:
            raise LimitExceededError(
                f"the shared state holds {self._bytes} bytes; this change would make it "
                f"{size}, past the limit of {self._limits.max_state_bytes} "
                "(Limits.max_state_bytes)"
            )

    def _entry_size(self, key: str) -> int:
        value = self._encoded.get(key)
        return 0 if value is None else entry_size(key, value)

    def _apply(self, change: Mapping[str, bytes | None]) -> int:
        """Apply a validated change (lock held) and hand it to every subscriber; its version.

        Subscribers get it under the lock, so that every mailbox sees changes in version
        order (a mailbox's put only takes its own lock for a dict merge).
        """
        if not change:
            return self._version
        for key, value in change.items():
            self._bytes -= self._entry_size(key)
            if value is None:
                del self._encoded[key]
                self._owned.pop(key, None)
                self._creators.forget(key)
            else:
                self._encoded[key] = value
                self._bytes += entry_size(key, value)
        self._version += 1
        for mailbox in self._subscribers.members():
            mailbox.put(change, reset=False, meta=self._version)
        if self.taps:
            self.taps(change)
        return self._version

    def update_locks(
        self,
        owner: Owner,
        acquire: Mapping[str, float] | None = None,
        release: Iterable[str] = (),
    ) -> None:
        """Take (or extend) leases on ``acquire`` keys and drop those on ``release`` keys.

        Durations are seconds, ``0 < d <= MAX_LOCK_SECONDS``. A client ``owner`` must be
        present (:class:`~framecast.errors.AbsentClientError`) and may hold
        ``Limits.max_locks_per_client`` leases; all clients together
        ``Limits.max_state_keys``. Raises :class:`~framecast.errors.StateLockedError` and
        changes nothing when any key is locked by someone else.
        """
        owner = self._owner(owner)
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
            if durations:
                self._require_present(owner, "take locks")
            self._refuse_locked(owner, [*durations, *released])
            now = self._clock()
            # Expired leases are dropped here, so that locks cannot pile up.
            self._locks = {k: lease for k, lease in self._locks.items() if lease[1] > now}
            if not isinstance(owner, ServerOwner):
                self._check_lock_quota(owner, durations)
            for key, seconds in durations.items():
                self._locks[key] = (owner, now + seconds)
            for key in released:
                if key not in durations:
                    self._locks.pop(key, None)

    def _check_lock_quota(self, token: str, durations: Mapping[str, float]) -> None:
        """Refuse a client's new leases (lock held) past its quota or the server's total."""
        added = durations.keys() - self._locks.keys()
        if not added:
            return
        limits = self._limits
        held = sum(1 for holder, _ in self._locks.values() if holder == token)
        if held + len(added) > limits.max_locks_per_client:
            raise LimitExceededError(
                f"this client holds {held} locks; {len(added)} more would pass the limit of "
                f"{limits.max_locks_per_client} per client (Limits.max_locks_per_client)"
            )
        clients = sum(1 for holder, _ in self._locks.values() if isinstance(holder, str))
        if clients + len(added) > limits.max_state_keys:
            raise LimitExceededError(
                f"clients hold {clients} locks; {len(added)} more would pass the limit of "
                f"{limits.max_state_keys} (Limits.max_state_keys)"
            )

    def lock(self, key: str, duration: float) -> None:
        """Lock one key for ``duration`` seconds as the server (no client can write it)."""
        self.update_locks(SERVER, {key: duration})

    def unlock(self, key: str) -> None:
        """Release the server's lock on ``key`` (nothing happens if it holds none)."""
        self.update_locks(SERVER, release=[key])

    def lock_holder(self, key: str) -> Owner | None:
        """Who holds an unexpired lock on ``key`` (a token or :data:`SERVER`), or None."""
        with self._lock:
            holder = self._locks.get(key)
            if holder is None or holder[1] <= self._clock():
                return None
            return holder[0]

    def _refuse_locked(self, owner: Owner, keys: Iterable[str]) -> None:
        now = self._clock()
        locked = {
            key
            for key in keys
            if (holder := self._locks.get(key)) is not None
            and holder[0] != owner
            and holder[1] > now
        }
        if locked:
            raise StateLockedError(locked)

    # -- presence ---------------------------------------------------------------------------------
    @contextmanager
    def client(self, token: str) -> Iterator[None]:
        """Client ``token`` is present for the ``with`` block (blocks may overlap).

        When its last block ends, its leases are released and the keys it owns removed,
        as one change that subscribers receive like any other.
        """
        token = self.check_token(token)
        with self._lock:
            self._present[token] += 1
        try:
            yield
        finally:
            with self._lock:
                self._present[token] -= 1
                if self._present[token] <= 0:
                    del self._present[token]
                    self._locks = {k: v for k, v in self._locks.items() if v[0] != token}
                    self._apply({k: None for k, o in self._owned.items() if o == token})

    def _require_present(self, owner: Owner, action: str) -> None:
        if isinstance(owner, ServerOwner):
            if action == "own keys":
                raise ValueError("keys written from the server's Python belong to no client")
            return
        if owner not in self._present:
            raise AbsentClientError(
                f"only a connected client may {action}: open a state stream "
                "(SubscribeState) with this access_token first; its locks and keys then "
                "end with its connection"
            )

    def is_present(self, token: str) -> bool:
        """True while a :meth:`client` block for ``token`` is open."""
        with self._lock:
            return token in self._present

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
        self.update(SERVER, {key: value})

    def __delitem__(self, key: str) -> None:
        with self._lock:
            present = key in self._encoded
        if not present:
            raise KeyError(key)
        self.update(SERVER, removals=[key])

    def __contains__(self, key: object) -> bool:
        return key in self._encoded  # one dict lookup: atomic under the GIL

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

    @property
    def version(self) -> int:
        """The version of the last applied change (0 before the first)."""
        return self._version

    @property
    def size(self) -> int:
        """Bytes of keys and values held, as counted against ``Limits.max_state_bytes``."""
        return self._bytes

    def owner_of(self, key: str) -> str | None:
        """The token of the client that owns ``key``, or None."""
        with self._lock:
            return self._owned.get(key)

    def __repr__(self) -> str:
        return f"SharedState({self.to_dict()!r})"

    def tap(
        self,
        tap: Callable[[Mapping[str, bytes | None]], None],
        initial: Callable[[Mapping[str, bytes]], None],
    ) -> Callable[[], None]:
        """Hand ``initial`` the whole state (key to JSON bytes), then ``tap`` every change,
        with no change between the two; returns the function that removes the tap."""
        with self._lock:
            initial(dict(self._encoded))
            return self.taps.add(tap)

    # -- subscribers ------------------------------------------------------------------------------
    @contextmanager
    def subscribe(self) -> Iterator[StateSubscription]:
        """A mailbox that starts with the whole state (as a reset) and then gets changes.

        The snapshot shares the state's value bytes (it copies only the key table), and
        every pending value is the latest of its key, so a subscriber that does not read
        holds references, not copies; send it in parts with ``take_part``.
        """
        with self._subscribers.member(
            lambda: (dict(self._encoded), self._version),
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
