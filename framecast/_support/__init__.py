"""Small helpers every layer above may use: threads, pacing, the mailbox, taps, names, addresses,
extras, display hooks.
"""
