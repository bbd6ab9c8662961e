"""The committed generated code must match what proto/generate.py makes now."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _generator() -> object:
    spec = importlib.util.spec_from_file_location(
        "framecast_proto_generate", ROOT / "proto" / "generate.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_generated_code_is_not_stale(tmp_path: Path) -> None:
    generator = _generator()
    written = generator.generate(tmp_path)  # type: ignore[attr-defined]
    committed = ROOT / "framecast" / "_proto"
    fresh = {path.name: path.read_text() for path in written}
    current = {
        path.name: path.read_text()
        for path in committed.iterdir()
        if path.suffix in (".py", ".pyi")
    }
    assert set(fresh) == set(current), "generated files differ: run python proto/generate.py"
    stale = sorted(name for name in fresh if fresh[name] != current[name])
    assert not stale, f"stale generated code {stale}: run python proto/generate.py"


def test_generated_modules_use_relative_imports() -> None:
    for path in (ROOT / "framecast" / "_proto").glob("*.py"):
        assert "from framecast.v1" not in path.read_text(), path.name
