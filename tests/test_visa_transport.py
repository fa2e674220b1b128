"""VisaTransport over real sockets: retry policy, idempotency, lock, I/O log, close, reconnect."""

from __future__ import annotations

import logging
import threading

import pytest

from daq.clock import VirtualClock
from drivers.errors import ConnectionLost, GarbledReply, InstrumentTimeout
from drivers.transport import RetryPolicy, VisaTransport, _resource_manager
from sim_instruments.faults import Fault
from sim_instruments.lineserver import LineDevice, TcpLineServer


class Echo(LineDevice):
    """Answers ``X?`` with ``X``; remembers every line."""

    def __init__(self):
        super().__init__()
        self.lines: list[str] = []

    def handle(self, command):
        self.lines.append(command)
        return command[:-1] if command.endswith("?") else None


@pytest.fixture
def link():
    device = Echo()
    server = TcpLineServer(device)
    clock = VirtualClock()
    transport = VisaTransport(
        "echo",
        server.visa_resource,
        backend="@py",
        timeout_s=0.2,
        retry=RetryPolicy(attempts=3, backoff_s=0.5, factor=2.0),
        clock=clock,
    )
    yield device, transport, clock
    transport.close()
    server.close()


def test_query_parse_and_write(link):
    device, t, _ = link
    assert t.query("A?") == "A"
    assert t.query("42?", int) == 42
    t.write("SET 1")
    assert t.query("B?") == "B" and device.lines[-2] == "SET 1"


def test_retries_back_off_on_the_clock_and_give_up(link):
    device, t, clock = link
    device.faults.add(Fault("timeout", match="^T", times=-1))
    with pytest.raises(InstrumentTimeout, match="'T\\?'"):
        t.query("T?")
    assert device.lines.count("T?") == 3
    assert clock.now() == pytest.approx(0.5 + 1.0)  # two backoffs, on the run clock


def test_non_idempotent_operations_are_never_resent(link):
    device, t, _ = link
    device.faults.add(Fault("timeout", match="^N", times=1))
    with pytest.raises(InstrumentTimeout):
        t.query("N?", idempotent=False)
    assert device.lines.count("N?") == 1
    assert t.query("after?") == "after"  # a fresh link: the late reply cannot leak


def test_garbled_reply_is_typed_and_retried(link):
    device, t, _ = link
    device.faults.add(Fault("garble", match="^G", times=1))
    assert t.query("G123?", parse=lambda r: int(r[1:])) == 123
    device.faults.add(Fault("garble", match="^G", times=-1))
    with pytest.raises(GarbledReply) as info:
        t.query("G123?", parse=lambda r: int(r[1:]))
    assert info.value.command == "G123?"


def test_lock_keeps_exchanges_whole_across_threads(link):
    _, t, _ = link
    bad = []

    def worker(k):
        for i in range(100):
            command = f"W{k}-{i}?"
            if t.query(command) != command[:-1]:
                bad.append(command)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert bad == []


def test_io_log_at_debug(link, caplog):
    _, t, _ = link
    with caplog.at_level(logging.DEBUG, logger="drivers.io"):
        t.query("LOG?")
    text = caplog.text
    assert "echo t=0.000000 >> LOG?" in text and "<< LOG" in text


def test_reconnect_close_and_use_after_close(link):
    device, t, _ = link
    t.reconnect()
    assert t.reconnects == 1 and t.query("R?") == "R"
    t.close()
    t.close()
    assert not t.is_open
    with pytest.raises(ConnectionLost, match="closed"):
        t.query("X?")
    with pytest.raises(ConnectionLost):
        t.reconnect()


def test_opening_nothing_is_a_typed_error():
    server = TcpLineServer(Echo())
    resource = server.visa_resource
    server.close()
    with pytest.raises(ConnectionLost, match="refused"):  # pyvisa-py connects lazily
        VisaTransport("nobody", resource, backend="@py", timeout_s=0.2).query("*IDN?")


def test_system_backend_falls_back_to_pyvisa_py():
    rm = _resource_manager(None)
    assert rm.visalib is not None
    assert type(rm.visalib).__module__.startswith(("pyvisa_py", "pyvisa.ctwrapper"))


def test_retry_policy_is_bounded():
    policy = RetryPolicy(attempts=5, backoff_s=0.1, factor=3.0, max_backoff_s=0.5)
    assert [policy.delay(k) for k in range(1, 5)] == pytest.approx([0.1, 0.3, 0.5, 0.5])
    with pytest.raises(ValueError):
        RetryPolicy(attempts=0)
