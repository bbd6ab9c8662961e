"""NanoVer itself, for the tests that check framecast against it: nanover-server in a
virtualenv of its own (it needs Python 3.13 here), which ``.ci/run`` makes once under
``~/.cache/framecast``. In CI a missing one fails the test; elsewhere it is skipped with the
command that makes it."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from framecast.testing import in_ci

NANOVER_VERSION = "0.1.3018"
NANOVER_PYTHON = Path(
    os.environ.get(
        "FRAMECAST_NANOVER_PYTHON",
        Path.home() / ".cache" / "framecast" / f"nanover-{NANOVER_VERSION}" / "bin" / "python",
    )
)


def nanover_python() -> Path:
    """The Python that has nanover-server installed; fails in CI, skips elsewhere."""
    if not NANOVER_PYTHON.exists():
        message = (
            f"NanoVer's Python is missing at {NANOVER_PYTHON}: bash .ci/run makes it "
            f"(python3.13 -m venv, pip install nanover-server=={NANOVER_VERSION})"
        )
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)
    return NANOVER_PYTHON


def run_nanover(script: str, *args: str) -> Any:
    """Run ``script`` with NanoVer's Python; the JSON it prints last."""
    result = subprocess.run(
        [str(nanover_python()), "-c", script, *args],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])
