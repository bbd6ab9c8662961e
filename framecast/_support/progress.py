"""Progress on long work: ``tqdm.auto``'s bar (a notebook bar in a notebook, text on stderr in
a terminal), shown only where someone watches and only for work that takes a while."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

__all__ = ["DELAY", "progress"]

T = TypeVar("T")

#: Seconds of work before a bar appears (shorter work shows none).
DELAY = 2.0


def _watched() -> bool:
    """True in a notebook's kernel, or with a terminal on stderr, and not under CI."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        return False
    if "ipykernel" in sys.modules:
        return True
    isatty = getattr(sys.stderr, "isatty", None)
    return bool(isatty and isatty())


def progress(
    items: Iterable[T], *, total: int | None, what: str, show: bool | None = None
) -> Iterator[T]:
    """``items``, with a bar saying ``what`` and how far along. ``show``: True draws it at
    once, False never; None (the default) draws it after :data:`DELAY` seconds of work
    where someone watches (a notebook, a terminal), never in pipes or CI."""
    if show is False or (show is None and not _watched()):
        yield from items
        return
    from tqdm.auto import tqdm

    with tqdm(
        items, total=total, desc=what, unit="frame", delay=0.0 if show else DELAY, leave=False
    ) as bar:
        yield from bar
