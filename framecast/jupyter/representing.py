"""What a viewer offers to shape its drawing: the session's representations (shared by
every viewer of it) and this view's own labels and distances."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from framecast.adapters.selection import Selection, select
from framecast.jupyter.rich import RichView
from framecast.session.representations import Representation, Representations, StateStore

__all__ = ["Representing"]


class Representing:
    """The representation and annotation methods of :class:`~framecast.jupyter.viewer.Viewer`:
    ``_store`` is the shared state, ``_fields`` the frame on show, ``_rich`` the page side."""

    _store: StateStore
    _fields: Callable[[], Mapping[str, Any]]
    _rich: RichView

    @property
    def representations(self) -> Representations:
        """The session's representations, which every viewer of it draws (see
        :class:`~framecast.session.representations.Representations`)."""
        return Representations(self._store, self._fields)

    def add_representation(
        self, style: str, selection: Selection = "all", **options: Any
    ) -> Representation:
        """Draw ``selection`` as ``style`` (``"cartoon"``, ``"licorice"``, ``"surface"``,
        ``"spacefill"``, ``"ball-and-stick"``, ``"points"``, ``"lines"``) on every viewer
        of the session; ``colour`` and ``opacity`` as in
        :meth:`Representations.add <framecast.session.representations.Representations.add>`."""
        return self.representations.add(style, selection, **options)

    def hide(self, selection: Selection) -> Representation:
        """Hide ``selection`` on every viewer of the session."""
        return self.representations.hide(selection)

    def remove_representation(self, representation: Representation | str) -> None:
        """Take one representation away."""
        self.representations.remove(representation)

    def clear_representations(self) -> None:
        """Take every representation away: the viewers draw the default again."""
        self.representations.clear()

    def label(self, selection: Selection, text: str | None = None) -> None:
        """Label ``selection`` in this view (``text``, or its selection string), moving
        with the frames."""
        particles = select(selection, self._fields())
        self._rich.annotate("label", str(selection) if text is None else str(text), particles, None)

    def distance(self, a: Selection, b: Selection) -> None:
        """Draw the distance between ``a`` and ``b`` (their centres) in this view, as a
        dashed line with its value, updated every frame."""
        fields = self._fields()
        self._rich.annotate("distance", "", select(a, fields), select(b, fields))

    def clear_annotations(self) -> None:
        """Take this view's labels and distances away."""
        self._rich.clear_annotations()

    def plot(self, *series: object, **options: Any) -> Any:
        """A plot of ``series`` over the timeline of the session this viewer shows (see
        :meth:`framecast.Session.plot`); a click on it moves this viewer and the others."""
        session = getattr(self, "controlled_session", None)
        if session is None:
            raise TypeError("a plot needs the session in this kernel: plot it where it runs")
        return session.plot(*series, **options)

    @property
    def annotations(self) -> list[tuple[str, str]]:
        """This view's labels and distances: (``"label"`` or ``"distance"``, text)."""
        return self._rich.annotations
