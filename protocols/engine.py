"""The engine: runs a protocol's tracks on a station, on the station's clock.

One scheduler thread (a clock participant) ticks at the acquisition period. Each tick it
fetches every instrument's samples, hands them first to the safety supervisor, then to the
live detectors, the record rule and the listeners, and finally advances each track. Tracks are
generators (one per step in progress), so concurrent tracks stay in step on one clock, and a
virtual clock runs a long protocol fast and deterministically.

The engine never writes files: listeners (the run-file recorder, the GUI) receive the stream
descriptors at run start (``on_start``), then samples, events and frames. Every step start/end and every decision is an event; ``step_end`` carries
the track's program state so a crashed run can resume after its last completed step.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from daq.documents import EventKind, StreamDescriptor
from drivers.errors import (
    InstrumentError,
    InstrumentReportedError,
    SafetyWriteFailed,
    SetpointError,
)
from protocols.conditions import DETECTOR_EVENTS, EndWatch, Fired, criterion_value
from protocols.estimate import estimate, step_current, step_duration
from protocols.model import Protocol
from protocols.program import Instr, Program, TrackState, advance, compile_protocol, settle
from protocols.record import RecordFilter
from protocols.safety import Supervisor, Trip
from protocols.steps import STEP_ROLE, Ended, RecordRule
from protocols.validate import limit_bounds, show

log = logging.getLogger(__name__)

#: streams the engine produces, with their fields and units (time is added by the writer)
STREAMS: dict[str, dict[str, str]] = {
    "electro": {"voltage": "V", "current": "A", "step": "", "cycle": "", "segment": ""},
    "pressure": {
        "pressure": "Pa",
        "force": "N",
        "position": "m",
        "setpoint": "Pa",
        "step": "",
        "segment": "",
    },
    "bias": {"voltage": "V", "current": "A", "step": "", "segment": ""},
    "thermal": {"temperature": "K", "setpoint": "K", "step": "", "segment": ""},
}
STREAM_ROLE = {
    "electro": "potentiostat",
    "pressure": "pressure_rig",
    "bias": "bias_holder",
    "thermal": "thermal",
}


def stream_descriptors(station: Any) -> list[StreamDescriptor]:
    """The streams the engine produces on ``station`` (those of the roles it has), each with
    its fields, units, dtypes, role and instrument: what ``Listener.on_start`` receives."""
    out = []
    for name, fields in STREAMS.items():
        instrument = getattr(station, STREAM_ROLE[name], None)
        if instrument is not None:
            source = str(getattr(instrument, "name", ""))
            out.append(StreamDescriptor.build(name, fields, STREAM_ROLE[name], source))
    return out


@dataclass(frozen=True)
class EngineEvent:
    """A logged happening: run time, kind, one-line text, step number and structured data."""

    time: float
    kind: EventKind
    text: str
    step: int = -1
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Progress:
    """Where the run is: run time (s, across resumed segments), the protocol's expected
    duration, time spent paused (not protocol progress), and the step of each track."""

    elapsed: float
    expected: float
    steps_done: int
    current: dict[str, str]
    state: str
    paused: float = 0.0

    @property
    def done(self) -> float:
        return max(self.elapsed - self.paused, 0.0)

    @property
    def remaining(self) -> float:
        return max(self.expected - self.done, 0.0)

    @property
    def fraction(self) -> float:
        return min(self.done / self.expected, 1.0) if self.expected > 0 else 0.0


class Listener:
    """Receives what the engine produces. ``critical`` listeners (the run file) fail the run
    when they raise; others are dropped with an event."""

    critical = False

    def on_start(self, descriptors: list[StreamDescriptor]) -> None: ...
    def on_samples(self, stream: str, data: dict[str, np.ndarray]) -> None: ...
    def on_event(self, event: EngineEvent) -> None: ...
    def on_frame(self, source: str, time: float, image: np.ndarray) -> None: ...
    def on_progress(self, progress: Progress) -> None: ...


@dataclass
class RunResult:
    """How the run ended: status (run-file exit status), reason, trips, outcomes, positions."""

    status: str
    reason: str
    trip: Trip | None = None
    outcomes: list[dict[str, Any]] = field(default_factory=list)
    states: dict[str, dict[str, Any]] = field(default_factory=dict)
    steps_run: int = 0
    samples: int = 0


class Fault(Exception):
    """An instrument (``role``) kept failing after the bounded retries, or a critical listener
    failed (``role`` empty)."""

    def __init__(self, message: str, role: str = "") -> None:
        super().__init__(message)
        self.role = role


class _End(Exception):
    """Internal: the run ends now with ``status`` and ``reason``."""

    def __init__(self, status: str, reason: str) -> None:
        self.status, self.reason = status, reason
        super().__init__(reason)


_RETRYABLE = (InstrumentError,)
_FATAL = (SetpointError, InstrumentReportedError, SafetyWriteFailed)

Gen = Generator[None, None, Fired | None]


@dataclass
class _Track:
    name: str
    program: Program
    state: TrackState
    instr: Instr | None = None
    gen: Gen | None = None
    step_no: int = -1
    watch: EndWatch | None = None
    reapply: Callable[[], None] | None = None
    held: bool = False  # at a step boundary, holding for a deferred pause / stop
    pending: Instr | None = None  # the step to start when a held track is released
    done: bool = False
    started: float = 0.0  # run time the step started, moved on by pauses

    @property
    def role(self) -> str | None:
        return STEP_ROLE.get(self.instr.step.type) if self.instr is not None else None


class Engine:
    """Run ``protocol`` on ``station`` (roles + clock); see the module docstring."""

    def __init__(
        self,
        protocol: Protocol,
        station: Any,
        listeners: Iterable[Listener] = (),
        *,
        detectors: Iterable[Any] = (),
        resume: dict[str, dict[str, Any]] | None = None,
        signals: dict[str, float] | None = None,
        first_step: int = 0,
        segment: int = 0,
        time_offset: float = 0.0,
        retries: int = 3,
        retry_delay: float = 0.05,
        progress_period: float = 1.0,
        restore: dict[str, float] | None = None,
        restore_timeout: float = 1800.0,
    ) -> None:
        self.protocol = protocol
        self.station = station
        self.clock = station.clock
        self.listeners = list(listeners)
        self.detectors = list(detectors)
        self.programs = compile_protocol(protocol)
        self.area = protocol.sample.area
        self.supervisor = Supervisor(protocol.limits, self.area)
        self._limit_bounds = limit_bounds(protocol)
        self.retries, self.retry_delay = retries, retry_delay
        self.segment = segment
        self.time_offset = time_offset
        self.rate = protocol.sampling.rate
        # one fetch per sample period, but at least every 5 ms and at most every 0.1 s: a limit
        # crossing is acted on within one period + 5 ms at any rate (bench/bench_engine.py)
        self.tick = min(max(1.0 / self.rate, 0.005), 0.1)
        self.slow_period = max(1.0 / protocol.sampling.slow_rate, self.tick)
        self.progress_period = progress_period
        self.expected = estimate(protocol, programs=self.programs).duration
        self._estimated_at = float("-inf")  # run time of the last re-estimate
        self.tracks = {
            name: _Track(
                name,
                program,
                TrackState.from_json(resume[name]) if resume and name in resume else TrackState(),
            )
            for name, program in self.programs.items()
        }
        self._restore = dict(restore or {})
        self._restore_timeout = restore_timeout
        self._finished_on_resume = {n for n, s in (resume or {}).items() if s.get("done")}
        self._next_step = first_step
        self.signals: dict[str, float] = dict(signals or {})
        self.outcomes: list[dict[str, Any]] = []
        self._owner = {STEP_ROLE[i.step.type]: t for t, p in self.programs.items() for i in p.steps()
                       if STEP_ROLE[i.step.type]}  # fmt: skip
        self._record = RecordFilter()
        self._requests: deque[str] = deque()  # appended from any thread or a signal handler
        self._abort_reason = "aborted by the operator"
        self._paused = False
        self._pause_kind: str | None = None
        self._pause_t = 0.0
        self._paused_total = 0.0
        self._stopping = False
        self._buffering = False
        self._acq_t0 = 0.0
        self._priming = 0  # depth of step starts applied within one tick (see _prime)
        self._next_slow = 0.0
        # the rig's software force loop runs at its own period (drivers expose ``period``)
        rig = getattr(station, "pressure_rig", None)
        self._rig_period = (
            None if rig is None else max(float(getattr(rig, "period", 0.1)), self.tick)
        )
        self._next_service = 0.0
        self._next_progress = 0.0
        self._capturing = False
        self._pressure_setpoint = float("nan")
        self._pressure_commanded_at: float | None = None
        self._temperature_setpoint = float("nan")
        self._last_v = float("nan")
        self._last_slow_poll = float("-inf")
        self._steps_run = 0
        self._samples = 0
        self.trip: Trip | None = None

    # -- public control (thread-safe) ------------------------------------------------------
    def pause(self, immediate: bool = False) -> None:
        """Pause at the next step boundary (default) or at once (sources off, pressure kept)."""
        self._request("pause_now" if immediate else "pause")

    def resume(self) -> None:
        self._request("resume")

    def abort(self, reason: str = "aborted by the operator") -> None:
        """Safe state now, keep the data, end as ``aborted`` (``reason`` goes to the event log)."""
        self._abort_reason = reason
        self._request("abort")

    def stop(self) -> None:
        """Finish the current step(s), then end as ``stopped``."""
        self._request("stop")

    def _request(self, what: str) -> None:
        self._requests.append(what)

    @property
    def paused(self) -> bool:
        return self._paused

    def time_to_step_end(self) -> float | None:
        """Expected run seconds until the source steps in progress end (where a deferred pause
        takes effect); 0 when none runs, None when one ends on measurements only."""
        now, left = self.now(), 0.0
        for track in list(self.tracks.values()):
            instr = track.instr
            if track.done or track.held or instr is None or self._holds_freely(track):
                continue
            duration = step_duration(self.protocol, self.programs, instr)
            if duration is None:
                return None
            left = max(left, duration - (now - track.started))
        return max(left, 0.0)

    def now(self) -> float:
        return self.clock.now() + self.time_offset

    # -- the run ---------------------------------------------------------------------------
    def run(self) -> RunResult:
        """Run to the end (or trip, abort, stop, fault); always leaves the station safe."""
        with self.clock.participant():
            status, reason = self._guarded(self._main)
            if status in ("success", "stopped"):
                status, reason = self._guarded(self._stop_buffered, status, reason)
            if status != "tripped":  # a trip has already made everything safe
                failures = self._safe_state()
                if failures:
                    self._event(
                        "safe_state_failed", "; ".join(failures), data={"failures": failures}
                    )
            self._event("run_end", reason, data={"status": status})
        return RunResult(status, reason, self.trip, self.outcomes,
                         {n: {**t.state.to_json(), "done": t.done} for n, t in self.tracks.items()},
                         self._steps_run, self._samples)  # fmt: skip

    def _guarded(self, body: Callable[[], None], status: str = "success",
                 reason: str = "protocol completed") -> tuple[str, str]:  # fmt: skip
        """Run ``body``; map how it ended to a run status and reason. Any bug is a failure."""
        try:
            body()
        except _End as end:
            return end.status, end.reason
        except Fault as exc:
            if exc.role:  # an instrument fault ends the run: say which, before run_end
                self._event(EventKind.FAULT, str(exc), data={"role": exc.role})
            return "failed", str(exc)
        except Exception as exc:
            log.exception("engine error")
            return "failed", f"internal error: {type(exc).__name__}: {exc}"
        if self._stopping:
            return "stopped", "stopped by the operator"
        return status, reason

    def _main(self) -> None:
        self._notify("on_start", stream_descriptors(self.station))
        self._event("segment_start", f"segment {self.segment} of {self.protocol.name!r}",
                    data={"segment": self.segment, "sha256": self.protocol.sha256()})  # fmt: skip
        self._restore_setpoints()
        self._begin()
        start, k = self.clock.now(), 0
        while not all(t.done for t in self.tracks.values()):
            self._cycle()
            k += 1
            self.clock.sleep_until(start + k * self.tick)  # a grid: no drift over days

    def _restore_setpoints(self) -> None:
        """On resume: drive back to the pressure and temperature the run held, and wait until
        they are reached, before any step continues (a restarted process starts unloaded)."""
        ready: list[Callable[[], bool]] = []
        if "pressure" in self._restore and getattr(self.station, "pressure_rig", None) is not None:
            self._pressure_command(self._restore["pressure"], None)
            ready.append(self._settled)
        if "temperature" in self._restore and getattr(self.station, "thermal", None) is not None:
            self._guard("temperature", self._restore["temperature"])
            self._call("thermal", "set_temperature", self._restore["temperature"])
            self._temperature_setpoint = self._restore["temperature"]
            commanded = self.now()
            ready.append(
                lambda: self._last_slow_poll > commanded and bool(self._call("thermal", "stable"))
            )
        if not ready:
            return
        shown = ", ".join(f"{k} {show(k, v)}" for k, v in self._restore.items())
        self._event("restore", f"restoring {shown} before continuing", data=dict(self._restore))
        start, k = self.clock.now(), 0
        while not all(r() for r in ready):
            if self.clock.now() - start > self._restore_timeout:
                raise _End(
                    "failed", f"could not restore {shown} within {self._restore_timeout:g} s"
                )
            self._acquire()
            self._handle_requests()
            k += 1
            self.clock.sleep_until(start + k * self.tick)
        self._event("restore", f"restored {shown}", data=dict(self._restore))

    def _begin(self) -> None:
        for track in self.tracks.values():
            if track.name in self._finished_on_resume:
                track.done = True
                continue
            self._enter(track, settle(track.program, track.state))

    def _cycle(self) -> None:
        self._acquire()
        self._handle_requests()
        now = self.now()
        if now >= self._next_progress:
            self._next_progress = now + self.progress_period
            self._publish_progress()
        if self._paused:
            return
        for track in self.tracks.values():
            if not track.done and not track.held:
                self._advance_track(track)
        if self._pause_kind == "deferred" and self._all_held():
            self._enter_pause()
        if self._stopping and self._all_held():
            for track in self.tracks.values():
                track.done = True

    def _all_held(self) -> bool:
        return all(t.done or t.held or self._holds_freely(t) for t in self.tracks.values())

    @staticmethod
    def _holds_freely(track: _Track) -> bool:
        """Pressure / thermal / waiting tracks may be frozen mid-step without harm."""
        return track.role in ("pressure_rig", "thermal", None)

    # -- tracks ----------------------------------------------------------------------------
    def _enter(self, track: _Track, instr: Instr | None) -> None:
        """Start ``instr`` on ``track`` (None: the track is finished)."""
        previous = track.role
        track.instr = instr
        if previous == "potentiostat" and track.role != "potentiostat":
            self._call("potentiostat", "set_open_circuit")
        if previous == "bias_holder" and track.role != "bias_holder":
            self._call("bias_holder", "bias_off")
        if instr is None:
            track.done = True
            self._event("track_end", f"track {track.name!r} completed", data={"track": track.name})
            if previous == "potentiostat":
                self._call("potentiostat", "output_off")
            return
        track.step_no = self._next_step
        track.started = self.now()
        self._next_step += 1
        self._steps_run += 1
        step = instr.step
        self._event("step_start", f"{track.name}: {instr.name} {step.type}", track.step_no,
                    {"track": track.name, "path": instr.name, "type": step.type, "meta": step.meta,
                     "cycle": track.state.cycle, "label": step.label})  # fmt: skip
        if STEP_ROLE[step.type] == "potentiostat":
            self.supervisor.reset_step(self.now())
        track.watch = (
            EndWatch(list(step.end), self.now(), self.area) if isinstance(step, Ended) else None
        )
        track.reapply = None
        track.gen = getattr(self, f"_do_{step.type}")(track, step)
        self._reestimate()
        self._prime(track)

    def _prime(self, track: _Track) -> None:
        """Apply the new step's setpoints in this tick, so acquisition has no dead tick between
        steps. Chains of steps that end at once recurse; past a bound the next tick goes on."""
        if self._priming >= 64:
            return
        self._priming += 1
        try:
            self._advance_track(track)
        finally:
            self._priming -= 1

    def _reestimate(self) -> None:
        """At a step start, re-walk the rest of the protocol from where the tracks stand (at
        most once per 1 % of the expected run), so early ends and gotos show in progress."""
        now = self.now()
        if now - self._estimated_at < 0.01 * self.expected:
            return
        self._estimated_at = now
        start = {n: t.state for n, t in self.tracks.items() if not t.done}
        rest = estimate(self.protocol, start, self.signals, self.programs).duration
        self.expected = max(now - self._paused_now(), 0.0) + rest

    def _advance_track(self, track: _Track) -> None:
        try:
            next(track.gen)
            return
        except StopIteration as stop:
            fired: Fired | None = stop.value
        self._finish_step(track, fired)

    def _finish_step(self, track: _Track, fired: Fired | None) -> None:
        instr = track.instr
        cond = fired.condition if fired else None
        jump = cond.goto if cond else None
        action = cond.action if cond and cond.action else ("goto" if jump else "next")
        data = {"track": track.name, "path": instr.name, "action": action}
        if fired is not None:
            data |= {"criterion": cond.criterion, "value": fired.value, "at": fired.time}
        if jump:
            data["goto"] = jump
        if cond is not None and cond.result:
            self._outcome(track, instr, fired)
        if action == "stop":
            self._event("step_end", f"{track.name}: {instr.name} ended by {cond.criterion}: stop",
                        track.step_no, {**data, "state": track.state.to_json()})  # fmt: skip
            raise _End("stopped", f"{instr.name}: {cond.criterion} {criterion_value(cond.criterion, fired.value)} -> stop"
                       + (f" ({cond.result})" if cond.result else ""))  # fmt: skip
        decisions: list[str] = []
        nxt = advance(track.program, track.state, jump_label=jump,
                      end_cycle=action == "end_cycle", decisions=decisions)  # fmt: skip
        data["state"] = {**track.state.to_json(), "done": nxt is None}
        reason = f"ended by {cond.criterion}" if cond else "completed"
        self._event(
            "step_end", f"{track.name}: {instr.name} {reason}, {action}", track.step_no, data
        )
        for text in decisions:
            self._event("decision", f"{track.name}: {text}", track.step_no, {"track": track.name})
        if (self._pause_kind == "deferred" or self._stopping) and not self._holds_freely(track):
            track.held = True
            track.gen = None
            track.pending = nxt
            if track.role == "potentiostat":
                self._call("potentiostat", "set_open_circuit")
            elif track.role == "bias_holder":
                self._call("bias_holder", "bias_off")
            return
        self._enter(track, nxt)

    def _outcome(self, track: _Track, instr: Instr, fired: Fired) -> None:
        cond = fired.condition
        mode = {"abs_voltage_above": "polarization", "voltage_above": "polarization",
                "voltage_below": "polarization", "abs_voltage_below": "short"}.get(cond.criterion, fired.value)  # fmt: skip
        if cond.criterion == "event":
            mode = str(fired.value)
        outcome = {"result": cond.result, "failure_mode": mode, "criterion": cond.criterion,
                   "value": fired.value, "time": fired.time, "track": track.name,
                   "path": instr.name, "meta": dict(instr.step.meta)}  # fmt: skip
        if "current_density" in instr.step.meta:
            outcome["j_crit"] = abs(float(instr.step.meta["current_density"]))
        self.outcomes.append(outcome)
        self._event("outcome", f"{cond.result}: {mode} in {instr.name}", track.step_no, outcome)

    # -- step executors (generators; return the fired end condition or None) ---------------
    def _wait_end(self, track: _Track) -> Gen:
        while True:
            fired = (
                track.watch.clock(self.now()) if track.watch.fired is None else track.watch.fired
            )
            if fired is not None:
                return fired
            yield

    def _sleep_step(self, seconds: float) -> Generator[None, None, None]:
        """Yield for ``seconds`` of step time (time spent paused does not count)."""
        until, paused = self.now() + seconds, self._paused_total
        while self.now() < until + (self._paused_total - paused) - 1e-12:
            yield

    def _source(self, track: _Track, method: str, *args: float) -> None:
        """Set the potentiostat source and (re)start buffered acquisition."""

        def apply() -> None:
            self._stop_buffered()
            self._call("potentiostat", method, *args)
            self._call("potentiostat", "start_buffered", self.rate)
            self._buffering = True
            self._acq_t0 = self.now()

        apply()
        track.reapply = apply

    def _guard(self, what: str, value: float) -> None:
        """Defence in depth: a setpoint beyond the run's own limits is never commanded."""
        bound = self._limit_bounds.get(what)
        if bound is not None and abs(value) > bound * (1 + 1e-9):
            raise _End("failed", f"{what} setpoint {show(what, value)} is beyond the run's limit "
                       f"{show(what, bound)}: not commanded")  # fmt: skip
        rng = self.protocol.limits.voltage if what == "voltage" else None
        lo, hi = (rng.min, rng.max) if rng is not None else (None, None)
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            raise _End("failed", f"voltage setpoint {show(what, value)} is outside the run's "
                       f"limits: not commanded")  # fmt: skip

    def _galv_args(self, step) -> tuple[float, float]:
        current = step_current(step, self.area)
        self._guard("current", current)
        limit = (
            step.voltage_limit if step.voltage_limit is not None else self._default_voltage_limit()
        )
        return current, limit

    def _default_voltage_limit(self) -> float:
        rng = self.protocol.limits.voltage
        return max(abs(x) for x in (rng.min, rng.max) if x is not None)

    def _do_rest(self, track: _Track, step) -> Gen:
        self._source(track, "set_open_circuit")
        fired = yield from self._wait_end(track)
        self._stop_buffered()
        return fired

    def _do_galvanostatic(self, track: _Track, step) -> Gen:
        self._source(track, "set_current", *self._galv_args(step))
        fired = yield from self._wait_end(track)
        self._stop_buffered()
        return fired

    def _do_potentiostatic(self, track: _Track, step) -> Gen:
        limit = (
            step.current_limit if step.current_limit is not None else self.protocol.limits.current
        )
        self._guard("voltage", step.voltage)
        self._source(track, "set_voltage", step.voltage, limit)
        fired = yield from self._wait_end(track)
        self._stop_buffered()
        return fired

    def _do_current_interrupt(self, track: _Track, step) -> Gen:
        current, limit = self._galv_args(step)
        self._source(track, "set_current", current, limit)
        yield from self._sleep_step(step.on_time)
        self._fetch_electro()
        v_on = self._last_v
        self._stop_buffered()
        self._call("potentiostat", "set_open_circuit")
        v_instant = self._call("potentiostat", "read").voltage
        self._source(track, "set_open_circuit")
        yield from self._sleep_step(step.off_time)
        self._stop_buffered()
        v_end = self._last_v
        r_ohm, r_total = (v_on - v_instant) / current, (v_on - v_end) / current
        data = {"current": current, "v_on": v_on, "v_instant": v_instant, "v_end": v_end,
                "r_ohmic": r_ohm, "r_total": r_total, "r_interfacial": r_total - r_ohm}  # fmt: skip
        self._event("current_interrupt", f"R_ohmic {r_ohm:.4g} ohm, R_interfacial {r_total - r_ohm:.4g} ohm",
                    track.step_no, data)  # fmt: skip
        return None

    def _do_signal(self, track: _Track, step) -> Gen:
        self.signals[step.name] = self.now()
        self._event("signal", f"{track.name} signals {step.name!r}", track.step_no,
                    {"track": track.name, "name": step.name})  # fmt: skip
        return None
        yield

    def _pressure_command(self, pressure: float, rate: float | None) -> None:
        self._guard("pressure", pressure)
        self._call("pressure_rig", "set_pressure", pressure, rate)
        self._pressure_setpoint = pressure
        self._pressure_commanded_at = self.now()

    def _settled(self) -> bool:
        """Rig settled, judged only on a poll made after the latest command."""
        return (self._pressure_commanded_at is not None and self._last_slow_poll > self._pressure_commanded_at
                and bool(self._call("pressure_rig", "settled")))  # fmt: skip

    def _until(
        self, ready: Callable[[], bool], timeout: float | None
    ) -> Generator[None, None, bool]:
        """Yield until ``ready()``; False if ``timeout`` run seconds pass first."""
        t0 = self.now()
        while not ready():
            if timeout is not None and self.now() - t0 >= timeout:
                return False
            yield
        return True

    def _do_set_pressure(self, track: _Track, step) -> Gen:
        self._pressure_command(step.pressure, step.rate)
        if step.wait and not (yield from self._until(self._settled, step.timeout)):
            raise _End(
                "failed", f"{track.instr.name}: pressure did not settle within {step.timeout:g} s"
            )
        return None

    def _do_pressure_ramp(self, track: _Track, step) -> Gen:
        rate = step.rate
        if rate is None:
            start = self._call("pressure_rig", "read").pressure
            rate = max(abs(step.to - start), 1.0) / step.duration
        self._pressure_command(step.to, rate)
        if not (yield from self._until(self._settled, step.timeout)):
            raise _End(
                "failed",
                f"{track.instr.name}: pressure ramp did not settle within {step.timeout:g} s",
            )
        return None

    def _do_pressure_hold(self, track: _Track, step) -> Gen:
        if step.pressure is not None:
            self._pressure_command(step.pressure, None)
        return (yield from self._wait_end(track))

    def _do_set_temperature(self, track: _Track, step) -> Gen:
        self._guard("temperature", step.temperature)
        self._call("thermal", "set_temperature", step.temperature)
        self._temperature_setpoint = step.temperature
        commanded = self.now()

        def stable() -> bool:
            return self._last_slow_poll > commanded and bool(self._call("thermal", "stable"))

        if step.wait and not (yield from self._until(stable, step.timeout)):
            raise _End(
                "failed", f"{track.instr.name}: temperature not stable within {step.timeout:g} s"
            )
        return None

    def _do_approach(self, track: _Track, step) -> Gen:
        if step.coarse_steps:
            self._call("bias_holder", "move_coarse", "z", step.coarse_steps)
        contact = self._call("bias_holder", "approach_until_contact", step.threshold_current,
                             step.probe_bias, step.step, step.max_travel)  # fmt: skip
        self._event("approach", "contact" if contact else "no contact within max_travel", track.step_no,
                    {"contact": bool(contact), "position": list(self._call("bias_holder", "position"))})  # fmt: skip
        if not contact and step.on_no_contact == "stop":
            raise _End("stopped", f"{track.instr.name}: no contact within {step.max_travel:g} m")
        return None
        yield

    def _do_bias_hold(self, track: _Track, step) -> Gen:
        self._guard("bias", step.voltage)

        def apply() -> None:
            self._call("bias_holder", "set_bias", step.voltage, step.current_limit)

        apply()
        track.reapply = apply
        return (yield from self._wait_end(track))

    def _do_bias_pulse_train(self, track: _Track, step) -> Gen:
        for level in (step.high, step.low):
            self._guard("bias", level)
        for _ in range(step.count):
            for level, duration in ((step.high, step.high_time), (step.low, step.low_time)):
                self._call("bias_holder", "set_bias", level, step.current_limit)
                track.reapply = lambda level=level: self._call(
                    "bias_holder", "set_bias", level, step.current_limit
                )
                yield from self._sleep_step(duration)
        return None

    def _do_frame_capture(self, track: _Track, step) -> Gen:
        self._call("frame_source", "start" if step.enabled else "stop")
        self._capturing = step.enabled
        return None
        yield

    def _do_wait(self, track: _Track, step) -> Gen:
        ready = {
            "pressure_settled": lambda: bool(self._call("pressure_rig", "settled")),
            "temperature_stable": lambda: bool(self._call("thermal", "stable")),
            "event": lambda: step.event in self.signals,
        }[step.until]
        if (yield from self._until(ready, step.timeout)):
            return None
        self._event("timeout", f"{track.instr.name}: waited {step.timeout:g} s for {step.until}",
                    track.step_no, {"on_timeout": step.on_timeout})  # fmt: skip
        if step.on_timeout == "stop":
            raise _End(
                "stopped", f"{track.instr.name}: timed out waiting for {step.event or step.until}"
            )
        return None

    # -- acquisition -------------------------------------------------------------------------
    def _instrument(self, role: str):
        instrument = getattr(self.station, role, None)
        if instrument is None:
            raise _End("failed", f"the protocol needs a {role} and the station has none")
        return instrument

    def _call(self, role: str, method: str, *args: Any) -> Any:
        """Call an instrument with bounded retries; persistent failure is a :class:`Fault`."""
        instrument = self._instrument(role)
        for attempt in range(1, self.retries + 1):
            try:
                attr = getattr(instrument, method)
                return attr(*args) if callable(attr) else attr
            except _FATAL as exc:
                raise Fault(f"{role} {method}: {exc}", role) from exc
            except _RETRYABLE as exc:
                self._event("retry", f"{role} {method} failed (attempt {attempt}/{self.retries}): {exc}",
                            data={"role": role, "method": method, "attempt": attempt})  # fmt: skip
                if attempt == self.retries:
                    raise Fault(
                        f"{role} {method} failed {self.retries} times: {exc}", role
                    ) from exc
                self.clock.sleep(self.retry_delay)
        raise AssertionError("unreachable")

    def _stop_buffered(self) -> None:
        if self._buffering:
            self._fetch_electro()
            self._buffering = False
            self._call("potentiostat", "stop_buffered")

    def _acquire(self) -> None:
        if self._buffering:
            self._fetch_electro()
        if getattr(self.station, "bias_holder", None) is not None:
            self._poll_bias()
        now = self.now()
        if self._rig_period is not None and now >= self._next_service:
            self._next_service = now + self._rig_period
            self._call("pressure_rig", "service")
        if now >= self._next_slow:
            self._next_slow = now + self.slow_period
            self._poll_slow()

    def _owner_step(self, role: str) -> int:
        track = self.tracks.get(self._owner.get(role, ""))
        return track.step_no if track is not None else -1

    def _fetch_electro(self) -> None:
        block = self._call("potentiostat", "fetch")
        n = len(block.time)
        if n == 0:
            return
        t = self._acq_t0 + np.asarray(block.time, dtype=float)
        v = np.asarray(block.voltage, dtype=float)
        i = np.asarray(block.current, dtype=float)
        comp = (
            np.asarray(block.compliance, dtype=bool)
            if len(block.compliance) == n
            else np.zeros(n, bool)
        )
        self._samples += n
        self._last_v = float(v[-1])
        track = self.tracks.get(self._owner.get("potentiostat", ""))
        trip = self.supervisor.electro(t, v, i)
        if trip is not None:
            self._trip(trip, lambda: self._record_electro(track, t, v, i, t == trip.time))
        for event_name, t_event, detail in self._detect(t, v, i):
            for tr in self.tracks.values():
                if tr.watch is not None:
                    tr.watch.event(event_name, t_event)
            self._event("detector", detail.message, self._owner_step("potentiostat"),
                        {"event": event_name, "values": detail.values, "confidence": detail.confidence})  # fmt: skip
        if track is not None and track.watch is not None:
            track.watch.samples(t, v, i, comp)
        self._record_electro(track, t, v, i, np.zeros(n, bool))

    def _record_electro(self, track: _Track | None, t: np.ndarray, v: np.ndarray, i: np.ndarray,
                        force: np.ndarray) -> None:  # fmt: skip
        """Publish the samples the record rule keeps, and every ``force``d one (a trip's)."""
        keep = self._record.keep(self._record_rule(track), t, v, i) | force
        if keep.any():
            cycle = self._cycle_number(track)
            self._publish("electro", {"time": t[keep], "voltage": v[keep], "current": i[keep],
                                      "step": self._owner_step("potentiostat"), "cycle": cycle,
                                      "segment": self.segment})  # fmt: skip

    @staticmethod
    def _cycle_number(track: _Track | None) -> int:
        """1-based cycle of a step inside a counting loop; after a loop, the last cycle's."""
        if track is None or track.instr is None:
            return 0
        end = track.instr.cycle_end
        inside = end >= 0 and track.program.instrs[end].innermost
        return track.state.cycle + 1 if inside else track.state.cycle

    def _record_rule(self, track: _Track | None) -> RecordRule:
        if track is not None and track.instr is not None and track.instr.step.record is not None:
            return track.instr.step.record
        return self.protocol.record

    def _detect(self, t: np.ndarray, v: np.ndarray, i: np.ndarray):
        for detector in self.detectors:
            for event in detector.update(t, v, i):
                name = DETECTOR_EVENTS.get(event.kind)
                if name is not None:
                    yield name, float(event.time), event

    def _poll_bias(self) -> None:
        reading = self._call("bias_holder", "read")
        t = np.array([self.now()])
        v, i = np.array([reading.voltage]), np.array([reading.current])
        self._samples += 1

        def publish() -> None:
            self._publish("bias", {"time": t, "voltage": v, "current": i,
                                   "step": self._owner_step("bias_holder"), "segment": self.segment})  # fmt: skip

        trip = self.supervisor.bias(t, v, i)
        if trip is not None:
            self._trip(trip, publish)
        track = self.tracks.get(self._owner.get("bias_holder", ""))
        if track is not None and track.watch is not None:
            track.watch.samples(t, v, i, np.array([reading.compliance]))
        publish()

    def _poll_slow(self) -> None:
        now = self.now()
        self._last_slow_poll = now
        if self._rig_period is not None:
            r = self._call("pressure_rig", "read")
            t, p = np.array([now]), np.array([r.pressure])
            row = {"time": t, "pressure": p, "force": r.force, "position": r.position,
                   "setpoint": self._pressure_setpoint, "step": self._owner_step("pressure_rig"),
                   "segment": self.segment}  # fmt: skip
            trip = self.supervisor.pressure(t, p)
            if trip is not None:
                self._trip(trip, lambda: self._publish("pressure", row))
            for track in self.tracks.values():
                if track.watch is not None:
                    track.watch.pressure(t, p)
            self._publish("pressure", row)
        if getattr(self.station, "thermal", None) is not None:
            temp = float(self._call("thermal", "read_temperature"))
            t = np.array([now])
            row = {"time": t, "temperature": temp, "setpoint": self._temperature_setpoint,
                   "step": self._owner_step("thermal"), "segment": self.segment}  # fmt: skip
            trip = self.supervisor.temperature(t, np.array([temp]))
            if trip is not None:
                self._trip(trip, lambda: self._publish("thermal", row))
            self._publish("thermal", row)
        if self._capturing:
            for frame in self._call("frame_source", "poll"):
                self._notify("on_frame", self._instrument("frame_source").name,
                             frame.time + self.time_offset, frame.image)  # fmt: skip

    # -- safety, pause, shutdown -------------------------------------------------------------
    def _trip(self, trip: Trip, flush: Callable[[], None]) -> None:
        """Safe state first, then ``flush`` the fetched samples (the crossing one included), then
        log: the output must go off before anything else."""
        self.trip = trip
        detected_at = self.now()
        failures = self._safe_state()
        try:
            flush()
        except Exception as exc:  # noqa: BLE001 - the trip must still be logged and end the run
            failures.append(f"recording the samples up to the trip: {exc}")
        self._event("limit_trip", trip.message(), -1,
                    {"quantity": trip.quantity, "value": trip.value, "limit": trip.limit,
                     "sample_time": trip.time, "detected_at": detected_at, "safe_at": self.now(), "safe_state_failures": failures})  # fmt: skip
        raise _End("tripped", f"safety limit: {trip.message()}")

    def _safe_state(self) -> list[str]:
        """Potentiostat off, bias 0 V, pressure held or released, frames stopped; never raises."""
        failures: list[str] = []
        actions = [("potentiostat", "output_off"), ("bias_holder", "bias_off"),
                   ("pressure_rig", "release" if self.protocol.limits.on_trip_pressure == "release" else "hold_position"),
                   ("frame_source", "stop")]  # fmt: skip
        self._buffering = False
        self._capturing = False
        for role, method in actions:
            instrument = getattr(self.station, role, None)
            if instrument is None:
                continue
            for attempt in range(self.retries):
                try:
                    getattr(instrument, method)()
                    break
                except Exception as exc:  # noqa: BLE001 - every instrument must get its chance
                    if attempt == self.retries - 1:
                        failures.append(f"{role} {method}: {exc}")
        return failures

    def _handle_requests(self) -> None:
        while self._requests:
            what = self._requests.popleft()
            if what == "abort":
                self._event("abort", self._abort_reason)
                raise _End("aborted", self._abort_reason)
            if what == "stop" and not self._stopping:
                self._stopping = True
                self._event("stop", "stop requested: finishing the current step(s)")
                if self._paused or self._pause_kind:
                    self._leave_pause()  # a paused run resumes only to finish its steps
            elif what == "pause" and not self._paused and self._pause_kind is None:
                self._pause_kind = "deferred"
                self._event("pause_requested", "pausing at the next step boundary")
            elif what == "pause_now" and not self._paused:
                self._pause_kind = "immediate"
                self._enter_pause()
            elif what == "resume" and (self._paused or self._pause_kind):
                self._leave_pause()

    def _enter_pause(self) -> None:
        self._paused = True
        self._pause_t = self.now()
        self._stop_buffered()
        if getattr(self.station, "potentiostat", None) is not None:
            self._call("potentiostat", "output_off")
        if getattr(self.station, "bias_holder", None) is not None:
            self._call("bias_holder", "bias_off")
        where = "at the next safe point (end of step)" if self._pause_kind == "deferred" else "now"
        self._event("pause", f"paused {where} ({self._pause_kind}); sources off, pressure kept",
                    data={"kind": self._pause_kind})  # fmt: skip

    def _leave_pause(self) -> None:
        was_paused = self._paused
        paused_for = self.now() - self._pause_t if was_paused else 0.0
        self._paused_total += paused_for
        self._paused, self._pause_kind = False, None
        self._event("resume", f"resumed after {paused_for:.3g} s", data={"paused_for": paused_for})
        for track in self.tracks.values():
            track.started += paused_for
            if track.watch is not None:
                track.watch.shift(paused_for)
            if was_paused and track.gen is not None and track.reapply is not None:
                track.reapply()
            if track.held and not self._stopping:
                track.held = False
                self._enter(track, track.pending)

    # -- output ------------------------------------------------------------------------------
    def _event(
        self, kind: EventKind | str, text: str, step: int = -1, data: dict[str, Any] | None = None
    ) -> None:
        kind = EventKind.parse(kind, "engine")  # an unknown kind is a bug: refused here
        event = EngineEvent(self.now(), kind, text, step, data or {})
        log.info("%s %s", kind, text)
        self._notify("on_event", event)

    def _publish(self, stream: str, data: dict[str, Any]) -> None:
        n = len(data["time"])
        columns = {k: (np.asarray(v) if np.ndim(v) else np.full(n, v)) for k, v in data.items()}
        self._notify("on_samples", stream, columns)

    def _publish_progress(self) -> None:
        current = {n: self._describe(t) for n, t in self.tracks.items()}
        state = "paused" if self._paused else ("stopping" if self._stopping else "running")
        self._notify("on_progress", Progress(self.now(), self.expected, self._steps_run, current,
                                             state, self._paused_now()))  # fmt: skip

    def _describe(self, track: _Track) -> str:
        """What a track does, for people: "strip, cycle 3 (plating_stripping)", not a step path."""
        if track.instr is None:
            return "done"
        step = track.instr.step
        text = step.label or step.meta.get("phase") or step.type
        cycle = self._cycle_number(track)
        if cycle:
            text += f", cycle {cycle}"
        if "template" in step.meta:
            text += f" ({step.meta['template']})"
        return text

    def _paused_now(self) -> float:
        """Run time spent paused so far (including a pause in progress)."""
        return self._paused_total + (self.now() - self._pause_t if self._paused else 0.0)

    def _notify(self, method: str, *args: Any) -> None:
        for listener in list(self.listeners):
            try:
                getattr(listener, method)(*args)
            except Exception as exc:
                if listener.critical:
                    raise Fault(f"{type(listener).__name__} failed: {exc}") from exc
                self.listeners.remove(listener)
                log.warning("listener %s dropped: %s", type(listener).__name__, exc)
