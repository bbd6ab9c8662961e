"""The front doors (servers) and the client carriers: gRPC, NanoVer's WebSocket and NATS, each a
peer over one bundle of cores.
"""
