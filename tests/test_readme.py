"""The README's first two commands are the ones a new user runs, and CI runs the second."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _first_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = re.search(r"```bash\n(.*?)```", text, re.DOTALL)
    assert block, "the README must open with a bash block"
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_readme_opens_with_exactly_two_commands() -> None:
    install_and_run, run_tests = _first_commands()
    assert install_and_run == "pip install . && framecast serve"
    assert "pytest" in run_tests


def test_ci_runs_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    match = re.search(r'^README_TEST_COMMAND="(.*)"$', ci, re.MULTILINE)
    assert match, ".ci/run must define README_TEST_COMMAND"
    assert match.group(1) == _first_commands()[1]
    assert 'eval "$README_TEST_COMMAND"' in ci
