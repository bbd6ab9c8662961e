"""The public API: what ``framecast`` exports is deliberate, and every name imports."""

from __future__ import annotations

import pytest

import framecast

PUBLIC = {
    "ASEDynamics", "AbsentClientError", "Client", "ClientSession", "ClientSessions",
    "CommandArgumentError", "CommandError", "CommandFailedError", "CommandInfo", "FrameData",
    "FrameSource", "FrameUpdate", "FramecastError", "FramecastServer", "LennardJones",
    "LimitExceededError", "Limits", "OpenMMSimulation", "Playable", "PortInUseError",
    "Recording", "Replay", "replay", "export_html", "distance", "RemoteSharedState",
    "STANDARD_FIELDS",
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


def test_one_rule_says_what_ci_is(monkeypatch: pytest.MonkeyPatch) -> None:
    from framecast.testing import in_ci

    for value in ("true", "1", "yes", "TRUE", "github"):
        monkeypatch.setenv("CI", value)
        assert in_ci(), value
    for value in ("", "0", "false", "No", "off"):
        monkeypatch.setenv("CI", value)
        assert not in_ci(), value
    monkeypatch.delenv("CI")
    assert not in_ci()
