"""Generate ``framecast/_proto`` from ``proto/framecast/v1/*.proto``.

This is the only way the generated code is made. ``tests/test_proto_generated.py`` runs
:func:`generate` into a temporary folder and fails when the committed code differs, so a
``.proto`` change without regeneration cannot land.

Usage: ``python proto/generate.py`` (needs ``grpcio-tools``, pinned in the ``test`` extra so
that the output is byte-for-byte reproducible).
"""

from __future__ import annotations

import re
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "proto"
PROTO_PACKAGE = Path("framecast") / "v1"
OUTPUT = ROOT / "framecast" / "_proto"

# protoc writes `from framecast.v1 import x_pb2`, which would resolve to the real
# `framecast` package; the generated modules live side by side, so import them relatively.
_ABSOLUTE_IMPORT = re.compile(r"^from framecast\.v1 import (\w+_pb2)", re.MULTILINE)

_INIT = (
    '"""Generated protobuf messages (the method table is framecast.wire.methods). Do not edit: run '
    '``python proto/generate.py``."""\n'
)


def generate(output: Path) -> list[Path]:
    """Write the generated modules into ``output`` and return the files written."""
    from grpc_tools import protoc  # imported here: only needed by developers and tests

    protos = sorted((PROTO_ROOT / PROTO_PACKAGE).glob("*.proto"))
    if not protos:
        raise FileNotFoundError(f"no .proto files under {PROTO_ROOT / PROTO_PACKAGE}")
    with tempfile.TemporaryDirectory() as tmp:
        include = Path(protoc.__file__).parent / "_proto"
        args = [
            "grpc_tools.protoc",
            f"-I{PROTO_ROOT}",
            f"-I{include}",
            f"--python_out={tmp}",
            f"--pyi_out={tmp}",
            *(str(p.relative_to(PROTO_ROOT)) for p in protos),
        ]
        if protoc.main(args) != 0:
            raise RuntimeError("protoc failed; see the messages above")
        output.mkdir(parents=True, exist_ok=True)
        written = [output / "__init__.py"]
        written[0].write_text(_INIT)
        for source in sorted((Path(tmp) / PROTO_PACKAGE).iterdir()):
            text = _ABSOLUTE_IMPORT.sub(r"from . import \1", source.read_text())
            target = output / source.name
            target.write_text(text)
            written.append(target)
    return written


def main() -> int:
    if OUTPUT.exists():
        shutil.rmtree(OUTPUT)
    for path in generate(OUTPUT):
        print(path.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
