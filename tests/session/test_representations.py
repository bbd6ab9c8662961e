"""Representations live in the shared state, in NanoVer's selection keys, for every viewer."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest

import framecast
from framecast.adapters.selection import EmptySelectionError, SelectionError
from framecast.session.representations import Representation, default_representations
from framecast.testing.extras import require


@pytest.fixture
def protein(no_leaks: None) -> Any:
    data = require("MDAnalysisTests.datafiles")
    require("MDAnalysis")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trajectory = framecast.from_mdanalysis([data.PSF, data.DCD])
    with framecast.Session(trajectory, port=0, autoplay=False) as session:
        yield session


def test_added_representations_are_nanover_selections_in_the_state(protein: Any) -> None:
    reps = protein.representations
    cartoon = reps.add("cartoon", "protein")
    stick = reps.add("licorice", "resid 12", colour="#ff8800", opacity=0.5)
    water = reps.hide("name H*")
    state = protein.shared_state.to_dict()
    value = state[cartoon.id]
    assert cartoon.id.startswith("selection.")
    assert value["selected"]["particle_ids"] == list(range(3341))
    assert value["properties"]["nanover.rendering.renderer"] == "cartoon"
    assert value["properties"]["nanover.rendering.hide"] is False
    assert state[stick.id]["properties"]["nanover.rendering.renderer"] == {
        "render": "liquorice",
        "color": "#ff8800",
    }
    assert state[water.id]["properties"]["nanover.rendering.hide"] is True
    assert [(r.style, r.selection, r.colour, r.opacity) for r in reps] == [
        ("cartoon", "protein", "element", 1.0),
        ("licorice", "resid 12", "#ff8800", 0.5),
        ("hidden", "name H*", "element", 1.0),
    ]
    reps.remove(stick)
    assert [r.id for r in reps] == [cartoon.id, water.id]
    with pytest.raises(KeyError, match="no representation"):
        reps.remove(stick.id)
    reps.clear()
    assert len(reps) == 0
    assert not [key for key in protein.shared_state.to_dict() if key.startswith("selection.")]


def test_a_client_in_another_thread_sees_and_sets_them(protein: Any) -> None:
    with framecast.Client(f"127.0.0.1:{protein.port}") as client:
        protein.representations.add("surface", "resid 1:10", opacity=0.4)
        state = client.shared_state.wait_for(
            lambda s: any(k.startswith("selection.") for k in s), timeout=10
        )
        (value,) = [v for k, v in state.items() if k.startswith("selection.")]
        assert isinstance(value, dict)
        assert value["properties"]["framecast.representation"]["style"] == "surface"
        # A selection a NanoVer client writes (its renderer names, no framecast part).
        client.shared_state["selection.vr.1"] = {
            "id": "selection.vr.1",
            "name": "ligand",
            "selected": {"particle_ids": [5, 6]},
            "properties": {"nanover.rendering.renderer": "ball and stick"},
        }
    framecast.testing.wait_until(
        lambda: len(protein.representations) == 2, what="the client's selection arrived"
    )
    styles = {rep.selection: rep.style for rep in protein.representations}
    assert styles == {"resid 1:10": "surface", "ligand": "ball-and-stick"}


def test_bad_input_is_refused_whole_and_named(protein: Any) -> None:
    reps = protein.representations
    with pytest.raises(ValueError, match="unknown style 'cartoonx': choose one of cartoon"):
        reps.add("cartoonx", "protein")
    with pytest.raises(ValueError, match="unknown colour 'blurple'"):
        reps.add("cartoon", "protein", colour="blurple")
    with pytest.raises(ValueError, match="opacity is from 0 to 1"):
        reps.add("cartoon", "protein", opacity=2)
    with pytest.raises(EmptySelectionError, match="'resname XYZ' matches no particle"):
        reps.add("cartoon", "resname XYZ")
    with pytest.raises(SelectionError, match="is not valid"):
        reps.hide("resname (")
    assert len(reps) == 0
    assert not protein.shared_state.keys()


def test_the_default_draws_polymers_as_cartoon_and_ligands_as_ball_and_stick() -> None:
    names = np.array(["ALA", "GLY", "LIG", "SOL", "NA", "DA"])
    residues = np.array([0, 0, 1, 2, 3, 3, 3, 4, 5])
    (cartoon, ligand) = default_representations(
        {"residue.names": names, "particle.residues": residues}
    )
    assert (cartoon.style, cartoon.particles) == ("cartoon", (0, 1, 2, 8))
    assert (ligand.style, ligand.particles) == ("ball-and-stick", (3,))
    # No residues, or no polymer: nothing but the plain view.
    assert default_representations({}) == []
    water = {"residue.names": np.array(["SOL"]), "particle.residues": np.zeros(3, int)}
    assert default_representations(water) == []


def test_a_selection_string_can_be_published(protein: Any) -> None:
    with framecast.Client(f"127.0.0.1:{protein.port}") as client:
        seen: list[Any] = []
        client.join("default", on_selection=seen.append)
        assert protein.sessions.publish_selection("resid 12 and name CA", label="Lys12")
        framecast.testing.wait_until(lambda: bool(seen), what="the selection arrived")
    mda = require("MDAnalysis")
    data = require("MDAnalysisTests.datafiles")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = mda.Universe(data.PSF).select_atoms("resid 12 and name CA").indices
    assert list(seen[0].particles) == expected.tolist()
    assert len(expected) == 1
    with pytest.raises(SelectionError, match="is not valid"):
        protein.sessions.publish_selection("resid (")


def test_nanover_state_values_that_are_not_selections_are_skipped() -> None:
    assert Representation.from_state("selection.x", {"selected": {"particle_ids": [-1]}}) is None
    assert Representation.from_state("selection.x", "text") is None
    rep = Representation.from_state(
        "selection.x",
        {"selected": {"particle_ids": [1]}, "properties": {"nanover.rendering.renderer": "vdw"}},
    )
    assert rep is not None
    assert rep.style == "spacefill"
