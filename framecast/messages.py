"""Plain records that travel between server and client, shared by both sides."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CommandInfo"]


@dataclass(frozen=True)
class CommandInfo:
    """A command as clients see it: its arguments with defaults (None when required)."""

    name: str
    arguments: dict[str, object]
    description: str
