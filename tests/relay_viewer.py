"""A viewer in its own process for the relay tests: watches a session through NATS and
prints one JSON line per update it applies (the frame it now holds), until stdin closes.

Usage: ``python relay_viewer.py nats://host:port/<session>``
"""

from __future__ import annotations

import json
import sys
import threading

import numpy as np

import framecast


def main() -> None:
    url = sys.argv[1]
    lock = threading.Lock()
    with framecast.Client(url, connect_timeout=20) as client:

        def report(update: framecast.FrameUpdate) -> None:
            frame = client.frame
            positions = frame.get("particle.positions")
            line = {
                "index": frame.index,
                "reset": update.reset,
                "keys": sorted(frame.keys()),
                "positions": None if positions is None else np.asarray(positions).tolist(),
                "resyncs": getattr(client._frame_call, "resyncs", 0),
            }
            with lock:
                print(json.dumps(line), flush=True)

        client.subscribe_frames(report, interval=0)
        print(json.dumps({"connected": client.address}), flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    main()
