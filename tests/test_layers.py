"""The layers of DESIGN.md hold: no module of framecast imports a layer above its own.

Every import counts, wherever it is written (inside functions, under ``TYPE_CHECKING``):
a lazy import is still a dependency, and the cycles it hides are what this test exists
to stop. Every module must be placed in a layer, so a new module cannot slip past.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import framecast

#: DESIGN.md's layer table, top to bottom, with the small modules it leaves unnamed placed
#: where they belong. A module may import its own layer and the layers below it. A name
#: covers a module and everything under it ("server" is server/ and each module in it).
LAYERS: list[tuple[str, ...]] = [
    # The package's front: what a user imports and runs.
    (
        "framecast",
        "framecast.cli",
        "framecast.cli_files",
        "framecast._cli_common",
        "framecast.testing",
        "framecast.testing_nats",
    ),
    # Widgets, display registration, the kernel channel.
    ("framecast.jupyter",),
    (
        "framecast.session",
        "framecast.playback",
        "framecast.broadcaster",
        "framecast.session_record",
        "framecast.session_imd",
        "framecast.session_access",
    ),
    ("framecast.sessions",),
    ("framecast.server",),
    # The Python client.
    (
        "framecast.client",
        "framecast.listener",
        "framecast.remote_state",
        "framecast._channel",
        "framecast._versioned",
        "framecast._rpc",
        "framecast._natslink",
        "framecast._nats_channel",
        "framecast._nats_streams",
        "framecast.client_record",
    ),
    # Writing a recording, for the session and the client.
    ("framecast.recorder",),
    # FrameData sources.
    ("framecast.targets", "framecast.adapters", "framecast.demo"),
    # Pure data.
    (
        "framecast.frame",
        "framecast.timeline",
        "framecast._codec",
        "framecast.elements",
        "framecast.recfile",
        "framecast._nanover_codec",
        "framecast._compact",
    ),
    # What every layer may use: errors, records, the wire's method table, small helpers.
    (
        "framecast.errors",
        "framecast.messages",
        "framecast._events",
        "framecast._wire",
        "framecast._credentials",
        "framecast._display",
        "framecast._version",
        "framecast._names",
        "framecast._address",
        "framecast._pacing",
        "framecast._threads",
        "framecast._mailbox",
        "framecast._taps",
        "framecast._extras",
        "framecast._relay_wire",
    ),
    ("framecast._proto",),
]


def module_name(root: Path, path: Path, package: str) -> str:
    """The dotted name of the module in ``path`` under the package directory ``root``."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join([package, *parts])


def imported_modules(tree: ast.Module, name: str, is_package: bool, known: set[str]) -> set[str]:
    """Every module of ``known`` that the module ``name`` imports, anywhere in its body.

    ``from . import x`` names module ``x`` when there is one, and the package otherwise
    (``from . import __version__`` imports the package's ``__init__``).
    """
    here = name if is_package else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here.split(".")[: len(here.split(".")) - (node.level - 1)]
                origin = ".".join(base + ([node.module] if node.module else []))
            else:
                origin = node.module or ""
            for alias in node.names:
                sub = f"{origin}.{alias.name}"
                found.add(sub if sub in known else origin)
    return {module for module in found if module in known}


def layer_of(module: str, layers: list[tuple[str, ...]]) -> int | None:
    """The index of the layer that holds ``module`` (the longest matching name wins).

    The top package's own name covers its ``__init__`` only, not every module under it.
    """
    best: tuple[int, int] | None = None
    for index, names in enumerate(layers):
        for prefix in names:
            covers = "." in prefix and module.startswith(prefix + ".")
            if (module == prefix or covers) and (best is None or len(prefix) > best[1]):
                best = (index, len(prefix))
    return None if best is None else best[0]


def layer_problems(root: Path, package: str, layers: list[tuple[str, ...]]) -> list[str]:
    """Each import that runs up the table, and each module the table does not place."""
    paths = {module_name(root, path, package): path for path in sorted(root.rglob("*.py"))}
    problems: list[str] = []
    for name, path in paths.items():
        layer = layer_of(name, layers)
        if layer is None:
            problems.append(f"{name} is in no layer: place it in the table")
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for imported in sorted(
            imported_modules(tree, name, path.name == "__init__.py", set(paths))
        ):
            target = layer_of(imported, layers)
            if target is not None and target < layer:
                problems.append(
                    f"{name} (layer {layer}) imports {imported} (layer {target}), above it"
                )
    return problems


def test_framecast_imports_only_downwards() -> None:
    root = Path(framecast.__file__).parent
    assert layer_problems(root, "framecast", LAYERS) == []


def test_the_table_is_the_one_in_the_architecture_page() -> None:
    """docs/architecture.md lists the same layers, in the same order."""
    page = (Path(__file__).parent.parent / "docs" / "architecture.md").read_text()
    written = []
    for line in page.splitlines():
        if line.startswith("| `"):
            first_cell = line.split("|")[1]
            names = re.findall(r"`([^`]+)`", first_cell)
            written.append(
                {"framecast" if n == "framecast" else f"framecast.{n.strip('/')}" for n in names}
            )
    assert written == [set(names) for names in LAYERS]


def _fake_package(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "fake"
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


FAKE_LAYERS: list[tuple[str, ...]] = [("fake.top",), ("fake.middle",), ("fake.bottom",)]


@pytest.mark.parametrize(
    "middle",
    [
        "from .top import x\n",  # at module level
        "def f():\n    from .top import x\n",  # lazy, inside a function
        "import fake.top\n",  # absolute
        "from . import top\n",  # a module named in an import list
        "def f():\n    if True:\n        from .top.inner import y\n",  # nested, deeper
    ],
)
def test_an_upward_import_is_found_in_a_fake_package(tmp_path: Path, middle: str) -> None:
    root = _fake_package(
        tmp_path,
        {
            "__init__.py": "",
            "top/__init__.py": "x = 1\n",
            "top/inner.py": "y = 2\n",
            "middle.py": middle,
            "bottom.py": "",
        },
    )
    layers = [("fake",), *FAKE_LAYERS]
    problems = layer_problems(root, "fake", layers)
    assert len(problems) == 1
    assert problems[0].startswith("fake.middle (layer 2) imports fake.top")


def test_downward_and_same_layer_imports_pass_and_unplaced_modules_fail(tmp_path: Path) -> None:
    root = _fake_package(
        tmp_path,
        {
            "__init__.py": "from . import top\n",
            "top/__init__.py": "from ..middle import m\nfrom .inner import y\n",
            "top/inner.py": "from fake import bottom\n",
            "middle.py": "m = 1\nfrom .bottom import b\n",
            "bottom.py": "b = 0\n",
            "stray.py": "",
        },
    )
    layers = [("fake",), *FAKE_LAYERS]
    assert layer_problems(root, "fake", layers) == [
        "fake.stray is in no layer: place it in the table"
    ]


#: Lines a module of framecast may have at most: past that, it has two responsibilities.
MAX_MODULE_LINES = 450


def test_no_module_is_over_the_size_limit() -> None:
    root = Path(framecast.__file__).parent
    sizes = {
        str(path.relative_to(root)): len(path.read_text(encoding="utf-8").splitlines())
        for path in root.rglob("*.py")
        if "_proto" not in path.parts
    }
    assert len(sizes) > 40
    assert {name: n for name, n in sizes.items() if n > MAX_MODULE_LINES} == {}
