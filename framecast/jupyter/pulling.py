"""Shift-drag in the notebook viewer: the page asks the kernel to pull an atom.

A pull is an interaction like any other (see :mod:`framecast.session.interactions`): a spring from
the atom toward the pointer, written to the shared state as NanoVer's ``interaction.<id>``
key, so every client sees it. A viewer of this kernel's session pulls through
``Session.interact``; a viewer of a remote session writes the key as its client, owned, so
the server removes it if the kernel goes away mid-drag.
"""

from __future__ import annotations

import uuid
import weakref
from collections.abc import Mapping
from typing import Any

from framecast.jupyter import channel
from framecast.jupyter.viewer import Viewer
from framecast.session.interactions import InteractionHandle
from framecast.targets.interactions import INTERACTION_PREFIX, Interaction, as_position

__all__ = ["PULL_SCALE", "pull_request", "release"]

#: The spring's scale: 2 x 50 = 100 kJ/(mol nm) per nm of drag, a firm but gentle pull.
PULL_SCALE = 50.0

#: The pull each viewer is doing now: a handle (this kernel's session) or a key (remote).
_PULLS: weakref.WeakKeyDictionary[Viewer, InteractionHandle | str] = weakref.WeakKeyDictionary()


def _pull(viewer: Viewer, particle: int, position: tuple[float, float, float]) -> None:
    current = _PULLS.get(viewer)
    session = viewer.controlled_session
    if session is not None:
        if isinstance(current, InteractionHandle):
            current.move(position)
        else:
            _PULLS[viewer] = session.interact([particle], position, kind="spring", scale=PULL_SCALE)
        return
    client = viewer.client
    if client is None:
        raise RuntimeError("this viewer is closed")
    key = current if isinstance(current, str) else f"{INTERACTION_PREFIX}{uuid.uuid4()}"
    interaction = Interaction(
        position=position, particles=(particle,), kind="spring", scale=PULL_SCALE
    )
    client.shared_state.change({key: interaction.to_state()}, owned=True)
    _PULLS[viewer] = key


def release(viewer: Viewer) -> None:
    """End the viewer's pull, if it has one."""
    current = _PULLS.pop(viewer, None)
    if isinstance(current, InteractionHandle):
        current.stop()
    elif isinstance(current, str) and viewer.client is not None:
        viewer.client.shared_state.change(removals=[current])


def pull_request(data: Mapping[str, Any]) -> dict[str, Any]:
    """The ``pull`` handler: start or move a viewer's pull, or stop it (``stop``)."""
    viewer = channel.widget(str(data.get("widget", "")))
    if not isinstance(viewer, Viewer):
        raise LookupError("this viewer is no longer alive in the kernel")
    if data.get("stop"):
        release(viewer)
        return {"done": "release"}
    particle = data.get("particle")
    if isinstance(particle, bool) or not isinstance(particle, int):
        raise TypeError(f"a pull names a particle by its index, got {particle!r}")
    position = data.get("position")
    if not isinstance(position, list):
        raise TypeError(f"a pull's position is 3 numbers (nm), got {position!r}")
    _pull(viewer, particle, as_position(position))
    return {"done": "pull"}
