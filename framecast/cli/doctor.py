"""``framecast doctor``: what a user needs to report, or fix, a widget that does not show.

It reads what is installed (never imports the front ends it names), checks that the widget
modules ship and that the JupyterLab extension is installed, enabled and of this version,
lists the extras present and missing, and says in which front ends the widgets will draw.
Each problem comes with its fix; the exit status is 1 when there is one.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, TextIO

from framecast._version import __version__

__all__ = ["Report", "add_doctor_command", "diagnose", "doctor"]

#: The widget modules (anywidget ES modules, the Mol* engine the viewer loads on demand, and
#: their style) that must ship in the package.
WIDGET_FILES = ("controls.js", "viewer.js", "links.js", "plot.js", "molstar.js", "widgets.css")
#: The front ends and the distribution that provides each.
FRONT_ENDS = (
    ("anywidget", "anywidget"),
    ("ipywidgets", "ipywidgets"),
    ("ipykernel", "ipykernel"),
    ("JupyterLab", "jupyterlab"),
    ("Notebook", "notebook"),
    ("Voila", "voila"),
    ("marimo", "marimo"),
)
#: Each extra and the modules it installs: it is there when every one of them imports.
EXTRAS = (
    ("mdanalysis", ("MDAnalysis",)),
    ("mdtraj", ("mdtraj",)),
    ("ase", ("ase",)),
    ("openmm", ("openmm",)),
    ("movie", ("imageio", "imageio_ffmpeg")),
    ("nanover", ("msgpack", "websockets")),
    ("compact", ("zstandard",)),
    ("nats", ("nats", "nkeys", "zstandard")),
)


@dataclass
class Report:
    """What was found (``lines``) and what is wrong, each with its fix (``problems``)."""

    lines: list[str] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)

    def problem(self, what: str, fix: str) -> None:
        self.problems.append((what, fix))


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def _labextension_dirs() -> list[Path]:
    """Where JupyterLab looks for prebuilt extensions: this Python's prefix first."""
    roots = [Path(sys.prefix), Path(sys.base_prefix), Path.home() / ".local"]
    extra = os.environ.get("JUPYTER_PATH", "")
    roots += [Path(p).parent.parent for p in extra.split(os.pathsep) if p]
    return [root / "share" / "jupyter" / "labextensions" / "framecast" for root in roots]


def _disabled_in_lab() -> bool:
    """True when a JupyterLab config of this Python disables the extension."""
    for root in (Path(sys.prefix) / "etc" / "jupyter", Path.home() / ".jupyter"):
        config = root / "labconfig" / "page_config.json"
        try:
            settings: dict[str, Any] = json.loads(config.read_text())
        except (OSError, ValueError):
            continue
        disabled = settings.get("disabledExtensions", {})
        if (isinstance(disabled, dict) and disabled.get("framecast")) or (
            isinstance(disabled, list) and "framecast" in disabled
        ):
            return True
    return False


def diagnose() -> Report:
    """Everything ``framecast doctor`` prints, as a :class:`Report`."""
    report = Report()
    package = Path(__file__).resolve().parents[1]  # framecast/, where this module lives
    python = ".".join(map(str, sys.version_info[:3]))
    report.lines.append(f"framecast {__version__} (Python {python}, {package})")

    static = package / "static"
    missing = [name for name in WIDGET_FILES if not (static / name).is_file()]
    if missing:
        report.lines.append(f"widget modules: missing {', '.join(missing)} in {static}")
        report.problem(
            "the widget modules are not in the package: bars and viewers cannot draw",
            "reinstall from a wheel or an sdist (pip install --force-reinstall framecast), "
            "or build them in a checkout: cd labextension && npm install && npm run build",
        )
    else:
        report.lines.append(f"widget modules: {', '.join(WIDGET_FILES)} ship in {static}")

    found = {name: _version(distribution) for name, distribution in FRONT_ENDS}
    report.lines.append(
        "front ends: "
        + ", ".join(f"{name} {version or 'not installed'}" for name, version in found.items())
    )
    if found["anywidget"] is None:
        report.problem("anywidget is not installed: no widget can draw", "pip install anywidget")
    if found["ipykernel"] is None:
        report.problem("ipykernel is not installed: no notebook can run", "pip install ipykernel")

    installed = [path for path in _labextension_dirs() if (path / "package.json").is_file()]
    if not installed:
        report.lines.append("JupyterLab extension: not installed")
        if found["JupyterLab"] is not None:
            report.problem(
                "the JupyterLab extension is not installed: saved transition links do not "
                "draw, and clicks wait while a cell is busy (widgets still draw)",
                "pip install --force-reinstall framecast (the wheel installs it)",
            )
    else:
        where = installed[0]
        try:
            built = json.loads((where / "package.json").read_text()).get("version", "?")
        except (OSError, ValueError):
            built = "?"
        disabled = _disabled_in_lab()
        state = "disabled" if disabled else "enabled"
        report.lines.append(f"JupyterLab extension: {built}, {state}, in {where}")
        if disabled:
            report.problem(
                "the JupyterLab extension is disabled", "jupyter labextension enable framecast"
            )
        if built != __version__ and built.split("+")[0] != __version__.split("+")[0]:
            report.problem(
                f"the JupyterLab extension is version {built}, the package {__version__}: "
                "a stale extension may not draw links",
                "pip install --force-reinstall framecast, then reload the page",
            )

    have = [extra for extra, modules in EXTRAS if all(map(_importable, modules))]
    lack = [extra for extra, _ in EXTRAS if extra not in have]
    report.lines.append(f"extras installed: {', '.join(have) or 'none'}")
    if lack:
        report.lines.append(
            f"extras missing: {', '.join(lack)} (pip install 'framecast[{','.join(lack)}]')"
        )

    hosts = []
    if found["anywidget"] is not None:
        if found["JupyterLab"] is not None:
            hosts.append("JupyterLab" + (" (with its extension)" if installed else ""))
        if found["Notebook"] is not None:
            hosts.append("Notebook 7")
        if found["Voila"] is not None:
            hosts.append("Voila")
        if found["marimo"] is not None:
            hosts.append("marimo")
        hosts.append("VS Code and Colab (their own widget renderers)")
    report.lines.append(f"widgets will draw in: {', '.join(hosts) or 'nothing (no anywidget)'}")
    return report


def _importable(module: str) -> bool:
    """Whether ``module`` is installed, without importing it (some take seconds)."""
    from importlib.util import find_spec

    try:
        return find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def doctor(out: TextIO) -> int:
    """Print the report to ``out``; 1 when there is a problem, else 0."""
    report = diagnose()
    for line in report.lines:
        print(line, file=out)
    if not report.problems:
        print("no problem found", file=out)
        return 0
    for what, fix in report.problems:
        print(f"problem: {what}\n  fix: {fix}", file=out)
    return 1


def add_doctor_command(commands: Any) -> None:
    """Add ``doctor`` to the command line's subcommands."""
    commands.add_parser(
        "doctor",
        help="say what is installed and why a widget might not show",
        description="Print framecast's version, the front ends and extras found, whether "
        "the widget modules ship and the JupyterLab extension is installed and enabled, and "
        "each problem with its fix. Exit status 1 when there is a problem.",
    )
