"""Every injected fault against the Keithley 2450 driver, end to end over TCP."""

from __future__ import annotations

import numpy as np
import pytest
from keithley_support import bench

from drivers.errors import (
    ConnectionLost,
    GarbledReply,
    InstrumentReportedError,
    InstrumentTimeout,
    SafetyWriteFailed,
)


@pytest.fixture
def b():
    with bench(settings={"voltage_limit": "2 V", "nplc": 0.01}) as b:
        b.driver.set_current(1e-4, 2.0)
        b.clock.advance(0.5)
        yield b


def reads_sent(b, mark: int) -> int:
    return sum(c.startswith(":READ?") for c in b.sent_since(mark))


def test_timeout_once_is_retried_on_a_fresh_link(b):
    b.add_fault(kind="timeout", match=r"^:READ\?", times=1)
    mark, links = len(b.emulator.received), b.driver.transport.reconnects
    r = b.driver.read()
    assert r.current == pytest.approx(1e-4, rel=0.02)
    assert reads_sent(b, mark) == 2
    assert b.driver.transport.reconnects == links + 1


def test_persistent_timeout_raises_typed_error_with_context(b):
    b.add_fault(kind="timeout", match=r"^:READ\?", times=-1)
    with pytest.raises(InstrumentTimeout) as info:
        b.driver.read()
    assert "READ?" in str(info.value) and info.value.instrument == "cell"
    b.emulator.faults.clear()
    assert b.driver.read().current == pytest.approx(1e-4, rel=0.02)  # link recovers


def test_garbled_reply_is_retried_then_reported(b):
    b.add_fault(kind="garble", match=r"^:READ\?", times=1)
    assert b.driver.read().current == pytest.approx(1e-4, rel=0.02)
    b.add_fault(kind="garble", match=r"^:READ\?", times=-1)
    with pytest.raises(GarbledReply) as info:
        b.driver.read()
    assert "READ?" in info.value.command


def test_dropped_connection_reconnects(b):
    b.add_fault(kind="drop", match=r"^:READ\?", times=1)
    links = b.driver.transport.reconnects
    assert b.driver.read().current == pytest.approx(1e-4, rel=0.02)
    assert b.driver.transport.reconnects == links + 1


def test_drop_with_retries_exhausted_is_connection_lost():
    with bench(settings={"nplc": 0.01, "retries": 1}) as b:
        b.add_fault(kind="drop", match=r"^:READ\?", times=1)
        with pytest.raises(ConnectionLost, match="closed the connection"):
            b.driver.read()
        assert b.driver.read().current == pytest.approx(0.0, abs=1e-6)  # reconnects lazily


def test_non_idempotent_init_is_never_resent(b):
    b.add_fault(kind="drop", match=r"^:INIT", times=1)  # INIT runs, then the link dies
    b.driver.start_buffered(10.0)
    assert b.sent_since(0).count(":INIT") == 1
    b.clock.advance(1.0)
    assert len(b.driver.fetch().time) == 10


def test_instrument_error_is_raised_after_a_safety_write(b):
    b.add_fault(kind="error", match=r":SOUR:CURR -", times=1)
    with pytest.raises(InstrumentReportedError) as info:
        b.driver.set_current(-1e-4, 2.0)
    assert info.value.code == -300 and "injected" in info.value.text
    b.driver.set_current(-1e-4, 2.0)  # the queue was drained: next write is clean


def test_stuck_reading_repeats_previous_value(b):
    first = b.driver.read()
    b.add_fault(kind="stuck", match=r"^:READ\?", times=2)
    b.driver.set_current(5e-4, 2.0)
    b.clock.advance(0.5)
    stuck1, stuck2 = b.driver.read(), b.driver.read()
    assert stuck1.voltage == stuck2.voltage == pytest.approx(first.voltage, rel=1e-6)
    fresh = b.driver.read()
    assert fresh.voltage == pytest.approx(5 * first.voltage, rel=0.2)


def test_spike_moves_one_reading(b):
    base = b.driver.read().voltage
    b.add_fault(kind="spike", match=r"^:READ\?", times=1, magnitude=10.0)
    assert b.driver.read().voltage == pytest.approx(base + 10.0, abs=1e-3)
    assert b.driver.read().voltage == pytest.approx(base, abs=1e-3)


def test_stuck_and_spike_in_buffered_data(b):
    b.driver.start_buffered(100.0)
    b.clock.advance(1.0)
    b.add_fault(kind="spike", match=r"TRAC:DATA\?", times=1, magnitude=10.0)
    spiked = b.driver.fetch()
    assert spiked.voltage[0] > 9.0 and np.all(np.abs(spiked.voltage[1:]) < 1.0)
    b.clock.advance(1.0)
    b.add_fault(kind="stuck", match=r"TRAC:DATA\?", times=1)
    stuck = b.driver.fetch()
    assert len(stuck.time) == 100 and np.all(stuck.voltage == stuck.voltage[0])


def test_slow_reply_within_timeout_is_just_slow(b):
    b.add_fault(kind="slow", match=r"^:READ\?", times=1, delay_s=0.1)
    mark = len(b.emulator.received)
    assert b.driver.read().current == pytest.approx(1e-4, rel=0.02)
    assert reads_sent(b, mark) == 1


def test_slow_reply_beyond_timeout_never_leaks_into_the_next_answer(b):
    b.add_fault(kind="slow", match=r"^:READ\?", times=1, delay_s=0.8)  # timeout is 0.5 s
    assert b.driver.read().current == pytest.approx(1e-4, rel=0.02)
    assert "MODEL 2450" in b.driver.transport.query("*IDN?")
    assert b.driver.read().current == pytest.approx(1e-4, rel=0.02)


def test_output_off_survives_a_dropped_link(b):
    b.add_fault(kind="drop", match=r"^:OUTP OFF", times=1)
    b.driver.output_off()
    assert b.emulator.output is False and b.driver.mode == "off"


def test_output_off_that_cannot_be_confirmed_is_loud():
    with bench(settings={"retries": 2}) as b:
        b.add_fault(kind="timeout", match=r"^:OUTP\?", times=-1)
        with pytest.raises(SafetyWriteFailed) as info:
            b.driver.output_off()
        assert "output off" in str(info.value) and "FAILED" in str(info.value)
        assert b.sent_since(0).count(":OUTP OFF") == 2


def test_faults_are_reproducible_under_a_seed():
    def run(seed):
        with bench(settings={"nplc": 0.01, "retries": 8}, seed=seed) as b:
            b.add_fault(kind="garble", match=r"^:READ\?", times=-1, probability=0.3)
            for _ in range(10):
                b.driver.read()
            return sum(c.startswith(":READ?") for c in b.emulator.received)

    assert run(3) == run(3)
