"""Interactive forces: NanoVer's ``interaction.<id>`` state values, and the forces they apply.

An interaction pulls a set of particles (through their centre of mass, or the one particle)
toward a point. Its potential is NanoVer's, so a VR user feels the same pull on a framecast
simulation as on a NanoVer one: ``gaussian`` (``1 - exp(-d^2 / 2)``, a soft well of width
1 nm), ``spring`` (``d^2``, a spring of constant 2 kJ/(mol nm^2)) or ``constant`` (a force of
magnitude 1 toward the point), each times ``scale``, the force capped by ``max_force``
kJ/(mol nm), and shared among the particles by mass (``mass_weighted``) or equally.

Pure numpy: engines call :class:`UserForces` once per frame; the session parses state
values with :meth:`Interaction.from_state`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

__all__ = [
    "INTERACTION_PREFIX",
    "KINDS",
    "Interaction",
    "UserForces",
]

#: Shared-state keys holding interactions start with this (NanoVer's prefix).
INTERACTION_PREFIX = "interaction."
#: The potentials an interaction may use.
KINDS = ("gaussian", "spring", "constant")
#: NanoVer's default cap on the force, kJ/(mol nm).
DEFAULT_MAX_FORCE = 20000.0
#: The bounds every session holds an interaction to, whoever sent it: ``|scale|`` at most
#: ``MAX_SCALE``, and a force of at most ``MAX_FORCE`` kJ/(mol nm) (a ``max_force`` of
#: infinity, NanoVer's "no cap of its own", gets this one). A value past them is refused
#: with the bound named, so no client can blow up another's simulation.
MAX_SCALE = 100_000.0
MAX_FORCE = 100_000.0

FloatArray = npt.NDArray[np.float64]

_SIGMA = 1.0  # nm, the width of the gaussian well
_SPRING = 2.0  # kJ/(mol nm^2)
_GAUSS_PEAK = 1 / (_SIGMA * math.sqrt(math.e))  # the largest force of the gaussian


def _number(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"interaction {what} must be a number, got {type(value).__name__}")
    return float(value)


@dataclass(frozen=True)
class Interaction:
    """One user's pull: ``particles`` toward ``position`` (nm), validated on creation.

    Raises ``ValueError`` (or ``TypeError``) naming the bad field: a position that is not
    three finite numbers, no particle or a negative index, an unknown ``kind``, a scale that
    is not finite, a ``max_force`` that is negative or NaN.
    """

    position: tuple[float, float, float]
    particles: tuple[int, ...]
    kind: str = "gaussian"
    scale: float = 1.0
    mass_weighted: bool = True
    reset_velocities: bool = False
    max_force: float = DEFAULT_MAX_FORCE
    #: NanoVer's other properties (``owner.id``, ``label``, ...), kept as they came.
    extra: Mapping[str, object] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        position = tuple(self.position) if isinstance(self.position, (list, tuple)) else None
        if position is None and isinstance(self.position, np.ndarray):
            position = tuple(self.position.tolist())
        if position is None or len(position) != 3:
            raise ValueError(f"interaction position must be 3 numbers (nm), got {self.position!r}")
        xyz = tuple(_number(v, "position") for v in position)
        if not all(math.isfinite(v) for v in xyz):
            raise ValueError(f"interaction position must be finite, got {xyz}")
        object.__setattr__(self, "position", xyz)
        particles = np.asarray(self.particles).reshape(-1)
        if particles.size == 0:
            raise ValueError("an interaction needs at least one particle")
        if particles.dtype.kind not in "iu":
            raise TypeError(f"interaction particles must be integers, got {self.particles!r}")
        if (particles < 0).any():
            raise ValueError(f"interaction particles must be >= 0, got {particles.min()}")
        object.__setattr__(self, "particles", tuple(int(i) for i in np.unique(particles)))
        if self.kind not in KINDS:
            raise ValueError(
                f"interaction kind must be one of {', '.join(KINDS)}, got {self.kind!r}"
            )
        scale = _number(self.scale, "scale")
        if not math.isfinite(scale):
            raise ValueError(f"interaction scale must be finite, got {scale}")
        if abs(scale) > MAX_SCALE:
            raise ValueError(
                f"interaction scale must be within +-{MAX_SCALE:g} "
                f"(framecast.targets.interactions.MAX_SCALE), got {scale:g}"
            )
        object.__setattr__(self, "scale", scale)
        max_force = _number(self.max_force, "max_force")
        if math.isnan(max_force) or max_force < 0:
            raise ValueError(f"interaction max_force must be >= 0 kJ/(mol nm), got {max_force}")
        if MAX_FORCE < max_force < math.inf:
            raise ValueError(
                f"interaction max_force must be at most {MAX_FORCE:g} kJ/(mol nm) "
                f"(framecast.targets.interactions.MAX_FORCE) or infinite, got {max_force:g}"
            )
        object.__setattr__(self, "max_force", max_force)
        for name in ("mass_weighted", "reset_velocities"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"interaction {name} must be true or false")

    @classmethod
    def from_state(cls, value: object) -> Interaction:
        """Parse a NanoVer ``interaction.<id>`` value (``position``, ``particles``,
        ``interaction_type``, ``scale``, ``mass_weighted``, ``reset_velocities``,
        ``max_force``; other keys are kept in :attr:`extra`)."""
        if not isinstance(value, Mapping):
            raise TypeError(f"an interaction is a map, got {type(value).__name__}")
        rest = dict(value)
        try:
            position = rest.pop("position")
            particles = rest.pop("particles")
        except KeyError as missing:
            raise ValueError(f"an interaction needs {missing.args[0]!r}") from None
        if not isinstance(particles, (list, tuple)) or not all(
            isinstance(i, int) and not isinstance(i, bool) for i in particles
        ):
            raise TypeError(f"interaction particles must be a list of integers, got {particles!r}")
        return cls(
            position=position,
            particles=tuple(particles),
            kind=rest.pop("interaction_type", "gaussian"),
            scale=rest.pop("scale", 1.0),
            mass_weighted=rest.pop("mass_weighted", True),
            reset_velocities=rest.pop("reset_velocities", False),
            max_force=rest.pop("max_force", DEFAULT_MAX_FORCE),
            extra=rest,
        )

    def to_state(self) -> dict[str, object]:
        """The NanoVer value of this interaction (what :meth:`from_state` reads)."""
        return {
            **self.extra,
            "position": list(self.position),
            "particles": list(self.particles),
            "interaction_type": self.kind,
            "scale": self.scale,
            "mass_weighted": self.mass_weighted,
            "reset_velocities": self.reset_velocities,
            "max_force": self.max_force,
        }

    def check_particles(self, count: int) -> None:
        """``ValueError`` if a particle index is not below ``count``."""
        if self.particles[-1] >= count:
            raise ValueError(
                f"interaction particle {self.particles[-1]} is out of range: the system has "
                f"{count} particles"
            )


def _pull(kind: str, diff: FloatArray, limit: float | None) -> tuple[float, FloatArray]:
    """Energy and force of one potential at ``diff`` (centre minus point), unscaled."""
    d2 = float(diff @ diff)
    if kind == "gaussian":
        gauss = math.exp(-d2 / (2 * _SIGMA * _SIGMA))
        energy, force = 1 - gauss, -(diff / (_SIGMA * _SIGMA)) * gauss
        if limit is not None and limit < _GAUSS_PEAK:
            energy, force = energy * limit / _GAUSS_PEAK, force * (limit / _GAUSS_PEAK)
        return energy, force
    if kind == "spring":
        if limit is not None and d2 > (limit / _SPRING) ** 2:
            diff = diff * ((limit / _SPRING) / math.sqrt(d2))
            d2 = (limit / _SPRING) ** 2
        return 0.5 * _SPRING * d2, -_SPRING * diff
    if d2 <= 0:  # constant: no direction when the centre is on the point
        return 0.0, np.zeros(3)
    distance = math.sqrt(d2)
    magnitude = 1.0 if limit is None else min(1.0, limit)
    return distance * magnitude, -(diff / distance) * magnitude


def _minimum_image(diff: FloatArray, box: FloatArray | None) -> FloatArray:
    if box is None:
        return diff
    return diff - box * np.round(diff / box)


def interaction_force(
    interaction: Interaction,
    positions: FloatArray,
    masses: FloatArray,
    box: FloatArray | None = None,
) -> tuple[float, FloatArray]:
    """The energy (kJ/mol) of one interaction and its force on each of its particles
    ((k, 3), kJ/(mol nm)); ``box`` is an orthorhombic box's edge lengths, or None."""
    index = np.asarray(interaction.particles)
    interaction.check_particles(len(positions))
    weights = masses[index] if interaction.mass_weighted else (masses[index] != 0).astype(float)
    total = float(weights.sum())
    if total == 0:
        return 0.0, np.zeros((len(index), 3))
    if len(index) == 1:
        centre = positions[index[0]].astype(float)
    else:
        chosen = positions[index].astype(float)
        if box is not None:
            chosen = chosen - np.floor(chosen / box) * box
        centre = (chosen * masses[index, None]).sum(axis=0) / max(float(masses[index].sum()), 1e-30)
    diff = _minimum_image(centre - np.asarray(interaction.position), box)
    # The cap on the scaled force: the interaction's own, never past the session's bound
    # (a negative scale pushes away, capped the same).
    cap = min(interaction.max_force, MAX_FORCE)
    limit = cap / abs(interaction.scale) if interaction.scale != 0 else None
    energy, force = _pull(interaction.kind, diff, limit)
    share = (weights / total)[:, None]
    return interaction.scale * energy, interaction.scale * force[None, :] * share


class UserForces:
    """The interactions an engine applies, and the work they have done.

    Each frame the engine calls :meth:`forces` with the positions it starts from (it then
    holds those forces constant over the frame's steps, as NanoVer does), then
    :meth:`account` with the positions it reached: the work of each interaction is the sum
    over frames of its force dotted with its particles' displacement (kJ/mol). The frame
    fields are NanoVer's (``energy.user.total``, ``forces.user.index``,
    ``forces.user.sparse``, ``forces.user.work_done``) plus, per interaction,
    ``forces.user.interactions`` (ids) and ``forces.user.interaction_work``.
    """

    def __init__(self) -> None:
        self._active: dict[str, Interaction] = {}
        self._applied: dict[str, tuple[npt.NDArray[np.intp], FloatArray, FloatArray]] = {}
        self._work: dict[str, float] = {}
        self._total_work = 0.0
        self._energy = 0.0
        self.used = False  # True once any interaction applied: frames carry the fields

    def set(self, interactions: Mapping[str, Interaction]) -> None:
        """Replace the active interactions (id -> interaction)."""
        self._active = dict(interactions)
        for key in list(self._work):
            if key not in self._active:
                del self._work[key]

    @property
    def active(self) -> dict[str, Interaction]:
        """The active interactions."""
        return dict(self._active)

    def forces(
        self, positions: FloatArray, masses: FloatArray, box: FloatArray | None
    ) -> FloatArray | None:
        """The summed force on every particle ((N, 3), kJ/(mol nm)), or None when no
        interaction is active. An interaction naming a particle past the system's is
        skipped (the session refuses such a value before it reaches here)."""
        self._applied = {}
        self._energy = 0.0
        if not self._active:
            return None
        total = np.zeros((len(positions), 3))
        for key, interaction in self._active.items():
            try:
                energy, force = interaction_force(interaction, positions, masses, box)
            except ValueError:
                continue
            index = np.asarray(interaction.particles, dtype=np.intp)
            np.add.at(total, index, force)
            self._applied[key] = (index, force, positions[index].astype(float))
            self._energy += energy
            self._work.setdefault(key, 0.0)
        self.used = True
        return total

    def account(self, positions: FloatArray, box: FloatArray | None) -> None:
        """Add the work done by the forces of the last :meth:`forces` call up to ``positions``."""
        for key, (index, force, start) in self._applied.items():
            moved = _minimum_image(positions[index].astype(float) - start, box)
            work = float(np.sum(force * moved))
            self._total_work += work
            if key in self._work:
                self._work[key] += work

    def reset(self) -> None:
        """Forget the work done (a restart)."""
        self._work = dict.fromkeys(self._work, 0.0)
        self._total_work = 0.0
        self._applied = {}
        self._energy = 0.0

    def fields(self) -> dict[str, object]:
        """This frame's user-force fields (empty until an interaction has applied)."""
        if not self.used:
            return {}
        keys = sorted(self._applied)
        if keys:
            index = np.concatenate([self._applied[k][0] for k in keys])
            force = np.concatenate([self._applied[k][1] for k in keys])
            unique, inverse = np.unique(index, return_inverse=True)
            sparse = np.zeros((len(unique), 3))
            np.add.at(sparse, inverse, force)
        else:
            unique, sparse = np.zeros(0, dtype=np.uint32), np.zeros((0, 3))
        ids = sorted(self._work)
        return {
            "energy.user.total": self._energy,
            "forces.user.index": unique.astype(np.uint32),
            "forces.user.sparse": sparse.astype(np.float32),
            "forces.user.work_done": self._total_work,
            "forces.user.interactions": np.array(ids, dtype=str),
            "forces.user.interaction_work": np.array([self._work[k] for k in ids], dtype=float),
        }

    def work(self, key: str) -> float | None:
        """The work done so far by interaction ``key`` (kJ/mol), None if it is not active."""
        return self._work.get(key)


def box_lengths(frame: Mapping[str, object]) -> FloatArray | None:
    """The edge lengths of an orthorhombic box in ``frame``, or None (no box, or skewed)."""
    box = frame.get("system.box.vectors")
    if not isinstance(box, np.ndarray) or box.shape != (3, 3):
        return None
    if np.count_nonzero(box - np.diag(np.diag(box))):
        return None
    lengths = np.diag(box).astype(float)
    return lengths if (lengths > 0).all() else None


def as_position(value: Sequence[float] | npt.ArrayLike) -> tuple[float, float, float]:
    """Three numbers (a list, a tuple or an array) as a position; ``ValueError`` otherwise."""
    try:
        xyz = np.asarray(value, dtype=float).reshape(-1)
    except (TypeError, ValueError):
        raise ValueError(f"a position is 3 numbers (nm), got {value!r}") from None
    if xyz.shape != (3,):
        raise ValueError(f"a position is 3 numbers (nm), got {value!r}")
    return float(xyz[0]), float(xyz[1]), float(xyz[2])


def sequence_of(values: Sequence[int] | npt.ArrayLike) -> tuple[int, ...]:
    """Particle indices as a tuple of ints (from a list, a range or an array)."""
    return tuple(int(i) for i in np.asarray(values).reshape(-1))
