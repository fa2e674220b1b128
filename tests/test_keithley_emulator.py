"""The 2450 emulator as a third-party client sees it: plain SCPI from the Reference Manual
through pyvisa-py, and PyMeasure's own Keithley2450 driver."""

from __future__ import annotations

import numpy as np
import pytest
from keithley_support import bench, raw_visa


@pytest.fixture(scope="module")
def station():
    with bench(open_driver=False) as b, raw_visa(b.resource) as inst:
        inst.bench = b
        yield inst


@pytest.fixture
def k(station):
    """The module's emulator session, reset to *RST defaults with empty queues."""
    station.write("*RST;*CLS")
    yield station


def errors(inst) -> list[int]:
    codes = []
    while True:
        code = int(inst.query(":SYST:ERR?").split(",")[0])
        if code == 0:
            return codes
        codes.append(code)


def test_common_commands(k):
    assert k.query("*IDN?").startswith("KEITHLEY INSTRUMENTS,MODEL 2450,")
    assert k.query("*idn?") == k.query("*IDN?")
    assert k.query("*OPC?") == "1"
    assert k.query(":SYST:ERR?") == '0,"No error"'
    k.write("*RST")
    assert k.query(":SOUR:FUNC?") == "VOLT"
    assert k.query(":SENS:FUNC?") == '"CURR:DC"'
    assert float(k.query(":SOUR:VOLT:ILIM?")) == pytest.approx(105e-6)


def test_short_long_and_case_forms(k):
    k.write(":SOURce:FUNCtion:MODE CURRent")
    k.write(":sour:curr:lev 1e-4")
    assert float(k.query(":SOURCE1:CURRENT:LEVEL:IMMEDIATE:AMPLITUDE?")) == pytest.approx(1e-4)
    assert float(k.query("sour:curr?")) == pytest.approx(1e-4)
    k.write(":SOURC:CURR 2e-4")  # neither short nor long form
    assert errors(k) == [-113]
    assert float(k.query(":SOUR:CURR?")) == pytest.approx(1e-4)


def test_output_off_state_is_kept_per_source_function(k):
    k.write(":SOUR:FUNC CURR;:OUTP:SMOD HIMP")
    k.write(":SOUR:FUNC VOLT;:OUTP:SMOD ZERO")
    assert k.query(":OUTP:CURR:SMOD?;:OUTP:VOLT:SMOD?;:OUTP:SMOD?") == "HIMP;ZERO;ZERO"


def test_compound_messages_and_relative_paths(k):
    k.write(":SOUR:FUNC CURR;:SOUR:CURR:VLIM 1.5;LEV 1e-4")  # LEV continues :SOUR:CURR:
    assert float(k.query(":SOUR:CURR:VLIM?")) == 1.5
    assert float(k.query(":SOUR:CURR:LEV?")) == 1e-4
    k.write(":SOUR:CURR 2e-4;VLIM 1")  # the path is :SOUR: here, so this VLIM is undefined
    assert errors(k) == [-113]
    assert k.query("*IDN?;:OUTP?").endswith(";0")
    k.write("*RST;:stat:pres;:*CLS;")  # PyMeasure's reset line
    assert errors(k) == []


@pytest.mark.parametrize(
    ("command", "code"),
    [
        (":SOUR:CURR 2", -222),  # beyond 1.05 A
        (":SOUR:VOLT 250", -222),
        (":SOUR:CURR:VLIM 0.001", -222),
        (":SENS:CURR:NPLC 20", -222),
        (":SOUR:CURR abc", -104),
        (":SOUR:CURR", -109),
        (":SOUR:CURR 1e-3, 2", -108),
        (":OUTP MAYBE", -224),
        (':SENS:FUNC "TEMP"', -224),
        (":SENS:FUNC VOLT", -104),  # must be a string
        (":FOO:BAR 1", -113),
        ("*IDN", -113),  # query-only
        (':TRAC:DATA? 1, 1, "nobuffer"', -224),
    ],
)
def test_scpi_error_codes(k, command, code):
    k.write(command)  # also the failing queries: they produce no reply, only an error
    assert errors(k) == [code]


def test_error_queue_status_bits_and_overflow(k):
    k.write(":FOO")
    k.write(":SOUR:CURR 5")
    assert int(k.query("*ESR?")) == 32 | 16  # command error + execution error
    assert int(k.query("*ESR?")) == 0
    assert int(k.query(":SYST:ERR:COUN?")) == 2
    assert int(k.query("*STB?")) & 4  # error available
    k.write("*CLS")
    assert int(k.query(":SYST:ERR:COUN?")) == 0
    for _ in range(40):
        k.write(":FOO")
    codes = errors(k)
    assert len(codes) == 32 and codes[-1] == -350


def test_source_measure_and_limit_trip(k):
    k.write(":SOUR:FUNC CURR;:SOUR:CURR:VLIM 0.05;:SOUR:CURR 5e-3")
    k.write(':SENS:FUNC "VOLT"')
    k.write(":OUTP ON")
    assert k.query(":OUTP?") == "1"
    assert k.query(":SOUR:CURR:VLIM:TRIP?") == "1"
    assert abs(float(k.query(":READ?"))) <= 0.05 * 1.01
    k.write(":SOUR:CURR 1e-6")
    assert k.query(":SOUR:CURR:VLIM:TRIP?") == "0"
    assert float(k.query(":MEAS:CURR?")) == pytest.approx(1e-6, rel=0.05)
    assert k.query(":SENS:FUNC?") == '"CURR:DC"'  # MEAS:CURR? selected the function
    k.write(":OUTP OFF")
    assert k.query(":SOUR:CURR:VLIM:TRIP?") == "0"


def test_fixed_measure_range_overflows(k):
    k.write(":SOUR:FUNC CURR;:SOUR:CURR:VLIM 2;:SOUR:CURR 1e-3;:OUTP ON")
    k.write(':SENS:FUNC "VOLT";:SENS:VOLT:RANG 0.02')
    assert k.query(":SENS:VOLT:RANG:AUTO?") == "0"
    assert float(k.query(":READ?")) == pytest.approx(9.9e37)
    k.write(":SENS:VOLT:RANG:AUTO ON")
    assert float(k.query(":READ?")) < 1.0


def test_simple_loop_into_user_buffer_with_elements(k):
    k.write(":SOUR:FUNC CURR;:SOUR:CURR:VLIM 2;:SOUR:CURR 1e-4;:OUTP ON")
    k.write(':SENS:FUNC "VOLT";:SENS:VOLT:NPLC 0.5')
    k.write(':TRAC:MAKE "mybuf", 100')
    k.write(':TRIG:LOAD "SimpleLoop", 20, 0.09, "mybuf"')
    assert k.query(":TRIG:STAT?") == "IDLE;IDLE;6"
    k.write(":INIT")
    k.write("*WAI")  # waits on the world clock (virtual: instant)
    assert k.query(":TRIG:STAT?").startswith("IDLE")
    assert int(k.query(':TRAC:ACT? "mybuf"')) == 20
    data = k.query(':TRAC:DATA? 1, 20, "mybuf", READ, SOUR, REL, SOURSTAT, UNIT').split(",")
    rows = [data[i : i + 5] for i in range(0, len(data), 5)]
    assert len(rows) == 20
    rel = [float(r[2]) for r in rows]
    assert rel[0] == 0.0
    assert rel[1] == pytest.approx(0.09 + 0.5 / 50)  # delay + NPLC / line frequency
    assert all(float(r[1]) == pytest.approx(1e-4, rel=0.02) for r in rows)
    assert all(int(r[3]) == 128 | 8 for r in rows)  # output on, readback
    assert rows[0][4] == "Volt DC"
    assert float(k.query(':TRAC:STAT:AVER? "mybuf"')) == pytest.approx(float(rows[5][0]), rel=0.1)
    assert errors(k) == []


def test_circular_buffer_wraps_and_fill_once_stops(k):
    k.write(":SOUR:FUNC CURR;:SOUR:CURR 1e-5;:OUTP ON;:SENS:FUNC 'VOLT'")
    k.write(':TRAC:MAKE "ring", 10')
    k.write(':TRIG:LOAD "SimpleLoop", 25, 0, "ring"')
    k.write(":INIT;*WAI")
    assert k.query(':TRAC:ACT? "ring";:TRAC:ACT:STAR? "ring";:TRAC:ACT:END? "ring"') == "10;6;5"
    rel = [float(x) for x in k.query(':TRAC:DATA? 6, 5, "ring", REL').split(",")]
    assert len(rel) == 10 and rel == sorted(rel) and rel[0] > 0
    k.write(':TRAC:FILL:MODE ONCE, "ring"')
    k.write(":INIT;*WAI")
    assert k.query(':TRAC:ACT? "ring";:TRAC:ACT:END? "ring"') == "10;10"
    k.write(':TRAC:DATA? 11, 11, "ring"')
    assert errors(k) == [-222]


def test_duration_loop_follows_the_world_clock(k):
    clock = k.bench.clock
    k.write(":SOUR:FUNC CURR;:SOUR:CURR 1e-5;:OUTP ON")
    k.write(':SENS:FUNC "VOLT";:SENS:VOLT:NPLC 0.01')
    k.write(':TRIG:LOAD "DurationLoop", 10, 0.0998')  # 10 readings/s into defbuffer1
    assert k.query(":INIT;:TRIG:STAT?").startswith("RUNNING")
    clock.advance(2.0)
    assert int(k.query(":TRAC:ACT?")) == 20
    assert k.query(":TRIG:STAT?").startswith("RUNNING")
    k.write(':SENS:FUNC "CURR"')  # not while running
    assert errors(k) == [-221]
    clock.advance(20.0)
    assert k.query(":TRIG:STAT?").startswith("IDLE")
    assert int(k.query(":TRAC:ACT?")) == 100
    k.write(":TRIG:LOAD:LOOP:DUR 1, 0.0998")  # the older firmware's form
    assert k.query(":INIT;:TRIG:STAT?").startswith("RUNNING")
    clock.advance(0.5)
    k.write(":ABOR")
    assert k.query(":TRIG:STAT?").startswith("ABORTED")
    assert int(k.query(":TRAC:ACT?")) == 5


def test_pymeasure_keithley2450_drives_the_emulator():
    keithley = pytest.importorskip("pymeasure.instruments.keithley")
    with bench(open_driver=False) as b:
        smu = keithley.Keithley2450(
            b.resource,
            visa_library="@py",
            read_termination="\n",
            write_termination="\n",
            timeout=2000,
        )
        try:
            assert "MODEL 2450" in smu.id
            smu.reset()
            smu.apply_current(compliance_voltage=2)
            smu.source_current = -1e-4
            smu.enable_source()
            smu.measure_voltage(nplc=0.1)
            b.clock.advance(1.0)
            assert smu.source_enabled
            assert smu.source_mode == "current"
            assert smu.compliance_voltage == 2
            assert -0.1 < smu.voltage < 0  # plating: V(WE) - V(CE) < 0
            smu.apply_voltage(compliance_current=1e-3)
            smu.source_voltage = 0.01
            smu.enable_source()
            smu.measure_current(nplc=0.1)
            assert smu.current > 0
            assert smu.voltage_nplc == pytest.approx(0.1)
            assert smu.check_errors() == []
            smu.shutdown()  # ramps to 0 and switches the output off
            assert not smu.source_enabled
            assert b.emulator.output is False
            assert smu.check_errors() == []
        finally:
            smu.adapter.close()


def test_long_unread_acquisition_keeps_only_what_the_ring_holds(k):
    clock = k.bench.clock
    k.write(":SOUR:FUNC CURR;:SOUR:CURR 1e-5;:OUTP ON;:SENS:FUNC 'VOLT';:SENS:VOLT:NPLC 0.01")
    k.write(':TRAC:MAKE "small", 1000')
    k.write(':TRIG:LOAD "DurationLoop", 100000, 0, "small"')  # 5000 readings/s
    assert k.query(":INIT;:TRIG:STAT?").startswith("RUNNING")
    clock.advance(3600.0)  # 18 M readings due; only the last 1000 can ever be read
    reply = k.query(':TRAC:ACT? "small";:TRAC:ACT:STAR? "small";:TRAC:ACT:END? "small"')
    assert reply == "1000;1;1000"  # 18,000,000 readings stored: the ring is exactly aligned
    rel = [float(x) for x in k.query(':TRAC:DATA? 1, 1000, "small", REL').split(",")]
    assert rel[-1] == pytest.approx(3600.0 - 0.0002, abs=1e-6)
    assert rel[0] == pytest.approx(3600.0 - 1000 * 0.0002, abs=1e-6)
    k.write(":ABOR")


def test_the_twin_reads_the_same_cell_whoever_else_advances_the_world():
    """Buffered readings do not depend on when, in how many pieces, or between which other
    instruments' reads they are fetched: the world steps to every scheduled reading, readings
    sit at t_start + k*interval, and a read at a time off a reading by float rounding (tick
    arithmetic) is no model step. Fetching at every 0.1-s tick with a rig-like read before
    each fetch gave knots 6e-14 s apart and 1e-8 V differences hours later."""
    from daq.clock import VirtualClock
    from sim_instruments.keithley2450 import Keithley2450Emulator
    from sim_instruments.world import SimConfig, SimWorld

    def readings(ticked: bool) -> tuple[bytes, np.ndarray]:
        clock = VirtualClock()
        world = SimWorld(clock, SimConfig(seed=4))
        twin = Keithley2450Emulator(world)
        for line in (":SOUR:FUNC CURR;:SOUR:CURR 1e-4;:SOUR:CURR:VLIM 5;:OUTP ON",
                     ':SENS:FUNC "VOLT";:SENS:VOLT:NPLC 0.01',
                     ':TRIG:LOAD "DurationLoop", 60, 0.0998', ":INIT"):  # fmt: skip
            twin.respond(line)
        tick = start = clock.now()
        if ticked:
            for _ in range(599):
                tick += 0.1  # a tick grid summed up: off the readings' times by float rounding
                clock.sleep_until(tick)
                world.sync()  # another instrument reads the cell now
                twin.respond(':TRAC:ACT? "defbuffer1"')  # and the 2450 takes its readings
        clock.sleep_until(start + 61.0)
        data = twin.respond(':TRAC:DATA? 1, 600, "defbuffer1", READ, REL')[0]
        return data, np.unique(world.truth()["t"])

    (ticked, knots_ticked), (once, knots_once) = readings(True), readings(False)
    assert ticked == once
    np.testing.assert_array_equal(knots_ticked, knots_once)
