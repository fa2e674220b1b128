"""SerialTransport end to end through pyserial over pseudo-terminals and socket://, with faults."""

from __future__ import annotations

import contextlib
import time

import pytest
from drv_world import DriverTestWorld
from hypothesis import given
from hypothesis import strategies as st

from drivers.errors import ConnectionLost, GarbledReply, InstrumentTimeout
from drivers.loadcell import LoadCellIndicator, parse_force
from drivers.screw_actuator import ScrewActuator, parse_reply
from drivers.serial_transport import SerialTransport, open_serial, serial_url
from drivers.transport import RetryPolicy
from sim_instruments.faults import Fault
from sim_instruments.lineserver import PtyLineServer, TcpLineServer
from sim_instruments.press_devices import LoadCellIndicatorEmulator, ScrewActuatorEmulator


@pytest.fixture(params=["pty", "tcp"])
def loadcell(request):
    world = DriverTestWorld()
    world.steps = 1000  # 50 um into the stack: 1000 N
    device = LoadCellIndicatorEmulator(world)
    server = PtyLineServer(device) if request.param == "pty" else TcpLineServer(device)
    url = server.port if request.param == "pty" else server.serial_url
    transport = SerialTransport(
        "lc",
        url,
        timeout_s=0.3,
        read_termination="\r\n",
        write_termination="\r",
        retry=RetryPolicy(attempts=3, backoff_s=0.01),
        clock=world.clock,
    )
    yield request.param, device, LoadCellIndicator("lc", transport), server
    transport.close()
    server.close()


def test_round_trip_reads_the_world_force(loadcell):
    _, _, lc, _ = loadcell
    assert lc.force() == pytest.approx(1000.0, abs=2.0)


@pytest.mark.parametrize("kind", ["timeout", "garble"])
def test_idempotent_query_survives_one_fault(loadcell, kind):
    _, device, lc, _ = loadcell
    device.faults.add(Fault(kind=kind, match=r"\?C"))
    assert lc.force() == pytest.approx(1000.0, abs=2.0)


def test_persistent_timeout_raises_typed_error_with_context(loadcell):
    _, device, lc, _ = loadcell
    device.faults.add(Fault(kind="timeout", match=r"\?C", times=-1))
    with pytest.raises(InstrumentTimeout) as info:
        lc.force()
    assert info.value.instrument == "lc"
    assert "0.3 s" in str(info.value)
    device.faults.clear()
    assert lc.force() == pytest.approx(1000.0, abs=2.0)  # the link recovers


def test_persistent_garble_raises_garbled_reply(loadcell):
    _, device, lc, _ = loadcell
    device.faults.add(Fault(kind="garble", match=r"\?C", times=-1))
    with pytest.raises(GarbledReply) as info:
        lc.force()
    assert info.value.command == "?C"


def test_slow_reply_within_timeout_is_fine(loadcell):
    _, device, lc, _ = loadcell
    device.faults.add(Fault(kind="slow", match=r"\?C", delay_s=0.1))
    assert lc.force() == pytest.approx(1000.0, abs=2.0)


def test_late_reply_does_not_poison_the_next_query(loadcell):
    _, device, lc, _ = loadcell
    device.faults.add(Fault(kind="slow", match=r"^RS$", delay_s=0.5))
    assert lc.transport.query("RS") == "LC-0001"  # retried after the timeout
    assert lc.force() == pytest.approx(1000.0, abs=2.0)  # never the late "LC-0001"


def test_a_stall_of_this_process_is_not_instrument_silence(loadcell):
    """The reply comes 0.35 s after the command, and this process did not run for 0.5 s of
    it (GIL held by an HDF5 flush, an overloaded host): the first read returns nothing after
    the stall. The instrument had 0.05 s of attention, not 0.3 s: no timeout, no reconnect."""
    _, device, lc, _ = loadcell
    device.faults.add(Fault(kind="slow", match=r"\?C", delay_s=0.35))
    port = lc.transport._port
    real_read, stalled = port.read, []

    def read_after_a_stall(size: int = 1) -> bytes:
        if not stalled:
            stalled.append(True)
            time.sleep(0.5)  # not listening: as if descheduled before the select returned
            return b""
        return real_read(size)

    port.read = read_after_a_stall
    assert lc.force() == pytest.approx(1000.0, abs=2.0)
    assert stalled and lc.transport.reconnects == 0


def test_dropped_connection_reconnects(loadcell):
    wire, device, lc, _ = loadcell
    device.faults.add(Fault(kind="drop", match=r"\?C"))
    assert lc.force() == pytest.approx(1000.0, abs=2.0)
    assert lc.transport.reconnects >= 1


def test_persistent_drop_over_tcp_is_connection_lost():
    world = DriverTestWorld()
    device = LoadCellIndicatorEmulator(world)
    server = TcpLineServer(device)
    device.faults.add(Fault(kind="drop", match=r"\?C", times=-1))
    transport = SerialTransport(
        "lc", server.serial_url, timeout_s=0.3, read_termination="\r\n",
        write_termination="\r", retry=RetryPolicy(attempts=2, backoff_s=0.01), clock=world.clock,
    )  # fmt: skip
    try:
        with pytest.raises(ConnectionLost):
            LoadCellIndicator("lc", transport).force()
    finally:
        transport.close()
        server.close()


def test_non_idempotent_write_is_never_resent():
    world = DriverTestWorld()
    device = ScrewActuatorEmulator(world)
    server = PtyLineServer(device)
    transport = SerialTransport(
        "act", server.port, timeout_s=0.3, read_termination="\r\n", write_termination="\n",
        retry=RetryPolicy(attempts=3, backoff_s=0.01), clock=world.clock,
    )  # fmt: skip
    actuator = ScrewActuator("act", transport)
    device.faults.add(Fault(kind="timeout", match="move rel"))
    try:
        with pytest.raises(InstrumentTimeout):
            actuator.command("move rel 10", idempotent=False)
        assert world.steps == 10  # executed once by the device, never re-sent
        actuator.move_abs(50)  # idempotent moves are fine afterwards
        assert actuator.position() == 50
    finally:
        transport.close()
        server.close()


def test_unopenable_port_is_connection_lost():
    with pytest.raises(ConnectionLost) as info:
        SerialTransport("x", "/dev/does-not-exist-ssbench", timeout_s=0.2)
    assert "/dev/does-not-exist-ssbench" in str(info.value)


def test_open_serial_reads_station_settings():
    world = DriverTestWorld()
    server = TcpLineServer(LoadCellIndicatorEmulator(world))
    transport = open_serial(
        "lc", server.serial_url, {"timeout": "250 ms", "retries": 0, "baudrate": 19200},
        world.clock, read_termination="\r\n", write_termination="\r",
    )  # fmt: skip
    try:
        assert transport.timeout_s == pytest.approx(0.25)
        assert transport.retry.attempts == 1
        assert transport.baudrate == 19200
    finally:
        transport.close()
        server.close()
    with pytest.raises(ValueError, match="retries"):
        open_serial("lc", server.serial_url, {"retries": -1}, world.clock,
                    read_termination="\n", write_termination="\n")  # fmt: skip


def test_serial_url_accepts_visa_style_names():
    assert serial_url("ASRL/dev/ttyUSB0::INSTR") == "/dev/ttyUSB0"
    assert serial_url("socket://127.0.0.1:5000") == "socket://127.0.0.1:5000"
    with pytest.raises(ValueError):
        serial_url("  ")


@given(
    st.floats(-1e5, 1e5, allow_nan=False), st.sampled_from(["N", "lbF", "KGF"]), st.integers(0, 4)
)
def test_parse_force_round_trips(value, unit, decimals):
    factor = {"N": 1.0, "LBF": 4.4482216152605, "KGF": 9.80665}[unit.upper()]
    text = f"{value:.{decimals}f} {unit}"
    assert parse_force(text) == pytest.approx(float(f"{value:.{decimals}f}") * factor)


@given(st.text(max_size=20))
def test_parse_force_rejects_junk_with_value_error(text):
    with contextlib.suppress(ValueError):
        parse_force(text)


@given(
    st.integers(1, 99), st.integers(0, 9), st.sampled_from(["OK", "RJ"]),
    st.sampled_from(["IDLE", "BUSY"]), st.sampled_from(["--", "FS", "WR", "NI"]),
    st.integers(-(10**7), 10**7),
)  # fmt: skip
def test_parse_zaber_reply_round_trips(address, axis, flag, status, warning, data):
    reply = parse_reply(f"@{address:02d} {axis} {flag} {status} {warning} {data}")
    assert (reply.address, reply.axis, reply.flag, reply.status, reply.warning) == (
        address, axis, flag, status, warning,
    )  # fmt: skip
    assert int(reply.data) == data


@given(st.text(alphabet="@0123456789 OKRJIDLEBUSY-#?", max_size=30))
def test_parse_zaber_reply_only_raises_value_error(text):
    with contextlib.suppress(ValueError):
        parse_reply(text)
