"""framecast: put a simulation, a trajectory or a trace on the wire, and steer it from Jupyter.

The public API::

    import framecast
    session = framecast.Session(framecast.demo.argon(), port=0)
    client = framecast.Client(f"127.0.0.1:{session.port}")
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import framecast.targets.demo as demo
from framecast._version import __version__
from framecast.client.client import Client, FrameUpdate, RemoteSharedState
from framecast.client.listener import SessionListener
from framecast.core.limits import Limits
from framecast.errors import (
    AbsentClientError,
    CommandArgumentError,
    CommandError,
    CommandFailedError,
    FramecastError,
    LimitExceededError,
    StateLockedError,
    UnknownCommandError,
)
from framecast.frame import STANDARD_FIELDS, FrameData
from framecast.messages import CommandInfo, SelectionEvent, SessionEvent, TransitionEvent
from framecast.recording.replay import Replay, replay
from framecast.session.app import FramecastServer, PortInUseError
from framecast.session.named import ClientSession, ClientSessions, TrackedSessions
from framecast.session.session import Session
from framecast.targets import FrameSource, LennardJones, Playable, Recording, Simulation, Trajectory
from framecast.timeline import TIMELINE_KEY, Timeline, TimelineBase, Transition, TransitionRange

if TYPE_CHECKING:
    from framecast.adapters import (
        ASEDynamics,
        OpenMMSimulation,
        from_ase,
        from_mdanalysis,
        from_mdtraj,
    )

#: Names served by ``framecast.adapters``, imported on first use: each needs an extra.
_ADAPTERS = frozenset(
    {"ASEDynamics", "OpenMMSimulation", "from_ase", "from_mdanalysis", "from_mdtraj"}
)


def __getattr__(name: str) -> Any:
    if name in _ADAPTERS:
        from framecast import adapters

        return getattr(adapters, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    """Where the prebuilt JupyterLab extension is (for ``jupyter labextension develop``)."""
    return [{"src": "labextension", "dest": "framecast"}]


__all__ = [
    "STANDARD_FIELDS",
    "ASEDynamics",
    "OpenMMSimulation",
    "from_ase",
    "from_mdanalysis",
    "from_mdtraj",
    "TIMELINE_KEY",
    "Client",
    "ClientSession",
    "ClientSessions",
    "CommandArgumentError",
    "CommandError",
    "CommandFailedError",
    "CommandInfo",
    "FrameData",
    "FrameSource",
    "FrameUpdate",
    "FramecastError",
    "FramecastServer",
    "LennardJones",
    "Playable",
    "PortInUseError",
    "Limits",
    "AbsentClientError",
    "LimitExceededError",
    "Recording",
    "RemoteSharedState",
    "SelectionEvent",
    "Session",
    "SessionEvent",
    "SessionListener",
    "Simulation",
    "StateLockedError",
    "Timeline",
    "TimelineBase",
    "TrackedSessions",
    "Replay",
    "Trajectory",
    "Transition",
    "TransitionEvent",
    "TransitionRange",
    "UnknownCommandError",
    "__version__",
    "demo",
    "export_html",
    "distance",
    "replay",
]

# Last: the notebook layer registers how the objects above display (framecast._support.display).
from framecast import jupyter as jupyter  # noqa: E402
from framecast.jupyter.html_export import export_html  # noqa: E402
from framecast.jupyter.series import distance  # noqa: E402
