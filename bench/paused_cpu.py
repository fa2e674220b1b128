"""CPU time and run-clock advance of a simulated run while it is paused (issue 12, Must-have 3).

A plating/stripping protocol runs on the simulated station (the twins, their drivers and the
pressure loop, all in one child process), is paused at once, and stays paused for ``seconds`` of
wall time; the child measures its own CPU time (``time.process_time``: every thread) and the run
clock over that pause. ``--baseline TREE`` measures the same in another checkout (e.g. b2025ac,
before the paused run followed wall time) in the same invocation, for comparison.

    python bench/paused_cpu.py --seconds 30 --baseline /tmp/base-s19
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STATION = "examples/stations/sim.yaml"
PROTOCOL = "examples/protocols/plating_stripping.yaml"


def _measure(seconds: float) -> dict[str, float]:
    """In this process: run, pause at once, hold the pause ``seconds`` of wall time, abort."""
    from daq.station import Station, load_station_config
    from protocols.engine import Engine
    from protocols.loader import load_protocol
    from protocols.runstate import RunState

    protocol = load_protocol(PROTOCOL)
    with Station.open(load_station_config(STATION), simulate=True) as station:
        engine = Engine(protocol, station)
        runner = threading.Thread(target=engine.run, name="engine")
        runner.start()
        while engine.state is not RunState.RUNNING or engine.now() < 60.0:
            time.sleep(0.01)
        engine.pause(immediate=True)
        while engine.state is not RunState.PAUSED:
            time.sleep(0.01)
        cpu0, wall0, run0 = time.process_time(), time.monotonic(), engine.now()
        time.sleep(seconds)
        cpu1, wall1, run1 = time.process_time(), time.monotonic(), engine.now()
        engine.abort("benchmark done")
        runner.join()
    wall = wall1 - wall0
    return {"wall_s": wall, "cpu_s": cpu1 - cpu0, "cpu_fraction": (cpu1 - cpu0) / wall,
            "run_clock_advance_s": run1 - run0}  # fmt: skip


def _child(tree: Path, seconds: float) -> dict[str, float]:
    """:func:`_measure` in a fresh interpreter whose project code comes from ``tree``."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    out = subprocess.run([sys.executable, __file__, "--child", str(seconds)], cwd=tree, env=env,
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    return json.loads(out.strip().splitlines()[-1])


def paused_cpu(seconds: float = 30.0, baseline: Path | None = None) -> dict:
    """CPU use and run-clock advance over a ``seconds``-long pause of a simulated run: this tree
    (``"now"``) and, given a ``baseline`` checkout, that one (``"baseline"``)."""
    result = {"seconds": seconds, "now": _child(ROOT, seconds)}
    if baseline is not None:
        result["baseline"] = _child(Path(baseline), seconds)
    return result


def _show(name: str, m: dict[str, float]) -> str:
    return (f"{name:>8}: CPU {m['cpu_s']:.2f} s over {m['wall_s']:.1f} s paused "
            f"({100 * m['cpu_fraction']:.1f} % of a core); run clock advanced "
            f"{m['run_clock_advance_s']:,.1f} s ({m['run_clock_advance_s'] / m['wall_s']:,.1f} "
            "run s per wall s)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="pause length (wall s)")
    parser.add_argument("--baseline", type=Path, help="checkout of the code to compare with")
    parser.add_argument("--child", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(_measure(args.child)))
        return
    result = paused_cpu(args.seconds, args.baseline)
    print(f"paused simulated run ({PROTOCOL} on {STATION}), pause of {args.seconds:g} s:")
    for name in ("baseline", "now"):
        if name in result:
            print(_show(name, result[name]))


if __name__ == "__main__":
    main()
