"""The wire's method table agrees with the .proto files, and is the one place paths live."""

from __future__ import annotations

from pathlib import Path

from framecast._proto import command_pb2, frame_pb2, sessions_pb2, state_pb2
from framecast.testing.secure import RPCS
from framecast.wire import methods as wire

ROOT = Path(__file__).resolve().parents[2]


def test_the_table_has_every_rpc_of_the_protos_with_their_types() -> None:
    declared = {}
    for module in (frame_pb2, state_pb2, command_pb2, sessions_pb2):
        for service in module.DESCRIPTOR.services_by_name.values():
            for method in service.methods:
                declared[f"/{service.full_name}/{method.name}"] = (
                    method.input_type.full_name,
                    method.output_type.full_name,
                    method.server_streaming,
                )
    table = {
        method.path: (
            method.request.DESCRIPTOR.full_name,
            method.response.DESCRIPTOR.full_name,
            method.streaming,
        )
        for method in wire.METHODS
    }
    assert table == declared
    # The raw protocol tests name the paths as a foreign client would: the same ones.
    assert {method.path: method.streaming for method in wire.METHODS} == RPCS


def test_rpc_paths_are_written_in_one_module_and_no_grpc_stubs_are_generated() -> None:
    package = ROOT / "framecast"
    # framecast.testing.secure writes the paths again, by hand, as a client in another
    # language would: that independent list is what the test above checks the table with.
    naming = sorted(
        str(path.relative_to(package))
        for path in package.rglob("*.py")
        if not {"_proto", "testing"} & set(path.relative_to(package).parts)
        and '"/framecast.v1.' in path.read_text()
    )
    assert naming == [], f"RPC paths written outside framecast/wire/methods.py: {naming}"
    assert "framecast.v1" in (package / "wire" / "methods.py").read_text()
    assert not list((package / "_proto").glob("*_grpc.py"))
