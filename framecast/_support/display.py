"""How lower-layer objects show in a notebook: a hook table that ``framecast.jupyter`` fills.

The Jupyter layer sits above the session and the data layer, so they never import it (a
test keeps it so). Instead they ask this table: a transition's ``_repr_mimebundle_`` calls
:func:`mimebundle`, ``Session.controls()`` calls :func:`make`. ``framecast.jupyter``
registers its hooks when it is imported, and ``framecast/__init__.py`` imports it last, so
the hooks are in place once ``framecast`` is imported at all. An object without a hook
shows as its plain ``repr``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

__all__ = ["make", "marimo", "mimebundle", "register_bundle", "register_factory", "register_marimo"]

#: A display bundle: data, or (data, metadata) where the front end needs metadata (Colab).
Bundle = dict[str, Any] | tuple[dict[str, Any], dict[str, Any]]
#: ``hook(obj, **kwargs)`` returns the object's display bundle, or None for its repr.
BundleHook = Callable[..., Bundle | None]

_lock = threading.Lock()
_bundles: dict[type, BundleHook] = {}
_factories: dict[str, Callable[..., Any]] = {}
_marimo: dict[type, Callable[[Any], Any]] = {}


def register_bundle(cls: type, hook: BundleHook) -> None:
    """Show instances of ``cls`` (and of its subclasses) with ``hook``."""
    with _lock:
        _bundles[cls] = hook


def register_factory(name: str, factory: Callable[..., Any]) -> None:
    """Make ``name`` (say ``"controls"``) with ``factory`` when :func:`make` asks."""
    with _lock:
        _factories[name] = factory


def register_marimo(cls: type, hook: Callable[[Any], Any]) -> None:
    """Show instances of ``cls`` in marimo as ``hook(obj)`` (marimo calls ``_display_``)."""
    with _lock:
        _marimo[cls] = hook


def marimo(obj: object) -> Any:
    """What marimo shows for ``obj``: its hook's result, or its plain ``repr``."""
    with _lock:
        hook = next((_marimo[c] for c in type(obj).__mro__ if c in _marimo), None)
    return repr(obj) if hook is None else hook(obj)


def mimebundle(obj: object, **kwargs: Any) -> Any:
    """The display bundle of ``obj`` from the hook of its nearest registered class.

    A dict, or ``(data, metadata)``; None when no hook is registered for it (or the hook
    has none): the notebook then shows the plain ``repr``.
    """
    with _lock:
        hook = next((_bundles[c] for c in type(obj).__mro__ if c in _bundles), None)
    return None if hook is None else hook(obj, **kwargs)


def make(name: str, *args: Any, **kwargs: Any) -> Any:
    """Call the factory registered as ``name``.

    Raises ``LookupError`` naming it when nothing registered it, which means that
    ``framecast.jupyter`` could not be imported.
    """
    with _lock:
        factory = _factories.get(name)
    if factory is None:
        raise LookupError(
            f"no notebook display registered for {name!r}: framecast.jupyter is not loaded "
            "(it needs ipywidgets; reinstall framecast)"
        )
    return factory(*args, **kwargs)
