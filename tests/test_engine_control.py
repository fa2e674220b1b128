"""Pause (deferred / immediate), resume, stop, abort, Ctrl-C, instrument faults, listener faults."""

from __future__ import annotations

import io
import os
import signal

import pytest
from protocols_fakes import FakeStation, HandWall
from protocols_helpers import Collector, run_yaml

from daq.clock import VirtualClock
from drivers.errors import SetpointError
from protocols.console import ProgressBar, interactive
from protocols.engine import Engine, Listener, Progress

TWO_STEPS = """
steps:
  - {type: galvanostatic, current: 1 mA, end: [{time: 10 s}]}
  - {type: galvanostatic, current: -1 mA, end: [{time: 10 s}]}
"""


def at_step(n: int, action):
    """Hook calling ``action(engine)`` once, when step ``n`` starts."""
    done = []

    def hook(engine, collector, item):
        if not done and getattr(item, "kind", None) == "step_start" and item.step == n:
            done.append(True)
            action(engine)

    return hook


def resume_after(pause_for: float, first):
    """Hook: ``first(engine)`` at step 0 start, then resume once paused for ``pause_for``."""
    state = {"paused_at": None}

    def hook(engine, collector, item):
        if getattr(item, "kind", None) == "step_start" and item.step == 0:
            first(engine)
        if getattr(item, "kind", None) == "pause":
            state["paused_at"] = item.time
        if (
            isinstance(item, Progress)
            and state["paused_at"] is not None
            and item.elapsed >= state["paused_at"] + pause_for
        ):
            state["paused_at"] = None
            engine.resume()

    return hook


def galv_on_time(col):
    """Seconds of galvanostatic samples recorded (10 Hz)."""
    electro = col.stream("electro")
    return (electro["current"] != 0).sum() / 10.0


def test_deferred_pause_waits_for_the_step_boundary_then_resumes():
    result, col, st = run_yaml(TWO_STEPS, hook=resume_after(2.0, lambda e: e.pause()))
    assert result.status == "success"
    pause = col.kinds("pause")[0]
    first_end = col.kinds("step_end")[0]
    assert pause.time >= first_end.time
    second_start = col.kinds("step_start")[1]
    assert second_start.time >= pause.time + 2
    assert galv_on_time(col) == pytest.approx(20.0, abs=0.3)
    assert ("output_off", ()) in st.potentiostat.calls


def test_immediate_pause_turns_the_source_off_and_keeps_step_time():
    hook = resume_after(2.0, lambda e: e.pause(immediate=True))
    result, col, st = run_yaml(TWO_STEPS, hook=hook)
    assert result.status == "success"
    pause, resume = col.kinds("pause")[0], col.kinds("resume")[0]
    assert pause.time < 1.0 and resume.data["paused_for"] >= 2
    end = col.kinds("step_end")[0]
    assert end.time == pytest.approx(10.0 + resume.data["paused_for"], abs=0.25)
    electro = col.stream("electro")
    during = (electro["time"] > pause.time + 0.2) & (electro["time"] < resume.time)
    assert not during.any()  # nothing sourced (nor acquired) while paused
    assert galv_on_time(col) == pytest.approx(20.0, abs=0.3)


def test_stop_while_paused_finishes_the_paused_step():
    hook = resume_after(1e9, lambda e: e.pause(immediate=True))

    def stop_later(engine, collector, item):
        hook(engine, collector, item)
        if isinstance(item, Progress) and item.state == "paused" and item.elapsed > 2:
            engine.stop()

    result, col, _ = run_yaml(TWO_STEPS, hook=stop_later)
    assert result.status == "stopped"
    assert [e.data["criterion"] for e in col.kinds("step_end")] == ["time"]
    assert galv_on_time(col) == pytest.approx(10.0, abs=0.3)


def test_pulse_train_does_not_count_paused_time():
    body = "steps: [{type: bias_pulse_train, high: 1 V, low: 0 V, high_time: 5 s, low_time: 5 s, count: 2, current_limit: 1 uA}]"
    hook = resume_after(2.0, lambda e: e.pause(immediate=True))
    result, col, st = run_yaml(body, hook=hook, head="name: p\n")
    assert result.status == "success"
    paused_for = col.kinds("resume")[0].data["paused_for"]
    assert col.events[-1].time == pytest.approx(20.0 + paused_for, abs=0.25)


def test_stop_finishes_the_current_step():
    result, col, _ = run_yaml(TWO_STEPS, hook=at_step(0, lambda e: e.stop()))
    assert result.status == "stopped"
    assert len(col.kinds("step_end")) == 1 and col.kinds("step_end")[0].data["criterion"] == "time"


def test_abort_goes_safe_at_once_and_keeps_data():
    result, col, st = run_yaml(TWO_STEPS, hook=at_step(1, lambda e: e.abort()))
    assert result.status == "aborted"
    assert st.potentiostat.mode == "off"
    assert len(col.stream("electro")["time"]) >= 100


def test_an_instrument_error_fails_safe_and_the_engine_never_retries():
    """Retries live in the transport only (idempotent exchanges); what reaches the engine
    fails the run safe, with the cause, and nothing is re-sent."""
    from protocols_fakes import FakeStation

    station = FakeStation.full()
    station.potentiostat.fail("fetch", times=1)
    result, col, st = run_yaml(TWO_STEPS, station)
    assert result.status == "failed" and "fetch timed out" in result.reason
    assert [m for m, _ in st.potentiostat.calls].count("fetch") == 1
    assert not col.kinds("retry")
    assert st.potentiostat.mode == "off"
    assert st.bias_holder.voltage == 0.0


def test_a_failed_start_of_acquisition_is_never_re_sent():
    """``start_buffered`` sends the 2450's non-idempotent ``:INIT``: one try, then fail safe."""
    from protocols_fakes import FakeStation

    station = FakeStation.full()
    station.potentiostat.fail("start_buffered", times=1)
    result, _, st = run_yaml(TWO_STEPS, station)
    assert result.status == "failed" and "start_buffered timed out" in result.reason
    assert [m for m, _ in st.potentiostat.calls].count("start_buffered") == 1
    assert st.potentiostat.mode == "off"


def test_setpoint_error_is_not_retried():
    from protocols_fakes import FakeStation

    station = FakeStation.full()
    station.potentiostat.fail("set_current", exc=SetpointError("cell", "current", 1e-3, "+-0.1 mA"))
    result, col, _ = run_yaml(TWO_STEPS, station)
    assert result.status == "failed" and "outside the allowed" in result.reason
    assert not col.kinds("retry")


def test_critical_listener_failure_fails_the_run_but_a_gui_does_not():
    class Broken(Listener):
        critical = True

        def on_samples(self, stream, data):
            raise OSError("disk full")

    class BrokenGui(Listener):
        def on_samples(self, stream, data):
            raise RuntimeError("widget gone")

    from protocols_fakes import FakeStation

    from protocols.loader import load_protocol_text

    protocol = load_protocol_text("name: t\nlimits: {voltage: {max: 1 V}}\n" + TWO_STEPS)
    assert Engine(protocol, FakeStation.full(), [Broken()]).run().status == "failed"
    assert Engine(protocol, FakeStation.full(), [BrokenGui()]).run().status == "success"


def _blocking_stdin():
    read_end, _write_end = os.pipe()
    return os.fdopen(read_end)


@pytest.mark.parametrize(
    ("answer", "status"), [("a\n", "aborted"), ("s\n", "stopped"), ("r\n", "success")]
)
def test_ctrl_c_pauses_and_asks(answer, status, capsys):
    from protocols_fakes import FakeStation

    from protocols.loader import load_protocol_text

    protocol = load_protocol_text("name: t\nlimits: {voltage: {max: 1 V}}\n" + TWO_STEPS)
    col = Collector(at_step(0, lambda e: os.kill(os.getpid(), signal.SIGINT)))
    engine = Engine(protocol, FakeStation.full(), [col])
    col.engine = engine
    with interactive(engine, stdin=Terminal(answer)):
        result = engine.run()
    assert result.status == status
    assert "pausing at the end of the current step (≈" in capsys.readouterr().err


class Terminal(io.StringIO):
    """Answers typed at a terminal."""

    def isatty(self) -> bool:
        return True


def test_ctrl_c_without_a_terminal_pauses_at_the_boundary_says_how_to_go_on_and_sigusr1_resumes(
    capsys,
):
    from protocols_fakes import FakeStation

    from protocols.loader import load_protocol_text

    protocol = load_protocol_text("name: t\nlimits: {voltage: {max: 1 V}}\n" + TWO_STEPS)
    sent = []

    def hook(engine, collector, item):
        if getattr(item, "kind", None) == "step_start" and item.step == 0:
            os.kill(os.getpid(), signal.SIGINT)
        if getattr(item, "kind", None) == "pause" and not sent:
            sent.append(True)
            os.kill(os.getpid(), signal.SIGUSR1)

    col = Collector(hook)
    engine = Engine(protocol, FakeStation.full(), [col])
    col.engine = engine
    with interactive(engine, stdin=io.StringIO("r\n")):  # not a terminal: never read
        result = engine.run()
    assert result.status == "success"
    err = capsys.readouterr().err
    assert "[i]mmediate" not in err and f"resume with `kill -USR1 {os.getpid()}`" in err
    assert "SIGUSR1: resuming" in err
    pause, first_end = col.kinds("pause")[0], col.kinds("step_end")[0]
    assert pause.data["kind"] == "deferred" and pause.time >= first_end.time
    assert galv_on_time(col) == pytest.approx(20.0, abs=0.3)
    assert signal.getsignal(signal.SIGUSR1) is signal.SIG_DFL


def test_second_ctrl_c_aborts():
    from protocols_fakes import FakeStation

    from protocols.loader import load_protocol_text

    protocol = load_protocol_text("name: t\nlimits: {voltage: {max: 1 V}}\n" + TWO_STEPS)

    def twice(engine):
        os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGINT)

    col = Collector(at_step(0, twice))
    engine = Engine(protocol, FakeStation.full(), [col])
    col.engine = engine
    with interactive(engine, stdin=_blocking_stdin()):
        result = engine.run()
    assert result.status == "aborted"
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_progress_excludes_paused_time():
    hook = resume_after(2.0, lambda e: e.pause(immediate=True))
    _, col, _ = run_yaml(TWO_STEPS, hook=hook)
    late = [p for p in col.progress if p.state == "running" and p.paused > 0]
    assert late and all(p.remaining == pytest.approx(20.0 - (p.elapsed - p.paused)) for p in late)
    assert max(p.paused for p in col.progress) >= 2.0


def test_progress_bar_prints():
    out = io.StringIO()
    bar = ProgressBar(out, min_interval=0.0)
    bar.on_progress(Progress(50.0, 100.0, 3, {"main": "steps[1]"}, "running"))
    err = out.getvalue()
    assert "50%" in err and "left~0:00:50" in err


def test_progress_names_steps_by_phase_and_cycle_not_by_path():
    body = """
    steps:
      - {type: plating_stripping, current_density: 0.1 mA/cm2, half_cycle_time: 5 s, cycles: 2, first: strip}
    """
    _, col, _ = run_yaml(body)
    shown = {p.current["main"] for p in col.progress}
    assert "strip, cycle 1 (plating_stripping)" in shown
    assert "plate, cycle 2 (plating_stripping)" in shown
    assert not any("[" in s for s in shown)


def test_a_paused_run_on_a_virtual_clock_follows_wall_time_then_races_again():
    """While paused, run time advances like wall time (the cell relaxes as a real one would,
    the pressure loop holds at real pace); before and after, the virtual clock runs free.
    The wall is a hand-moved one, stepped 0.1 s at a time by a helper thread while paused."""
    import threading

    wall = HandWall()
    marks: dict[str, float] = {}
    paused = threading.Event()
    done = threading.Event()

    def move_wall() -> None:
        paused.wait(30)
        while not done.wait(0.005):
            wall.t += 0.1

    def hook(engine, collector, item):
        if getattr(item, "kind", None) == "step_start" and item.step == 0 and not marks:
            engine.pause(immediate=True)
        if getattr(item, "kind", None) == "pause":
            marks.update(wall=wall.t, run=item.time)
            paused.set()
        if getattr(item, "kind", None) == "resume":
            done.set()  # the wall stops once the engine has left the pause
            marks["wall_taken"] = wall.t - marks["wall"]
        if (
            isinstance(item, Progress)
            and item.state == "paused"
            and item.elapsed > marks["run"] + 1
        ):
            engine.resume()

    mover = threading.Thread(target=move_wall, daemon=True)
    mover.start()
    station = FakeStation.full(clock=VirtualClock(wall=wall))
    result, col, _ = run_yaml(TWO_STEPS, station=station, hook=hook)
    done.set()
    assert result.status == "success"
    paused_for = col.kinds("resume")[0].data["paused_for"]
    assert 1.0 <= paused_for <= marks["wall_taken"]  # never ahead of wall time while paused
    assert col.events[-1].time == pytest.approx(20.0 + paused_for, abs=0.15)  # + one tick
