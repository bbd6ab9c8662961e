"""The command line, run as a user would: in subprocesses, stopped with Ctrl-C."""

from __future__ import annotations

import io
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import framecast
from framecast import Session
from framecast.testing import port_is_listening
from framecast.testing.extras import require
from framecast.testing.processes import Served, as_from_a_terminal, framecast_command
from framecast.testing.secure import self_signed

pytestmark = pytest.mark.slow


@pytest.fixture
def served() -> Iterator[Served]:
    with Served("--particles", "150") as server:
        yield server


def test_serve_prints_how_to_connect_and_stops_cleanly_on_ctrl_c(served: Served) -> None:
    text = "".join(served.lines)
    assert "serving the argon demo (150 atoms)" in text
    assert "framecast.Client(" in text
    port = int(served.address.rsplit(":", 1)[1])
    with framecast.Client(served.address) as client:
        frame = client.wait_for_frame()
        assert frame.positions is not None
        assert frame.positions.shape == (150, 3)
    assert served.interrupt() == 0
    assert "framecast: stopped" in "".join(served.lines)
    assert not port_is_listening(port)


# In a child process, never the test runner: the first Ctrl-C ends the loop, and a real
# second SIGINT, which the child sends itself, lands in the middle of close().
SECOND_CTRL_C = """
import os, signal, sys, threading
from framecast import Session, cli

signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal

def first_ctrl_c(self):
    pass  # start_loop as it returns on the first Ctrl-C

close = Session.close

def close_with_a_second_ctrl_c(self):
    os.kill(os.getpid(), signal.SIGINT)
    threading.Event().wait(0.05)  # a Python signal handler would run by now
    close(self)

Session.start_loop = first_ctrl_c
Session.close = close_with_a_second_ctrl_c
code = cli.main(["serve", "--port", "0", "--particles", "20"], sys.stdout)
assert signal.getsignal(signal.SIGINT) is signal.default_int_handler, "not restored"
sys.exit(code)
"""


def test_a_second_ctrl_c_while_stopping_does_not_break_the_shutdown() -> None:
    result = subprocess.run(
        [sys.executable, "-c", SECOND_CTRL_C], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "framecast: stopped" in result.stdout
    assert "Traceback" not in result.stderr


def test_serve_for_nanover_clients_too() -> None:
    msgpack = require("msgpack")
    websockets_client = require("websockets.sync.client")
    with Served("--particles", "30", "--nanover-port", "0") as server:
        match = re.search(r"NanoverImdClient\.from_url\('(ws://[^']+)'\)", "".join(server.lines))
        assert match, server.lines
        with websockets_client.connect(match.group(1), open_timeout=10) as nanover:
            frame = msgpack.unpackb(nanover.recv(timeout=10))["frame"]
        assert frame["frame.index"] == 0
        assert frame["particle.count"] == 30
        assert server.interrupt() == 0


def test_serve_a_trajectory_file(tmp_path: Path) -> None:
    path = tmp_path / "run.npz"
    framecast.demo.argon_trajectory(n=12, frames=5).save_npz(path)
    with Served("--trajectory", str(path)) as server, framecast.Client(server.address) as client:
        frame = client.wait_for_frame()
        assert frame.positions is not None
        assert frame.positions.shape == (12, 3)
        client.close()
        assert server.interrupt() == 0


def test_watch_shows_fields_rate_and_latency(no_leaks: None) -> None:
    with Session(framecast.demo.argon(100, density=5.0), port=0) as session:
        result = subprocess.run(
            framecast_command("watch", f"127.0.0.1:{session.port}", "--duration", "2.5"),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "particle.positions" in out
    assert "<f4 (100, 3)" in out
    assert re.search(r"\d+ fps \| latency +[\d.]+ ms median", out), out
    assert "changed: energy.kinetic" in out


def test_watch_reports_a_missing_server() -> None:
    result = subprocess.run(
        framecast_command("watch", "127.0.0.1:1", "--timeout", "0.5"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "no framecast server answered at 127.0.0.1:1" in result.stderr


def test_watch_says_when_the_server_goes_and_exits(no_leaks: None) -> None:
    # Not "no update in the last second (paused?)" forever: the stream ended, and why.
    session = Session(framecast.demo.argon(20), port=0)
    try:
        watch = subprocess.Popen(
            framecast_command("watch", f"127.0.0.1:{session.port}"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert watch.stdout is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # bounded: the first frame's description
            line = watch.stdout.readline()
            if not line or line.startswith("frame "):
                break
        assert line.startswith("frame "), line
    finally:
        session.close()
    try:
        stdout, stderr = watch.communicate(timeout=60)
    finally:
        watch.kill()
    assert watch.returncode == 1, stdout[-500:] + stderr
    assert f"frame stream from 127.0.0.1:{session.port} ended" in stderr
    assert "the server stopped, or dropped this client" in stderr


def test_serve_on_a_busy_port_names_the_port(no_leaks: None) -> None:
    with Session(port=0) as session:
        result = subprocess.run(
            framecast_command("serve", "--port", str(session.port)),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode != 0
    assert f"port {session.port}" in result.stderr


def _write_garbage(folder: Path) -> dict[str, str]:
    """Files a user might pass by mistake, by name."""
    rng = np.random.default_rng(7)
    files = {}
    for name in ("garbage.xtc", "garbage.dcd", "garbage.npz"):
        (folder / name).write_bytes(rng.bytes(3000))
        files[name] = str(folder / name)
    np.savez(folder / "nan.npz", positions=np.full((2, 3, 3), np.nan, np.float32))
    files["nan.npz"] = str(folder / "nan.npz")
    pdb = Path(require("MDAnalysisTests.datafiles").PDB_small).read_text()
    (folder / "truncated.pdb").write_text(pdb[: len(pdb) // 3])
    files["truncated.pdb"] = str(folder / "truncated.pdb")
    files["topology"] = str(require("MDAnalysisTests.datafiles").PDB_small)
    (folder / "cert.pem").write_text(
        "-----BEGIN CERTIFICATE-----\nZ2FyYmFnZQ==\n-----END CERTIFICATE-----\n"
    )
    (folder / "key.pem").write_text(
        "-----BEGIN PRIVATE KEY-----\nZ2FyYmFnZQ==\n-----END PRIVATE KEY-----\n"
    )
    files["cert.pem"], files["key.pem"] = str(folder / "cert.pem"), str(folder / "key.pem")
    return files


_BAD_SERVE = [
    (["--nanover-port", "70000"], "--nanover-port must be in 0..65535"),
    (["--trajectory", "{garbage.npz}"], "is not a framecast .npz trajectory"),
    (["--trajectory", "{nan.npz}"], "not finite"),
    (["--trajectory", "/no/such.npz"], "no such file"),
    (["{topology}", "{garbage.xtc}"], "MDAnalysis cannot read"),
    (["{topology}", "{garbage.dcd}"], "MDAnalysis cannot read"),
    (["{truncated.pdb}"], "the file is truncated"),
    (["--port", "-1"], "--port must be in 0..65535"),
    (["--port", "70000"], "--port must be in 0..65535"),
    (["--port", "many"], "invalid int value"),
    (["--address", "no-such-host.invalid"], "'no-such-host.invalid' is unknown"),
    (["--address", "192.0.2.1"], "is not an address of this machine"),
    (["--particles", "0"], "--particles must be at least 2"),
    (["--fps", "inf"], "--fps must be a finite number"),
    (["--fps", "1e-300"], "--fps must be a finite number"),
    (["--fps", "0"], "--fps must be a finite number"),
    (["--token", "caf\u00e9"], "token must be printable ASCII"),
    (["--certfile", "/no/cert.pem", "--keyfile", "/no/key.pem"], "cannot read the TLS"),
    (["--certfile", "{cert.pem}", "--keyfile", "{key.pem}"], "not a valid PEM pair"),
]


@pytest.mark.parametrize(("args", "message"), _BAD_SERVE)
def test_serve_refuses_bad_input_in_one_line_with_status_2(
    tmp_path: Path, args: list[str], message: str
) -> None:
    files = _write_garbage(tmp_path)
    argv = [files[arg[1:-1]] if arg.startswith("{") else arg for arg in args]
    argv = [arg.encode().decode("unicode_escape") for arg in argv]
    result = subprocess.run(
        framecast_command("serve", "--port", "0", *argv), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr  # no traceback, no "Exception ignored in __del__"
    assert lines[0].startswith("framecast serve: ")
    assert message in lines[0]
    assert "Traceback" not in result.stdout + result.stderr


def test_serve_echoes_no_token_it_did_not_make(tmp_path: Path) -> None:
    env = {**os.environ, "FRAMECAST_TOKEN": "my-own-secret"}
    process = subprocess.Popen(
        framecast_command("serve", "--port", "0", "--particles", "20"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**env, "PYTHONUNBUFFERED": "1"},
        preexec_fn=as_from_a_terminal,
    )
    assert process.stdout is not None
    lines = []
    for line in process.stdout:
        lines.append(line)
        if "stop with Ctrl-C" in line:
            break
    process.send_signal(signal.SIGINT)
    rest, _ = process.communicate(timeout=30)
    text = "".join(lines) + rest
    assert process.returncode == 0, text
    assert "my-own-secret" not in text
    assert "with your token" in text


@pytest.mark.parametrize("command", ["serve", "watch"])
def test_help_explains_each_command(command: str) -> None:
    result = subprocess.run(
        framecast_command(command, "--help"), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0
    assert "examples:" in result.stdout
    assert "--port" in result.stdout or "--duration" in result.stdout


def test_main_in_process_watch(no_leaks: None) -> None:
    """`main()` is also callable from Python (what the console script runs)."""

    from framecast.cli.main import main

    out = io.StringIO()
    with Session(framecast.demo.argon(60, density=5.0), port=0) as session:
        code = main(["watch", f"127.0.0.1:{session.port}", "--duration", "1.2"], out=out)
    assert code == 0
    assert "connected to" in out.getvalue()
    assert "frame " in out.getvalue()


def test_serve_md_files_with_a_selection() -> None:
    data = require("MDAnalysisTests.datafiles")
    with (
        Served(data.PSF, data.DCD, "--selection", "name CA") as server,
        framecast.Client(server.address) as client,
    ):
        frame = client.wait_for_frame(lambda f: f.particle_count > 0, timeout=30)
        assert frame.particle_count == 214  # one C-alpha per residue of adenylate kinase
        assert "adk.psf + " in "".join(server.lines)
        assert frame["residue.names"][0] == "MET"  # type: ignore[index]
        client.close()
        assert server.interrupt() == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["/no/such/top.pdb"], "no such file: '/no/such/top.pdb'"),
        (["pyproject.toml"], "MDAnalysis cannot read 'pyproject.toml'"),
        (["--selection", "protein"], "--selection applies to FILE arguments"),
    ],
)
def test_serve_refuses_bad_files_with_a_message(args: list[str], message: str) -> None:
    result = subprocess.run(
        framecast_command("serve", "--port", "0", *args),
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).parents[2],
    )
    assert result.returncode == 2
    assert message in result.stderr


def test_serve_names_the_extra_when_mdanalysis_is_missing(tmp_path: Path) -> None:
    top = tmp_path / "top.pdb"
    top.write_text("END\n")
    code = (
        "import sys; sys.modules['MDAnalysis'] = None; "  # as if it were not installed
        "from framecast.cli.main import main; sys.exit(main(['serve', '--port', '0', sys.argv[1]]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(top)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "pip install 'framecast[mdanalysis]'" in result.stderr


def test_serve_with_a_token_over_tls_and_watch_it_by_url(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    secured = ("--particles", "50", "--token", "tok3n", "--certfile", str(cert))
    with Served(*secured, "--keyfile", str(key)) as server:
        address = server.address
        assert address.startswith("127.0.0.1:")
        # A token the user chose is never echoed (framecast prints only one it made up).
        assert "tok3n" not in "".join(server.lines)
        assert "with your token" in "".join(server.lines)
        assert f"--cafile {cert}" in "".join(server.lines)
        url = f"framecast://{address}?token=tok3n"
        watched = subprocess.run(
            framecast_command("watch", url, "--cafile", str(cert), "--duration", "1.5"),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert watched.returncode == 0, watched.stderr
        assert "<f4 (50, 3)" in watched.stdout
        assert "tok3n" not in watched.stdout  # the console shows host:port, not the token
        refused = subprocess.run(
            framecast_command("watch", address, "--cafile", str(cert), "--timeout", "5"),
            capture_output=True,
            text=True,
            timeout=60,
            env={k: v for k, v in os.environ.items() if k != "FRAMECAST_TOKEN"},
        )
        assert refused.returncode == 2
        assert "needs a token" in refused.stderr
        assert server.interrupt() == 0


def test_serve_refuses_half_a_tls_pair() -> None:
    result = subprocess.run(
        framecast_command("serve", "--port", "0", "--certfile", "cert.pem"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "--certfile and --keyfile go together" in result.stderr


def test_record_a_server_then_serve_the_recording(tmp_path: Path, no_leaks: None) -> None:
    """framecast record for a while, then framecast serve FILE.fcrec replays it."""
    path = tmp_path / "demo.fcrec"
    with Session(framecast.demo.argon(40), port=0) as session:
        result = subprocess.run(
            framecast_command(
                "record", f"127.0.0.1:{session.port}", str(path), "--duration", "1.5"
            ),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 0, result.stderr
    assert "recording 127.0.0.1:" in result.stdout
    # Some updates may merge into the next on a busy machine (latest wins, nothing lost):
    # the recording is complete either way, as its replay below shows.
    counts = re.search(r"recorded (\d+) frames \((\d+) keyframes, (\d+) merged\)", result.stdout)
    assert counts, result.stdout
    assert int(counts[1]) >= 1
    assert int(counts[2]) >= 1
    with Served(str(path)) as server, framecast.Client(server.address) as client:
        assert "demo.fcrec" in "".join(server.lines)
        frame = client.wait_for_frame()
        assert frame.positions is not None
        assert frame.positions.shape == (40, 3)
        client.close()
        assert server.interrupt() == 0
    again = subprocess.run(
        framecast_command("record", "127.0.0.1:1", str(path), "--timeout", "0.5"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert again.returncode == 2
    assert "no framecast server answered at 127.0.0.1:1" in again.stderr


def test_serve_refuses_a_file_that_is_not_a_recording(tmp_path: Path) -> None:
    fake = tmp_path / "fake.fcrec"
    fake.write_text("not a recording")
    result = subprocess.run(
        framecast_command("serve", "--port", "0", str(fake)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "is not a framecast recording" in result.stderr


def test_movie_draws_a_recording_or_a_trajectory_headlessly(tmp_path: Path) -> None:
    import imageio.v2 as imageio

    source = tmp_path / "run.npz"
    framecast.demo.argon_trajectory(n=30, frames=10).save_npz(source)
    result = subprocess.run(
        framecast_command(
            "movie", str(source), str(tmp_path / "run.gif"), "--every", "2", "--size", "96x64"
        ),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "wrote 5 frames to" in result.stdout
    frames = imageio.mimread(tmp_path / "run.gif")
    assert len(frames) == 5
    assert frames[0].shape[:2] == (64, 96)
    bad = subprocess.run(
        framecast_command("movie", str(source), str(tmp_path / "x.gif"), "--size", "big"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2
    assert "--size must be WIDTHxHEIGHT, got 'big'" in bad.stderr


def _run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(framecast_command(*args), capture_output=True, text=True, timeout=120)


def test_file_and_address_mistakes_read_as_sentences(tmp_path: Path, no_leaks: None) -> None:
    """No ``[Errno N]``, no traceback: what is wrong and what to do, with exit status 2."""
    source = tmp_path / "run.npz"
    framecast.demo.argon_trajectory(n=10, frames=3).save_npz(source)
    existing = tmp_path / "taken.fcrec"
    existing.write_bytes(b"")
    with Session(framecast.demo.argon(20), port=0) as session:
        address = f"127.0.0.1:{session.port}"
        cases = [
            (
                ("record", address, str(existing), "--duration", "0.5"),
                f"{existing} exists: pass --overwrite or another name",
            ),
            (
                ("record", address, str(tmp_path / "no" / "x.fcrec"), "--duration", "0.5"),
                f"no such file or folder: {tmp_path / 'no' / 'x.fcrec'}",
            ),
            (
                ("movie", str(source), str(tmp_path / "out.avi2")),
                "name it .gif, or .mp4",
            ),
            (("movie", str(source), str(tmp_path / "no" / "out.gif")), "no such folder"),
            (
                ("watch", "127.0.0.1", "--timeout", "0.5"),
                "no port given: tried 38801, where framecast serve listens",
            ),
        ]
        for args, said in cases:
            result = _run_cli(*args)
            assert result.returncode == 2, (args, result.stderr)
            assert said in result.stderr, (args, result.stderr)
            assert "Errno" not in result.stderr
            assert "Traceback" not in result.stderr
        again = _run_cli("record", address, str(existing), "--duration", "0.5", "--overwrite")
        assert again.returncode == 0, again.stderr
        assert existing.stat().st_size > 0


def test_watch_shows_control_characters_from_the_server_escaped(no_leaks: None) -> None:
    from framecast.cli.main import main

    frame = framecast.FrameData()
    frame["particle.positions"] = [[0.0, 0.0, 0.0]]
    frame["evil.\x1b[31mred\x07"] = "x\x1b]0;title\x07"
    with Session(frame, port=0) as session:
        out = io.StringIO()
        assert main(["watch", f"127.0.0.1:{session.port}", "--duration", "0.5"], out=out) == 0
    shown = out.getvalue()
    assert "evil.\\x1b[31mred\\x07" in shown
    assert not any(ord(c) < 32 and c not in "\n\t" for c in shown)


def test_doctor_reports_what_is_installed_and_each_problem_with_its_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As a user runs it: everything this suite installs is there and sound.
    result = subprocess.run(
        [sys.executable, "-m", "framecast", "doctor"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for expected in (
        "framecast ",
        "widget modules: controls.js",
        "anywidget ",
        "enabled",
        "no problem found",
    ):
        assert expected in result.stdout
    # A missing widget module and a disabled extension: each named, with its fix, exit 1.
    import framecast.cli.doctor as doctor_module

    monkeypatch.setattr(doctor_module, "WIDGET_FILES", (*doctor_module.WIDGET_FILES, "gone.js"))
    config = tmp_path / ".jupyter" / "labconfig"
    config.mkdir(parents=True)
    (config / "page_config.json").write_text('{"disabledExtensions": {"framecast": true}}')
    monkeypatch.setattr(Path, "home", lambda: tmp_path)
    out = io.StringIO()
    assert doctor_module.doctor(out) == 1
    text = out.getvalue()
    assert "missing gone.js" in text
    assert "fix: reinstall" in text
    assert "the JupyterLab extension is disabled" in text
    assert "fix: jupyter labextension enable framecast" in text


def test_doctor_counts_an_extra_installed_only_when_all_its_modules_are(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import framecast.cli.doctor as doctor_module

    # This suite installs every extra; msgpack alone (another package's dependency) must
    # not make the nanover extra look installed without websockets.
    def line(lines: list[str], start: str) -> str:
        return next(text for text in lines if text.startswith(start))

    assert "nanover" in line(doctor_module.diagnose().lines, "extras installed:")
    real = doctor_module._importable
    monkeypatch.setattr(doctor_module, "_importable", lambda m: m != "websockets" and real(m))
    lines = doctor_module.diagnose().lines
    assert "nanover" not in line(lines, "extras installed:")
    assert "framecast[nanover]" in line(lines, "extras missing:")
