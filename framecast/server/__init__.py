"""The gRPC application: transport-free cores plus thin servicers."""

from .app import DEFAULT_ADDRESS, DEFAULT_PORT, FramecastServer, PortInUseError
from .commands import CommandRegistry
from .publisher import FramePublisher
from .state import SharedState

__all__ = [
    "DEFAULT_ADDRESS",
    "DEFAULT_PORT",
    "CommandRegistry",
    "FramePublisher",
    "FramecastServer",
    "PortInUseError",
    "SharedState",
]
