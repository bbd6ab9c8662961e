"""Generated protobuf and gRPC code. Do not edit: run ``python proto/generate.py``."""
