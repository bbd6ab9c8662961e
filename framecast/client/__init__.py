"""The Python client: frames, shared state, commands and named sessions of a remote session."""

from framecast.client.client import Client, FrameUpdate
from framecast.client.listener import SessionListener
from framecast.client.remote_state import RemoteSharedState

__all__ = ["Client", "FrameUpdate", "RemoteSharedState", "SessionListener"]
