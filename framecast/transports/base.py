"""What every gRPC caller of the client side shares: the call timeout and error reading."""

from __future__ import annotations

import grpc

__all__ = ["CALL_TIMEOUT", "rpc_code", "rpc_message"]

#: Seconds a unary call (state update, command) may take before it fails.
CALL_TIMEOUT = 10.0


def rpc_message(error: grpc.RpcError) -> str:
    """The server's message of a failed call (its status details), else its text."""
    # Duck-typed: NATS calls fail with errors that carry a code and details too.
    details = error.details() if callable(getattr(error, "details", None)) else None
    return details or str(error)


def rpc_code(error: grpc.RpcError) -> grpc.StatusCode | None:
    """The status code of a failed call, if it has one."""
    code = getattr(error, "code", None)
    return code() if callable(code) else None
