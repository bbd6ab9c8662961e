"""The encodings that cross a process: protobuf framing, compact positions, NanoVer's dtypes,
events, and the method table.
"""
