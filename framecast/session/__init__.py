"""narupatools' ``Session`` (playback, broadcaster, interactions, the server) and REVEN's named
sessions.
"""

from framecast.session.named import ClientSession, ClientSessions, TrackedSessions
from framecast.session.session import Session

__all__ = ["ClientSession", "ClientSessions", "Session", "TrackedSessions"]
