"""The ``framecast`` command line: ``serve`` a target, ``watch`` a server."""

from __future__ import annotations

import argparse
import math
import os
import signal
import statistics
import sys
import threading
import time
import warnings
from collections import deque
from collections.abc import Sequence
from types import FrameType
from typing import NoReturn, TextIO

import numpy as np

from framecast._support.pacing import MAX_INTERVAL
from framecast._version import __version__
from framecast.cli.common import Escaped
from framecast.cli.common import UsageError as _UsageError
from framecast.cli.common import connect as _connect
from framecast.cli.common import connection_arguments as _connection_arguments
from framecast.cli.common import describe as _describe_error
from framecast.cli.common import open_files as _open_files
from framecast.cli.doctor import add_doctor_command, doctor
from framecast.cli.files import add_file_commands, movie, record
from framecast.client.client import FrameUpdate
from framecast.frame import FieldValue, FrameData
from framecast.messages import SessionEvent, TransitionEvent
from framecast.session.app import DEFAULT_ADDRESS, DEFAULT_PORT
from framecast.session.session import Session
from framecast.targets.demo import argon
from framecast.targets.trajectory import Trajectory
from framecast.timeline import TIMELINE_KEY
from framecast.transports.security import TOKEN_ENV

__all__ = ["main"]

_EPILOG_SERVE = """\
examples:
  framecast serve                          the argon demo on 127.0.0.1:38801
  framecast serve --particles 2000 --port 0
  framecast serve --trajectory run.npz     an .npz with positions (T, N, 3)
  framecast serve top.pdb traj.xtc         any files MDAnalysis reads (framecast[mdanalysis])
  framecast serve top.psf traj.dcd --selection protein

Stop with Ctrl-C; the server shuts down cleanly.
"""

_EPILOG_WATCH = """\
examples:
  framecast watch 127.0.0.1:38801
  framecast watch 127.0.0.1:38801 --duration 10 --interval 0
  framecast watch 127.0.0.1:38801 --session default   also print published events
"""


class _Parser(argparse.ArgumentParser):
    """Reports a bad command line in one line, with exit status 2, as every other
    mistake of the user is reported."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="framecast",
        description="Broadcast simulations and trajectories over gRPC, and watch them.",
    )
    parser.add_argument("--version", action="version", version=f"framecast {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser(
        "serve",
        help="serve the demo simulation or a trajectory",
        description="Serve a target until Ctrl-C: the built-in argon simulation by default.",
        epilog=_EPILOG_SERVE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve.add_argument(
        "files",
        nargs="*",
        metavar="FILE",
        help="a topology and trajectory files MDAnalysis reads (PDB, GRO, PSF, XTC, DCD, ...), "
        "one .npz, or one recording (.fcrec, from framecast record)",
    )
    serve.add_argument(
        "--selection",
        metavar="SELECTION",
        help="MDAnalysis selection of the atoms to serve (e.g. 'protein')",
    )
    source = serve.add_mutually_exclusive_group()
    source.add_argument(
        "--trajectory",
        metavar="FILE.npz",
        help="play a trajectory file (positions (T, N, 3), optional topology keys)",
    )
    source.add_argument(
        "--particles",
        type=int,
        default=500,
        metavar="N",
        help="atoms in the demo argon box (default: %(default)s)",
    )
    serve.add_argument("--address", default=DEFAULT_ADDRESS, help="default: %(default)s")
    serve.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help="0 picks a free port (default: %(default)s)"
    )
    serve.add_argument(
        "--nanover-port",
        type=int,
        default=None,
        metavar="PORT",
        help="also serve NanoVer's clients (iMD VR, web, Python) over its WebSocket protocol "
        "on PORT (0 picks a free one; needs framecast[nanover])",
    )
    serve.add_argument(
        "--relay",
        metavar="URL",
        help="also publish to NATS at URL (nats://host:4222; user:password@, ?creds=FILE, "
        "tls://) for viewers on other machines (needs framecast[nats])",
    )
    serve.add_argument(
        "--relay-precision",
        type=float,
        default=0.001,
        metavar="NM",
        help="positions through NATS are rounded to NM nm (default: %(default)s; 0 sends "
        "them exactly)",
    )
    serve.add_argument("--name", default="framecast", help="session name (default: %(default)s)")
    serve.add_argument(
        "--fps", type=float, default=30.0, help="frames broadcast per second (default: %(default)s)"
    )
    serve.add_argument(
        "--token",
        default=None,
        help=f"token clients must present (default: none on loopback, a random one printed "
        f"otherwise; '' for none); also read from {TOKEN_ENV}",
    )
    serve.add_argument("--certfile", help="PEM certificate chain: serve over TLS")
    serve.add_argument("--keyfile", help="PEM private key of --certfile")

    watch = commands.add_parser(
        "watch",
        help="show what a server broadcasts: frame rate, fields, latency",
        description="Connect to a framecast server and show its frames live.",
        epilog=_EPILOG_WATCH,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    watch.add_argument(
        "address",
        help="HOST:PORT of the server (e.g. 127.0.0.1:38801), its framecast:// URL, or "
        "nats://host:4222/<session name> for a session relayed through NATS",
    )
    _connection_arguments(watch)
    watch.add_argument(
        "--interval",
        type=float,
        default=1 / 30,
        help="minimum seconds between frames (default: 1/30; 0 for every update)",
    )
    watch.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    watch.add_argument(
        "--session",
        metavar="NAME",
        help="also join this named session and print the transitions and selections published",
    )

    add_file_commands(commands)
    add_doctor_command(commands)
    return parser


def _serve(args: argparse.Namespace, out: TextIO) -> int:
    try:
        session, what = _start_serving(args)
    except _UsageError as error:
        print(f"framecast serve: {error}", file=sys.stderr, flush=True)
        return 2
    # SIGTERM ends the loop like Ctrl-C, so service managers also get a clean shutdown.
    previous = signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    try:
        # A token appears only when framecast made it up: one the user chose is theirs to
        # keep, and is not echoed where others may read the terminal or its log.
        where = session.url if session.token_generated else session.app.target
        tls = f" --cafile {args.certfile}" if args.certfile else ""
        tls_arg = f", tls={args.certfile!r}" if args.certfile else ""
        token_note = ""
        if session.token and not session.token_generated:
            token_note = f" (with your token: --token or {TOKEN_ENV})"
        print(f"framecast {__version__}: serving {what} at {where}", file=out)
        print(f"  watch it:   framecast watch {where}{tls}{token_note}", file=out)
        print(f"  in Python:  framecast.Client({where!r}{tls_arg})", file=out)
        if session.nanover_url is not None:
            nanover = (
                session.nanover_url
                if session.token_generated
                else session.nanover_url.split("?")[0]
            )
            print(f"  NanoVer:    NanoverImdClient.from_url({nanover!r}){token_note}", file=out)
        if session.relay_url is not None:
            print(f"  via NATS:   framecast watch {session.relay_url}", file=out)
        print("  stop with Ctrl-C", file=out, flush=True)
        session.start_loop()
    except KeyboardInterrupt:
        pass  # Ctrl-C (or SIGTERM) while the lines above printed: the same clean stop
    finally:
        # A second Ctrl-C during shutdown would interrupt close() and leave threads, the
        # port and a traceback behind; closing takes a few seconds at most, so it finishes.
        previous_int = signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        try:
            print("framecast: stopping...", file=out, flush=True)
            session.close()
        finally:
            signal.signal(signal.SIGINT, previous_int)
            signal.signal(signal.SIGTERM, previous)
        print("framecast: stopped", file=out, flush=True)
    return 0


def _start_serving(args: argparse.Namespace) -> tuple[Session, str]:
    """The session ``serve`` runs and what it shows; :class:`_UsageError` for bad input."""
    if not (math.isfinite(args.fps) and args.fps > 0 and 1 / args.fps <= MAX_INTERVAL):
        raise _UsageError(
            "--fps must be a finite number of frames per second, at least "
            f"{1 / MAX_INTERVAL:.6f} (one an hour), got {args.fps}"
        )
    for option, port in (("--port", args.port), ("--nanover-port", args.nanover_port)):
        if port is not None and not 0 <= port <= 65535:
            raise _UsageError(f"{option} must be in 0..65535 (0 picks a free port), got {port}")
    if args.files and args.trajectory:
        raise _UsageError("give FILE arguments or --trajectory, not both")
    if args.selection and not args.files:
        raise _UsageError("--selection applies to FILE arguments")
    if bool(args.certfile) != bool(args.keyfile):
        raise _UsageError("--certfile and --keyfile go together")
    if not args.files and not args.trajectory and args.particles < 2:
        raise _UsageError(f"--particles must be at least 2, got {args.particles}")
    try:
        if args.files:
            target: object = _still(_open_files(args.files, args.selection))
            described = (
                f"one frame of {target.particle_count} particles"
                if isinstance(target, FrameData)
                else str(target)
            )
            what = f"{' + '.join(args.files)}: {described}"
        elif args.trajectory:
            target = Trajectory.from_npz(args.trajectory)
            what = f"{args.trajectory}: {target}"
        else:
            target = argon(args.particles)
            what = f"the argon demo ({args.particles} atoms)"
        token = args.token if args.token is not None else os.environ.get(TOKEN_ENV)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            session = Session(
                target,
                name=args.name,
                address=args.address,
                port=args.port,
                frame_interval=1 / args.fps,
                token=token,
                tls=(args.certfile, args.keyfile) if args.certfile else None,
                nanover_port=args.nanover_port,
            )
        if args.relay:
            precision = args.relay_precision
            if not (math.isfinite(precision) and precision >= 0):
                session.close()
                raise _UsageError(f"--relay-precision must be >= 0 nm, got {precision}")
            try:
                session.relay(args.relay, precision=precision or None)
            except BaseException:
                session.close()
                raise
    except (ImportError, OSError, ValueError, TypeError) as error:
        raise _UsageError(_describe_error(error)) from None
    for warning in caught:
        print(f"framecast serve: warning: {warning.message}", file=sys.stderr, flush=True)
    return session, what


def _still(target: object) -> object:
    """A trajectory of one frame is that frame: served once, not replayed 30 times a
    second."""
    if isinstance(target, Trajectory) and target.frame_count == 1:
        fields = target.frame.snapshot()
        fields.pop(TIMELINE_KEY, None)
        return FrameData(fields)
    return target


def _raise_keyboard_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _describe(value: FieldValue) -> str:
    if isinstance(value, np.ndarray):
        return f"{value.dtype.str} {value.shape}"
    return repr(value)


class _WatchStats:
    """Updates seen in the last second, filled by the stream thread, read by the printer."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.arrivals: deque[tuple[float, float]] = deque()  # (receive time, latency)
        self.last: FrameUpdate | None = None
        self.first: FrameUpdate | None = None
        self.first_seen = threading.Event()

    def add(self, update: FrameUpdate) -> None:
        with self.lock:
            self.arrivals.append((update.receive_time, update.receive_time - update.publish_time))
            self.last = update
            if self.first is None:
                self.first = update
                self.first_seen.set()

    def line(self) -> str:
        now = time.time()
        with self.lock:
            while self.arrivals and self.arrivals[0][0] < now - 1.0:
                self.arrivals.popleft()
            latencies = [lat * 1000 for _, lat in self.arrivals]
            last = self.last
        if last is None:
            return "waiting for frames..."
        rate = f"{len(latencies):3d} fps"
        if latencies:
            p95 = np.percentile(latencies, 95)
            lat = f"latency {statistics.median(latencies):6.2f} ms median {p95:6.2f} ms p95"
        else:
            lat = "no update in the last second (paused?)"
        changed = ", ".join(sorted(last.fields)) or "-"
        return f"frame {last.frame_index:7d} | {rate} | {lat} | changed: {changed}"


def _describe_event(event: SessionEvent) -> str:
    latency = (event.receive_time - event.publish_time) * 1000
    if isinstance(event, TransitionEvent):
        label = f" {event.label}" if event.label else ""
        what = f"transition #{event.transition}{label} (timeline {event.timeline[:8]})"
    else:
        label = f" {event.label!r}" if event.label else ""
        shown = ", ".join(map(str, event.particles[:10]))
        more = ", ..." if len(event.particles) > 10 else ""
        what = f"selection of {len(event.particles)} particle(s){label}: {shown}{more}"
    return f"session {event.session!r}: {what} [{latency:.1f} ms]"


def _watch(args: argparse.Namespace, stream: TextIO) -> int:
    # What the server sends (keys, labels, its error messages) is shown, never obeyed.
    out, errors = Escaped(stream), Escaped(sys.stderr)
    stats = _WatchStats()
    try:
        client = _connect(args)
    except _UsageError as error:
        print(f"framecast watch: {error}", file=errors)
        return 2
    deadline = None if args.duration is None else time.monotonic() + args.duration
    printing = threading.Lock()
    with client:
        client.subscribe_frames(stats.add, interval=args.interval)
        print(f"connected to {client.address}", file=out, flush=True)
        if args.session:

            def show(event: SessionEvent) -> None:
                with printing:
                    print(_describe_event(event), file=out, flush=True)

            try:
                client.join(args.session, on_transition=show, on_selection=show)
            except ValueError as error:
                print(f"framecast watch: {error}", file=errors)
                return 2
            print(f"joined session {args.session!r}", file=out, flush=True)
        try:
            if stats.first_seen.wait(args.timeout) and stats.first is not None:
                first = stats.first
                print(f"frame {first.frame_index}: {len(first.fields)} fields", file=out)
                for key in sorted(first.fields):
                    print(f"  {key:28s} {_describe(first.fields[key])}", file=out)
                out.flush()
            while deadline is None or time.monotonic() < deadline:
                wait = 1.0 if deadline is None else min(1.0, deadline - time.monotonic())
                if client.frames_ended.wait(max(wait, 0.0)):
                    # The server stopped or dropped this client: say so, not "paused?".
                    why = client.frame_stream_ended(timeout=5.0)
                    why = why or f"the frame stream from {client.address} ended"
                    print(
                        f"framecast watch: {why} (the server stopped, or dropped this client)",
                        file=errors,
                    )
                    return 1
                with printing:
                    print(stats.line(), file=out, flush=True)
        except KeyboardInterrupt:
            pass
    return 0


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = _parser().parse_args(argv)
    stream = sys.stdout if out is None else out
    if args.command == "serve":
        return _serve(args, stream)
    if args.command == "doctor":
        return doctor(stream)
    if args.command in ("record", "movie"):
        try:
            return (record if args.command == "record" else movie)(args, stream)
        except _UsageError as error:
            print(f"framecast {args.command}: {error}", file=sys.stderr)
            return 2
    return _watch(args, stream)
