"""Transport-free cores: the frame publisher, shared state, commands, the named-session registry,
limits.
"""

from framecast.core.commands import CommandRegistry
from framecast.core.publisher import FramePublisher
from framecast.core.state import SharedState

__all__ = ["CommandRegistry", "FramePublisher", "SharedState"]
