"""``FrameData``: named arrays and values, with thread-safe dirty tracking.

A frame is what a target puts on the wire: positions, elements, bonds, energies and any
user field. Standard keys (the NanoVer vocabulary, see ``STANDARD_FIELDS``) are validated
on assignment, so a wrong dtype or shape fails where it was written, with the key named,
instead of in a viewer.

Writers (a simulation thread) and the broadcaster share one ``FrameData``. Every value is
stored as a read-only copy, so a writer that later mutates its own array in place can never
tear a frame that is being encoded.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

__all__ = [
    "STANDARD_FIELDS",
    "FieldSpec",
    "FieldValue",
    "FrameChanges",
    "FrameData",
    "validate_field",
]

#: What a field may hold: an array (numeric or of strings) or a scalar.
FieldValue = npt.NDArray[np.generic] | float | int | str | bool


@dataclass(frozen=True)
class FieldSpec:
    """The expected form of a standard key.

    ``kind`` is ``"float"``, ``"int"``, ``"str"`` (for arrays), or ``"scalar"`` (a number).
    ``shape`` uses ``None`` for a free dimension; ``()`` for scalars.
    """

    kind: str
    dtype: str | None
    shape: tuple[int | None, ...]
    description: str


# Array dtypes are fixed so that every client can decode them without negotiation.
STANDARD_FIELDS: Mapping[str, FieldSpec] = {
    "particle.positions": FieldSpec("float", "<f4", (None, 3), "positions in nm"),
    "particle.velocities": FieldSpec("float", "<f4", (None, 3), "velocities in nm/ps"),
    "particle.forces": FieldSpec("float", "<f4", (None, 3), "forces in kJ/(mol nm)"),
    "particle.elements": FieldSpec("int", "|u1", (None,), "atomic numbers"),
    "particle.names": FieldSpec("str", None, (None,), "particle names"),
    "particle.residues": FieldSpec("int", "<i4", (None,), "residue index of each particle"),
    "particle.count": FieldSpec("scalar", None, (), "number of particles"),
    "residue.names": FieldSpec("str", None, (None,), "residue names"),
    "residue.ids": FieldSpec("int", "<i4", (None,), "residue numbers as in the file"),
    "residue.chains": FieldSpec("int", "<i4", (None,), "chain index of each residue"),
    "residue.count": FieldSpec("scalar", None, (), "number of residues"),
    "chain.names": FieldSpec("str", None, (None,), "chain names"),
    "chain.count": FieldSpec("scalar", None, (), "number of chains"),
    "bond.pairs": FieldSpec("int", "<i4", (None, 2), "pairs of bonded particle indices"),
    "bond.orders": FieldSpec("float", "<f4", (None,), "bond orders"),
    "energy.kinetic": FieldSpec("scalar", None, (), "kinetic energy in kJ/mol"),
    "energy.potential": FieldSpec("scalar", None, (), "potential energy in kJ/mol"),
    "energy.total": FieldSpec("scalar", None, (), "total energy in kJ/mol"),
    "system.box.vectors": FieldSpec("float", "<f4", (3, 3), "periodic box vectors in nm"),
    "system.simulation.time": FieldSpec("scalar", None, (), "simulation time in ps"),
    "system.temperature": FieldSpec("scalar", None, (), "temperature in K"),
    "server.timestamp": FieldSpec("scalar", None, (), "server wall-clock time in s"),
}


def _check_shape(key: str, shape: tuple[int, ...], expected: tuple[int | None, ...]) -> None:
    ok = len(shape) == len(expected) and all(
        want is None or want == got for got, want in zip(shape, expected, strict=True)
    )
    if not ok:
        pretty = "(" + ", ".join("N" if d is None else str(d) for d in expected) + ")"
        raise ValueError(f"{key!r} must have shape {pretty}, got {shape}")


def _standard_value(key: str, spec: FieldSpec, value: object) -> FieldValue:
    if spec.kind == "scalar":
        if isinstance(value, np.ndarray) and value.shape == ():
            value = value.item()
        if isinstance(value, np.generic):
            value = value.item()
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{key!r} must be a number, got {type(value).__name__}")
        return value
    if spec.kind == "str":
        array = np.asarray(value)
        if array.dtype.kind not in "US" and not (array.dtype.kind == "O" and array.size == 0):
            raise ValueError(f"{key!r} must be an array of strings, got dtype {array.dtype}")
        _check_shape(key, array.shape, spec.shape)
        return _frozen(array.astype(str))
    array = np.asarray(value)
    assert spec.dtype is not None
    target = np.dtype(spec.dtype)
    # Integers may become floats; floats may not silently become integers.
    accepted = "iu" if spec.kind == "int" else "iuf"
    if array.dtype.kind not in accepted:
        raise ValueError(
            f"{key!r} must have a {spec.kind} dtype ({target.str}), got dtype {array.dtype}"
        )
    if spec.kind == "int" and array.size:
        info = np.iinfo(target)
        low, high = int(array.min()), int(array.max())
        if low < info.min or high > info.max:
            raise ValueError(f"{key!r} values must fit in {target.str}, got range {low}..{high}")
    _check_shape(key, array.shape, spec.shape)
    return _frozen(array.astype(target))


def _frozen(array: npt.NDArray[np.generic]) -> npt.NDArray[np.generic]:
    # astype copies, so the caller's array is never aliased; freezing makes accidental
    # in-place edits by readers fail loudly instead of corrupting a frame in flight.
    out = np.ascontiguousarray(array)
    out.setflags(write=False)
    return out


def validate_field(key: str, value: object) -> FieldValue:
    """Return ``value`` in the canonical form stored for ``key``.

    Standard keys are converted to their dtype when that is safe (float64 positions become
    float32); a wrong kind of dtype or a wrong shape raises ``ValueError`` naming the key.
    Other keys accept numeric or string arrays, numbers, strings and booleans; anything else
    raises ``TypeError`` naming the key. Arrays are always copied and made read-only.
    """
    if not isinstance(key, str) or not key:
        raise TypeError(f"frame keys must be non-empty strings, got {key!r}")
    spec = STANDARD_FIELDS.get(key)
    if spec is not None:
        return _standard_value(key, spec, value)
    if isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.generic):
        scalar: FieldValue = value.item()
        return scalar
    if isinstance(value, (np.ndarray, list, tuple)):
        array = np.asarray(value)
        if array.dtype.kind in "biuf":
            return _frozen(array.astype(array.dtype.newbyteorder("<")))
        if array.dtype.kind in "US":
            return _frozen(array.astype(str))
        raise TypeError(f"{key!r}: arrays must be numeric or of strings, got dtype {array.dtype}")
    raise TypeError(
        f"{key!r}: a frame field must be an array, number, string or bool, "
        f"got {type(value).__name__}"
    )


#: The key of a frame's simulation time, in picoseconds.
TIME_KEY = "system.simulation.time"
#: nm per Angstrom: positions travel in nm, as NanoVer's do.
ANGSTROM = 0.1


class FrameChanges(NamedTuple):
    """What changed in a frame since the last :meth:`FrameData.take_changes`.

    ``reset`` is true when keys were removed (or the frame cleared): a receiver must drop
    what it holds and apply ``fields``, which is then the whole frame.
    """

    frame_index: int
    fields: dict[str, FieldValue]
    reset: bool


class FrameUpdate(NamedTuple):
    """One update as a receiver sees it: the target's frame index, the fields that changed,
    and whether it is a reset (the receiver drops every key first).

    ``publish_time`` is the server's wall clock when it was published; ``receive_time``
    the receiver's when it arrived (0.0 for an update handed over in-process).
    """

    frame_index: int
    fields: dict[str, FieldValue]
    reset: bool
    publish_time: float
    receive_time: float = 0.0


class FrameData(MutableMapping[str, FieldValue]):
    """A typed mapping of named arrays and values that remembers what changed.

    Every assignment validates the value (see :func:`validate_field`) and marks the key
    dirty; :meth:`take_changes` atomically returns and clears the dirty fields, which is
    what the broadcaster sends. All methods are safe to call from several threads.

    ``index`` is the frame index of the target that owns this frame (a trajectory frame or
    a simulation step); set it together with fields through :meth:`update`.

    :meth:`on_change` registers a listener called after every change, which is how a
    broadcaster sends a change as soon as it is written instead of on a fixed tick.
    """

    def __init__(self, fields: Mapping[str, object] | None = None, *, index: int = 0) -> None:
        self._lock = threading.RLock()
        self._fields: dict[str, FieldValue] = {}
        self._dirty: set[str] = set()
        self._removed = False
        self._index = index
        # Replaced, never mutated, so that _changed() iterates without taking the lock.
        self._listeners: tuple[Callable[[], None], ...] = ()
        if fields:
            self.update(fields)

    # -- Mapping ----------------------------------------------------------------------------------
    def __getitem__(self, key: str) -> FieldValue:
        with self._lock:
            return self._fields[key]

    def __setitem__(self, key: str, value: object) -> None:
        stored = validate_field(key, value)
        with self._lock:
            self._fields[key] = stored
            self._dirty.add(key)
        self._changed()

    def __delitem__(self, key: str) -> None:
        with self._lock:
            del self._fields[key]
            self._dirty.discard(key)
            self._removed = True
        self._changed()

    def __iter__(self) -> Iterator[str]:
        with self._lock:
            return iter(list(self._fields))

    def __len__(self) -> int:
        with self._lock:
            return len(self._fields)

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._fields

    def __repr__(self) -> str:
        with self._lock:
            parts = [f"{k}={_describe(v)}" for k, v in self._fields.items()]
        return f"FrameData(index={self._index}, " + ", ".join(parts) + ")"

    # -- Batch operations -------------------------------------------------------------------------
    def update(  # type: ignore[override]
        self,
        fields: Mapping[str, object] | Iterable[tuple[str, object]] = (),
        /,
        *,
        index: int | None = None,
        **kwargs: object,
    ) -> None:
        """Set several fields (and optionally the frame index) as one atomic change.

        Every value is validated before any is stored, so a bad value leaves the frame
        exactly as it was.
        """
        items = dict(fields)
        items.update(kwargs)
        validated = {key: validate_field(key, value) for key, value in items.items()}
        with self._lock:
            self._fields.update(validated)
            self._dirty.update(validated)
            if index is not None:
                self._index = int(index)
        self._changed()

    def merge(self, fields: Mapping[str, FieldValue], *, index: int, reset: bool = False) -> None:
        """Apply decoded wire data: replace everything when ``reset``, else update.

        Values are stored as given, without validation: this is for clients applying
        updates that a framecast server validated before sending.
        """
        with self._lock:
            if reset:
                self._fields = dict(fields)
                self._removed = True
            else:
                self._fields.update(fields)
            self._dirty.update(fields)
            self._index = index
        self._changed()

    def clear(self) -> None:
        """Remove every field; the next :meth:`take_changes` reports a reset."""
        with self._lock:
            self._fields.clear()
            self._dirty.clear()
            self._removed = True
        self._changed()

    @property
    def index(self) -> int:
        """The owning target's frame index."""
        with self._lock:
            return self._index

    @index.setter
    def index(self, value: int) -> None:
        with self._lock:
            self._index = int(value)

    # -- Dirty tracking ---------------------------------------------------------------------------
    def on_change(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener()`` after every change to the fields; return a function that
        unregisters it.

        The listener runs on the writer's thread, after the frame's lock is released, so it
        must be quick and must not block: setting a ``threading.Event`` is the intended use.
        An exception from a listener propagates to the writer.
        """
        with self._lock:
            self._listeners = (*self._listeners, listener)

        def remove() -> None:
            with self._lock:
                kept = list(self._listeners)
                if listener in kept:
                    kept.remove(listener)
                self._listeners = tuple(kept)

        return remove

    def _changed(self) -> None:
        for listener in self._listeners:
            listener()

    @property
    def dirty(self) -> frozenset[str]:
        """The keys changed since the last :meth:`take_changes`."""
        with self._lock:
            return frozenset(self._dirty)

    def take_changes(self) -> FrameChanges:
        """Return the changed fields and the index, and clear the dirty set, atomically."""
        with self._lock:
            reset = self._removed
            keys = set(self._fields) if reset else self._dirty
            changes = FrameChanges(self._index, {k: self._fields[k] for k in keys}, reset)
            self._dirty = set()
            self._removed = False
            return changes

    def take_all(self) -> FrameChanges:
        """Return the whole frame as a reset and clear the dirty set, atomically."""
        with self._lock:
            self._dirty = set()
            self._removed = False
            return FrameChanges(self._index, dict(self._fields), True)

    def snapshot(self) -> dict[str, FieldValue]:
        """A shallow copy of every field (arrays are read-only, so sharing them is safe)."""
        with self._lock:
            return dict(self._fields)

    def copy(self) -> FrameData:
        """A new ``FrameData`` with the same fields and index, all marked dirty."""
        with self._lock:
            # Values are already validated and frozen, so skip re-validation.
            out = FrameData(index=self._index)
            out._fields = dict(self._fields)
            out._dirty = set(self._fields)
            return out

    # -- Convenience accessors for the common keys ------------------------------------------------
    @property
    def positions(self) -> npt.NDArray[np.float32] | None:
        """``particle.positions`` (N, 3) float32 in nm, or None."""
        value = self.get("particle.positions")
        return value if isinstance(value, np.ndarray) else None  # type: ignore[return-value]

    @property
    def particle_count(self) -> int:
        """The number of particles, from ``particle.count`` or the positions."""
        count = self.get("particle.count")
        if isinstance(count, int):
            return count
        positions = self.positions
        return 0 if positions is None else int(positions.shape[0])


def _describe(value: FieldValue) -> str:
    if isinstance(value, np.ndarray):
        return f"<{value.dtype.str} {value.shape}>"
    return repr(value)
