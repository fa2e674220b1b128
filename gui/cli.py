"""``ssbench gui``: the bench window (registered by daq.cli; Qt is imported in the handler)."""

from __future__ import annotations

import argparse

from daq.cli_run import add_speed


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``gui`` subcommand to the ``ssbench`` parser."""
    p = subparsers.add_parser(
        "gui", help="the bench window: station, protocol, run control, live plots, run browser"
    )
    p.add_argument("--station", help="station YAML file (default: the last one used)")
    p.add_argument("--protocol", help="protocol YAML file (default: the last one used)")
    p.add_argument("--run", help="open this run file (or cycler export) in the run browser")
    p.add_argument("--sim", action="store_true", help="use the simulated twin of every instrument")
    add_speed(p)
    p.add_argument("--connect", action="store_true", help="connect the station at start-up")
    p.add_argument("--out", help="folder for run files (default: the last one used, or runs/)")
    p.set_defaults(handler=_gui)


def _gui(args: argparse.Namespace) -> int:
    import sys

    from gui.station_panel import SPEED_RANGE

    low, high = SPEED_RANGE
    if args.speed is not None and not low <= args.speed <= high:
        print(f"ssbench gui: error: argument --speed: the window's simulation speed spans "
              f"{low:g} to {high:g} run s per wall s, got {args.speed:g}", file=sys.stderr)  # fmt: skip
        return 2
    from gui.app import main

    return main(station=args.station, protocol=args.protocol, run=args.run, simulate=args.sim,
                out=args.out, connect=args.connect, speed=args.speed)  # fmt: skip
