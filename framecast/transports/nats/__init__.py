"""Fan-out through NATS: the relay that publishes a session, and the carrier that reads it."""
