"""Software pressure rig end to end: drivers -> pyserial -> pty/TCP -> emulators -> world."""

from __future__ import annotations

import pytest
from drv_world import DriverTestWorld
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.errors import InstrumentReportedError, SafetyWriteFailed, SetpointError
from drivers.force_loop import ForceLoop, LoopGains
from drivers.pressure_rig import ForceLimitExceeded, SensorFault, open_loadcell_actuator_rig
from drivers.registry import open_driver
from sim_instruments.faults import Fault
from sim_instruments.lineserver import PtyLineServer, TcpLineServer
from sim_instruments.press_devices import LoadCellIndicatorEmulator, ScrewActuatorEmulator

AREA = 1e-4
SETTINGS = {
    "area": "1 cm2",
    "max_pressure": "30 MPa",
    "stiffness": "20 N/um",
    "step_size": "0.1 um",
    "loadcell": {"timeout": "0.3 s"},
    "actuator": {"timeout": "0.3 s"},
}


class Bench:
    """World + load cell on a pty + actuator on TCP + the rig opened through the registry."""

    def __init__(self, **overrides):
        self.world = DriverTestWorld(seed=3)
        self.clock = self.world.clock
        self.lc = LoadCellIndicatorEmulator(self.world)
        self.act = ScrewActuatorEmulator(self.world)
        self.lc_server = PtyLineServer(self.lc)
        self.act_server = TcpLineServer(self.act)
        self.resource = {"loadcell": self.lc_server.port, "actuator": self.act_server.serial_url}
        try:
            self.rig = open_driver(
                "loadcell_actuator_rig", "rig", self.resource, SETTINGS | overrides, self.clock
            )
        except BaseException:
            self.lc_server.close()
            self.act_server.close()
            raise

    def run(self, seconds: float) -> float:
        """Service the loop every 0.1 s for ``seconds``; the peak force seen."""
        peak = 0.0
        end = self.clock.now() + seconds
        while self.clock.now() < end:
            self.rig.service()
            peak = max(peak, self.rig.force)
            self.clock.sleep(0.1)
        return peak

    def close(self):
        self.rig.close()
        self.lc_server.close()
        self.act_server.close()


@pytest.fixture
def bench():
    b = Bench()
    with b.clock.participant():
        yield b
    b.close()


def test_step_to_5_MPa_settles_within_tolerance(bench):
    bench.rig.set_pressure(5e6)
    peak = bench.run(20.0)
    assert bench.rig.settled
    assert bench.world.stack_force_true_N() == pytest.approx(5e6 * AREA, abs=0.05e6 * AREA)
    assert peak < 5.5e6 * AREA
    reading = bench.rig.read()
    assert reading.pressure == pytest.approx(5e6, rel=0.02)
    assert reading.position == pytest.approx(bench.world.steps * 1e-7)


def test_ramp_rate_limits_the_reference(bench):
    bench.rig.set_pressure(10e6, rate=0.5e6)
    bench.run(4.0)
    assert bench.rig.loop.reference < 2.5e6 * AREA  # at most 0.5 MPa/s since touch-down
    assert not bench.rig.settled


@pytest.mark.parametrize(
    ("call", "parameter"),
    [
        (lambda r: r.set_pressure(31e6), "pressure"),
        (lambda r: r.set_pressure(-1.0), "pressure"),
        (lambda r: r.set_pressure(float("nan")), "pressure"),
        (lambda r: r.set_force(3001.0), "force"),
        (lambda r: r.set_pressure(1e6, rate=1e9), "rate"),
    ],
)
def test_out_of_range_setpoints_are_refused_before_anything_moves(bench, call, parameter):
    with pytest.raises(SetpointError) as info:
        call(bench.rig)
    assert info.value.instrument == "rig"
    assert info.value.parameter == parameter
    assert "range" in info.value.allowed
    bench.run(1.0)
    assert bench.world.steps == 0


def test_single_spike_neither_trips_nor_jerks(bench):
    bench.rig.set_pressure(5e6)
    bench.run(15.0)
    before = bench.world.steps
    bench.lc.faults.add(Fault(kind="spike", match=r"\?C", magnitude=2000.0))
    bench.run(0.3)
    assert abs(bench.world.steps - before) <= 3
    assert bench.rig.mode == "regulating"


def test_frozen_load_cell_is_detected_and_the_actuator_held(bench):
    bench.rig.set_pressure(5e6)
    bench.run(15.0)
    bench.lc.faults.add(Fault(kind="stuck", match=r"\?C", times=-1))
    with pytest.raises(SensorFault, match="frozen"):
        bench.run(3.0)
    assert bench.rig.mode == "holding"


def test_load_cell_error_code_is_a_reported_error(bench):
    bench.lc.faults.add(Fault(kind="error", match=r"\?C"))
    with pytest.raises(InstrumentReportedError) as info:
        bench.rig.read()
    assert info.value.code == 11
    assert info.value.instrument == "rig.loadcell"


def test_actuator_stall_is_reported_and_clearable(bench):
    bench.rig.set_pressure(5e6)
    bench.act.faults.add(Fault(kind="error", match="move abs"))
    with pytest.raises(InstrumentReportedError, match="FS"):
        bench.run(5.0)
    bench.rig.actuator.clear_warnings()
    bench.run(20.0)
    assert bench.rig.settled


def test_transport_faults_during_regulation_are_absorbed(bench):
    bench.lc.faults.add(Fault(kind="garble", match=r"\?C", probability=0.1, times=-1))
    bench.act.faults.add(Fault(kind="drop", match="move abs", probability=0.1, times=-1))
    bench.rig.set_pressure(5e6)
    bench.run(25.0)
    assert bench.rig.settled
    assert bench.rig.actuator.transport.reconnects >= 1


def test_force_above_the_maximum_trips_and_releases(bench):
    bench.rig.set_pressure(5e6)
    bench.run(15.0)
    bench.world.gap_m -= 150e-6  # the cell swells: the stack force jumps to ~3500 N
    with pytest.raises(ForceLimitExceeded):
        bench.run(0.5)
    assert bench.world.steps == 0
    assert bench.rig.mode == "released"


def test_release_is_retried_through_a_lost_reply(bench):
    bench.rig.set_pressure(2e6)
    bench.run(10.0)
    bench.act.faults.add(Fault(kind="timeout", match="move abs 0"))
    bench.rig.release()
    assert bench.world.steps == 0
    assert bench.world.stack_force_true_N() == 0.0


def test_release_that_cannot_be_confirmed_is_loud(bench):
    bench.rig.set_pressure(2e6)
    bench.run(10.0)
    bench.act.faults.add(Fault(kind="drop", times=-1))
    with pytest.raises(SafetyWriteFailed, match="release the stack load"):
        bench.rig.release()


def test_hold_position_stops_regulating(bench):
    bench.rig.set_pressure(2e6)
    bench.run(10.0)
    bench.rig.hold_position()
    steps = bench.world.steps
    bench.run(2.0)
    assert bench.world.steps == steps
    assert not bench.rig.settled


def test_identity_and_snapshot(bench):
    assert "SIM-LC5000" in bench.rig.identity()
    assert "50081" in bench.rig.identity()
    snap = bench.rig.settings_snapshot()
    assert snap["max_force_N"] == pytest.approx(3000.0)
    assert snap["stiffness_N_per_m"] == pytest.approx(2e7)


def test_factory_refuses_bad_resource_and_settings():
    world = DriverTestWorld()
    with pytest.raises(ValueError, match="loadcell"):
        open_loadcell_actuator_rig("rig", "/dev/ttyUSB0", SETTINGS, world.clock)
    with pytest.raises(ValueError, match="unknown setting"):
        open_loadcell_actuator_rig(
            "rig", {"loadcell": "x", "actuator": "y"}, SETTINGS | {"kpp": 1}, world.clock
        )


@given(
    force=st.floats(-100, 5000),
    target=st.floats(0, 5000),
    dt=st.floats(0.001, 1.0),
    room_up=st.floats(0, 1e-3),
    room_down=st.floats(0, 1e-3),
    speed=st.floats(1e-6, 1e-2),
)
def test_force_loop_never_exceeds_speed_or_travel(force, target, dt, room_up, room_down, speed):
    loop = ForceLoop(LoopGains(kp=2.0, ki=1.0, kd=0.1, stiffness=2e7), max_speed=speed)
    loop.engage(force, target, rate=100.0)
    for _ in range(3):
        move = loop.step(force, dt, room_up, room_down)
        assert -min(speed * dt, room_down) - 1e-18 <= move <= min(speed * dt, room_up) + 1e-18


def test_force_loop_integrator_does_not_wind_up_while_saturated():
    loop = ForceLoop(LoopGains(kp=2.0, ki=1.0, stiffness=2e7), max_speed=1e-6)
    loop.engage(0.0, 1000.0, rate=1e9)
    for _ in range(100):
        loop.step(0.0, 0.1, room_up=1.0, room_down=1.0)  # the force never follows
    assert loop.integral == 0.0


@pytest.mark.parametrize("bad", [{"kp": -1.0}, {"stiffness": 0.0}, {"ki": float("inf")}])
def test_loop_gains_are_validated(bad):
    with pytest.raises(ValueError):
        LoopGains(**bad)


def test_frozen_position_readback_makes_release_unconfirmable_and_loud(bench):
    bench.rig.set_pressure(2e6)
    bench.run(10.0)
    loaded = bench.rig.read().position
    assert loaded > 0
    bench.act.faults.add(Fault(kind="stuck", match="get pos", times=-1))
    bench.clock.sleep(bench.rig.hold_period)  # past the confirmed-at-rest window: read back
    assert bench.rig.read().position == loaded  # the read-back froze under load
    with pytest.raises(SafetyWriteFailed, match="did not confirm"):
        bench.rig.release()


@pytest.mark.parametrize("kind", ["garble", "slow", "timeout"])
def test_absolute_moves_survive_transport_faults(bench, kind):
    bench.act.faults.add(Fault(kind=kind, match="move abs", delay_s=0.1, times=2))
    bench.rig.set_pressure(3e6)
    bench.run(15.0)
    assert bench.rig.settled


@pytest.fixture(scope="module")
def shared_bench():
    b = Bench()
    with b.clock.participant():
        yield b
    b.close()


@settings(max_examples=60, deadline=None)
@given(
    value=st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-(10**9), 10**9))
)
def test_pressure_setpoints_are_taken_only_when_in_range(shared_bench, value):
    rig = shared_bench.rig
    mode, target, steps = rig.mode, rig.loop.target, shared_bench.world.steps
    try:
        rig.set_pressure(value)
    except SetpointError as exc:
        assert not 0.0 <= value <= 30e6
        assert exc.parameter == "pressure"
        assert (rig.mode, rig.loop.target, shared_bench.world.steps) == (mode, target, steps)
    else:
        assert 0.0 <= value <= 30e6 and rig.mode == "regulating"
        assert rig.loop.target == pytest.approx(value * AREA)


def test_release_clears_a_latched_stall_first(bench):
    bench.rig.set_pressure(2e6)
    bench.act.faults.add(Fault(kind="error", match="move abs"))
    with pytest.raises(InstrumentReportedError):
        bench.run(5.0)
    bench.rig.release()
    assert bench.world.steps == 0


def test_max_speed_above_the_actuator_is_refused():
    with pytest.raises(SetpointError, match="max_speed"):
        Bench(max_speed="1 m/s")


def test_fast_ramp_is_followed_not_mistaken_for_spikes():
    b = Bench(spike_band="50 N")
    try:
        with b.clock.participant():
            b.rig.set_pressure(25e6, rate=10e6)  # 100 N per iteration: twice the spike band
            peak = b.run(12.0)
            assert peak < 25.5e6 * AREA
            assert b.rig.settled
    finally:
        b.close()
