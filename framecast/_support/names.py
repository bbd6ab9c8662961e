"""Validation of user-chosen names: state keys, command names, session names."""

from __future__ import annotations

import unicodedata

__all__ = ["MAX_NAME_LENGTH", "check_name"]

#: Names travel in every message that mentions them; 256 characters is plenty for a
#: human-chosen name and bounds what a hostile client can make the server keep.
MAX_NAME_LENGTH = 256


def check_name(name: object, *, what: str, max_length: int = MAX_NAME_LENGTH) -> str:
    """Return ``name`` if it is a usable name; otherwise raise an error naming ``what``.

    A name is a non-empty ``str`` of at most ``max_length`` characters with no control
    characters and no lone surrogates (it must travel as UTF-8).
    """
    if not isinstance(name, str):
        raise TypeError(f"{what} must be a string, got {type(name).__name__}")
    if not name:
        raise ValueError(f"{what} must not be empty")
    if len(name) > max_length:
        raise ValueError(f"{what} is {len(name)} characters long; the limit is {max_length}")
    if any(unicodedata.category(char) in ("Cc", "Cs") for char in name):
        raise ValueError(f"{what} {name!r} contains control characters or lone surrogates")
    return name
