"""``export_html``: a self-contained page that plays a trajectory in any browser.

The page holds framecast's own viewer module (``framecast/static/viewer.js``, three.js
included), its style sheet and the frames, all inline: it needs no kernel, no server and no
network, and opens from a file. A few lines of script stand in for the widget model: they
hand the viewer the first frame and the positions of every frame as the kernel would, so the
page plays, steps and scrubs them with the viewer's own play bar.
"""

from __future__ import annotations

import base64
import html
import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from framecast._support.progress import progress as progress_bar
from framecast._version import __version__
from framecast.export.files import frames_of
from framecast.jupyter.drawn import drawn_buffers
from framecast.jupyter.plot import plot_data
from framecast.jupyter.rich import (
    engine_gzip,
    pdb_text,
    representations_message,
    topology_solvent,
)
from framecast.jupyter.series import series_of
from framecast.jupyter.widget import STATIC
from framecast.session.representations import Representation, default_representations
from framecast.timeline import TimelineBase

__all__ = ["export_html"]

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<style>
body {{ margin: 0; font-family: system-ui, sans-serif; background: #1e1e1e; color: #ddd;
  /* The widgets' colours, as JupyterLab's dark theme gives them: no grey text on grey. */
  --jp-ui-font-color2: #aaa; }}
/* The plot's axes and legend take its text colour: light on the dark page. */
#fc-plot {{ color: #ddd; }}
main {{ max-width: {width}px; margin: 1em auto; }}
h1 {{ font-size: 1rem; font-weight: 500; }}
{css}
</style>
</head>
<body>
<main>
<h1>{title}</h1>
<div id="fc-viewer"></div>
<div id="fc-plot"></div>
<p class="fc-about">{about}</p>
</main>
<script type="text/plain" id="fc-viewer-module">{module}</script>
<script type="text/plain" id="fc-plot-module">{plot_module}</script>
<script type="application/json" id="fc-data">{data}</script>
<script type="module">
// Stands in for the widget model: the viewer module gets what the kernel would send.
const data = JSON.parse(document.getElementById('fc-data').textContent);
const source = document.getElementById('fc-viewer-module').textContent;
const url = URL.createObjectURL(new Blob([source], {{ type: 'text/javascript' }}));
const viewer = (await import(url)).default;
const bytes = text => {{
  const raw = atob(text);
  const out = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
  return new DataView(out.buffer);
}};
// A widget model that keeps its traits in the page; `answer` takes what the widget sends.
const makeModel = (state, answer) => {{
  const handlers = {{}};
  const model = {{
    get: key => state[key],
    set: (key, value) => {{
      state[key] = value;
      (handlers['change:' + key] || []).forEach(f => f());
    }},
    save_changes: () => undefined,
    on: (event, f) => {{ (handlers[event] = handlers[event] || []).push(f); }},
    off: (event, f) => {{
      if (event && handlers[event]) handlers[event] = handlers[event].filter(g => g !== f);
    }},
    send: content => answer(content),
    emit: (message, buffers) => (handlers['msg:custom'] || []).forEach(f => f(message, buffers))
  }};
  return model;
}};
// The one request the viewer makes here: Mol*'s structure (and Mol*), held in the page.
const model = makeModel(data.traits, content => {{
  if (content && content.kind === 'structure' && data.structure) {{
    setTimeout(() => model.emit(data.structure.message, data.structure.buffers.map(bytes)), 0);
  }}
}});
viewer.initialize({{ model }});
const el = document.getElementById('fc-viewer');
viewer.render({{ model, el }});
model.emit(data.frame, data.buffers.map(bytes));
const rich = data.representations;
if (rich) model.emit(rich.message, rich.buffers.map(bytes));
model.emit(data.cache, [bytes(data.positions)]);
if (data.plot) {{
  // The plot follows the viewer's playhead (one per timeline in the page); a click
  // moves it there.
  const plotSource = document.getElementById('fc-plot-module').textContent;
  const plotUrl = URL.createObjectURL(new Blob([plotSource], {{ type: 'text/javascript' }}));
  const plot = (await import(plotUrl)).default;
  const plotModel = makeModel(data.plot.traits, () => undefined);
  plot.initialize({{ model: plotModel }});
  plot.render({{ model: plotModel, el: document.getElementById('fc-plot') }});
  plotModel.emit(data.plot.message, data.plot.buffers.map(bytes));
}}
if (data.autoplay) el.querySelector('.fc-playbar .fc-toggle')?.click();
document.body.dataset.ready = 'true';
</script>
</body>
</html>
"""


def _frame_message(
    fields: dict[str, Any], index: int, timeline: str
) -> tuple[dict[str, Any], list[str]]:
    """The viewer's ``frame`` message for ``fields`` and its buffers, base64."""
    meta, buffers = drawn_buffers(fields)
    message = {
        "type": "frame",
        "index": index,
        "reset": True,
        "fields": meta,
        "timeline": timeline,
        "cached": False,
        "jump": False,
        "playback": None,
    }
    return message, [base64.b64encode(buffer).decode() for buffer in buffers]


def _encoded(message: dict[str, Any], buffers: list[Any]) -> dict[str, Any]:
    return {"message": message, "buffers": [base64.b64encode(b).decode() for b in buffers]}


def _rich(
    fields: dict[str, Any], representations: Iterable[Representation] | str | None
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The page's representations and Mol*'s structure (Mol* inside), or None when there
    is nothing for Mol* to draw."""
    if representations is None:
        return None
    if isinstance(representations, str):
        if representations != "default":
            raise ValueError(
                f"representations is 'default', None or a list of them, got {representations!r}"
            )
        reps = default_representations(fields)
    else:
        reps = list(representations)
    solvent = topology_solvent(fields)
    if not any(not rep.hidden for rep in reps):
        return None
    message, buffers = representations_message(reps, solvent, 1, default=False)
    drawn = [np.asarray(rep.particles, dtype=np.int32) for rep in reps if not rep.hidden]
    subset = np.unique(np.concatenate(drawn)).astype(np.int32)
    structure = {"type": "structure", "engine": True, "structure": 1}
    mol = [pdb_text(fields, subset), subset.data, engine_gzip()]
    return _encoded(message, buffers), _encoded(structure, mol)


def _inline(path: Path) -> str:
    """A module's text, safe inside a script element: nothing in it may end the element or
    open an HTML comment there."""
    return path.read_text().replace("</script", "<\\/script").replace("<!--", "<\\!--")


def _plot(
    specs: Sequence[object],
    timeline: TimelineBase,
    indices: Sequence[int],
    name: str,
    show: bool | None,
) -> dict[str, Any]:
    """The exported plot: its traits, and every exported frame's values (its buffers)."""
    series = [series_of(spec) for spec in specs]
    columns: list[list[float]] = [[] for _ in series]
    for index in progress_bar(indices, total=len(indices), what="plot", show=show):
        fields = timeline.context(index).snapshot()
        for column, one in zip(columns, series, strict=True):
            column.append(one.value(fields))
    # The page's frames are numbered 0.. in the order exported (the playhead's frames).
    frames = list(range(len(indices)))
    message, buffers = plot_data(series, frames, [float(f) for f in frames], columns)
    traits = {
        "_widget_id": "framecast-html-plot",
        "python_version": __version__,
        "height": 200,
        "x_label": "frame (as exported)",
        "frame": 0,
        "selected": [],
        "points": len(frames),
        "timeline": name,
        "standalone": True,
    }
    return {"traits": traits, **_encoded(message, buffers)}


def export_html(
    timeline: TimelineBase,
    path: str | os.PathLike[str],
    *,
    frames: Sequence[int] | None = None,
    fps: float = 30.0,
    title: str = "framecast",
    height: int = 520,
    autoplay: bool = True,
    representations: Iterable[Representation] | str | None = "default",
    plot: Sequence[object] = (),
    progress: bool | None = None,
) -> Path:
    """Write a page at ``path`` that plays ``frames`` (default: all) of ``timeline`` (a
    ``Trajectory``, a replay, a live engine's history) at ``fps``, with no kernel and no
    network; returns the path. The page holds every frame's positions (12 bytes a particle
    a frame, a third more as base64): choose ``frames`` for a long trajectory.

    ``representations`` are drawn as in the notebook (``session.representations``, or a
    list of them); ``"default"`` draws a protein as a cartoon with water hidden, ``None``
    draws spheres only. A page with a cartoon also holds Mol* (about 1.1 MB as base64).

    ``plot`` adds a plot of these series (as :meth:`framecast.Session.plot` takes them)
    under the view, following its playhead; a click on it moves the view there.

    ``progress``: a bar while frames are read (None: after 2 s where someone watches)."""
    show = progress
    if not fps > 0:
        raise ValueError(f"fps must be > 0, got {fps!r}")
    indices, first, positions = frames_of(timeline, frames, "show")
    count = positions.shape[0]
    block = np.empty((len(indices), count, 3), dtype="<f4")
    reading = progress_bar(
        indices, total=len(indices), what=f"exporting {Path(path).name}", show=show
    )
    for row, index in enumerate(reading):
        shown = first.positions if row == 0 else timeline.context(index).positions
        if shown is None or shown.shape[0] != count:
            raise ValueError(f"frame {index} does not have the {count} particles of the first")
        block[row] = shown
    name = f"export-{timeline.timeline_id}"
    frame, buffers = _frame_message(first.snapshot(), 0, name)
    cache = {
        "type": "cache",
        "timeline": name,
        "frame_count": len(indices),
        "particles": count,
        "first": 0,
        "count": len(indices),
        "frames": len(indices),
    }
    traits: dict[str, Any] = {
        "_widget_id": "framecast-html",
        "python_version": __version__,
        "height": int(height),
        "spin": False,
        "color_by": "element",
        "in_process": False,
        "listen": "",
        "frame_index": 0,
        "particle_count": count,
        "cached_frames": len(indices),
    }
    data: dict[str, Any] = {
        "traits": traits,
        "frame": {**frame, "playback": {"playing": False, "fps": fps, "mode": "loop"}},
        "buffers": buffers,
        "cache": cache,
        "positions": base64.b64encode(block.tobytes()).decode(),
        "autoplay": autoplay,
    }
    rich = _rich(first.snapshot(), representations)
    if rich is not None:
        data["representations"], data["structure"] = rich
        traits["hide_solvent"] = True
    # Nothing in the module may end its script element or open an HTML comment there.
    if plot:
        data["plot"] = _plot(plot, timeline, indices, name, show)
    page = _PAGE.format(
        title=html.escape(title),
        width=960,
        css=(STATIC / "widgets.css").read_text(),
        about=html.escape(
            f"{len(indices)} frames of {count:,} particles, exported by framecast "
            f"{__version__}; plays here with no kernel and no network."
        ),
        module=_inline(STATIC / "viewer.js"),
        plot_module=_inline(STATIC / "plot.js") if plot else "",
        data=json.dumps(data).replace("</", "<\\/"),
    )
    target = Path(path)
    target.write_text(page, encoding="utf-8")
    return target
