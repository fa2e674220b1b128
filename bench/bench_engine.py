"""Engine benchmarks: safety reaction time, and sustained samples/s into the run file.

    /work/venv/bin/python bench/bench_engine.py [--quick]

1. Safety reaction: from the sample that crosses a limit to the acknowledged output-off (the
   ``limit_trip`` event's ``safe_at``), in sample periods and ms, at 10 Hz and 1 kHz, on the
   real clock. Chains: the engine alone (test-double potentiostat, instant output-off) and
   end to end (2450 emulator over TCP -> VISA driver -> engine). Target: <= 1 period + 10 ms.
2. Sustained samples/s per channel for 1, 4 and 8 concurrent channels (one engine, station and
   run file each): end to end at the 2450's fastest buffered rate (NPLC 0.01), and the engine +
   run file alone at 20 kHz per channel to show the engine's own ceiling. Target >= 10 k/s.

Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path
from types import SimpleNamespace

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from daq.clock import RealClock  # noqa: E402
from daq.recording import open_recorder  # noqa: E402
from protocols.engine import Engine, EngineEvent, Listener  # noqa: E402
from protocols.loader import load_protocol_text  # noqa: E402


def protocol(rate: float, seconds: float, limits: str):
    return load_protocol_text(
        f"name: bench\nsample: {{area: 1 cm2}}\nsampling: {{rate: {rate:g} Hz}}\nlimits: {limits}\n"
        f"steps: [{{type: galvanostatic, current: 1 mA, voltage_limit: 2 V, end: [{{time: {seconds:g} s}}]}}]\n"
    )


class TripWatch(Listener):
    def __init__(self) -> None:
        self.trip: EngineEvent | None = None

    def on_event(self, event: EngineEvent) -> None:
        if event.kind == "limit_trip":
            self.trip = event


def fake_station(clock, spike_at: float | None = None):
    from protocols_fakes import FakeCell, FakePotentiostat

    cell = FakeCell()
    if spike_at is not None:
        cell.script = lambda t, v, i: (np.where(t >= spike_at, 5.0, v), i)
    return SimpleNamespace(clock=clock, potentiostat=FakePotentiostat(clock, cell))


def emulator_station(stack: ExitStack, clock, nplc: float = 0.01):
    """A 2450 emulator on loopback TCP with its VISA driver (the real wire path)."""
    from drivers.keithley2450 import open_keithley2450
    from sim_instruments.faults import FaultInjector
    from sim_instruments.keithley2450 import Keithley2450Emulator
    from sim_instruments.lineserver import TcpLineServer
    from sim_instruments.world import SimConfig, SimWorld

    world = SimWorld(clock, SimConfig(seed=1))
    server = TcpLineServer(Keithley2450Emulator(world, FaultInjector(seed=1), channel="cell"))
    stack.callback(server.close)
    settings = {"timeout": "1 s", "backend": "@py", "nplc": nplc, "buffer_size": 200_000}
    driver = open_keithley2450("cell", server.visa_resource, settings, clock)
    stack.callback(driver.close)
    return SimpleNamespace(clock=clock, potentiostat=driver)


def reaction(chain: str, rate: float, repeats: int) -> list[tuple[float, float]]:
    """(to acknowledged output off, to detection) in s, for ``repeats`` trips."""
    out = []
    for _ in range(repeats):
        with ExitStack() as stack:
            clock = RealClock()
            if chain == "engine":
                station = fake_station(
                    clock, spike_at=0.5 + np.random.default_rng().uniform(0, 0.2)
                )
                limits = "{voltage: {max: 1 V}}"
            else:
                station = emulator_station(stack, clock, nplc=0.01 if rate > 100 else 1.0)
                limits = "{voltage: {max: 2 V}, current: 0.5 mA}"  # the 1 mA step crosses at once
            watch = TripWatch()
            result = Engine(protocol(rate, 5.0, limits), station, [watch]).run()
            assert result.status == "tripped", result.reason
            data = watch.trip.data
            out.append(
                (data["safe_at"] - data["sample_time"], data["detected_at"] - data["sample_time"])
            )
    return out


def throughput(chain: str, channels: int, rate: float, seconds: float) -> tuple[float, float]:
    """(recorded samples/s per channel, worst channel) over ``seconds`` of real time."""
    counts = [0] * channels
    walls = [0.0] * channels
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        runs = []
        for k in range(channels):
            clock = RealClock()
            station = fake_station(clock) if chain == "engine" else emulator_station(stack, clock)
            p = protocol(rate, seconds, "{voltage: {min: -2 V, max: 2 V}}")
            recorder = open_recorder(Path(tmp) / f"ch{k}.h5", p, "", station)
            runs.append((Engine(p, station, [recorder]), recorder))

        def go(k: int) -> None:
            engine, recorder = runs[k]
            t0 = time.perf_counter()
            result = engine.run()
            walls[k] = time.perf_counter() - t0
            recorder.close(result.status, result.reason)
            counts[k] = result.samples

        threads = [threading.Thread(target=go, args=(k,)) for k in range(channels)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    per = [c / w for c, w in zip(counts, walls, strict=True)]
    return statistics.mean(per), min(per)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats, shorter runs")
    args = parser.parse_args()
    repeats, seconds = (2, 1.5) if args.quick else (5, 3.0)

    print("safety reaction (crossing sample -> acknowledged output off), real clock")
    for chain in ("engine", "emulator"):
        for rate in (10.0, 1000.0):
            pairs = reaction(chain, rate, repeats)
            r, d = [p[0] for p in pairs], [p[1] for p in pairs]
            period = 1.0 / rate
            print(f"  {chain:<8} {rate:>6g} Hz: off acknowledged median {statistics.median(r) * 1e3:7.2f} ms "
                  f"({statistics.median(r) / period:6.2f} periods), max {max(r) * 1e3:7.2f} ms "
                  f"({max(r) / period:6.2f} periods); detected (engine part) max {max(d) * 1e3:6.2f} ms; "
                  f"target {(period + 0.010) * 1e3:.1f} ms")  # fmt: skip

    print("sustained samples/s per channel, recorded into one run file per channel")
    for chain, rate in (("emulator", 5000.0), ("engine", 20000.0)):
        for n in (1, 4, 8):
            mean, worst = throughput(chain, n, rate, seconds)
            print(
                f"  {chain:<8} {n} channel(s) at {rate:g} Hz: {mean:9.0f} /s mean, {worst:9.0f} /s worst"
            )


if __name__ == "__main__":
    main()
