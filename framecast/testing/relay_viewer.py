"""A viewer in its own process for the relay tests: watches a session through NATS and
prints one JSON line per update it applies (the frame it now holds), until stdin closes.

Usage: ``python relay_viewer.py nats://host:port/<session>``
"""

from __future__ import annotations

import hashlib
import json
import sys
import threading
from typing import Any

import numpy as np

import framecast


def digest(value: Any) -> str:
    """A field's dtype, shape and bytes, as one string to compare with another client's."""
    array = np.asarray(value)
    return f"{array.dtype.str} {array.shape} {hashlib.sha256(array.tobytes()).hexdigest()}"


def main() -> None:
    url = sys.argv[1]
    lock = threading.Lock()

    def say(line: dict[str, Any]) -> None:
        # One write per line, under the lock: print() writes the newline apart, so two
        # threads printing at once could run their lines together.
        with lock:
            sys.stdout.write(json.dumps(line) + "\n")
            sys.stdout.flush()

    with framecast.Client(url, connect_timeout=20) as client:

        def report(update: framecast.FrameUpdate) -> None:
            frame = client.frame
            positions = frame.get("particle.positions")
            line = {
                "index": frame.index,
                "reset": update.reset,
                "keys": sorted(frame.keys()),
                "positions": None if positions is None else np.asarray(positions).tolist(),
                "digests": {
                    key: digest(value)
                    for key, value in frame.items()
                    if key != "particle.positions"
                },
                "resyncs": getattr(client._frame_call, "resyncs", 0),
            }
            say(line)

        client.subscribe_frames(report, interval=0)
        say({"connected": client.address})
        sys.stdin.read()


if __name__ == "__main__":
    main()
