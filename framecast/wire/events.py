"""Session events on the wire: the one place that encodes and decodes them.

A named session carries ``SessionEvent`` messages (``proto/framecast/v1/sessions.proto``):
transitions, selections, and the ``joined`` greeting a listener gets first. The server
encodes each event once, when it is published; a network listener and a viewer in the
session's own kernel decode it here, into the records of :mod:`framecast.messages`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from framecast._proto import sessions_pb2
from framecast.messages import SelectionEvent, SessionEvent, TransitionEvent

__all__ = ["decode_event", "encode_joined", "encode_selection", "encode_transition"]


def encode_transition(timeline: str, transition: int, label: str) -> bytes:
    """A transition event, stamped with the publish time now."""
    return sessions_pb2.SessionEvent(
        publish_time=time.time(),
        transition=sessions_pb2.TransitionEvent(
            timeline=timeline, transition=transition, label=label
        ),
    ).SerializeToString()


def encode_selection(particles: Sequence[int], label: str) -> bytes:
    """A selection event, stamped with the publish time now."""
    return sessions_pb2.SessionEvent(
        publish_time=time.time(),
        selection=sessions_pb2.SelectionEvent(particles=particles, label=label),
    ).SerializeToString()


def encode_joined(name: str, clients: int) -> bytes:
    """The first event of a listener's stream: the name joined and its client count."""
    return sessions_pb2.SessionEvent(
        publish_time=time.time(),
        joined=sessions_pb2.JoinedEvent(name=name, clients=clients),
    ).SerializeToString()


def decode_event(
    session: str, event: bytes | sessions_pb2.SessionEvent, received: float
) -> SessionEvent | None:
    """The record of an event received on ``session`` at ``received`` (wall clock).

    None for the ``joined`` greeting and for kinds this version does not know (a newer
    server may send more); raises ``google.protobuf.message.DecodeError`` for bytes that
    are no ``SessionEvent``.
    """
    message = sessions_pb2.SessionEvent.FromString(event) if isinstance(event, bytes) else event
    kind = message.WhichOneof("kind")
    if kind == "transition":
        t = message.transition
        return TransitionEvent(
            session, t.timeline, t.transition, t.label, message.publish_time, received
        )
    if kind == "selection":
        s = message.selection
        return SelectionEvent(session, tuple(s.particles), s.label, message.publish_time, received)
    return None
