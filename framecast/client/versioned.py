"""A replica of the shared state that orders values by the server's versions.

Pure data, no transport: the client feeds it what its state stream brings and what its own
writes were answered, in whatever order they arrive, and it never lets a value of an older
version replace a newer one.

The rules, with V the version of a stream message and W the version the server gave one of
this client's own writes:

- The stream is complete up to V once a message with ``more=False`` arrives: every change
  up to V has been delivered, merged latest-wins. A key of a message at V is applied unless
  this replica holds that key at a newer version (only an own write can be newer).
- An own write at W is applied to a key unless the stream is already complete up to W, or
  the key was received at W or later. Otherwise the stream will bring that key again at W
  or later (the write touched it), and that delivery is then applied.
- A removal leaves a tombstone with its version, so an older value cannot bring the key
  back; tombstones go once the stream is complete past them.
- A *snapshot* (a message marked so, through the next one with ``more=False``) is the
  whole state at V: a key it does not carry and that this replica holds at V or older was
  removed meanwhile, and goes. A replica that lost messages (a NATS link) re-syncs so.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

__all__ = ["VersionedView"]


class VersionedView:
    """Keys to encoded values, each with the server version it is known at. Not locked:
    the owner serialises calls."""

    def __init__(self) -> None:
        self.values: dict[str, bytes] = {}
        self.complete = 0
        self._versions: dict[str, int] = {}
        self._tombstones: set[str] = set()
        # The keys of the snapshot being received, if one is.
        self._snapshot: set[str] | None = None

    def receive(
        self,
        version: int,
        updates: Mapping[str, bytes],
        removals: Iterable[str],
        *,
        more: bool = False,
        snapshot: bool = False,
    ) -> None:
        """Apply one message of the state stream, with the version its values are as of;
        ``snapshot`` starts a whole snapshot (see the module's rules)."""
        if snapshot:
            self._snapshot = set()
        if self._snapshot is not None:
            self._snapshot.update(updates)
        for key, value in updates.items():
            if version >= self._versions.get(key, 0):
                self._set(key, value, version)
        for key in removals:
            if version >= self._versions.get(key, 0):
                self._remove(key, version)
        if not more:
            if self._snapshot is not None:
                carried, self._snapshot = self._snapshot, None
                for key in [k for k in self.values if k not in carried]:
                    if self._versions.get(key, 0) <= version:
                        self._remove(key, version)
            self.complete = max(self.complete, version)
            self._drop_tombstones()

    def reset(self) -> None:
        """Forget everything: the next messages come from a new origin, whose versions
        say nothing about this replica's."""
        self.values.clear()
        self._versions.clear()
        self._tombstones.clear()
        self._snapshot = None
        self.complete = 0

    def own_write(
        self, version: int, updates: Mapping[str, bytes], removals: Iterable[str]
    ) -> None:
        """Apply this client's own change, which the server accepted at ``version``."""
        if version <= self.complete:
            return  # the stream already brought this change, or a newer state
        for key, value in updates.items():
            if version > self._versions.get(key, 0):
                self._set(key, value, version)
        for key in removals:
            if key not in updates and version > self._versions.get(key, 0):
                self._remove(key, version)

    def _set(self, key: str, value: bytes, version: int) -> None:
        self.values[key] = value
        self._versions[key] = version
        self._tombstones.discard(key)

    def _remove(self, key: str, version: int) -> None:
        self.values.pop(key, None)
        self._versions[key] = version
        self._tombstones.add(key)

    def _drop_tombstones(self) -> None:
        stale = [key for key in self._tombstones if self._versions[key] <= self.complete]
        for key in stale:
            del self._versions[key]
            self._tombstones.discard(key)
