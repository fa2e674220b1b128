"""Benchmark of the Keithley 2450 driver and emulator over pyvisa-py / TCP (loopback).

Prints, in one run of this script (each driver figure next to its ceiling from the same run):
- single-read latency: ``Keithley2450.read()`` vs a bare pyvisa query loop sending the same
  ``READ?`` line (the ceiling); driver overhead in % (target <= 20 %);
- buffered throughput: ``fetch()`` of N samples vs bare pyvisa ``TRAC:DATA?`` + numpy parse of
  the same rows; overhead in %;
- emulator SCPI queries/s with a bare pyvisa loop (target >= 5,000);
- emulator buffered samples/s: trigger model + SimWorld sampling + ``TRAC:DATA?`` transfer of
  READ,SOUR,REL,SOURSTAT rows, parsed with numpy (target >= 200,000).

Usage: python bench/bench_keithley.py [--reads 3000] [--samples 200000]
"""

from __future__ import annotations

import argparse
import statistics
import time

import pyvisa

from daq.clock import VirtualClock
from drivers.keithley2450 import BUFFER, ELEMENTS, open_keithley2450
from drivers.scpi import parse_table
from sim_instruments.keithley2450 import Keithley2450Emulator
from sim_instruments.lineserver import TcpLineServer
from sim_instruments.world import SimConfig, SimWorld

READ_LINE = f':READ? "defbuffer1", {ELEMENTS}'


def station(buffer_size: int):
    clock = VirtualClock()
    world = SimWorld(clock, SimConfig(seed=1))
    server = TcpLineServer(Keithley2450Emulator(world))
    settings = {"nplc": 0.01, "backend": "@py", "buffer_size": buffer_size, "timeout": "20 s"}
    driver = open_keithley2450("bench", server.visa_resource, settings, clock)
    return clock, server, driver


def bare_session(resource: str):
    rm = pyvisa.ResourceManager("@py")
    return rm.open_resource(
        resource, read_termination="\n", write_termination="\n", timeout=20000, chunk_size=1 << 20
    )


def paired(a, b, n: int, laps: int = 10) -> tuple[float, float, float]:
    """Seconds per call of ``a`` and ``b`` (medians over alternating laps of ``n // laps``
    calls) and the median of the per-lap ratios b/a: robust to load drifting on shared cores."""
    for _ in range(min(50, n)):
        a()
        b()
    ta, tb = [], []
    for lap in range(laps):
        for fn, acc in ((a, ta), (b, tb)) if lap % 2 == 0 else ((b, tb), (a, ta)):
            t0 = time.perf_counter()
            for _ in range(n // laps):
                fn()
            acc.append((time.perf_counter() - t0) / (n // laps))
    ratio = statistics.median(y / x for x, y in zip(ta, tb, strict=True))
    return statistics.median(ta), statistics.median(tb), ratio


def bench_reads(driver, bare, n: int) -> None:
    def bare_read():
        parse_table(bare.query(READ_LINE), 4, 1)

    ceiling, ours, ratio = paired(bare_read, driver.read, n)
    print(
        f"single read   bare pyvisa {ceiling * 1e6:8.1f} us   driver {ours * 1e6:8.1f} us   "
        f"overhead {100 * (ratio - 1):+6.1f} %  (target <= +20 %)"
    )


def bare_buffered(clock, bare, rate: float, samples: int) -> float:
    """What any client pays: trigger model, wait, TRAC:DATA? in chunks, numpy parse."""
    delay = 1.0 / rate - 0.01 / 50
    bare.write(f':TRIG:LOAD "DurationLoop", 100000, {delay:.9g}, "{BUFFER}"')
    bare.query(":INIT;:TRIG:STAT?")
    clock.advance(samples / rate)
    t0 = time.perf_counter()
    end = int(bare.query(f':TRAC:ACT:END? "{BUFFER}"'))
    got = 0
    for start in range(1, end + 1, 50_000):
        stop = min(start + 49_999, end)
        reply = bare.query(f':TRAC:DATA? {start}, {stop}, "{BUFFER}", {ELEMENTS}')
        got += len(parse_table(reply, 4, stop - start + 1))
    elapsed = time.perf_counter() - t0
    bare.write(":ABOR")
    assert got == samples, got
    return elapsed


def driver_buffered(clock, driver, rate: float, samples: int) -> float:
    driver.start_buffered(rate)
    clock.advance(samples / rate)
    t0 = time.perf_counter()
    block = driver.fetch()
    elapsed = time.perf_counter() - t0
    driver.stop_buffered()
    assert len(block.time) == samples, len(block.time)
    return elapsed


def bench_buffered(clock, driver, bare, samples: int, rounds: int = 3) -> None:
    rate = 5000.0  # NPLC 0.01 at 50 Hz: 0.2 ms aperture
    driver.set_current(1e-4, 2.0)
    ceiling, ours = [], []
    for k in range(rounds):
        order = [0, 1] if k % 2 == 0 else [1, 0]
        for which in order:
            if which == 0:
                ceiling.append(bare_buffered(clock, bare, rate, samples))
            else:
                ours.append(driver_buffered(clock, driver, rate, samples))
    c, o = statistics.median(ceiling), statistics.median(ours)
    print(
        f"buffered      bare pyvisa {samples / c:10,.0f} samples/s   driver "
        f"{samples / o:10,.0f} samples/s   overhead {100 * (o / c - 1):+6.1f} %"
    )
    print(
        f"emulator      {samples / c:10,.0f} buffered samples/s ({samples:,} samples x 4 elements: "
        f"SimWorld sampling + formatting + TCP + numpy parse; target >= 200,000)"
    )


def bench_queries(resource: str, n: int) -> None:
    bare = bare_session(resource)
    laps = []
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(n // 5):
            bare.query(":SOUR:CURR?")
        laps.append((n // 5) / (time.perf_counter() - t0))
    bare.close()
    print(
        f"emulator      {statistics.median(laps):10,.0f} SCPI queries/s "
        f"(bare pyvisa loop; target >= 5,000)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reads", type=int, default=3000)
    parser.add_argument("--samples", type=int, default=200_000)
    args = parser.parse_args()
    clock, server, driver = station(buffer_size=max(args.samples * 2, 10))
    bare = bare_session(server.visa_resource)
    try:
        driver.set_current(1e-4, 2.0)
        bench_reads(driver, bare, args.reads)
        bench_queries(server.visa_resource, args.reads)
        bench_buffered(clock, driver, bare, args.samples)
    finally:
        bare.close()
        driver.close()
        server.close()


if __name__ == "__main__":
    main()
