"""The notebooks run top to bottom in a real kernel and show what their text promises."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"

pytestmark = pytest.mark.slow


def _run(name: str) -> list[str]:
    """Execute a notebook; return each code cell's text output (stdout and results)."""
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    NotebookClient(notebook, timeout=120, kernel_name="python3").execute()
    texts = []
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        parts = []
        for output in cell.get("outputs", []):
            if output.output_type == "stream":
                parts.append(output.text)
            elif output.output_type in ("execute_result", "display_data"):
                parts.append(output.data.get("text/plain", ""))
            elif output.output_type == "error":
                raise AssertionError(f"{name}: {output.ename}: {output.evalue}")
        texts.append("".join(parts))
    return texts


def test_quickstart_notebook_starts_a_session_connects_and_steers() -> None:
    out = _run("01-quickstart.ipynb")
    text = "\n".join(out)
    assert "SessionControls(" in text  # the session displayed as its control bar
    assert "playing: True" in text
    assert "positions: (500, 3) float32" in text
    assert "first update: reset" in text
    assert "later update: ['energy.kinetic', 'energy.potential', 'energy.total', " in text
    assert "'particle.elements'" not in text.split("later update:")[1].splitlines()[0]
    assert "playing: False" in text
    assert "playback/step_back" in text
    assert "[0, 1, 2]" in text
    assert "framecast watch 127.0.0.1:" in text
    assert out[-1].strip() == "True"  # closed


def test_transitions_notebook_teaches_tracking_and_publishing() -> None:
    out = _run("02-transitions.ipynb")
    text = "\n".join(out)
    assert "<Transition #100 t = " in text
    assert "IndexError: transition 199 is out of range" in text
    assert "[Session('default', 1)]" in text
    assert "the viewer got transition #100" in text
    assert "(100, False)" in text  # the session followed the transition and paused
    assert "[Session('axion', 1)]" in text
    assert "[Session('axion', 1), Session('default', 1)]" in text
    assert "particles=(0, 1, 2)" in text
    assert "<Transition #1 call parse \u2192 ret>" in text
    assert "#100 t = 2.000 \u2192 2.020 ps  2" in text  # the table's plain-text fallback
    assert "#101 t = 2.020 \u2192 2.040 ps  frame 101 to 102" in text
    # publish_transition printed True with a listener, then False with none.
    results = [cell.strip() for cell in out]
    assert results.count("True") >= 2
    assert "False" in results


def test_viewer_notebook_shows_the_viewer_following_transitions() -> None:
    out = _run("03-viewer.ipynb")
    text = "\n".join(out)
    assert "SessionControls(" in text
    assert "Viewer(" in text
    assert "Session('default', 1)" in text
    assert out[3].strip() == "True"  # published to the viewer's session
    assert out[4].startswith("the simulation is back at frame ")
    assert out[4].strip().endswith("playing: False")
    assert out[5].strip() == "True"  # the selection reached the viewer
    assert "200 of 200 frames cached in the page" in text  # the trajectory's page cache


def test_real_data_notebook_loads_files_and_steers_openmm() -> None:
    out = _run("04-real-data.ipynb")
    text = "\n".join(out)
    assert "Trajectory(98 frames, 3341 particles" in text
    assert "atoms: 3341 residues: 214" in text
    assert "first residues: ['MET', 'ARG', 'ILE', 'ILE', 'LEU'] [1, 2, 3, 4, 5]" in text
    assert "bonds: 3365 chains: ['4AKE']" in text
    assert "SessionControls(" in text
    assert "Viewer(" in text
    assert "#42 t = " in text  # the table of links, as plain text
    assert "the session is at frame 42 playing: False" in text  # it followed the link
    assert "Trajectory(10 frames, 3341 particles, fps=30, mode='loop', streamed)" in text
    assert "t = 300.000 \u2192 400.000 ps" in text
    assert "ValueError: MDAnalysis cannot read" in text
    assert "still serving: Trajectory with 3341 atoms" in text
    assert re.search(r"frame \d+: t = [\d.]+ ps, E_kin = [\d.]+ kJ/mol, E_pot = -?[\d.]+", text)
    assert "restarted at frame 0 t = 0.0" in text
    assert out[-1].strip() == "True"  # closed


def test_record_replay_notebook_records_replays_and_exports() -> None:
    out = _run("06-record-replay.ipynb")
    text = "\n".join(out)
    written = re.search(r"(\d+) frames, \d+ keyframes, (\d+) merged", text)
    assert written, text
    # The recorder keeps up: on a loaded machine one update may merge into the next (it
    # is never lost), but not a tenth of them. Its speed is benchmarks/recording.py's.
    assert int(written.group(2)) <= int(written.group(1)) // 10, text
    assert re.search(r"<Replay 'argon.fcrec': \d+ frames", text)
    assert "state      {'note': 'the moment worth a look'}" in text
    assert re.search(r"transition +\d+", text)
    assert "<Transition #" in text  # the link to the recorded moment
    assert re.search(r"MDAnalysis reads \d+ frames of 300 atoms", text)
    assert re.search(r"argon.gif: \d+ KiB; argon.html: \d+ KiB", text)
    assert out[-1].strip() == "True"


def test_interactive_notebook_pulls_a_peptide_and_serves_nanover() -> None:
    out = _run("07-interactive.ipynb")
    text = "\n".join(out)
    match = re.search(r"end-to-end distance: ([\d.]+) nm -> ([\d.]+) nm", text)
    assert match, text
    assert float(match.group(2)) > float(match.group(1)) + 0.5  # pulled apart
    assert re.search(r"work done: \d+ \+ \d+ kJ/mol", text)
    assert "pulls left: 0" in text
    assert "forces.user.work_done" in text
    assert "forces.user.sparse (2, 3)" in text
    assert "ValueError: interaction position must be finite" in text
    assert "TypeError: cannot interact: the session shows a Trajectory" in text
    assert re.search(r"ws://127\.0\.0\.1:\d+", text)
    assert "frame.index 0 positions (137, 3)" in text
    assert out[-1].strip() == "True"


def test_fan_out_notebook_relays_through_a_real_nats_server() -> None:
    out = _run("08-fan-out.ipynb")
    text = "\n".join(out)
    assert re.search(r"nats://127\.0\.0\.1:\d+/workshop", text)
    assert text.count("frame ") >= 3
    assert "(300, 3)" in text
    match = re.search(r"largest difference: ([\d.]+) nm", text)
    assert match
    assert float(match.group(1)) <= 0.0005
    assert "hello from a NATS viewer" in text
    assert "viewer 2 sees: hello from a NATS viewer" in text
    assert "UnknownCommandError: unknown command 'no/such/command'" in text
    assert "anyone listening: True" in text
    assert "viewer got transition 5" in text
    assert out[-1].strip() == "True False"


def test_plots_notebook_finds_a_spike_and_sends_every_viewer_there() -> None:
    out = _run("10-plots.ipynb")
    text = "\n".join(out)
    assert "Plot(a plot of energy.potential, energy.kinetic" in text
    found = re.search(r"(\d+) points; the largest jump is at frame (\d+)", text)
    assert found, text
    assert int(found.group(1)) >= 30
    spike = found.group(2)
    # The session went there, and the notebook's own viewer (listening on 'default') got it.
    assert f"the session is at frame {spike}; 1 client(s) got it" in text
    assert out[-1].strip() == "True"
