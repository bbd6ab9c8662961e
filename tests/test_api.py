"""The public API: what ``framecast`` exports is deliberate, and every name imports."""

from __future__ import annotations

import framecast

PUBLIC = {
    "ASEDynamics", "AbsentClientError", "Client", "ClientSession", "ClientSessions",
    "CommandArgumentError", "CommandError", "CommandFailedError", "CommandInfo", "FrameData",
    "FrameSource", "FrameUpdate", "FramecastError", "FramecastServer", "LennardJones",
    "LimitExceededError", "Limits", "OpenMMSimulation", "Playable", "PortInUseError",
    "Recording", "Replay", "replay", "export_html", "RemoteSharedState", "STANDARD_FIELDS",
    "SelectionEvent", "Session",
    "SessionEvent", "SessionListener", "Simulation", "StateLockedError", "TIMELINE_KEY",
    "Timeline", "TimelineBase", "TrackedSessions", "Trajectory", "Transition",
    "TransitionEvent", "TransitionRange", "UnknownCommandError", "__version__", "demo",
    "from_ase", "from_mdanalysis", "from_mdtraj",
}  # fmt: skip


def test_the_public_api_is_what_we_mean_to_export() -> None:
    assert set(framecast.__all__) == PUBLIC, "a change to the public API: update PUBLIC"
    assert len(framecast.__all__) == len(PUBLIC)  # no name twice
    for name in framecast.__all__:
        assert getattr(framecast, name) is not None
