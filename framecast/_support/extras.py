"""Optional packages: import one when a feature first needs it, or say which extra to install."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import import_module
from types import ModuleType

__all__ = ["quiet_mdanalysis", "require"]

log = logging.getLogger(__name__)


def require(module: str, extra: str, what: str) -> ModuleType:
    """Import ``module``, or raise ``ImportError`` naming the extra that installs it."""
    try:
        return import_module(module)
    except ImportError as error:
        raise ImportError(
            f"{what} needs the optional package {module.split('.')[0]!r}, which is not "
            f"installed: pip install 'framecast[{extra}]'"
        ) from error


@contextmanager
def quiet_mdanalysis() -> Iterator[None]:
    """MDAnalysis warns about what it guesses or lacks (no elements, no box, no dt); its
    callers handle each of those itself, so they are logged, not raised at the user."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for warning in caught:
        log.debug("MDAnalysis: %s", warning.message)
