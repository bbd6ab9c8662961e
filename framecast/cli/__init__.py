"""The ``framecast`` command line: serve, watch, record, replay, export."""

from framecast.cli.main import main

__all__ = ["main"]
