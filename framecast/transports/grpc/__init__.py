"""framecast's own gRPC protocol: the server's servicers, authentication, the stream pool, and the
client channel.
"""
