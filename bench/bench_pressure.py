"""Pressure loop on the simulated rig: settling time and overshoot for steps to 1, 5, 25 MPa.

The software loop (load-cell indicator + screw actuator, ``drivers.pressure_rig``) runs end to
end: driver -> pyserial -> pseudo-terminal / socket:// -> emulators -> SimWorld on a virtual
clock. Each step starts from a released stack. Settling time: from the setpoint command until
the stack stays within the tolerance (0.05 MPa) for good; overshoot: peak true pressure above
the target, in % of the target. The integrated pressure controller is measured the same way.

    /work/venv/bin/python bench/bench_pressure.py
"""

from __future__ import annotations

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
TOLERANCE_PA = 0.05e6
PERIOD_S = 0.1
WINDOW_S = 90.0
RIG_SETTINGS = {
    "area": "1 cm2",
    "max_pressure": "40 MPa",
    "stiffness": "10 N/um",
    "step_size": "0.1 um",
    "ramp_rate": "2 MPa/s",
    "tolerance": "0.05 MPa",
}


def step_response(world, rig, target_Pa: float) -> tuple[float, float]:
    """(settling time s, overshoot %) of one step from release, on the true stack pressure."""
    clock = world.clock
    rig.set_pressure(target_Pa)
    t0 = clock.now()
    peak, last_outside = 0.0, 0.0
    while clock.now() - t0 < WINDOW_S:
        rig.service()
        pressure = world.stack_force_true_N() / AREA
        peak = max(peak, pressure)
        if abs(pressure - target_Pa) > TOLERANCE_PA:
            last_outside = clock.now() - t0
        clock.sleep(PERIOD_S)
    rig.release()
    clock.sleep(5.0)
    return last_outside, max(peak - target_Pa, 0.0) / target_Pa * 100


def software_rig() -> list[tuple[float, float, float]]:
    clock = VirtualClock()
    world = SimWorld(clock, SimConfig(area_m2=AREA, seed=1))
    lc = PtyLineServer(LoadCellIndicatorEmulator(world))
    act = TcpLineServer(ScrewActuatorEmulator(world))
    resource = {"loadcell": lc.port, "actuator": act.serial_url}
    rig = open_driver("loadcell_actuator_rig", "rig", resource, RIG_SETTINGS, clock)
    try:
        with clock.participant():
            return [(mpa, *step_response(world, rig, mpa * 1e6)) for mpa in TARGETS_MPA]
    finally:
        rig.close()
        lc.close()
        act.close()


def integrated_controller() -> list[tuple[float, float, float]]:
    clock = VirtualClock()
    world = SimWorld(clock, SimConfig(area_m2=AREA, seed=1))
    device = PressureControllerEmulator(world, area_m2=AREA, ramp_Pa_per_s=2e6)
    server = PtyLineServer(device)
    settings = {"max_pressure": "40 MPa", "tolerance": "0.05 MPa"}
    rig = open_driver("pressure_controller", "pc", server.port, settings, clock)
    try:
        with clock.participant():
            return [(mpa, *step_response(world, rig, mpa * 1e6)) for mpa in TARGETS_MPA]
    finally:
        rig.close()
        device.stop()
        server.close()


def main() -> None:
    for label, run in (
        ("software loop (load cell + screw actuator)", software_rig),
        ("integrated pressure controller", integrated_controller),
    ):
        wall = time.perf_counter()
        rows = run()
        wall = time.perf_counter() - wall
        print(f"{label}: ramp 2 MPa/s, tolerance 0.05 MPa, loop period {PERIOD_S} s")
        print("  target MPa | settling s | overshoot %")
        for mpa, settle, overshoot in rows:
            print(f"  {mpa:10.1f} | {settle:10.1f} | {overshoot:10.2f}")
        print(f"  wall time {wall:.2f} s for {len(rows) * (WINDOW_S + 5):.0f} s of virtual time")


if __name__ == "__main__":
    main()
