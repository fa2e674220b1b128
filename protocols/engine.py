"""The engine: runs a protocol's tracks on a station, on the station's clock.

One scheduler thread (a clock participant) ticks at the acquisition period. Each tick it
fetches every instrument's samples, hands them first to the safety supervisor, then to the
live detectors, the record rule and the listeners, and finally advances each track. Tracks are
generators (one per step in progress), so concurrent tracks stay in step on one clock, and a
virtual clock runs a long protocol fast and deterministically.

The engine never writes files: listeners (the run-file recorder, the GUI) receive the stream
descriptors at run start (``on_start``), then samples, events and frames. Every step start/end
and every decision is an event; ``step_end`` carries the track's program state so a crashed run
can resume after its last completed step.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from daq.documents import EventKind, StreamDescriptor
from protocols.blocks import MAX_BLOCK_S, Trend, sample_horizon
from protocols.conditions import DETECTOR_EVENTS, EndWatch, Fired, criterion_value
from protocols.estimate import context, dry_run, estimate, step_duration
from protocols.instruments import Fault, Roles
from protocols.model import Protocol
from protocols.program import Instr, Program, TrackState, advance, compile_protocol, settle
from protocols.record import RecordFilter
from protocols.runstate import ExitStatus, RequestRefused, RunControl, RunState
from protocols.safety import Supervisor, Trip
from protocols.steps import commands as c
from protocols.steps.base import Ending, RecordRule
from protocols.steps.registry import STEP_TYPES
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
    "impedance": {
        "frequency": "Hz",
        "z_real": "ohm",
        "z_imag": "ohm",
        "modulus": "ohm",
        "phase": "deg",
        "dc_level": "",
        "step": "",
        "cycle": "",
        "sweep": "",
    },  # fmt: skip
}
STREAM_ROLE = {
    "electro": "potentiostat",
    "impedance": "potentiostat",
    "pressure": "pressure_rig",
    "bias": "bias_holder",
    "thermal": "thermal",
}


def measures_impedance(instrument: Any) -> bool:
    """Whether a potentiostat declares impedance sweeps (drivers.roles.Potentiostat.sweeps: a
    frequency-response analyser, e.g. MethodSCRIPT), not only DC sourcing (the 2450 SMU)."""
    return bool({"eis", "geis"} & getattr(instrument, "sweeps", frozenset()))


#: streams that need more of their role's instrument than the role itself
STREAM_CAPABILITY = {"impedance": measures_impedance}


def technique_of(command: c.Impedance | c.Voltammetry) -> str:
    """The sweep technique (drivers.roles.SWEEP_TECHNIQUES) a sweep command needs."""
    if isinstance(command, c.Impedance):
        return "geis" if command.galvanostatic else "eis"
    return command.kind


def stream_descriptors(station: Any) -> list[StreamDescriptor]:
    """The streams the engine produces on ``station`` (those of the roles it has, and of the
    capabilities its instruments have), each with its fields, units, dtypes, role and
    instrument: what ``Listener.on_start`` receives."""
    out = []
    for name, fields in STREAMS.items():
        instrument = getattr(station, STREAM_ROLE[name], None)
        capable = STREAM_CAPABILITY.get(name, lambda _: True)
        if instrument is not None and capable(instrument):
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
    state: RunState
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
    def on_state(self, state: RunState) -> None: ...


@dataclass
class RunResult:
    """How the run ended: status (run-file exit status), reason, trips, outcomes, positions."""

    status: ExitStatus
    reason: str
    trip: Trip | None = None
    outcomes: list[dict[str, Any]] = field(default_factory=list)
    states: dict[str, dict[str, Any]] = field(default_factory=dict)
    steps_run: int = 0
    samples: int = 0


class _End(Exception):
    """Internal: the run ends now with ``status`` and ``reason``."""

    def __init__(self, status: ExitStatus | str, reason: str) -> None:
        self.status, self.reason = ExitStatus(status), reason
        super().__init__(reason)


@dataclass
class _Track:
    name: str
    program: Program
    state: TrackState
    instr: Instr | None = None
    gen: c.Plan | None = None
    waiting: c.Command | None = None  # the blocking command the plan waits on
    wait_t0: float = 0.0  # run time the wait began
    wait_paused: float = 0.0  # time paused before the wait began
    step_no: int = -1
    watch: EndWatch | None = None
    reapply: Callable[[], None] | None = None
    held: bool = False  # at a step boundary, holding for a deferred pause / stop
    pending: Instr | None = None  # the step to start when a held track is released
    done: bool = False
    started: float = 0.0  # run time the step started, moved on by pauses
    sweep: int | None = None  # index of the sweep this track has running on the instrument

    @property
    def role(self) -> str | None:
        return STEP_TYPES[self.instr.step.type].role if self.instr is not None else None


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
        progress_period: float = 1.0,
        restore: dict[str, float] | None = None,
        restore_timeout: float = 1800.0,
        blocks: bool = True,
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
        self.roles = Roles(station)
        # block mode (protocols/blocks.py): on a virtual clock skip the cycles that could only
        # fetch samples that fire nothing; the bias holder is polled every tick, so not with it
        self._blocks = blocks and self.clock.is_virtual and not self.roles.has("bias_holder")
        self._trend: Trend | None = None  # of the latest electro samples, for the block horizon
        self._last_sample: tuple[float, float, float] | None = None  # (t, V, I)
        self._electro_due = -math.inf  # block mode: no electro fetch needed before this time
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
        self._owner = {role: t for t, p in self.programs.items() for i in p.steps()
                       if (role := STEP_TYPES[i.step.type].role)}  # fmt: skip
        self._record = RecordFilter()
        self._control = RunControl(self._state_changed)
        self._abort_reason = "aborted by the operator"
        self._pause_kind: str | None = None  # "deferred" / "immediate": how the pause came
        self._pause_t = 0.0
        self._paused_total = 0.0
        self._wall_pace = ExitStack()  # while paused: a virtual clock follows wall time
        self._buffering = False
        self._acq_t0 = 0.0
        self._priming = 0  # depth of step starts applied within one tick (see _prime)
        self._next_slow = 0.0
        self._settled_at_poll = False  # the rig's settled flag as of the latest slow poll
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
        self._temperature_commanded_at = float("inf")
        self._last_v = float("nan")
        self._last_slow_poll = float("-inf")
        self._steps_run = 0
        self._samples = 0
        self._sweep_count = 0
        self.trip: Trip | None = None
        self.exit_status: ExitStatus | None = None  # set when the run finishes

    # -- public control (thread-safe) ------------------------------------------------------
    def pause(self, immediate: bool = False) -> None:
        """Pause at the next step boundary (default) or at once (sources off, pressure kept).
        Like every request: :class:`RequestRefused` when illegal in the run's state."""
        self._control.request("pause_now" if immediate else "pause")

    def resume(self) -> None:
        self._control.request("resume")

    def abort(self, reason: str = "aborted by the operator") -> None:
        """Safe state now, keep the data, end as ``aborted`` (``reason`` goes to the event log)."""
        self._abort_reason = reason
        self._control.request("abort")

    def stop(self) -> None:
        """Finish the current step(s), then end as ``stopped``."""
        self._control.request("stop")

    @property
    def state(self) -> RunState:
        """Where the run is (see :mod:`protocols.runstate`)."""
        return self._control.state

    @property
    def paused(self) -> bool:
        return self.state is RunState.PAUSED

    def time_to_step_end(self) -> float | None:
        """Expected run seconds until the source steps in progress end (where a deferred pause
        takes effect); 0 when none runs, None when one ends on measurements only."""
        now, left = self.now(), 0.0
        for track in list(self.tracks.values()):
            instr = track.instr
            if track.done or track.held or instr is None or self._holds_freely(track):
                continue
            duration = step_duration(self.protocol, instr)
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
            self._control.fire("start")
            status, reason = self._guarded(self._main)
            if status in (ExitStatus.SUCCESS, ExitStatus.STOPPED):
                status, reason = self._guarded(self._stop_buffered, status, reason)
            if status is not ExitStatus.TRIPPED:  # a trip has already made everything safe
                failures = self._safe_state()
                if failures:
                    self._event(
                        "safe_state_failed", "; ".join(failures), data={"failures": failures}
                    )
            self._wall_pace.close()
            self.exit_status = status
            self._control.fire("finish")
            self._event("run_end", reason, data={"status": status})
        return RunResult(status, reason, self.trip, self.outcomes,
                         {n: {**t.state.to_json(), "done": t.done} for n, t in self.tracks.items()},
                         self._steps_run, self._samples)  # fmt: skip

    def _guarded(self, body: Callable[[], None], status: ExitStatus = ExitStatus.SUCCESS,
                 reason: str = "protocol completed") -> tuple[ExitStatus, str]:  # fmt: skip
        """Run ``body``; map how it ended to a run status and reason. Any bug is a failure."""
        try:
            body()
        except _End as end:
            return end.status, end.reason
        except Fault as exc:
            if exc.role:  # an instrument fault ends the run: say which, before run_end
                self._event(EventKind.FAULT, str(exc), data={"role": exc.role})
            return ExitStatus.FAILED, str(exc)
        except Exception as exc:
            log.exception("engine error")
            return ExitStatus.FAILED, f"internal error: {type(exc).__name__}: {exc}"
        if self.state is RunState.STOPPING:
            return ExitStatus.STOPPED, "stopped by the operator"
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
            k = self._next_cycle(k, start)
            self.clock.sleep_until(start + k * self.tick)  # a grid: no drift over days

    def _next_cycle(self, k: int, start: float) -> int:
        """Index of the next cycle on the grid ``start + k * tick``: the next one, or in block
        mode the first at or after the earliest moment something may need the engine."""
        self._electro_due = -math.inf
        if not self._blocks or self.state is not RunState.RUNNING:
            return k + 1
        until = self._block_end() - self.time_offset
        return max(k + 1, math.ceil((until - start) / self.tick - 1e-6))

    def _block_end(self) -> float:
        """Run time before which no cycle has anything to do but fetch samples that fire
        nothing: clock deadlines, the rig's and slow polls' times, the samples' horizon."""
        now = self.now()
        ends = [now + MAX_BLOCK_S]
        pace = getattr(self.clock, "acceleration", None)
        if pace is not None:  # a paced run updates its display at least every 0.1 s of wall
            ends.append(now + 0.1 * pace)
        polls = []  # cycles that only poll the rig / thermal need no electro fetch
        if self._rig_period is not None:
            wait = getattr(self.roles.pressure_rig, "next_service_in", None)
            polls += [self._next_service if wait is None else now + wait, self._next_slow]
        elif self.roles.has("thermal") or self._capturing:
            polls.append(self._next_slow)
        for track in self.tracks.values():
            command = track.waiting
            if track.done or track.held:
                continue
            if isinstance(command, c.Sleep):
                ends.append(
                    track.wait_t0 + command.seconds + self._paused_total - track.wait_paused
                )
            elif isinstance(command, c.WaitEnd) and track.watch is not None:
                watch = track.watch
                ends += [watch.t0 + cond.time for cond in watch.conditions if cond.time is not None]
                if self._buffering and track.role == "potentiostat":
                    ends.append(self._samples_end(watch))
            else:  # waiting on the rig, a signal, a sweep: look every tick
                return now
        self._electro_due = min(ends)
        return min([*ends, *polls])

    def _samples_end(self, watch: EndWatch) -> float:
        """Time of the last sample the block may hold: one reading, or as many as the trend
        says cannot end the step nor trip the run (protocols/blocks.py)."""
        last = self._last_sample[0] if self._last_sample is not None else self._acq_t0
        horizon = sample_horizon(watch.conditions, self.protocol.limits, self._trend,
                                 watch.charge, self.supervisor.step_charge, last - watch.t0,
                                 self.area, self._detectors_quiet())  # fmt: skip
        return last + max(math.floor(horizon * self.rate + 1e-9), 1) / self.rate

    def _detectors_quiet(self) -> dict[str, float]:
        """How long (s after the last sample) the live detectors cannot call each step-ending
        event, from those that can tell (``quiet_for``); the shortest where several can."""
        quiet: dict[str, float] = {}
        for detector in self.detectors:
            for kind, seconds in getattr(detector, "quiet_for", dict)().items():
                name = DETECTOR_EVENTS.get(kind)
                if name is not None:
                    quiet[name] = min(seconds, quiet.get(name, math.inf))
        return quiet

    def _restore_setpoints(self) -> None:
        """On resume: drive back to the pressure and temperature the run held, and wait until
        they are reached, before any step continues (a restarted process starts unloaded)."""
        ready: list[Callable[[], bool]] = []
        if "pressure" in self._restore and self.roles.has("pressure_rig"):
            self._pressure_command(self._restore["pressure"], None)
            ready.append(self._settled)
        if "temperature" in self._restore and self.roles.has("thermal"):
            self._temperature_command(self._restore["temperature"])
            ready.append(lambda: self._ready(c.WaitUntil("temperature_stable", since_command=True)))
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
        if self._buffering and self._electro_due > self.now() and self._needs_samples():
            self._electro_due = -math.inf
            self._fetch_electro()
        self._handle_requests()
        now = self.now()
        if now >= self._next_progress:
            self._next_progress = now + self.progress_period
            self._publish_progress()
        if self.state is RunState.PAUSED:
            return
        for track in self.tracks.values():
            if not track.done and not track.held:
                self._advance_track(track)
        if self.state is RunState.PAUSING and self._all_held():
            self._control.fire("boundary")
            self._enter_pause()
        if self.state is RunState.STOPPING and self._all_held():
            for track in self.tracks.values():
                track.done = True

    def _needs_samples(self) -> bool:
        """A step end fired on a poll, or a request waits: the samples up to now come first."""
        fired = any(t.watch is not None and t.watch.fired is not None for t in self.tracks.values())
        return fired or self._control.pending

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
            self.roles.potentiostat.set_open_circuit()
        if previous == "bias_holder" and track.role != "bias_holder":
            self.roles.bias_holder.bias_off()
        if instr is None:
            track.done = True
            self._event("track_end", f"track {track.name!r} completed", data={"track": track.name})
            if previous == "potentiostat":
                self.roles.potentiostat.output_off()
            return
        track.step_no = self._next_step
        track.started = self.now()
        self._next_step += 1
        self._steps_run += 1
        step = instr.step
        self._event("step_start", f"{track.name}: {instr.name} {step.type}", track.step_no,
                    {"track": track.name, "path": instr.name, "type": step.type, "meta": step.meta,
                     "cycle": track.state.cycle, "label": step.label})  # fmt: skip
        if track.role == "potentiostat":
            self.supervisor.reset_step(self.now())
        track.watch = (
            EndWatch(list(step.end), self.now(), self.area) if isinstance(step, Ending) else None
        )
        track.reapply = None
        track.waiting = None
        track.gen = STEP_TYPES[step.type].execute(step, context(self.protocol, instr))
        self._reestimate()
        for setpoint in dry_run(self.protocol, instr).setpoints:
            if setpoint.sourced:
                self._guard(setpoint.what, setpoint.value)
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
        if self.state in (RunState.PAUSING, RunState.STOPPING) and not self._holds_freely(track):
            track.held = True
            track.gen = None
            track.pending = nxt
            if track.role == "potentiostat":
                self.roles.potentiostat.set_open_circuit()
            elif track.role == "bias_holder":
                self.roles.bias_holder.bias_off()
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

    # -- the step plans' commands (see protocols/steps/commands.py) ------------------------
    def _advance_track(self, track: _Track) -> None:
        """Interpret the track's plan until it waits (it goes on at a later tick) or ends."""
        reply = None
        while True:
            if track.waiting is not None:
                done, reply = self._waited(track)
                if not done:
                    return
                track.waiting = None
            try:
                command = track.gen.send(reply)
            except StopIteration as stop:
                self._finish_step(track, stop.value)
                return
            if isinstance(command, c.WaitEnd) and command.extra:
                self._rearm(track, command.extra)
            if command.blocking:
                track.waiting, track.wait_t0 = command, self.now()
                track.wait_paused, reply = self._paused_total, None
            else:
                reply = self._do(track, command)

    @staticmethod
    def _rearm(track: _Track, extra: tuple) -> None:
        """Watch the step's own end conditions plus this wait's ``extra`` (a CC-CV's cut-off,
        then its taper); a fired extra of an earlier wait is forgotten, a fired own one kept."""
        watch, own = track.watch, list(track.instr.step.end)
        watch.conditions = [*own, *extra]
        if watch.fired is not None and not any(watch.fired.condition is o for o in own):
            watch.fired = None

    def _waited(self, track: _Track) -> tuple[bool, Any]:
        """(done, reply) of the waiting command of ``track`` at this tick."""
        command, now = track.waiting, self.now()
        if isinstance(command, c.Sleep):  # step time: a pause does not count
            until = track.wait_t0 + command.seconds + (self._paused_total - track.wait_paused)
            return now >= until - 1e-12, None
        if isinstance(command, c.WaitEnd):
            watch = track.watch
            fired = watch.clock(now) if watch.fired is None else watch.fired
            return fired is not None, fired
        if isinstance(command, c.Impedance | c.Voltammetry):
            return self._sweep(track, command)
        if self._ready(command):
            return True, True
        timeout = command.timeout
        return (timeout is not None and now - track.wait_t0 >= timeout), False

    def _sweep(self, track: _Track, command: c.Impedance | c.Voltammetry) -> tuple[bool, Any]:
        """(done, result) of a sweep: started on its first tick, polled on every later one.

        A pause or abort puts the potentiostat off, which stops the sweep on the instrument
        (cell at open circuit); resuming measures it again from the start, as a new sweep."""
        if track.sweep is None:
            sweeper = self.roles.sweeping(technique_of(command))
            self._stop_buffered()
            self._sweep_count += 1
            track.sweep = self._sweep_count
            self._open_circuit_mark(track, command)
            if isinstance(command, c.Impedance):
                sweeper.start_eis(command.f_start, command.f_end, command.points,
                           command.amplitude, command.dc_level, command.galvanostatic,
                           command.max_duration)  # fmt: skip
            else:
                scans = (command.scans,) if command.kind == "cv" else ()
                getattr(sweeper, f"start_{command.kind}")(*command.potentials, command.step,
                           command.rate, *scans, command.max_duration)  # fmt: skip

            def again() -> None:
                track.sweep = None

            track.reapply = again
        points = self.roles.potentiostat.poll_sweep()
        fired = self._publish_sweep(track, command, points) if points else None
        watch = track.watch
        if fired is None and watch is not None:
            fired = watch.clock(self.now())
        if fired is not None:  # an end condition: stop at the crossing, the cell at open circuit
            self.roles.potentiostat.stop_sweep()
        if not self.roles.potentiostat.sweep_done:
            return False, None
        track.sweep = None
        self._open_circuit_mark(track, command)
        result = self.roles.potentiostat.sweep_result()
        if isinstance(command, c.Impedance):
            return True, result
        if fired is not None:
            result = result.until(fired.time)
        return True, (result, fired)

    def _open_circuit_mark(self, track: _Track, command: c.Command) -> None:
        """An ``electro`` row (I = 0) where an EIS at open circuit begins and ends, so the
        electro record has no gap for analysis to integrate the previous current over."""
        at_ocv = isinstance(command, c.Impedance) and (
            command.dc_level is None or (command.galvanostatic and command.dc_level == 0.0)
        )
        if at_ocv:
            self._publish("electro", {"time": [self.now()], "voltage": [self._last_v],
                                      "current": [0.0], "step": self._owner_step("potentiostat"),
                                      "cycle": self._cycle_number(track), "segment": self.segment})  # fmt: skip

    def _publish_sweep(self, track: _Track, command: c.Command, points: list) -> Fired | None:
        """Sweep points into the ``impedance`` stream (EIS) or ``electro`` (LSV / CV); an
        LSV / CV point that fires an end condition is the last one recorded (returned)."""
        t = np.array([p[0] for p in points], dtype=float)

        def col(code: str) -> np.ndarray:
            return np.array([p[1].get(code, np.nan) for p in points], dtype=float)

        step, cycle = self._owner_step("potentiostat"), self._cycle_number(track)
        if isinstance(command, c.Impedance):
            zr, zi = col("z_real"), col("z_imag")
            dc = np.nan if command.dc_level is None else command.dc_level
            self._publish("impedance", {"time": t, "frequency": col("frequency"), "z_real": zr,
                                        "z_imag": zi, "modulus": np.hypot(zr, zi),
                                        "phase": np.degrees(np.arctan2(zi, zr)), "dc_level": dc,
                                        "step": step, "cycle": cycle, "sweep": track.sweep})  # fmt: skip
            return None
        # voltammetry: the safety supervisor, then the end conditions
        v, i = col("potential"), col("current")

        def publish(keep: np.ndarray) -> None:
            self._publish("electro", {"time": t[keep], "voltage": v[keep], "current": i[keep],
                                      "step": step, "cycle": cycle, "segment": self.segment})  # fmt: skip

        trip = self.supervisor.electro(t, v, i)
        if trip is not None:  # safe state, then every point up to the crossing one
            self._trip(trip, lambda: publish(t <= trip.time))
        fired = track.watch.samples(t, v, i) if track.watch is not None else None
        publish(t <= fired.time if fired is not None else np.ones(len(t), bool))
        return fired

    def _ready(self, command: c.WaitUntil | c.WaitSignal) -> bool:
        if isinstance(command, c.WaitSignal):
            return command.name in self.signals
        if command.what == "pressure_settled":
            if command.since_command:
                return self._settled()
            return bool(self.roles.pressure_rig.settled)
        if command.since_command and not self._last_slow_poll > self._temperature_commanded_at:
            return False
        return bool(self.roles.thermal.stable)

    def _do(self, track: _Track, command: c.Command) -> Any:
        """Carry out an immediate command of ``track``'s step; return what the plan receives."""
        if isinstance(command, c.Source):
            self._source(track, command)
        elif isinstance(command, c.StopAcquisition):
            self._stop_buffered()
            return self._last_v
        elif isinstance(command, c.ReadElectro):
            return self.roles.potentiostat.read()
        elif isinstance(command, c.SetPressure):
            self._pressure_command(command.pressure, command.rate)
        elif isinstance(command, c.HoldGap):
            self.roles.pressure_rig.hold_gap(command.max_rise)
        elif isinstance(command, c.ReadPressure):
            return self.roles.pressure_rig.read()
        elif isinstance(command, c.SetTemperature):
            self._temperature_command(command.temperature)
        elif isinstance(command, c.SetBias):

            def apply() -> None:
                self.roles.bias_holder.set_bias(command.voltage, command.current_limit)

            apply()
            track.reapply = apply
        elif isinstance(command, c.Approach):
            if command.coarse_steps:
                self.roles.bias_holder.move_coarse("z", command.coarse_steps)
            contact = self.roles.bias_holder.approach_until_contact(command.threshold_current,
                                 command.probe_bias, command.step, command.max_travel)  # fmt: skip
            return contact, self.roles.bias_holder.position()
        elif isinstance(command, c.Capture):
            frames = self.roles.frame_source
            frames.start() if command.enabled else frames.stop()
            self._capturing = command.enabled
        elif isinstance(command, c.Emit):
            self._event(command.kind, command.text, track.step_no, dict(command.data))
        elif isinstance(command, c.Signal):
            self.signals[command.name] = self.now()
            self._event("signal", f"{track.name} signals {command.name!r}", track.step_no,
                        {"track": track.name, "name": command.name})  # fmt: skip
        elif isinstance(command, c.EndRun):
            raise _End(command.status, command.reason)
        else:
            raise TypeError(f"{track.instr.name}: the engine does not know the command {command!r}")
        return None

    def _source(self, track: _Track, command: c.Source) -> None:
        """Set the potentiostat source; with ``acquire`` (re)start buffered acquisition."""

        def set_source() -> None:
            self._trend = self._last_sample = None  # the old trend says nothing of the new source
            if command.mode == "open_circuit":
                self.roles.potentiostat.set_open_circuit()
            elif command.mode == "current":
                self.roles.potentiostat.set_current(command.value, command.limit)
            else:
                self.roles.potentiostat.set_voltage(command.value, command.limit)

        if not command.acquire:
            set_source()
            return

        def apply() -> None:
            self._stop_buffered()
            set_source()
            self.roles.potentiostat.start_buffered(self.rate)
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

    def _pressure_command(self, pressure: float, rate: float | None) -> None:
        self._guard("pressure", pressure)
        self.roles.pressure_rig.set_pressure(pressure, rate)
        self._pressure_setpoint = pressure
        self._pressure_commanded_at = self.now()

    def _temperature_command(self, temperature: float) -> None:
        self._guard("temperature", temperature)
        self.roles.thermal.set_temperature(temperature)
        self._temperature_setpoint = temperature
        self._temperature_commanded_at = self.now()

    def _settled(self) -> bool:
        """Rig settled, judged only on a poll made after the latest command."""
        return (self._pressure_commanded_at is not None and self._last_slow_poll > self._pressure_commanded_at
                and self._settled_at_poll)  # fmt: skip

    # -- acquisition -------------------------------------------------------------------------
    def _stop_buffered(self) -> None:
        if self._buffering:
            self._fetch_electro()
            self._buffering = False
            self.roles.potentiostat.stop_buffered()

    def _acquire(self) -> None:
        if self._buffering and self.now() >= self._electro_due - 1e-9:
            self._fetch_electro()
        if self.roles.has("bias_holder"):
            self._poll_bias()
        now = self.now()
        if self._rig_period is not None and self._rig_due(now):
            self._next_service = now + self._rig_period
            self.roles.pressure_rig.service()
        if now >= self._next_slow:
            self._next_slow = now + self.slow_period
            self._poll_slow()

    def _rig_due(self, now: float) -> bool:
        """The rig's loop is due: by its own adaptive schedule (``next_service_in``, run-clock s,
        within half a tick) where the driver has one, else every ``period``."""
        wait = getattr(self.roles.pressure_rig, "next_service_in", None)
        return now >= self._next_service if wait is None else wait < self.tick / 2

    def _owner_step(self, role: str) -> int:
        track = self.tracks.get(self._owner.get(role, ""))
        return track.step_no if track is not None else -1

    def _fetch_electro(self) -> None:
        block = self.roles.potentiostat.fetch()
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
        self._update_trend(t, v, i)
        track = self.tracks.get(self._owner.get("potentiostat", ""))
        trip = self.supervisor.electro(t, v, i)
        if trip is not None:  # up to the crossing: a tick-by-tick run has no samples after it
            upto = t <= trip.time
            self._trip(trip, lambda: self._record_electro(track, t[upto], v[upto], i[upto],
                                                          t[upto] == trip.time))  # fmt: skip
        for event_name, t_event, detail in self._detect(t, v, i):
            for tr in self.tracks.values():
                if tr.watch is not None:
                    tr.watch.event(event_name, t_event, detail.confidence)
            self._event("detector", detail.message, self._owner_step("potentiostat"),
                        {"event": event_name, "values": detail.values, "confidence": detail.confidence})  # fmt: skip
        if track is not None and track.watch is not None:
            track.watch.samples(t, v, i, comp)
        self._record_electro(track, t, v, i, np.zeros(n, bool))

    def _update_trend(self, t: np.ndarray, v: np.ndarray, i: np.ndarray) -> None:
        if self._last_sample is not None:
            t0, v0, i0 = self._last_sample
            t, v, i = np.r_[t0, t], np.r_[v0, v], np.r_[i0, i]
        self._trend = Trend.of(t, v, i, self._trend)
        self._last_sample = (float(t[-1]), float(v[-1]), float(i[-1]))

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
        reading = self.roles.bias_holder.read()
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
            r = self.roles.pressure_rig.read()
            # settled is judged at the reading that is recorded, so a step that waited for it
            # starts after a pressure sample showing the settled value (not one read earlier)
            self._settled_at_poll = bool(self.roles.pressure_rig.settled)
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
        if self.roles.has("thermal"):
            temp = float(self.roles.thermal.read_temperature())
            t = np.array([now])
            row = {"time": t, "temperature": temp, "setpoint": self._temperature_setpoint,
                   "step": self._owner_step("thermal"), "segment": self.segment}  # fmt: skip
            trip = self.supervisor.temperature(t, np.array([temp]))
            if trip is not None:
                self._trip(trip, lambda: self._publish("thermal", row))
            self._publish("thermal", row)
        if self._capturing:
            for frame in self.roles.frame_source.poll():
                self._notify("on_frame", self.roles.frame_source.name,
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
        release = self.protocol.limits.on_trip_pressure == "release"
        actions: list[tuple[str, str, Callable[[Any], None]]] = [
            ("potentiostat", "output_off", lambda pot: pot.output_off()),
            ("bias_holder", "bias_off", lambda holder: holder.bias_off()),
            ("pressure_rig", "release", lambda rig: rig.release()) if release
            else ("pressure_rig", "hold_position", lambda rig: rig.hold_position()),
            ("frame_source", "stop", lambda frames: frames.stop()),
        ]  # fmt: skip
        self._buffering = False
        self._capturing = False
        for role, name, action in actions:  # each once: drivers verify (and retry) safety writes
            instrument = self.roles.instrument(role)
            if instrument is None:
                continue
            try:
                action(instrument)
            except Exception as exc:  # noqa: BLE001 - every instrument must get its chance
                failures.append(f"{role} {name}: {exc}")
        return failures

    def _handle_requests(self) -> None:
        while (what := self._control.pop()) is not None:
            before = self.state
            try:
                self._control.fire(what)
            except RequestRefused as exc:  # the run moved on since it was queued
                log.warning("%s", exc)
                continue
            if what == "abort":
                self._event("abort", self._abort_reason)
                raise _End(ExitStatus.ABORTED, self._abort_reason)
            if what == "stop":
                self._event("stop", "stop requested: finishing the current step(s)")
                if before in (RunState.PAUSED, RunState.PAUSING):
                    self._leave_pause(was_paused=before is RunState.PAUSED)
            elif what == "pause":
                self._pause_kind = "deferred"
                self._event("pause_requested", "pausing at the next step boundary")
            elif what == "pause_now":
                self._pause_kind = "immediate"
                self._enter_pause()
            elif what == "resume":
                self._leave_pause(was_paused=before is RunState.PAUSED)

    def _state_changed(self, old: RunState, new: RunState, trigger: str) -> None:
        log.info("run state %s -> %s (%s)", old, new, trigger)
        self._notify("on_state", new)

    def _enter_pause(self) -> None:
        self._pause_t = self.now()
        self._wall_pace.enter_context(self.clock.at_wall_pace())  # waiting for a person
        self._stop_buffered()
        if self.roles.has("potentiostat"):
            self.roles.potentiostat.output_off()
        if self.roles.has("bias_holder"):
            self.roles.bias_holder.bias_off()
        where = "at the next safe point (end of step)" if self._pause_kind == "deferred" else "now"
        self._event("pause", f"paused {where} ({self._pause_kind}); sources off, pressure kept",
                    data={"kind": self._pause_kind})  # fmt: skip

    def _leave_pause(self, was_paused: bool) -> None:
        self._wall_pace.close()
        paused_for = self.now() - self._pause_t if was_paused else 0.0
        self._paused_total += paused_for
        self._pause_kind = None
        self._event("resume", f"resumed after {paused_for:.3g} s", data={"paused_for": paused_for})
        for track in self.tracks.values():
            track.started += paused_for
            if track.watch is not None:
                track.watch.shift(paused_for)
            if was_paused and track.gen is not None and track.reapply is not None:
                track.reapply()
            if track.held and self.state is not RunState.STOPPING:
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
        state = self.state
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
        return self._paused_total + (self.now() - self._pause_t if self.paused else 0.0)

    def _notify(self, method: str, *args: Any) -> None:
        for listener in list(self.listeners):
            try:
                getattr(listener, method)(*args)
            except Exception as exc:
                if listener.critical:
                    raise Fault(f"{type(listener).__name__} failed: {exc}") from exc
                self.listeners.remove(listener)
                log.warning("listener %s dropped: %s", type(listener).__name__, exc)
