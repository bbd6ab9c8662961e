"""``Creators``: which client created each shared-state key that nobody else wrote since, so
that ``Limits.max_keys_per_client`` can bound what one client leaves behind."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from framecast.core.limits import LimitExceededError
from framecast.core.owners import Owner, ServerOwner

__all__ = ["Creators"]


class Creators:
    """The keys each client alone wrote, counted per client. Not thread-safe: the shared
    state calls it under its own lock."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._creator: dict[str, str] = {}
        self._count: Counter[str] = Counter()

    def check(self, owner: Owner, new_keys: int) -> None:
        """Refuse a change that would make ``owner`` the sole writer of more keys than the
        limit: junk a departed client left behind cannot fill the state for everyone."""
        if isinstance(owner, ServerOwner) or not new_keys:
            return
        if self._count[owner] + new_keys > self._limit:
            raise LimitExceededError(
                f"this client created {self._count[owner]} keys that nobody else wrote; "
                f"{new_keys} more would pass the limit of {self._limit} "
                "(Limits.max_keys_per_client)"
            )

    def wrote(self, owner: Owner, keys: Iterable[str], new: set[str]) -> None:
        """``owner`` wrote ``keys``, of which ``new`` the state did not hold before."""
        for key in keys:
            creator = self._creator.get(key)
            if key in new and not isinstance(owner, ServerOwner):
                self._creator[key] = owner
                self._count[owner] += 1
            elif creator is not None and creator != owner:
                self.forget(key)  # someone else wrote it: it is everyone's now

    def forget(self, key: str) -> None:
        """``key`` is gone, or no longer one client's alone."""
        creator = self._creator.pop(key, None)
        if creator is not None:
            self._count[creator] -= 1
            if self._count[creator] <= 0:
                del self._count[creator]
