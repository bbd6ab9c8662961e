"""Generated protobuf messages (the method table is framecast.wire.methods). Do not edit: run ``python proto/generate.py``."""
