"""Targets a session can show: a single frame, a trajectory, or a simulation."""

from framecast.targets.base import FrameSource, Playable, Player
from framecast.targets.sequence import LoopMode, SequencePlayer
from framecast.targets.simulation import LennardJones, Simulation
from framecast.targets.trace import Recording
from framecast.targets.trajectory import Trajectory

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
