"""``ssbench sim serve``: start a station's simulated twins on loopback and print their resources."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    sim = subparsers.add_parser("sim", help="simulated instruments: serve a station's twins")
    sim_sub = sim.add_subparsers(dest="sim_command", metavar="ACTION", required=True)
    serve = sim_sub.add_parser(
        "serve",
        help="serve every instrument of a station as its simulated twin (127.0.0.1 only) "
        "and print the resource strings; Ctrl-C stops",
    )
    serve.add_argument("--station", required=True, help="station YAML file")
    serve.add_argument(
        "--rate", type=float, default=1.0, help="simulated seconds per real second (default 1)"
    )
    serve.add_argument(
        "--transport", choices=("pty", "tcp"), help="serial-type twins on ptys or loopback TCP"
    )
    serve.add_argument("--seconds", type=float, help="stop after this many real seconds")
    serve.set_defaults(handler=_serve)


def _serve(args: argparse.Namespace) -> int:
    import threading

    from daq.clock import RealClock
    from daq.station import load_station_config
    from drivers.registry import lookup
    from sim_instruments.lab import SimLab

    config = load_station_config(args.station)
    simulation = dict(config.simulation)
    if args.transport:
        simulation["transport"] = args.transport
    lab = SimLab(RealClock(rate=args.rate), simulation)
    try:
        print(
            f"simulated station {config.name!r} ({lab.world.config.preset}, seed {lab.world.config.seed}):"
        )
        for name, inst in config.instruments.items():
            kind = lookup(inst.driver).sim_kind
            if kind is None:
                print(f"  {name:<12} {inst.driver}: no simulated twin")
                continue
            print(f"  {name:<12} {inst.driver:<22} {lab.serve(kind, name, inst.settings)}")
        print("serving; Ctrl-C to stop", flush=True)
        threading.Event().wait(args.seconds)
    except KeyboardInterrupt:
        pass
    finally:
        lab.close()
    return 0
