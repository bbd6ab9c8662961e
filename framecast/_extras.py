"""Optional packages: import one when a feature first needs it, or say which extra to install."""

from __future__ import annotations

from importlib import import_module
from types import ModuleType

__all__ = ["require"]


def require(module: str, extra: str, what: str) -> ModuleType:
    """Import ``module``, or raise ``ImportError`` naming the extra that installs it."""
    try:
        return import_module(module)
    except ImportError as error:
        raise ImportError(
            f"{what} needs the optional package {module.split('.')[0]!r}, which is not "
            f"installed: pip install 'framecast[{extra}]'"
        ) from error
