"""``Viewer.record_movie``: a movie of what the notebook's view draws, frame by frame.

The session goes to each frame (it must show a timeline it can seek: a trajectory, a
replay, a live engine's history), the view draws it, and its canvas comes back as a PNG over
the screenshot channel; imageio writes the movie (the ``movie`` extra). The session is left
paused on the last frame, or playing again if it played.
"""

from __future__ import annotations

import io
import os
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import numpy.typing as npt

from framecast._support.extras import require
from framecast._support.progress import progress as progress_bar
from framecast.export.movie import write_images
from framecast.timeline import TimelineBase

if TYPE_CHECKING:
    from framecast.session.session import Session

__all__ = ["FilmedViewer", "record_movie"]


class FilmedViewer(Protocol):
    """What a movie takes of a :class:`~framecast.jupyter.viewer.Viewer` (which calls this
    module, so it comes in through this ``Protocol``)."""

    frame_index: int

    @property
    def controlled_session(self) -> Session | None: ...

    def png(self, timeout: float = ...) -> bytes: ...

    def observe(self, handler: Callable[[Any], None], names: str) -> None: ...

    def unobserve(self, handler: Callable[[Any], None], names: str) -> None: ...


def record_movie(
    viewer: FilmedViewer,
    path: str | os.PathLike[str],
    *,
    frames: Sequence[int] | None = None,
    fps: float = 30.0,
    timeout: float = 10.0,
    progress: bool | None = None,
) -> Path:
    """Write ``frames`` (default: all) as the view draws them into a movie at ``path`` (GIF,
    MP4, ...); returns the path. ``progress``: a bar counting the frames (True always, False
    never, None after 2 s where someone watches: a notebook, a terminal). Raises
    ``RuntimeError`` for a viewer whose source is not a seekable timeline of this kernel,
    and ``TimeoutError`` when no view answers."""
    imageio = require("imageio.v2", "movie", "Viewer.record_movie")
    session = viewer.controlled_session
    target = session.target if session is not None else None
    if session is None or not isinstance(target, TimelineBase):
        raise RuntimeError(
            "record_movie needs a viewer of a session of this kernel that shows a timeline "
            "(a trajectory, a replay or a live engine's history): it moves the session to "
            "each frame"
        )
    indices = list(target.frame_range if frames is None else frames)
    playing = session.playing

    def images() -> Iterator[npt.NDArray[np.uint8]]:
        for index in progress_bar(
            indices, total=len(indices), what="recording the movie", show=progress
        ):
            _show(viewer, session.seek, index, timeout)
            picture = imageio.imread(io.BytesIO(viewer.png(timeout)))
            yield np.asarray(picture)[..., :3]

    try:
        return write_images(images(), path, fps)
    finally:
        if playing:
            session.play()


def _show(viewer: FilmedViewer, seek: Callable[[int], None], index: int, timeout: float) -> None:
    """Seek to ``index`` and wait until the viewer has sent that frame to its view."""
    sent = threading.Event()

    def changed(change: Mapping[str, Any]) -> None:
        if change["new"] == index:
            sent.set()

    viewer.observe(changed, names="frame_index")
    try:
        seek(index)
        if viewer.frame_index != index and not sent.wait(timeout):
            raise TimeoutError(f"the viewer did not send frame {index} within {timeout:g} s")
    finally:
        viewer.unobserve(changed, names="frame_index")
