"""The layout of DESIGN.md holds: folders by concept, each row importing only the rows below.

Every import counts, wherever it is written (inside functions, under ``TYPE_CHECKING``):
a lazy import is still a dependency, and the cycles it hides are what this test exists
to stop. Every module must be placed in a row, so a new module cannot slip past.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import framecast

#: DESIGN.md's layout, top row first. A name covers a module or a folder and everything
#: under it. A module may import its own folder and the rows below its own; two folders on
#: one row never import each other.
LAYERS: list[tuple[str, ...]] = [
    # The test helpers and pytest plugins users and our tests share: they drive the whole
    # package as a user does (sessions, command-line processes, viewers), so they sit on top.
    ("framecast.testing",),
    # What a user imports: the package's front (and ``python -m framecast``).
    ("framecast", "framecast.__main__"),
    # The command line; the notebook layer.
    ("framecast.cli", "framecast.jupyter"),
    # narupatools' Session and REVEN's named sessions; the Python client.
    ("framecast.session", "framecast.client"),
    # Recordings; readers of other libraries' files and engines.
    ("framecast.recording", "framecast.adapters"),
    # The front doors and the client carriers; FrameData sources.
    ("framecast.transports", "framecast.targets"),
    # Transport-free cores; writing MD files and movies.
    ("framecast.core", "framecast.export"),
    # The encodings and the method table; REVEN's timeline.
    ("framecast.wire", "framecast.timeline"),
    # Threads, pacing, the mailbox, taps, names, addresses, extras, display hooks.
    ("framecast._support",),
    # Pure data, and the generated protobuf code.
    (
        "framecast.frame",
        "framecast.errors",
        "framecast.messages",
        "framecast.elements",
        "framecast._version",
        "framecast._proto",
    ),
]

#: The transport libraries the cores never import.
TRANSPORT_LIBRARIES = ("grpc", "websockets", "nats")
#: The carriers, each of which never imports another.
CARRIERS = (
    "framecast.transports.grpc",
    "framecast.transports.nanover",
    "framecast.transports.nats",
)
#: Most modules the package root may hold (``__init__`` included).
MAX_ROOT_MODULES = 12


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


def place_of(module: str, layers: list[tuple[str, ...]]) -> tuple[int, str] | None:
    """The row that holds ``module`` and the name (folder or module) that places it there.

    The longest matching name wins; the top package's own name covers its ``__init__`` only.
    """
    best: tuple[int, str] | None = None
    for index, names in enumerate(layers):
        for prefix in names:
            covers = "." in prefix and module.startswith(prefix + ".")
            if (module == prefix or covers) and (best is None or len(prefix) > len(best[1])):
                best = (index, prefix)
    return best


def layer_of(module: str, layers: list[tuple[str, ...]]) -> int | None:
    """The index of the row that holds ``module``, or None when no row does."""
    place = place_of(module, layers)
    return None if place is None else place[0]


def import_graph(root: Path, package: str) -> dict[str, set[str]]:
    """Each module of the package under ``root`` and the modules of the package it imports."""
    paths = {module_name(root, path, package): path for path in sorted(root.rglob("*.py"))}
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        graph[name] = imported_modules(tree, name, path.name == "__init__.py", set(paths))
    return graph


def external_imports(path: Path) -> set[str]:
    """The top-level names of every package outside framecast that ``path`` imports."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            found.add(node.module.split(".")[0])
    return found


def layer_problems(root: Path, package: str, layers: list[tuple[str, ...]]) -> list[str]:
    """Each import that runs up the table or across a row, and each module the table misses."""
    problems: list[str] = []
    for name, imports in import_graph(root, package).items():
        place = place_of(name, layers)
        if place is None:
            problems.append(f"{name} is in no layer: place it in the table")
            continue
        layer, folder = place
        for imported in sorted(imports):
            target = place_of(imported, layers)
            if target is None:
                continue
            if target[0] < layer:
                problems.append(
                    f"{name} (layer {layer}) imports {imported} (layer {target[0]}), above it"
                )
            elif target[0] == layer and target[1] != folder:
                problems.append(
                    f"{name} ({folder}) imports {imported} ({target[1]}), on the same row"
                )
    return problems


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected set of two or more modules (or one importing itself), sorted.

    Tarjan's algorithm, iterative so a deep package cannot reach the recursion limit.
    """
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work: list[tuple[str, list[str]]] = [(start, sorted(graph[start]))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, todo = work[-1]
            if todo:
                child = todo.pop()
                if child not in graph:
                    continue
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, sorted(graph[child])))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                members: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    members.append(member)
                    if member == node:
                        break
                if len(members) > 1 or node in graph[node]:
                    cycles.append(sorted(members))
    return sorted(cycles)


def _framecast_root() -> Path:
    return Path(framecast.__file__).parent


def test_framecast_imports_only_downwards() -> None:
    assert layer_problems(_framecast_root(), "framecast", LAYERS) == []


def test_framecast_has_no_import_cycle() -> None:
    """No cycle anywhere: not between folders, not inside one, not through a lazy import."""
    assert import_cycles(import_graph(_framecast_root(), "framecast")) == []


def test_the_cores_import_no_transport_library() -> None:
    core = _framecast_root() / "core"
    found = {
        str(path.relative_to(core)): sorted(external_imports(path) & set(TRANSPORT_LIBRARIES))
        for path in sorted(core.rglob("*.py"))
    }
    assert len(found) >= 5
    assert {name: libraries for name, libraries in found.items() if libraries} == {}


def test_the_carriers_never_import_each_other() -> None:
    graph = import_graph(_framecast_root(), "framecast")
    crossings = [
        f"{name} imports {imported}"
        for name, imports in graph.items()
        for imported in imports
        for carrier in CARRIERS
        if name.startswith(carrier + ".")
        and any(imported.startswith(other) for other in CARRIERS if other != carrier)
    ]
    assert crossings == []


def test_the_client_reaches_a_carrier_only_through_connect() -> None:
    """client/ imports no core and no server door: only ``transports.connect`` (and the
    transport-free pieces beside it) of the transports."""
    graph = import_graph(_framecast_root(), "framecast")
    allowed = {"framecast.transports", "framecast.transports.connect", "framecast.transports.base"}
    reaching = sorted(
        f"{name} imports {imported}"
        for name, imports in graph.items()
        if name.startswith("framecast.client")
        for imported in imports
        if imported.startswith(("framecast.core", "framecast.session"))
        or (imported.startswith("framecast.transports") and imported not in allowed)
    )
    assert reaching == []


def test_the_package_root_holds_at_most_twelve_modules() -> None:
    modules = sorted(path.name for path in _framecast_root().glob("*.py"))
    assert "__init__.py" in modules
    assert len(modules) <= MAX_ROOT_MODULES, modules


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


#: Lines past which a module of framecast raises the alarm: it may hold two concepts. An
#: alarm, not a cutting rule (DESIGN.md): the answer is a split by concept, never by count.
MAX_MODULE_LINES = 500


def test_no_module_is_over_the_size_limit() -> None:
    root = Path(framecast.__file__).parent
    sizes = {
        str(path.relative_to(root)): len(path.read_text(encoding="utf-8").splitlines())
        for path in root.rglob("*.py")
        if "_proto" not in path.parts
    }
    assert len(sizes) > 40
    assert {name: n for name, n in sizes.items() if n > MAX_MODULE_LINES} == {}


TESTS = Path(__file__).resolve().parent


def test_no_test_file_imports_another_and_helpers_ship_in_framecast_testing() -> None:
    """A test imports packages only: what tests share is in ``framecast.testing``."""
    local = {path.stem for path in TESTS.rglob("*.py")}
    reaching: list[str] = []
    for path in sorted(TESTS.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = ["." if node.level else node.module or ""]
            reaching += [
                f"{path.relative_to(TESTS)} imports {name}"
                for name in names
                if name == "." or name.split(".")[0] in local
            ]
    assert len(local) > 20
    assert reaching == []


def test_the_tests_mirror_the_folders_of_the_package() -> None:
    """Every folder of tests/ is a folder of framecast/ (its tests sit where its code does)."""
    folders = sorted(
        str(path.relative_to(TESTS))
        for path in TESTS.rglob("*")
        if path.is_dir() and path.name != "__pycache__"
    )
    assert len(folders) >= 10
    assert [f for f in folders if not (_framecast_root() / f).is_dir()] == []
