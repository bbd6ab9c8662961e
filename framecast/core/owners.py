"""Who writes the shared state or holds a lock: a client's access token, or the server."""

from __future__ import annotations

from typing import Final

__all__ = ["SERVER", "Owner", "ServerOwner"]


class ServerOwner:
    """The owner of writes and locks made by Python on the server side.

    An object, not a string, so that no client can present it: a client's identity is the
    access token it sends, and no string equals this.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return "<the server>"


#: The one server-side owner.
SERVER: Final = ServerOwner()

#: Who writes or holds a lock: a client's access token, or :data:`SERVER`.
Owner = str | ServerOwner
