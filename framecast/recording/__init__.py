"""Recordings: writing and reading ``.fcrec`` traces, replaying them, and NanoVer's recordings."""
