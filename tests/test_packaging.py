"""The source distribution carries the built front end: installing it needs no node.

The sdist is built from this checkout (npm runs only if a front-end source is newer than the
build), then installed into a new virtualenv whose ``PATH`` holds no ``node`` and no ``npm``.
The new virtualenv borrows this one's dependencies through a ``.pth`` line, so that the test
downloads nothing; framecast itself comes from the sdist alone.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import textwrap
import venv
from pathlib import Path

import pytest

from framecast._version import __version__
from framecast.cli.doctor import WIDGET_FILES

REPO = Path(__file__).resolve().parents[1]

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


def test_the_sdist_installs_and_draws_without_node(sdist: Path, tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    site_packages = Path(
        _run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]
        ).stdout.strip()
    )
    # Dependencies (and hatchling, to build the wheel) from this environment, after the new
    # environment's own site-packages, so that framecast is the one the sdist installs.
    borrowed = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (site_packages / "_borrowed.pth").write_text("\n".join(sorted(borrowed)) + "\n")

    path = str(env_dir / "bin")
    assert shutil.which("node", path=path) is None
    assert shutil.which("npm", path=path) is None
    env = {"PATH": path, "HOME": str(tmp_path), "PIP_NO_INDEX": "1", "LANG": "C.UTF-8"}
    outside = {"env": env, "cwd": tmp_path}  # never the checkout, whose framecast/ would win
    _run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--ignore-installed",
            str(sdist),
        ],
        **outside,
    )

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
    found = json.loads(_run([str(python), "-c", check], **outside).stdout)
    assert found["package"].startswith(str(env_dir))
    assert found["viewer_is_shipped"]
    assert found["bar_is_shipped"]
    assert min(found["modules"].values()) > 10_000  # real bundles, not placeholders
    assert found["shipped"] == sorted(WIDGET_FILES)
    assert found["extension"] == __version__

    listed = _run([str(python), "-m", "jupyterlab.labextensions", "list"], **outside)
    assert f"framecast v{__version__}" in listed.stdout + listed.stderr
    assert "enabled" in listed.stdout + listed.stderr
    assert str(env_dir / "share/jupyter/labextensions") in listed.stdout + listed.stderr

    doctor = _run([str(python), "-m", "framecast", "doctor"], **outside)
    assert "no problem found" in doctor.stdout
    assert str(env_dir) in doctor.stdout
