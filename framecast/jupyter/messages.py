"""The messages between the kernel and the page, as TypedDicts.

``labextension/src/widgets/messages.ts`` holds the same shapes as TypeScript interfaces,
and a test checks that the two agree key for key. Kernel to page messages have a ``type``;
page to kernel messages have a ``kind``, which names the handler of
:data:`framecast.jupyter.requests.HANDLERS` that answers them.
"""

from __future__ import annotations

from typing import Literal, NotRequired, TypedDict

__all__ = [
    "AckMessage",
    "AnnotationItem",
    "AnnotationsMessage",
    "CacheMessage",
    "ControlMessage",
    "FieldMeta",
    "FrameMessage",
    "HelloMessage",
    "Playback",
    "PlotData",
    "PlotPoints",
    "PlotRequest",
    "PlotSeries",
    "PublishMessage",
    "PullMessage",
    "ReplyMessage",
    "RepresentationItem",
    "RepresentationsMessage",
    "ScreenshotMessage",
    "ScreenshotRequest",
    "SelectionMessage",
    "StructureMessage",
    "StructureRequest",
]


class FieldMeta(TypedDict):
    """Where a field's array is among the message's binary buffers."""

    dtype: str
    shape: list[int]
    buffer: int


class Playback(TypedDict):
    """How a trajectory of this kernel plays, so the page's clock can go on alone."""

    playing: bool
    fps: float
    mode: str


class FrameMessage(TypedDict):
    """Kernel to viewer: the drawn fields of a frame, as binary buffers."""

    type: Literal["frame"]
    index: int
    reset: bool
    fields: dict[str, FieldMeta]
    timeline: str | None
    cached: bool
    jump: bool
    playback: Playback | None


class CacheMessage(TypedDict):
    """Kernel to viewer: a chunk of a trajectory's positions, frames first..first+count."""

    type: Literal["cache"]
    timeline: str
    frame_count: int
    particles: int
    first: int
    count: int
    frames: int


class SelectionMessage(TypedDict):
    """Kernel to viewer: highlight these particles."""

    type: Literal["selection"]
    particles: list[int]


class ScreenshotRequest(TypedDict):
    """Kernel to viewer: answer with a PNG of the view."""

    type: Literal["screenshot"]
    request: str


class ReplyMessage(TypedDict):
    """Kernel to page: the answer to a request sent over the widget's own comm."""

    type: Literal["reply"]
    request: str
    received: NotRequired[int]
    #: With ``received`` 0: where nobody listens and how to reach someone (it follows
    #: "no listeners").
    hint: NotRequired[str]
    error: NotRequired[str]
    done: NotRequired[str]
    #: After a control: the session's frame and whether it plays.
    frame: NotRequired[int]
    playing: NotRequired[bool]


class HelloMessage(TypedDict):
    """Page to kernel: a view was drawn; ``cache`` is what the page holds already."""

    kind: Literal["hello"]
    cache: dict[str, object] | None


class AckMessage(TypedDict):
    """Page to kernel: a frame is in (fire and forget: no reply)."""

    kind: Literal["ack"]
    widget: str


class ControlMessage(TypedDict):
    """Page to kernel: a play control of a bar (``frame`` for ``seek``, a pause or a step;
    ``fps`` for ``speed``)."""

    kind: Literal["control"]
    widget: str
    request: str
    action: str
    frame: NotRequired[int]
    fps: NotRequired[float]


class PublishMessage(TypedDict):
    """Page to kernel: a clicked link."""

    kind: Literal["publish"]
    request: str
    timeline: str
    #: A recorded timeline's content fingerprint, where the link has one.
    fingerprint: NotRequired[str | None]
    transition: int


class ScreenshotMessage(TypedDict):
    """Page to kernel: the PNG (base64) a screenshot request asked for."""

    kind: Literal["screenshot"]
    widget: str
    shot: str
    png: str


class PullMessage(TypedDict):
    """Page to kernel: shift-drag pulls ``particle`` toward ``position`` (nm), ``start``
    first; ``stop`` ends the pull."""

    kind: Literal["pull"]
    widget: str
    request: str
    particle: NotRequired[int]
    position: NotRequired[list[float]]
    start: NotRequired[bool]
    stop: NotRequired[bool]


class RepresentationItem(TypedDict):
    """One representation: ``style`` of the particles in buffer ``buffer`` (int32)."""

    id: str
    style: str
    colour: str
    opacity: float
    selection: str
    buffer: int


class RepresentationsMessage(TypedDict):
    """Kernel to viewer: the representations to draw (the session's, or the default for
    its topology); buffer ``solvent`` holds the water and ion particles."""

    type: Literal["representations"]
    items: list[RepresentationItem]
    default: bool
    solvent: int
    #: Counts the structures Mol* needs (another topology, another set of particles):
    #: the page builds Mol*'s structure again only for another.
    structure: int


class AnnotationItem(TypedDict):
    """A label (``text`` at the particles of buffer ``a``) or a distance (between the
    centres of buffers ``a`` and ``b``)."""

    kind: str
    text: str
    a: int
    b: int | None


class AnnotationsMessage(TypedDict):
    """Kernel to viewer: this view's labels and distances."""

    type: Literal["annotations"]
    items: list[AnnotationItem]


class StructureMessage(TypedDict):
    """Kernel to viewer: the structure for Mol* (buffer 0, a PDB text of the particles in
    buffer 1, int32 indices) and, with ``engine``, Mol* itself (buffer 2, gzipped)."""

    type: Literal["structure"]
    engine: bool
    structure: int


class StructureRequest(TypedDict):
    """Page to kernel: send the structure for Mol*, and the engine if ``engine``."""

    kind: Literal["structure"]
    engine: bool
    structure: int


class PlotSeries(TypedDict):
    """A series of a plot: its name and unit (kJ/mol, ps, nm...)."""

    name: str
    unit: str


class PlotData(TypedDict):
    """Kernel to plot: every point (buffers: the frames, the x values, one per series,
    float64; NaN is a gap)."""

    type: Literal["plot-data"]
    series: list[PlotSeries]
    count: int


class PlotPoints(TypedDict):
    """Kernel to plot: new points of a growing simulation; ``first`` is the oldest frame
    the engine keeps (older points go)."""

    type: Literal["plot-points"]
    frame: list[int]
    x: list[float | None]
    y: list[list[float | None]]
    first: int | None


class PlotRequest(TypedDict):
    """Page to kernel: a click on a plot: go to ``frame`` (``move``: the session seeks
    there; ``publish``: the transition goes to every listener)."""

    kind: Literal["plot"]
    widget: str
    request: str
    frame: int
    publish: bool
    move: bool
