"""``ssbench station check`` and ``ssbench drivers``: validate a station, list drivers."""

from __future__ import annotations

import argparse


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
    from daq.station import Station, load_station_config

    config = load_station_config(args.file)
    print(f"{args.file}: station {config.name!r}, {len(config.instruments)} instrument(s) valid")
    if args.no_connect:
        for name, inst in config.instruments.items():
            print(f"  {name:<12} {inst.role:<13} {inst.driver:<22} {inst.resource}")
        return 0
    with Station.open(config, simulate=args.sim) as station:
        for name, instrument in station.instruments.items():
            cfg = config.instruments[name]
            print(f"  {name:<12} {cfg.role:<13} {cfg.driver:<22} {instrument.identity()}")
    return 0


def _drivers(args: argparse.Namespace) -> int:
    from drivers.registry import available

    for name, spec in sorted(available().items()):
        twin = f" [sim: {spec.sim_kind}]" if spec.sim_kind else ""
        print(f"{name:<24} {spec.role:<13} {spec.description}{twin}")
    return 0
