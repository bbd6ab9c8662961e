"""Targets a session can show: a single frame, a trajectory, or a simulation."""

from .base import FrameSource, Playable, Player
from .simulation import LennardJones, Simulation
from .trajectory import LoopMode, Trajectory

__all__ = [
    "FrameSource",
    "LennardJones",
    "LoopMode",
    "Playable",
    "Player",
    "Simulation",
    "Trajectory",
]
