"""``ssbench info RUN.h5``: metadata, streams (samples, time span), events and exit status."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    info = subparsers.add_parser("info", help="summarise a run file")
    info.add_argument("run", help="run file (.h5)")
    info.set_defaults(handler=_info)


def _info(args: argparse.Namespace) -> int:
    from daq.runfile import RunReader

    with RunReader(args.run) as run:
        attrs = run.attrs
        print(f"run       {attrs.get('run_uid')}  ({args.run})")
        print(f"created   {attrs.get('created_utc')}  ssbench {attrs.get('software_version')}")
        reason = f" — {run.exit_reason}" if run.exit_reason else ""
        print(f"status    {run.status}{reason}")
        sample = run.sample
        if sample:
            print("sample    " + ", ".join(f"{k}={v}" for k, v in sample.items()))
        for name, snap in run.station.items():
            if isinstance(snap, dict) and "identity" in snap:
                print(f"station   {name}: {snap['identity']}")
        sha = run.protocol["sha256"]
        if sha:
            print(f"protocol  sha256 {sha[:16]}…")
        for name in run.stream_names:
            n = run.stream_length(name)
            if n:
                t = run.stream(name, 0, 1)["time"].iloc[0], run.stream(name, n - 1)["time"].iloc[0]
                span = f"t = {t[0]:.3f} … {t[1]:.3f} s"
            else:
                span = "empty"
            desc = run.descriptor(name)
            source = f" from {desc.instrument} ({desc.role})" if desc.role else ""
            print(f"stream    {name}{source}: {n} samples, {span}, fields {', '.join(desc.units)}")
        for source in run.frame_sources:
            print(f"frames    {source}: {len(run.frame_times(source))} frames")
        events = run.events()
        if len(events):
            counts = events["kind"].value_counts()
            print("events    " + ", ".join(f"{k}: {v}" for k, v in counts.items()))
            for row in events.tail(5).itertuples():
                print(f"          t={row.time:.3f} s  {row.kind}  {row.message}")
        else:
            print("events    none")
    return 0
