"""``ssbench validate | run | resume | demo``: run a protocol on a station (registered by daq.cli)."""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the protocol subcommands to the ``ssbench`` parser."""
    p = subparsers.add_parser("validate", help="check a protocol (and a station) without hardware; "
                              "print expected duration and charge")  # fmt: skip
    p.add_argument("protocol", help="protocol YAML file")
    p.add_argument("--station", help="station YAML file: check roles and instrument ranges")
    p.set_defaults(handler=_validate)

    p = subparsers.add_parser(
        "run", help="run a protocol on a station, recording to an HDF5 run file"
    )
    p.add_argument("protocol", help="protocol YAML file")
    p.add_argument("--station", required=True, help="station YAML file")
    p.add_argument("--out", default="runs", help="folder for the run file (default: runs/)")
    p.add_argument("--sim", action="store_true", help="use the simulated twin of every instrument")
    add_speed(p)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(handler=_run)

    p = subparsers.add_parser(
        "resume", help="continue an interrupted run after its last completed step"
    )
    p.add_argument("run_file", help="the run's HDF5 file")
    p.add_argument("--force", action="store_true", help="also continue a run that ended 'failed'")
    p.add_argument("--station", help="station YAML file (default: rebuilt from the run file)")
    p.add_argument("--sim", action="store_true", help="use the simulated twin of every instrument")
    add_speed(p)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(handler=_resume)

    p = subparsers.add_parser("demo", help="simulated LLZO cell: CCD ramp under a stack-pressure "
                              "schedule, run file, analysis and report (< 1 min)")  # fmt: skip
    p.add_argument("--out", default="ssbench-demo", help="output folder (default: ssbench-demo/)")
    p.set_defaults(handler=_demo)


def speed(text: str) -> float:
    """``--speed N``: a number > 0 of run seconds per wall second (argparse says which)."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(
            f"must be a number > 0 (run seconds per wall second), got {text!r}"
        )
    return value


def add_speed(parser: argparse.ArgumentParser) -> None:
    """The ``--speed N`` option of a command that can open a simulated station."""
    parser.add_argument("--speed", type=speed, metavar="N",
                        help="simulated stations only: N run seconds per wall second "
                        "(e.g. 1 to watch in real time; default: as fast as possible, or the "
                        "station file's simulation.acceleration)")  # fmt: skip


def _speed_refused(args: argparse.Namespace, config) -> bool:
    """Say so, and True, when ``--speed`` is given for a station that is not simulated."""
    if args.speed is None or args.sim or config.simulated:
        return False
    print(f"ssbench: error: --speed {args.speed:g}: only a simulated station (--sim, or sim:// "
          "resources) runs on a virtual clock; a real run goes at real time (not started)",
          file=sys.stderr)  # fmt: skip
    return True


def _clock(args: argparse.Namespace):
    """The run clock ``--speed`` asks for (None: the station's own)."""
    if args.speed is None:
        return None
    from daq.clock import VirtualClock

    return VirtualClock(acceleration=args.speed)


def _validate(args: argparse.Namespace) -> int:
    from protocols.loader import load_protocol
    from protocols.validate import validate

    protocol = load_protocol(args.protocol)
    station = None
    if args.station:
        from daq.station import load_station_config

        station = load_station_config(args.station)
    report = validate(protocol, station)
    verdict = "is valid" if report.ok else "has problems"
    print(
        f"{args.protocol}: protocol {protocol.name!r} {verdict} (sha256 {protocol.sha256()[:12]})"
    )
    for line in report.lines():
        print(f"  {line}")
    return 0 if report.ok else 1


def _refusals(protocol, station, where: str) -> list[str]:
    """One line per reason ``validate`` finds to refuse running ``protocol`` on ``station``."""
    from protocols.validate import validate

    return [
        f"ssbench: error: {where}: {p} (not started)" for p in validate(protocol, station).problems
    ]


def _check_out(out: str) -> None:
    """Refuse, before anything starts, an ``--out`` that is a file or cannot be written."""
    import os

    from daq.runfile import RunFileError

    folder = Path(out)
    existing = next(p for p in (folder, *folder.parents) if p.exists() or p == Path(p.anchor))
    if not existing.is_dir():
        raise RunFileError(f"--out {out}: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise RunFileError(f"--out {out}: cannot write in {existing}")


def _console(args: argparse.Namespace, station) -> tuple[list, object]:
    """(listeners, controller): the progress bar (unless ``--quiet``; with the pace on a
    virtual clock) and the Ctrl-C policy, sharing the flag that keeps the bar off the prompt."""
    import functools
    import threading

    from protocols.console import ProgressBar, interactive

    prompting = threading.Event()
    simulated = station.clock.is_virtual
    listeners = [] if args.quiet else [ProgressBar(prompting=prompting, simulated=simulated)]
    return listeners, functools.partial(interactive, prompting=prompting)


def _report_result(output) -> int:
    result = output.result
    print(f"run file: {output.path}")
    print(f"status: {result.status} ({result.reason})")
    for outcome in result.outcomes:
        j = f", J_crit {outcome['j_crit'] * 0.1:.4g} mA/cm2" if "j_crit" in outcome else ""
        print(f"outcome: {outcome['result']}: {outcome['failure_mode']}{j}")
    return 0 if result.status in ("success", "stopped") else 1


def _run(args: argparse.Namespace) -> int:
    from daq.runfile import RunFileError
    from daq.session import execute, run_file_name
    from daq.station import Station, load_station_config
    from protocols.loader import load_protocol

    protocol = load_protocol(args.protocol)
    config = load_station_config(args.station)
    _check_out(args.out)
    text = Path(args.protocol).read_text(encoding="utf-8")
    if _speed_refused(args, config):
        return 2
    with Station.open(config, simulate=args.sim, clock=_clock(args)) as station:
        refusals = _refusals(protocol, station, args.protocol)
        if refusals:
            print("\n".join(refusals), file=sys.stderr)
            return 2
        path = Path(args.out) / run_file_name(protocol)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RunFileError(
                f"--out {args.out}: cannot create the folder ({exc.strerror})"
            ) from None
        listeners, controller = _console(args, station)
        with _safe_on_terminate(station):
            output = execute(protocol, text, station, path, listeners, controller=controller,
                             on_created=_announce)  # fmt: skip
    return _report_result(output)


def _announce(path: Path) -> None:
    print(f"recording to: {path}", flush=True)


@contextlib.contextmanager
def _safe_on_terminate(station):
    """A SIGTERM/SIGHUP outside the engine's own policy still leaves instruments safe."""
    from daq.terminate import Terminated

    try:
        yield
    except Terminated:
        station.safe_state()
        raise


def _resume(args: argparse.Namespace) -> int:
    from daq.recording import STATION_FILE_KEY
    from daq.resume import resume_point
    from daq.runfile import RunFileError, RunReader
    from daq.session import check_resumable, resume
    from daq.station import Station, StationConfig, load_station_config

    with RunReader(args.run_file) as reader:
        point = resume_point(reader)
    check_resumable(point, args.run_file, args.force)
    if args.station:
        config = load_station_config(args.station)
    else:
        with RunReader(args.run_file) as reader:
            stored = reader.station.get(STATION_FILE_KEY)
        if stored is None:
            raise RunFileError(
                f"{args.run_file}: no station file stored in the run; give --station"
            )
        config = StationConfig.model_validate(stored)
    if _speed_refused(args, config):
        return 2
    with Station.open(config, simulate=args.sim, clock=_clock(args)) as station:
        refusals = _refusals(point.protocol, station, args.run_file)
        if refusals:
            print("\n".join(refusals), file=sys.stderr)
            return 2
        print(f"recording to: {args.run_file}", flush=True)
        listeners, controller = _console(args, station)
        with _safe_on_terminate(station):
            output = resume(args.run_file, station, listeners, controller=controller,
                            force=args.force)  # fmt: skip
    return _report_result(output)


def _demo(args: argparse.Namespace) -> int:
    from daq.demo import run_demo

    return run_demo(Path(args.out))
