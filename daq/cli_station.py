"""``ssbench station check`` and ``ssbench drivers``: validate a station, list drivers."""

from __future__ import annotations

import argparse
import logging
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    station = subparsers.add_parser("station", help="station files: check a station")
    station_sub = station.add_subparsers(dest="station_command", metavar="ACTION", required=True)
    check = station_sub.add_parser(
        "check", help="validate a station file, connect to each instrument, print its identity"
    )
    check.add_argument("file", help="station YAML file")
    check.add_argument(
        "--no-connect", action="store_true", help="validate the file only, touch no instrument"
    )
    check.add_argument("--sim", action="store_true", help="use every instrument's simulated twin")
    check.set_defaults(handler=_check)

    drivers = subparsers.add_parser("drivers", help="list the drivers a station file can name")
    drivers.set_defaults(handler=_drivers)


def _check(args: argparse.Namespace) -> int:
    from daq.station import load_station_config

    config = load_station_config(args.file)
    print(f"{args.file}: station {config.name!r}, {len(config.instruments)} instrument(s) valid")
    if args.no_connect:
        for name, inst in config.instruments.items():
            print(f"  {name:<12} {inst.role:<13} {inst.driver:<22} {inst.resource}")
        return 0
    root = logging.getLogger()
    level = root.level
    if not args.debug:  # driver retries log warnings; the OK/FAIL lines say what matters
        root.setLevel(logging.ERROR)
    try:
        failed = _connect_each(config, args.sim)
    finally:
        root.setLevel(level)
    if failed:
        print(
            f"ssbench: {failed} of {len(config.instruments)} instrument(s) failed", file=sys.stderr
        )
        return 1
    return 0


def _connect_each(config, simulate: bool) -> int:
    """Open every instrument it can, print OK + identity or FAIL + the error; count failures."""
    from daq.station import Station

    failures: dict[str, Exception] = {}
    with Station.open(config, simulate=simulate, failures=failures) as station:
        for name, cfg in config.instruments.items():
            if name in failures:
                status, text = "FAIL", _one_line(name, failures[name])
            else:
                try:
                    status, text = "OK", station.instruments[name].identity()
                except Exception as exc:  # noqa: BLE001 - one line per instrument, go on
                    status, text = "FAIL", _one_line(name, exc)
                    failures[name] = exc
            print(f"  {status:<4} {name:<12} {cfg.role:<13} {cfg.driver:<22} {text}")
    return len(failures)


def _one_line(name: str, exc: Exception) -> str:
    """The first line of an error (a user error as is, anything else with its type)."""
    from daq.cli import user_errors

    text = (str(exc).strip().splitlines() or [""])[0].removeprefix(f"{name}: ")
    return text if isinstance(exc, user_errors()) else f"{type(exc).__name__}: {text}"


def _drivers(args: argparse.Namespace) -> int:
    from drivers.registry import available

    for name, spec in sorted(available().items()):
        twin = f" [sim: {spec.sim_kind}]" if spec.sim_kind else ""
        print(f"{name:<24} {spec.role:<13} {spec.description}{twin}")
    return 0
