"""NanoVer's WebSocket endpoint, so NanoVer's own clients can watch and steer a session."""
