"""framecast: put a simulation, a trajectory or a trace on the wire, and steer it from Jupyter.

The public API::

    import framecast
    session = framecast.Session(framecast.demo.argon(), port=0)
    client = framecast.Client(f"127.0.0.1:{session.port}")
"""

from __future__ import annotations

from . import demo
from .client import Client, FrameUpdate, RemoteSharedState
from .errors import (
    CommandArgumentError,
    CommandError,
    CommandFailedError,
    FramecastError,
    StateLockedError,
    UnknownCommandError,
)
from .frame import STANDARD_FIELDS, FrameData
from .messages import CommandInfo
from .server.app import FramecastServer, PortInUseError
from .session import Session
from .targets import FrameSource, LennardJones, Playable, Simulation, Trajectory

__version__ = "0.1.0"

__all__ = [
    "STANDARD_FIELDS",
    "Client",
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
    "RemoteSharedState",
    "Session",
    "Simulation",
    "StateLockedError",
    "Trajectory",
    "UnknownCommandError",
    "__version__",
    "demo",
]
