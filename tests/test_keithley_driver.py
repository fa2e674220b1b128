"""Keithley 2450 driver end to end: pyvisa-py over TCP to the emulator on a SimWorld cell."""

from __future__ import annotations

import math

import numpy as np
import pytest
from keithley_support import bench, raw_visa

from drivers.errors import InstrumentReportedError, SetpointError, SweepUnsupported
from drivers.registry import open_driver


@pytest.fixture
def b():
    with bench(settings={"voltage_limit": "2 V", "max_current": "10 mA", "nplc": 0.01}) as b:
        yield b


def test_identity_and_snapshot(b):
    k = b.driver
    assert "MODEL 2450" in k.identity()
    snap = k.settings_snapshot()
    assert snap["off_mode"] == "HIMP"
    assert snap["output"] is False
    assert snap["nplc"] == pytest.approx(0.01)
    assert snap["max_current"] == pytest.approx(0.01)
    assert snap["line_frequency"] == 50.0


def test_open_through_registry():
    with bench(open_driver=False) as b:
        k = open_driver("keithley2450", "pstat", b.resource, {"backend": "@py"}, b.clock)
        try:
            assert k.name == "pstat" and k.mode == "off"
        finally:
            k.close()


def test_galvanostatic_sign_convention(b):
    k = b.driver
    k.set_current(-1e-4, 2.0)  # plating on WE
    b.clock.advance(1.0)
    plating = k.read()
    assert k.mode == "galvanostatic"
    assert plating.current == pytest.approx(-1e-4, rel=0.01)
    assert plating.voltage < 0
    assert not plating.compliance
    k.set_current(1e-4, 2.0)  # stripping WE
    b.clock.advance(1.0)
    stripping = k.read()
    assert stripping.voltage > 0
    assert b.emulator.source_func == "CURR" and b.emulator.output


def test_potentiostatic_and_open_circuit(b):
    k = b.driver
    k.set_current(1e-4, 2.0)
    b.clock.advance(0.5)
    resistance = k.read().voltage / 1e-4
    k.set_voltage(0.02, 1e-3)
    b.clock.advance(0.5)
    r = k.read()
    assert k.mode == "potentiostatic"
    assert r.voltage == pytest.approx(0.02, abs=1e-3)
    assert r.current > 0
    assert r.current == pytest.approx(0.02 / resistance, rel=0.5)  # same cell, same order
    k.set_open_circuit()
    b.clock.advance(0.5)
    ocv = k.read()
    assert k.mode == "open_circuit"
    assert abs(ocv.current) < 1e-7
    assert abs(ocv.voltage) < 0.01  # symmetric Li|Li cell


def test_compliance_is_surfaced(b):
    k = b.driver
    k.set_current(5e-3, 0.1)  # needs far more than 0.1 V through ~300 ohm
    b.clock.advance(0.5)
    r = k.read()
    assert r.compliance
    assert abs(r.voltage) <= 0.1 * 1.01
    assert k.compliance() is True
    k.set_current(1e-5, 2.0)
    b.clock.advance(0.5)
    assert not k.read().compliance
    assert k.compliance() is False


def test_output_off_disconnects(b):
    k = b.driver
    k.set_current(1e-4, 2.0)
    k.output_off()
    assert k.mode == "off"
    assert b.emulator.output is False
    assert b.world._mode == "off"
    k.safe_state()  # idempotent
    assert b.emulator.output is False


def test_buffered_acquisition_continuous_across_mode_changes(b):
    k = b.driver
    k.set_current(-1e-4, 2.0)
    k.start_buffered(100.0)
    b.clock.advance(2.0)
    first = k.fetch()
    assert len(first.time) == 200
    np.testing.assert_allclose(np.diff(first.time), 0.01, rtol=1e-6)
    assert first.time[0] == pytest.approx(0.01)
    assert np.all(first.voltage < 0)
    np.testing.assert_allclose(first.current, -1e-4, rtol=0.02)
    assert len(k.fetch().time) == 0
    k.set_voltage(0.02, 1e-3)  # function change: the driver pauses, drains and re-arms
    b.clock.advance(1.0)
    second = k.fetch()
    assert 95 <= len(second.time) <= 100
    assert second.time[0] > first.time[-1]
    assert np.all(np.diff(second.time) > 0)
    np.testing.assert_allclose(second.voltage, 0.02, atol=1e-3)
    assert np.all(second.current > 0)
    k.stop_buffered()
    b.clock.advance(1.0)
    assert len(k.fetch().time) == 0


def test_buffered_level_change_without_pause_and_stop_keeps_tail(b):
    k = b.driver
    k.set_current(1e-4, 2.0)
    k.start_buffered(50.0)
    b.clock.advance(1.0)
    k.set_current(-1e-4, 2.0)  # same function: no pause, samples before the change keep +I
    b.clock.advance(1.0)
    k.stop_buffered()  # the unfetched tail is kept for the next fetch
    block = k.fetch()
    assert len(block.time) == 100
    assert np.all(block.current[:50] > 0) and np.all(block.current[50:] < 0)
    assert b.sent_since(0).count(":INIT") == 1


def test_buffer_wraps_without_losing_samples(b):
    k = b.driver  # buffer_size 20 000 in the bench
    k.set_current(1e-4, 2.0)
    k.start_buffered(1000.0)
    times = []
    for _ in range(3):
        b.clock.advance(15.0)
        times.append(k.fetch().time)
    t = np.concatenate(times)
    assert len(t) == 45_000
    np.testing.assert_allclose(np.diff(t), 1e-3, rtol=1e-5)


def test_read_while_buffering_does_not_consume(b):
    k = b.driver
    k.set_current(1e-4, 2.0)
    k.start_buffered(10.0)
    b.clock.advance(1.0)
    r = k.read()
    assert r.current == pytest.approx(1e-4, rel=0.02)
    assert len(k.fetch().time) == 10


def test_trigger_model_stopped_elsewhere_is_rearmed(b):
    k = b.driver
    k.set_current(1e-4, 2.0)
    k.start_buffered(10.0)
    b.clock.advance(1.0)
    with raw_visa(b.resource) as other:
        other.write(":ABOR")  # e.g. someone pressed TRIGGER at the front panel
        assert other.query("*OPC?") == "1"
    first = k.fetch()
    assert len(first.time) == 10
    b.clock.advance(1.0)
    second = k.fetch()
    assert len(second.time) == 10
    assert second.time[0] > first.time[-1]
    assert b.sent_since(0).count(":INIT") == 2


INVALID = [
    ("set_current", (2.0, 1.0), "current", "2450 range"),
    ("set_current", (0.02, 1.0), "current", "station max_current"),
    ("set_current", (math.nan, 1.0), "current", "finite"),
    ("set_current", (1e-4, 300.0), "voltage_limit", "2450 VLIM"),
    ("set_current", (1e-4, 0.01), "voltage_limit", "2450 VLIM"),
    ("set_voltage", (250.0, 1e-3), "voltage", "2450 range"),
    ("set_voltage", (0.1, 0.0), "current_limit", "2450 ILIM"),
    ("set_voltage", (0.1, 0.05), "current_limit", "station max_current"),
    ("start_buffered", (10_000.0,), "rate_hz", "NPLC"),
    ("start_buffered", (0.0,), "rate_hz", "Hz"),
]


@pytest.mark.parametrize(("method", "args", "parameter", "allowed"), INVALID)
def test_invalid_setpoints_send_nothing(b, method, args, parameter, allowed):
    mark = len(b.emulator.received)
    with pytest.raises(SetpointError) as info:
        getattr(b.driver, method)(*args)
    err = info.value
    assert err.instrument == "cell" and err.parameter == parameter
    assert allowed in str(err) and "cell" in str(err)
    assert b.sent_since(mark) == []


def test_control_descriptors_validate_and_check_errors(b):
    k = b.driver
    k.nplc = 0.1
    assert k.nplc == pytest.approx(0.1)
    assert b.emulator.nplc["CURR"] == pytest.approx(0.1)
    k.off_mode = "norm"
    assert k.off_mode == "NORM"
    mark = len(b.emulator.received)
    with pytest.raises(SetpointError, match="NPLC"):
        k.nplc = 20
    with pytest.raises(SetpointError, match="HIMP"):
        k.off_mode = "OPEN"
    assert b.sent_since(mark) == []


def test_fixed_range_bounds_setpoints():
    with bench(settings={"current_range": "1 mA"}) as b:
        assert b.emulator.src_auto["CURR"] is False
        with pytest.raises(SetpointError, match="fixed current range"):
            b.driver.set_current(2e-3, 2.0)
        b.driver.set_current(1e-3, 2.0)


def test_instrument_error_after_write_is_raised(b):
    k = b.driver
    with raw_visa(b.resource) as other:  # another client starts a trigger model
        other.write(':TRIG:LOAD "SimpleLoop", 1000000, 0.001')
        other.write(":INIT")
        assert other.query(":TRIG:STAT?").startswith("RUNNING")
    with pytest.raises(InstrumentReportedError) as info:
        k.set_current(1e-4, 2.0)  # needs a source-function change -> settings conflict
    assert info.value.code == -221
    assert "galvanostatic" in str(info.value)
    assert b.emulator.errors.pop()[0] == 0  # the driver drained the queue


def test_defaults_respect_station_limits():
    with bench(settings={"max_voltage": "3 V", "max_current": "1 mA"}) as b:
        assert b.driver.settings.voltage_limit == 3.0
        assert b.driver.settings.current_limit == 1e-3


@pytest.mark.parametrize(
    ("settings", "match"),
    [
        ({"voltage_limt": "2 V"}, "voltage_limt"),
        ({"voltage_limit": "2 A"}, "voltage_limit"),
        ({"voltage_limit": 2}, "needs a unit"),
        ({"max_current": "2 A"}, "max_current"),
        ({"voltage_limit": "5 V", "max_voltage": "3 V"}, "voltage_limit"),
        ({"nplc": 50}, "nplc"),
        ({"off_mode": "OPEN"}, "off_mode"),
        ({"current_range": "fast"}, "current_range"),
        ({"retries": 0}, "retries: below the allowed minimum 1"),
        ({"retries": 11}, "retries: above the instrument's maximum 10"),
        ({"buffer_size": 5}, "buffer_size"),
        ({"four_wire": "maybe"}, "four_wire"),
    ],
)
def test_bad_station_settings_are_refused_before_connecting(settings, match):
    with bench(open_driver=False) as b, pytest.raises(ValueError, match=match):
        open_driver("keithley2450", "cell", b.resource, settings, b.clock)
    assert list(b.emulator.received) == []


def test_wrong_instrument_is_refused():
    from sim_instruments.lineserver import LineDevice, TcpLineServer

    class Other(LineDevice):
        def handle(self, command):
            return "ACME,PSU 9000,1,1.0" if command == "*IDN?" else None

    server = TcpLineServer(Other())
    try:
        with pytest.raises(Exception, match="expected a Keithley 2450"):
            open_driver("keithley2450", "x", server.visa_resource, {"backend": "@py"}, None)
    finally:
        server.close()


def test_holder_channel_bias_smu():
    settings = {"current_range": "10 nA", "max_voltage": "12 V"}
    with bench(settings=settings, channel="holder") as b:
        k = b.driver
        k.set_voltage(-2.0, 1e-8)
        b.clock.advance(1.0)
        r = k.read()
        assert r.voltage == pytest.approx(-2.0, abs=1e-3)
        assert b.world.holder_measure()[0] == pytest.approx(-2.0, abs=1e-3)
        k.zero_and_off()
        assert b.emulator.output is False and b.emulator.level["VOLT"] == 0.0


def test_buffered_charge_matches_the_programmed_steps(b):
    k = b.driver
    k.start_buffered(10.0)
    blocks = []
    for current in (1e-4, -2e-4, 5e-5):
        k.set_current(current, 2.0)
        for _ in range(10):
            b.clock.advance(10.0)
            blocks.append(k.fetch())
    t = np.concatenate([x.time for x in blocks])
    i = np.concatenate([x.current for x in blocks])
    assert len(t) == 3000 and np.all(np.diff(t) > 0)
    charge = np.sum(i) * 0.1  # rectangle rule on the 10 Hz grid
    assert charge == pytest.approx((1e-4 - 2e-4 + 5e-5) * 100.0, rel=1e-3)


@pytest.mark.parametrize(("method", "args", "technique"), [
    ("start_eis", (1e5, 1.0, 10, 0.01), "eis"),
    ("start_eis", (1e5, 1.0, 10, 1e-4, 0.0, True), "geis"),
    ("start_lsv", (0.0, 1.0, 0.001, 0.01), "lsv"),
    ("start_cv", (0.0, 1.0, -1.0, 0.001, 0.01, 2), "cv"),
])  # fmt: skip
def test_sweeps_are_refused_with_a_typed_error_and_nothing_sent(b, method, args, technique):
    assert b.driver.sweeps == frozenset() and not b.driver.can_sweep(technique)
    mark = len(b.emulator.received)
    with pytest.raises(SweepUnsupported) as info:
        getattr(b.driver, method)(*args)
    assert info.value.technique == technique and info.value.instrument == "cell"
    assert f"cell: cannot run {technique} sweeps (sweeps it runs: none" in str(info.value)
    assert b.sent_since(mark) == []
    assert b.driver.sweep_done
    with pytest.raises(SweepUnsupported):
        b.driver.poll_sweep()
