"""Commands: named callables that clients run with JSON keyword arguments."""

from __future__ import annotations

import inspect
import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from framecast._support.names import check_name
from framecast._support.taps import Taps
from framecast.errors import CommandArgumentError, UnknownCommandError
from framecast.messages import CommandInfo

__all__ = ["CommandCallback", "CommandInfo", "CommandRegistry"]

CommandCallback = Callable[..., object]


@dataclass(frozen=True)
class _Command:
    info: CommandInfo
    callback: CommandCallback
    signature: inspect.Signature


def _describe(name: str, callback: CommandCallback, description: str | None) -> _Command:
    signature = inspect.signature(callback)
    arguments: dict[str, object] = {}
    for parameter in signature.parameters.values():
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        if parameter.kind == parameter.POSITIONAL_ONLY:
            raise ValueError(
                f"command {name!r}: positional-only parameter {parameter.name!r} cannot be "
                "passed by name; clients send keyword arguments"
            )
        default = None if parameter.default is parameter.empty else parameter.default
        try:
            json.dumps(default)
        except (TypeError, ValueError):
            default = None  # still listed; the default just cannot be shown to clients
        arguments[parameter.name] = default
    if description is None:
        doc = inspect.getdoc(callback) or ""
        description = doc.strip().splitlines()[0] if doc.strip() else ""
    return _Command(CommandInfo(name, arguments, description), callback, signature)


class CommandRegistry:
    """Thread-safe registry of commands, transport-free."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._commands: dict[str, _Command] = {}
        #: Called with (name, arguments) for every command about to run.
        self.taps: Taps[[str, Mapping[str, object]]] = Taps()

    def register(
        self,
        name: str,
        callback: CommandCallback,
        *,
        description: str | None = None,
        replace: bool = False,
    ) -> None:
        """Register ``callback`` under ``name``.

        ``description`` defaults to the first line of the callback's docstring. Raises
        ``ValueError`` if the name is taken (unless ``replace``) or unusable.
        """
        check_name(name, what="command name")
        if not callable(callback):
            raise TypeError(f"command {name!r}: callback must be callable")
        command = _describe(name, callback, description)
        with self._lock:
            if name in self._commands and not replace:
                raise ValueError(f"a command named {name!r} is already registered")
            self._commands[name] = command

    def unregister(self, name: str) -> None:
        """Remove a command; ``KeyError`` if there is none of that name."""
        with self._lock:
            del self._commands[name]

    def __contains__(self, name: object) -> bool:
        with self._lock:
            return name in self._commands

    def list(self) -> list[CommandInfo]:
        """Every command, sorted by name."""
        with self._lock:
            return [self._commands[name].info for name in sorted(self._commands)]

    def run(self, name: str, arguments: Mapping[str, object] | None = None) -> object:
        """Run a command and return its result.

        Raises :class:`UnknownCommandError` or :class:`CommandArgumentError` before the
        callback runs; whatever the callback raises propagates unchanged.
        """
        with self._lock:
            command = self._commands.get(name)
            known = sorted(self._commands)
        if command is None:
            raise UnknownCommandError(
                f"unknown command {name!r}; available: {', '.join(known) or 'none'}"
            )
        try:
            bound = command.signature.bind(**(arguments or {}))
        except TypeError as error:
            raise CommandArgumentError(f"bad arguments for command {name!r}: {error}") from None
        if self.taps:
            self.taps(name, dict(arguments or {}))
        return command.callback(*bound.args, **bound.kwargs)
