"""framecast's command line in child processes, as a user runs it: ``framecast serve`` whose
output is read line by line, stopped with Ctrl-C as a terminal sends it."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading

__all__ = ["Served", "as_from_a_terminal", "framecast_command"]


def framecast_command(*args: str) -> list[str]:
    """The command line that runs ``framecast *args`` with this Python."""
    return [sys.executable, "-m", "framecast.cli", *args]


def as_from_a_terminal() -> None:
    """In the child, before it runs: Ctrl-C as a terminal delivers it. A test runner started
    in the background of a script inherits SIGINT ignored, and so would ``serve``."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class Served:
    """A `framecast serve` process whose output is collected line by line."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            framecast_command("serve", "--port", "0", *args),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            preexec_fn=as_from_a_terminal,
        )
        self.lines: list[str] = []
        self.ready = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)
            if "stop with Ctrl-C" in line:
                self.ready.set()
        self.ready.set()

    @property
    def address(self) -> str:
        match = re.search(r"framecast watch (\S+)", "".join(self.lines))
        assert match, self.lines
        return match.group(1)

    def interrupt(self) -> int:
        self.process.send_signal(signal.SIGINT)
        code = self.process.wait(30)
        self._reader.join(10)
        return code

    def __enter__(self) -> Served:
        assert self.ready.wait(60), self.lines
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self._reader.join(10)
        assert self.process.stdout is not None
        self.process.stdout.close()
