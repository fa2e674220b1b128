"""Run clocks: real and virtual, single- and multi-threaded."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
from protocols_fakes import HandWall

from daq.clock import RealClock, VirtualClock


def test_real_clock_is_monotonic_and_anchored():
    clock = RealClock()
    t0 = clock.now()
    clock.sleep(0.01)
    assert clock.now() > t0
    assert abs(clock.utc(0) - clock.utc_anchor) < timedelta(microseconds=1)
    assert clock.utc_anchor.tzinfo is UTC


def test_virtual_clock_sleep_advances_without_waiting():
    clock = VirtualClock(utc_anchor=datetime(2026, 1, 1, tzinfo=UTC))
    clock.sleep(3600.0)
    assert clock.now() == pytest.approx(3600.0)
    assert clock.utc(clock.now()) == datetime(2026, 1, 1, 1, tzinfo=UTC)
    clock.sleep_until(7200.0)
    assert clock.now() == pytest.approx(7200.0)


def test_virtual_clock_rejects_negative_time():
    clock = VirtualClock()
    with pytest.raises(ValueError, match="negative"):
        clock.sleep(-1)
    with pytest.raises(ValueError, match="backwards"):
        clock.advance(-1)


def test_virtual_clock_keeps_two_participants_in_step():
    """Two tracks with different periods interleave in time order, deterministically."""
    clock = VirtualClock()
    log: list[tuple[str, float]] = []
    lock = threading.Lock()
    ready = threading.Barrier(2)

    def track(name: str, period: float, count: int) -> None:
        with clock.participant():
            ready.wait()
            for _ in range(count):
                clock.sleep(period)
                with lock:
                    log.append((name, clock.now()))

    threads = [
        threading.Thread(target=track, args=("a", 1.0, 6)),
        threading.Thread(target=track, args=("b", 1.5, 4)),
    ]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=10)
    assert not any(th.is_alive() for th in threads)
    times = [t for _, t in log]
    assert times == sorted(times)
    assert [t for n, t in log if n == "a"] == pytest.approx([1, 2, 3, 4, 5, 6])
    assert [t for n, t in log if n == "b"] == pytest.approx([1.5, 3, 4.5, 6])


def test_virtual_clock_acceleration_paces_against_wall_time():
    # a hand-moved wall (1 ms per read): the jump waits until the wall says it is due
    wall = HandWall(step=1e-3)
    clock = VirtualClock(acceleration=1000.0, wall=wall)
    clock.sleep(50.0)
    assert clock.now() == pytest.approx(50.0)
    assert wall.t >= 0.05  # 50 virtual s at 1000x: not before 50 ms of the pace's wall time


def test_background_participant_never_drives_time_alone():
    """An emulator loop keeps step with time but an idle station does not race ahead."""
    clock = VirtualClock()
    ticks: list[float] = []
    stop = threading.Event()

    def instrument_loop() -> None:
        with clock.participant(background=True):
            while not stop.is_set():
                clock.sleep(0.5)
                ticks.append(clock.now())

    loop = threading.Thread(target=instrument_loop, daemon=True)
    loop.start()
    threading.Event().wait(0.2)
    assert ticks == [] and clock.now() == 0.0  # nobody drives: time stands still
    clock.sleep(2.0)  # a driving sleeper: the loop ticks along with it
    stop.set()
    assert clock.now() == pytest.approx(2.0)
    assert ticks[:4] == pytest.approx([0.5, 1.0, 1.5, 2.0])


def _wait_for(predicate, seconds: float = 10.0) -> bool:
    """Poll ``predicate`` for up to ``seconds`` of real time (a guard, never a measurement)."""
    stop = threading.Event()
    for _ in range(int(seconds / 0.01)):
        if predicate():
            return True
        stop.wait(0.01)
    return predicate()


def test_at_wall_pace_moves_run_time_only_as_wall_time_moves_then_restores_the_pace():
    wall = HandWall()
    clock = VirtualClock(wall=wall)
    clock.sleep(1000.0)  # free-running: no wall time needed
    seen: list[float] = []

    def paused_loop() -> None:
        with clock.participant():
            for _ in range(4):
                clock.sleep(0.5)
                seen.append(clock.now())

    with clock.at_wall_pace():
        assert clock.acceleration == 1.0
        loop = threading.Thread(target=paused_loop, daemon=True)
        loop.start()
        threading.Event().wait(0.2)
        assert seen == [] and clock.now() == 1000.0  # the wall stands still: so does run time
        for k, step in enumerate([0.5, 1.0], start=1):  # the wall reaches each wake-up
            wall.t = step
            assert _wait_for(lambda k=k: len(seen) == k)
        wall.t = 1.2
        threading.Event().wait(0.2)
        assert seen == [1000.5, 1001.0] and clock.now() == 1001.0  # not a step past the wall
        wall.t = 1.5
        assert _wait_for(lambda: len(seen) == 3)
        wall.t = 2.0
        loop.join(timeout=10)
        assert seen == [1000.5, 1001.0, 1001.5, 1002.0]
    assert clock.acceleration is None
    clock.sleep(1000.0)
    assert clock.now() == pytest.approx(2002.0)
