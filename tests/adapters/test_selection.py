"""The selection language: MDAnalysis's syntax over any target's topology keys."""

from __future__ import annotations

import sys
import warnings
from typing import Any

import numpy as np
import pytest

import framecast
from framecast.adapters import selection as selection_module
from framecast.adapters.selection import EmptySelectionError, SelectionError, select
from framecast.testing.extras import require


@pytest.fixture(scope="module")
def adk() -> tuple[Any, dict[str, Any]]:
    """MDAnalysis's own universe of adenylate kinase, and framecast's frame of it."""
    mda = require("MDAnalysis")
    data = require("MDAnalysisTests.datafiles")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        universe = mda.Universe(data.PSF, data.DCD)
    fields = framecast.from_mdanalysis([data.PSF, data.DCD]).frame.snapshot()
    return universe, fields


@pytest.mark.parametrize(
    "text",
    [
        "protein and name CA",
        "backbone",
        "resname LYS ARG",
        "resid 12:20 and not name H*",
        "around 5 resid 12",
        "segid 4AKE and resnum 100",
        "bynum 1:10",
        "byres (name OG1 and resid 30:40)",
        "bonded name CA",
    ],
)
def test_strings_pick_what_mdanalysis_picks(adk: tuple[Any, dict[str, Any]], text: str) -> None:
    """Built from the frame's keys alone (``Universe.empty``), the selection agrees with
    MDAnalysis reading the files, geometric and bonded selections included."""
    universe, fields = adk
    theirs = universe.select_atoms(text).indices
    assert theirs.size > 0
    np.testing.assert_array_equal(select(text, fields), theirs)


def test_a_target_not_read_by_mdanalysis_selects_by_its_keys() -> None:
    """A simulation of framecast's own (argon, no residues) selects by element and name,
    with names and residues filled in from what the frame has."""
    fields = framecast.demo.argon(20).frame.snapshot()
    assert select("element Ar", fields).size == 20
    assert select("name Ar and index 0:4", fields).tolist() == [0, 1, 2, 3, 4]
    assert select("resname UNK", fields).size == 20  # one residue, named as unknown


def test_indices_slices_and_masks_need_no_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    fields = framecast.demo.argon(10).frame.snapshot()
    monkeypatch.setitem(sys.modules, "MDAnalysis", None)  # importing it now fails
    assert select(3, fields).tolist() == [3]
    assert select(slice(2, 8, 2), fields).tolist() == [2, 4, 6]
    assert select([5, 1, 5], fields).tolist() == [1, 5]
    assert select(np.arange(10) % 3 == 0, fields).tolist() == [0, 3, 6, 9]
    with pytest.raises(ImportError, match=r"pip install 'framecast\[mdanalysis\]'"):
        select("name Ar", fields)


def test_bad_selections_name_themselves(adk: tuple[Any, dict[str, Any]]) -> None:
    _, fields = adk
    with pytest.raises(SelectionError, match=r"selection 'resname \(' is not valid"):
        select("resname (", fields)
    with pytest.raises(SelectionError, match=r"'nonsense'"):
        select("nonsense", fields)
    with pytest.raises(SelectionError, match="empty selection string"):
        select("  ", fields)
    with pytest.raises(EmptySelectionError, match=r"'resname XYZ' matches no particle of the 3341"):
        select("resname XYZ", fields)
    assert select("resname XYZ", fields, allow_empty=True).size == 0
    with pytest.raises(SelectionError, match="particle index 3341 is out of range: 3341"):
        select([0, 3341], fields)
    with pytest.raises(SelectionError, match="mask selects from the 3341 particles"):
        select(np.ones(5, dtype=bool), fields)
    with pytest.raises(SelectionError, match="string, an int, a slice, indices or a mask"):
        select(np.array([0.5, 1.5]), fields)


def test_the_topology_is_built_once_per_topology(
    adk: tuple[Any, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Frames of one target share their topology arrays: the MDAnalysis topology is built
    for the first selection, not again for the next ones or the next frame."""
    _, fields = adk
    built: list[int] = []
    build = selection_module.build_universe

    def counting(fields: Any, count: int) -> Any:
        built.append(count)
        return build(fields, count)

    monkeypatch.setattr(selection_module, "build_universe", counting)
    monkeypatch.setattr(selection_module, "_universes", selection_module._Universes())
    select("name CA", fields)
    next_frame = {**fields, "particle.positions": fields["particle.positions"] + 0.1}
    select("around 3 resid 5", next_frame)
    assert built == [3341]
    select("name CA", {**fields, "particle.names": fields["particle.names"].copy()})
    assert built == [3341, 3341]  # another topology: built again
