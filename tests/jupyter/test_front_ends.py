"""What makes the widgets work in every front end, checked where no browser can be run.

VS Code and Colab load a widget's front end only from the widget itself: so each widget is
an ``AnyWidget`` whose ES module ships inside the package, and the modules import nothing
from JupyterLab or ipywidgets. The messages between kernel and page are typed twice, in
Python and in TypeScript, and must agree.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import anywidget
import pytest

import framecast
from framecast.jupyter import messages
from framecast.jupyter.controls import SessionControls
from framecast.jupyter.links import TransitionLinks
from framecast.jupyter.requests import dispatch
from framecast.jupyter.viewer import Viewer
from framecast.jupyter.widget import STATIC

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = Path(framecast.__file__).resolve().parent


@pytest.mark.parametrize("widget", [SessionControls, Viewer, TransitionLinks])
def test_each_widget_is_an_anywidget_with_its_bundle_in_the_package(widget: type) -> None:
    assert issubclass(widget, anywidget.AnyWidget)
    # anywidget sends the module's text to the page: it is the file shipped in the package.
    shipped = {path.read_text(encoding="utf-8") for path in STATIC.glob("*.js")}
    assert STATIC.resolve().is_relative_to(PACKAGE)
    assert str(widget._esm) in shipped
    assert str(widget._css) == (STATIC / "widgets.css").read_text(encoding="utf-8")


def test_the_bundles_import_nothing_from_jupyterlab_or_ipywidgets() -> None:
    bundles = sorted(STATIC.glob("*.js"))
    assert {path.name for path in bundles} == {
        "controls.js",
        "viewer.js",
        "links.js",
        "molstar.js",
        "plot.js",
    }
    for path in bundles:
        text = path.read_text(encoding="utf-8")
        assert "@jupyterlab/" not in text, path.name
        assert "@jupyter-widgets/" not in text, path.name
        assert "@lumino/" not in text, path.name
        # Self-contained: no import of another module at all (three.js is bundled); the
        # viewer imports only module text it holds (its own bundle, once per page, and
        # Mol*'s, which the kernel sends): never a URL from elsewhere.
        own = re.compile(r"import\(URL\.createObjectURL\(new Blob\(\[\w+\]")
        assert text.count("import(") == len(own.findall(text)), path.name
        assert not re.search(r"(?:^|[;}\n])\s*import[\s{*\"']", own.sub("", text)), path.name
        assert re.search(r"export\s*\{", text), f"{path.name} exports no widget module"


def test_mol_star_is_a_bundle_of_its_own_that_no_widget_module_carries() -> None:
    """A view with no rich representation loads no Mol*, and no notebook saves Mol* in a
    widget's ``_esm``: only the engine bundle has Mol*'s coordinate-update transform."""
    marker = "model-with-coordinates"
    assert marker in (STATIC / "molstar.js").read_text(encoding="utf-8")
    for name in ("viewer.js", "controls.js", "links.js"):
        assert marker not in (STATIC / name).read_text(encoding="utf-8"), name
    # The engine is an ES module exporting the layer the viewer drives.
    assert re.search(r"export\s*\{[^}]*MolstarLayer", (STATIC / "molstar.js").read_text())


def _typescript_interfaces() -> dict[str, set[str]]:
    source = (ROOT / "labextension" / "src" / "widgets" / "messages.ts").read_text()
    interfaces = {}
    for name, body in re.findall(r"export interface I(\w+) \{(.*?)\n\}", source, re.DOTALL):
        body = re.sub(r"/\*\*.*?\*/", "", body, flags=re.DOTALL)
        interfaces[name] = set(re.findall(r"^\s+(\w+)\??:", body, re.MULTILINE))
    return interfaces


def test_the_python_and_typescript_messages_agree_key_for_key() -> None:
    typescript = _typescript_interfaces()
    python = {
        name: set(getattr(messages, name).__required_keys__)
        | set(getattr(messages, name).__optional_keys__)
        for name in messages.__all__
    }
    assert typescript.keys() == python.keys()
    assert dict(typescript.items()) == python
    assert "frames" in python["CacheMessage"]  # the key the page's type once lacked


def test_a_closed_session_says_so_in_its_bar_and_refuses_controls(no_leaks: None) -> None:
    session = framecast.Session(framecast.demo.argon_trajectory(n=5, frames=10), port=0)
    controls = SessionControls(session)
    try:
        assert not controls.closed
        session.close()
        assert controls.closed
        assert not controls.playing
        reply = dispatch(
            {"kind": "control", "widget": controls._widget_id, "request": "r", "action": "play"}
        )
        assert reply is not None
        assert reply["request"] == "r"
        assert "the session is closed" in reply["error"]
    finally:
        controls.close()
        session.close()


def test_the_fallbacks_say_what_a_widget_is_and_where_it_draws(no_leaks: None) -> None:
    with framecast.Session(framecast.demo.argon(8, density=5.0), port=0) as session:
        controls = SessionControls(session)
        try:
            bundle = controls._repr_mimebundle_()
            assert isinstance(bundle, dict)
            assert "application/vnd.jupyter.widget-view+json" in bundle
            for text in (bundle["text/plain"], html.unescape(bundle["text/html"])):
                assert (
                    f"SessionControls(the control bar of session 'framecast' at {session.address}"
                    in text
                )
                assert "JupyterLab, Notebook 7, VS Code, Colab, Voila and marimo" in text
                assert "pip install framecast" in text
        finally:
            controls.close()


def test_a_table_of_a_thousand_transitions_is_one_widget_model(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from framecast.jupyter import links

    made: list[TransitionLinks] = []

    class Counted(TransitionLinks):
        def __init__(self, **kwargs: object) -> None:
            super().__init__(**kwargs)
            made.append(self)

    monkeypatch.setattr(links, "TransitionLinks", Counted)
    long = framecast.Trajectory(framecast.demo.argon_trajectory(n=2, frames=1001).positions)
    bundle = long.transitions()._repr_mimebundle_()
    assert len(made) == 1
    assert isinstance(made[0], TransitionLinks)
    assert len(made[0].data["rows"]) == 1000
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == made[0].model_id
    made[0].close()


def test_in_colab_every_widget_bundle_carries_the_widget_manager_metadata(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Colab draws a third-party widget view with its custom widget manager, named in the
    output's metadata: the bar, the viewer, a link and a table all carry it. Colab's module
    is stood in for by what anywidget reads of it (this machine cannot run Colab)."""
    import sys
    import types

    url = "https://ssl.gstatic.com/colaboratory-static/widgets/colab-cdn-widget-manager/x.js"
    output = types.ModuleType("google.colab.output")
    output._widgets = types.SimpleNamespace(_installed_url=url)  # type: ignore[attr-defined]
    output.enable_custom_widget_manager = lambda: None  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "google.colab.output", output)
    view = "application/vnd.jupyter.widget-view+json"
    trajectory = framecast.demo.argon_trajectory(n=5, frames=20)
    with framecast.Session(trajectory, port=0, autoplay=False) as session:
        viewer = session.view()
        try:
            for shown in (
                session._repr_mimebundle_(),
                viewer._repr_mimebundle_(),
                trajectory.transition(3)._repr_mimebundle_(),
                trajectory.transitions(2, 6)._repr_mimebundle_(),
            ):
                assert isinstance(shown, tuple), f"no metadata: {shown}"
                data, metadata = shown
                assert view in data
                assert metadata[view]["colab"]["custom_widget_manager"]["url"] == url
        finally:
            viewer.close()
    monkeypatch.delitem(sys.modules, "google.colab.output")
    assert isinstance(trajectory.transition(3)._repr_mimebundle_(), dict)
