"""Pressure loop on the simulated rig: settling time and overshoot for steps to 1, 5, 25 MPa.

The software loop (load-cell indicator + screw actuator, ``drivers.pressure_rig``) runs end to
end: driver -> pyserial -> pseudo-terminal / socket:// -> emulators -> SimWorld on a virtual
clock. Each step starts from a released stack, at a gentle (2 MPa/s) and a fast (20 MPa/s)
setpoint ramp. Settling time: from the setpoint command until the true stack pressure stays
within 0.05 MPa for good ("after ramp": minus the ramp's own duration); overshoot: peak true
pressure above the target in % of the target; final error after 90 s. In the same run: the
loop without integral action (baseline) and the emulated integrated pressure controller.

Holding (issue 12): the software rig holds 5 MPa for 10 min of virtual time, driven as the
engine drives it (``service()`` when ``next_service_in`` says so on a 0.1 s tick grid,
``read()`` every 0.5 s), once with ``deadband`` 0 and ``hold_period`` = ``period`` (the loop
never rests: the rig before issue 12) and once with the defaults (deadband = tolerance / 2,
hold_period 2 s). Serial round trips are counted at the twins
(commands answered) and scaled to one simulated hour; × real time is virtual / wall seconds of
that hold alone (wall time varies with machine load; the round-trip counts do not).

    /work/venv/bin/python bench/bench_pressure.py
"""

from __future__ import annotations

import math
import time

from daq.clock import VirtualClock
from drivers.registry import open_driver
from sim_instruments.lineserver import PtyLineServer, TcpLineServer
from sim_instruments.press_devices import (
    LoadCellIndicatorEmulator,
    PressureControllerEmulator,
    ScrewActuatorEmulator,
)
from sim_instruments.world import SimConfig, SimWorld

AREA = 1e-4
TARGETS_MPA = (1.0, 5.0, 25.0)
RAMPS_MPA_PER_S = (2.0, 20.0)
TOLERANCE_PA = 0.05e6
PERIOD_S = 0.1
WINDOW_S = 90.0
RIG_SETTINGS = {
    "area": "1 cm2",
    "max_pressure": "40 MPa",
    "stiffness": "10 N/um",
    "step_size": "0.1 um",
    "tolerance": "0.05 MPa",
    "max_ramp_rate": "50 MPa/s",
}

Row = tuple[float, float, float, float, float]  # ramp, target, settling, overshoot, error


def step_response(world, rig, target_Pa: float, ramp: float) -> tuple[float, float, float]:
    """(settling s or nan, overshoot %, final error MPa) of one step from release."""
    clock = world.clock
    rig.set_pressure(target_Pa, rate=ramp)
    t0 = clock.now()
    peak, last_outside, pressure = 0.0, 0.0, 0.0
    while clock.now() - t0 < WINDOW_S:
        rig.service()
        pressure = world.stack_force_true_N() / AREA
        peak = max(peak, pressure)
        if abs(pressure - target_Pa) > TOLERANCE_PA:
            last_outside = clock.now() - t0
        clock.sleep(PERIOD_S)
    rig.release()
    clock.sleep(5.0)
    settle = last_outside if last_outside < WINDOW_S - 1.0 else math.nan
    return settle, max(peak - target_Pa, 0.0) / target_Pa * 100, (pressure - target_Pa) / 1e6


def steps(world, rig) -> list[Row]:
    clock = world.clock
    with clock.participant():
        return [
            (ramp, mpa, *step_response(world, rig, mpa * 1e6, ramp * 1e6))
            for ramp in RAMPS_MPA_PER_S
            for mpa in TARGETS_MPA
        ]


def software_rig(settings: dict) -> list[Row]:
    clock = VirtualClock()
    world = SimWorld(clock, SimConfig(area_m2=AREA, seed=1))
    lc = PtyLineServer(LoadCellIndicatorEmulator(world))
    act = TcpLineServer(ScrewActuatorEmulator(world))
    resource = {"loadcell": lc.port, "actuator": act.serial_url}
    rig = open_driver("loadcell_actuator_rig", "rig", resource, settings, clock)
    try:
        return steps(world, rig)
    finally:
        rig.close()
        lc.close()
        act.close()


def integrated_controller() -> list[Row]:
    clock = VirtualClock()
    world = SimWorld(clock, SimConfig(area_m2=AREA, seed=1))
    device = PressureControllerEmulator(world, area_m2=AREA)
    server = PtyLineServer(device)
    settings = {"max_pressure": "40 MPa", "tolerance": "0.05 MPa"}
    rig = open_driver("pressure_controller", "pc", server.port, settings, clock)
    try:
        return steps(world, rig)
    finally:
        rig.close()
        device.stop()
        server.close()


HOLD_S = 600.0
HOLD_TICK_S = 0.1
HOLD_SLOW_EVERY = 5  # read() every 5 ticks: the engine's default 2 Hz slow poll


class _Counted:
    """Wraps a twin's ``handle`` to count the commands it answers."""

    def __init__(self, device) -> None:
        self.n = 0
        self._handle = device.handle
        device.handle = self

    def __call__(self, command: str):
        self.n += 1
        return self._handle(command)


def hold(hold: dict[str, str]) -> tuple[float, float, float]:
    """(round trips per simulated hour, × real time, max |pressure - 5 MPa| in MPa)."""
    clock = VirtualClock()
    world = SimWorld(clock, SimConfig(area_m2=AREA, seed=1))
    lc_dev, act_dev = LoadCellIndicatorEmulator(world), ScrewActuatorEmulator(world)
    counters = [_Counted(lc_dev), _Counted(act_dev)]
    lc, act = PtyLineServer(lc_dev), TcpLineServer(act_dev)
    resource = {"loadcell": lc.port, "actuator": act.serial_url}
    settings = RIG_SETTINGS | hold
    rig = open_driver("loadcell_actuator_rig", "rig", resource, settings, clock)
    k, worst = 0, 0.0
    try:
        with clock.participant():
            rig.set_pressure(5e6)
            for phase in ("settle", "hold"):
                if phase == "hold":
                    before = sum(c.n for c in counters)
                    wall = time.perf_counter()
                end = k + round((30.0 if phase == "settle" else HOLD_S) / HOLD_TICK_S)
                while k < end:
                    if rig.next_service_in < HOLD_TICK_S / 2:
                        rig.service()
                    if k % HOLD_SLOW_EVERY == 0:
                        pressure = rig.read().pressure
                        if phase == "hold":
                            worst = max(worst, abs(pressure - 5e6) / 1e6)
                    k += 1
                    clock.sleep_until(k * HOLD_TICK_S)
            wall = time.perf_counter() - wall
            trips = sum(c.n for c in counters) - before
    finally:
        rig.close()
        lc.close()
        act.close()
    return trips * 3600.0 / HOLD_S, HOLD_S / wall, worst


def main() -> None:
    print(f"holding 5 MPa for {HOLD_S:.0f} s virtual (engine schedule, read() at 2 Hz)")
    print("  rig                        | round trips / sim. h | x real time | max |p - 5 MPa| MPa")
    for label, settings in (
        ("before: no deadband, 0.1 s", {"deadband": "0 MPa", "hold_period": "0.1 s"}),
        ("deadband 0.025 MPa, 2 s", {}),
    ):
        per_hour, speed, worst = hold(settings)
        print(f"  {label:>26} | {per_hour:20.0f} | {speed:11.0f} | {worst:.4f}")
    print()
    for label, run in (
        ("software loop (load cell + screw actuator), PI + feed-forward",
         lambda: software_rig(RIG_SETTINGS)),
        ("baseline: same loop without integral action (ki = 0)",
         lambda: software_rig(RIG_SETTINGS | {"ki": 0.0})),
        ("integrated pressure controller (emulated, regulates on the virtual clock)",
         integrated_controller),
    ):  # fmt: skip
        wall = time.perf_counter()
        rows = run()
        wall = time.perf_counter() - wall
        print(f"{label}: tolerance 0.05 MPa, period {PERIOD_S} s")
        print("  ramp MPa/s | target MPa | settling s | after ramp s | overshoot % | final MPa")
        for ramp, mpa, settle, overshoot, error in rows:
            after = settle - mpa / ramp
            print(
                f"  {ramp:10.0f} | {mpa:10.1f} | {settle:10.1f} | {after:12.1f} "
                f"| {overshoot:11.2f} | {error:+9.3f}"
            )
        virtual = len(rows) * (WINDOW_S + 5)
        print(f"  wall time {wall:.2f} s for {virtual:.0f} s of virtual time\n")


if __name__ == "__main__":
    main()
