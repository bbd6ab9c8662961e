"""Generated protobuf messages (the method table is framecast._wire). Do not edit: run ``python proto/generate.py``."""
