"""What the client and the server both know of credentials: how a token travels, and PEM.

Below both: the client must not depend on the server (see ``docs/architecture.md``).
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["PEM", "TOKEN_ENV", "TOKEN_METADATA_KEY", "bearer", "read_pem"]

#: The metadata key that carries the token (lower case, as gRPC requires).
TOKEN_METADATA_KEY = "authorization"

#: The environment variable a client (and ``framecast watch``) reads the token from.
TOKEN_ENV = "FRAMECAST_TOKEN"

#: A PEM file given as a path, or its bytes.
PEM = str | os.PathLike[str] | bytes


def bearer(token: str) -> str:
    """The metadata value for ``token``."""
    return f"Bearer {token}"


def read_pem(value: PEM, *, what: str) -> bytes:
    """PEM bytes given as bytes or as the path of a file; a clear error otherwise."""
    if isinstance(value, bytes):
        data = value
    else:
        path = Path(value)
        try:
            data = path.read_bytes()
        except OSError as error:
            raise ValueError(f"cannot read the {what} {str(path)!r}: {error.strerror}") from None
    if b"-----BEGIN " not in data:
        raise ValueError(f"the {what} is not PEM (no '-----BEGIN' line)")
    return data
