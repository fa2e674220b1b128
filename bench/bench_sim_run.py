"""Run time a simulated run advances per wall second, tick by tick vs block mode (issue 12).

Each case runs an example protocol end to end — twins over TCP / ptys, the real drivers, the
engine, the live detectors and the run file — for ``--seconds`` of wall time in a fresh child
process, once with ``Engine(blocks=False)`` (every 0.1 s tick fetches, the old path and the
baseline) and once in block mode (protocols/blocks.py), and prints run seconds per wall second
(× real time) and the samples recorded. Then the CPU use of a paused run over 30 s
(bench/paused_cpu.py). Figures are printed, never asserted.

    python bench/bench_sim_run.py [--seconds 20] [--pause 30]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SIM = ROOT / "examples" / "stations" / "sim.yaml"
PROTOCOLS = ROOT / "examples" / "protocols"
#: name -> (protocol, station, steps of the protocol to drop for that station)
CASES = {
    "plating/stripping, 2450 + pressure rig": ("plating_stripping.yaml", "rig", ()),
    "plating/stripping, 2450 only": ("plating_stripping.yaml", "pot", ("set_pressure",)),
    "CCD under a pressure schedule, 2450 + rig": ("ccd_pressure_schedule.yaml", "rig", ()),
    "CCD ramp, 10 Hz, short detector, 2450 + rig": ("ccd_ramp.yaml", "rig", ()),
}


def _station_file(kind: str, folder: Path) -> Path:
    """The simulated station: sim.yaml as shipped, or its potentiostat alone."""
    if kind == "rig":
        return SIM
    text = SIM.read_text()
    path = folder / "pot.yaml"
    path.write_text(text[: text.index("  press:")])
    return path


def _protocol_file(name: str, drop: tuple[str, ...], folder: Path) -> Path:
    lines = (PROTOCOLS / name).read_text().splitlines(keepends=True)
    path = folder / name
    path.write_text("".join(ln for ln in lines if not any(f"type: {d}" in ln for d in drop)))
    return path


def _measure(case: str, blocks: bool, seconds: float) -> dict[str, float]:
    """In this process: run ``case`` for ``seconds`` of wall time (or to its end), then abort;
    the figures."""
    from daq.recording import open_recorder
    from daq.session import live_detectors
    from daq.station import Station, load_station_config
    from protocols.engine import Engine
    from protocols.loader import load_protocol

    name, station_kind, drop = CASES[case]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        proto_path = _protocol_file(name, drop, folder)
        protocol = load_protocol(proto_path)
        config = load_station_config(_station_file(station_kind, folder))
        with Station.open(config, simulate=True) as station:
            recorder = open_recorder(folder / "run.h5", protocol, proto_path.read_text(), station)
            engine = Engine(protocol, station, [recorder], detectors=live_detectors(protocol),
                            blocks=blocks)  # fmt: skip
            runner = threading.Thread(target=engine.run, name="engine")
            wall0, cpu0 = time.monotonic(), time.process_time()
            runner.start()
            runner.join(timeout=seconds)  # a short run may end sooner: measured to its end
            run_s, wall = engine.now(), time.monotonic() - wall0
            cpu = time.process_time() - cpu0
            if runner.is_alive():
                engine.abort("benchmark done")
                runner.join()
            recorder.close("aborted", "benchmark done")
    return {"run_s": run_s, "wall_s": wall, "cpu_s": cpu, "samples": engine._samples}


def _child(case: str, blocks: bool, seconds: float) -> dict[str, float]:
    out = subprocess.run([sys.executable, __file__, "--child", case, str(int(blocks)), str(seconds)],
                         cwd=ROOT, capture_output=True, text=True, check=True).stdout  # fmt: skip
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="wall s per run")
    parser.add_argument("--pause", type=float, default=30.0, help="pause length (wall s); 0: skip")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        case, blocks, seconds = args.child
        print(json.dumps(_measure(case, blocks == "1", float(seconds))))
        return
    print(f"run seconds per wall second over {args.seconds:g} s of wall time each:")
    for case in CASES:
        figures = {}
        for blocks in (False, True):
            m = _child(case, blocks, args.seconds)
            figures[blocks] = m["run_s"] / m["wall_s"]
            label = "blocks" if blocks else "ticks "
            print(f"  {case:<44} {label}: {figures[blocks]:8,.0f}x real time "
                  f"({m['run_s'] / 3600:6.2f} h run, {m['samples']:,} samples, "
                  f"CPU {m['cpu_s'] / m['wall_s']:.2f} cores)")  # fmt: skip
        print(f"  {'':<44} speed-up {figures[True] / figures[False]:.1f}x")
    if args.pause > 0:
        sys.path.insert(0, str(ROOT / "bench"))
        from paused_cpu import _show, paused_cpu

        print(f"paused run over {args.pause:g} s:")
        print(_show("now", paused_cpu(args.pause)["now"]))


if __name__ == "__main__":
    main()
