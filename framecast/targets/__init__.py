"""Targets a session can show: a single frame, a trajectory, or a simulation."""

from .base import FrameSource, Playable, Player
from .recording import Recording
from .sequence import LoopMode, SequencePlayer
from .simulation import LennardJones, Simulation
from .trajectory import Trajectory

__all__ = [
    "FrameSource",
    "LennardJones",
    "LoopMode",
    "Playable",
    "Player",
    "Recording",
    "SequencePlayer",
    "Simulation",
    "Trajectory",
]
