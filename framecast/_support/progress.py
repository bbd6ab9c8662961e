"""Progress on long work: ``tqdm.auto``'s bar (a notebook bar in a notebook, text on stderr in
a terminal), shown only where someone watches and only for work that takes a while."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

__all__ = ["DELAY", "progress", "shown"]

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


def shown(show: bool | None) -> bool:
    """Whether :func:`progress` may draw a bar for ``show`` (so that the work of counting
    a total is done only when it will be seen)."""
    return show is True or (show is None and _watched())


def progress(
    items: Iterable[T],
    *,
    total: int | None,
    what: str,
    show: bool | None = None,
    size: Callable[[T], int] | None = None,
) -> Iterator[T]:
    """``items``, with a bar saying ``what`` and how many frames of ``total`` are done.

    ``show``: True draws it at once, False never; None (the default) draws it after
    :data:`DELAY` seconds of work where someone watches (a notebook, a terminal), never in
    pipes or CI. ``size`` counts the frames in an item that holds several (a chunk), so
    that the bar still counts frames.
    """
    if not shown(show):
        yield from items
        return
    from tqdm.auto import tqdm

    delay = 0.0 if show else DELAY
    if size is None:
        with tqdm(items, total=total, desc=what, unit="frame", delay=delay, leave=False) as bar:
            yield from bar
        return
    with tqdm(total=total, desc=what, unit="frame", delay=delay, leave=False) as bar:
        for item in items:
            yield item
            bar.update(size(item))
