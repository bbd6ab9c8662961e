"""The optional libraries the adapter tests use (the ``all`` extra).

CI installs them all, so there a missing one is a failure; on a developer's machine without
them, the tests that need one are skipped with the command that installs it.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

import pytest


def require(module: str) -> Any:
    """Import ``module``; skip the test when it is missing, except in CI, where it fails."""
    try:
        return importlib.import_module(module)
    except ImportError:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"{module} is not installed (pip install '.[test,all]')")
