"""Expected duration and charge of a protocol: each step's own executor, dry-run on an ideal bench.

The plan a step yields (the same generator the engine runs) is interpreted without hardware:
a wait on end conditions lasts until the earliest time, charge or capacity condition reachable
at the sourced current, and that condition's action is followed (gotos and stops honoured);
a constant-current step ending on a voltage cut-off (or a CV taper) is *estimated* from the
capacity basis: the bench keeps the charge stored since the start, q, in a window [0, Q]
(Q: the sample's capacity basis; without one, [-inf, 0], so a strip to a cut-off returns what
was plated), and the cut-off is reached when the current has moved q to the window's end:
time = capacity x depth / |I| with depth the share of the window left (a CV phase counts
zero); sleeps take their time; an ideal rig reaches a commanded pressure at the commanded rate (at
once without one); a wait for a signal lasts until the signalling track's step. Waits on
measurements (voltage, dV/dt, detector events, a rig or controller reading, contact) are
listed as open-ended and count as zero: the estimate is then a lower bound; a time guard that
stops the run is not taken as the end of a step that waits on such measurements. The same dry
run lists every setpoint a step commands, which ``validate`` checks.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

from drivers.roles import ElectroReading, PressureReading
from protocols.conditions import Fired
from protocols.model import Protocol
from protocols.program import Instr, Program, TrackState, advance, compile_protocol, settle
from protocols.steps import commands as c
from protocols.steps.base import EndCondition, StepContext
from protocols.steps.registry import STEP_TYPES

MAX_STEPS = 200_000
_NAN = float("nan")


@dataclass
class Estimate:
    """Run time (s, the longest track or the first predicted stop) and charge (C) per sign."""

    duration: float
    tracks: dict[str, float]
    charge_plated: float
    charge_stripped: float
    step_count: int
    open_ended: list[str] = field(default_factory=list)
    unbounded: bool = False
    estimated: list[str] = field(default_factory=list)  # cut-off steps timed from the capacity

    @property
    def exact(self) -> bool:
        return not self.open_ended and not self.unbounded and not self.estimated


def hms(seconds: float) -> str:
    """Run time as h:mm:ss (hours unbounded, so multi-day runs read naturally)."""
    h, rem = divmod(int(round(max(seconds, 0.0))), 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}"


def _condition_time(cond: EndCondition, current: float | None, area: float | None) -> float | None:
    if cond.time is not None and cond.after is None:
        return cond.time
    if current and cond.charge is not None:
        return cond.charge / abs(current)
    if current and cond.capacity is not None and area is not None:
        return cond.capacity * area / abs(current)
    return None


#: criteria a constant-current step reaches at the end of the capacity window, by the current's sign
CUTOFF_CRITERIA = {1: ("voltage_above", "abs_voltage_above"), -1: ("voltage_below",)}
#: criteria the dry run cannot time (they wait on a measurement)
MEASURED = frozenset({"voltage_above", "voltage_below", "abs_voltage_above", "abs_voltage_below",
                      "dvdt_above", "dvdt_below", "current_above", "current_below",
                      "pressure_above", "pressure_below", "event"})  # fmt: skip


@dataclass
class DryBench:
    """The ideal bench a dry run acts on: the stack pressure (Pa) and signals (run time, s)."""

    pressure: float = 0.0
    signals: dict[str, float] = field(default_factory=dict)
    stored: float = 0.0  # charge passed since the track's start (C): the capacity window's q


@dataclass
class StepRun:
    """One step dry-run: duration (s), the end condition expected to fire, signed charge (C),
    the setpoints it commands, whether it waits on measurements, the EndRun it reaches."""

    duration: float = 0.0
    fired: Fired | None = None
    charge: float = 0.0
    setpoints: list[c.Setpoint] = field(default_factory=list)
    open_ended: bool = False
    ended: c.EndRun | None = None
    estimated: bool = False  # its end is a cut-off timed from the capacity basis


def context(protocol: Protocol, ins: Instr) -> StepContext:
    """What the executor of ``ins`` may know (the same for the engine and the dry run)."""
    sample = protocol.sample
    return StepContext(ins.name, sample.area, protocol.limits, sample.capacity_basis())


class _DryRun:
    """Interprets one step's commands on a :class:`DryBench` from run time ``t0``."""

    def __init__(self, ctx: StepContext, bench: DryBench, t0: float) -> None:
        self.ctx, self.bench, self.t0 = ctx, bench, t0
        self.run = StepRun()
        self.current: float | None = None  # sourced current, A (None: not fixed)
        self.mode = ""  # the latest Source's mode
        self.settled_at = 0.0  # step time the ideal rig reaches its latest setpoint

    def wait(self, seconds: float) -> None:
        if self.current:
            self.run.charge += self.current * seconds
            self.bench.stored += self.current * seconds
        self.run.duration += seconds

    def cutoff_time(self, cond: EndCondition, nearest: float | None) -> float | None:
        """Step time at which ``cond`` is expected: a CV taper at once (counted as zero); the
        ``nearest`` cut-off in the current's direction when the current has moved the stored
        charge to the end of the capacity window. Without a capacity basis only a strip that
        moves on (no stop, no goto) is timed: it returns what was plated."""
        current = self.current
        if self.mode == "voltage" and cond.criterion == "current_below":
            return 0.0
        if not current or cond.criterion not in CUTOFF_CRITERIA[1 if current > 0 else -1]:
            return None
        basis = self.ctx.capacity[0] if self.ctx.capacity is not None else None
        if cond.value != nearest or (basis is None and (cond.action == "stop" or cond.goto)):
            return None
        stored = self.bench.stored
        if current > 0:
            depth = (basis if basis is not None else 0.0) - stored
        else:
            depth = None if basis is None else stored
        if depth is None or depth <= 1e-12 * (basis or 1.0):
            return None
        return max(depth / abs(current), cond.after or 0.0)

    def wait_end(self, conditions: list[EndCondition]) -> Fired | None:
        """The end condition expected first: timed ones, then cut-offs timed from the capacity
        basis (a tie goes to a timed one, then to the first listed, as in the engine)."""
        run = self.run
        sign = 1 if (self.current or 0.0) > 0 else -1
        levels = [c.value for c in conditions if c.criterion in CUTOFF_CRITERIA[sign]]
        nearest = (min if sign > 0 else max)(levels, default=None)
        found = []
        for k, cond in enumerate(conditions):
            d = _condition_time(cond, self.current, self.ctx.area)
            estimated = d is None and (d := self.cutoff_time(cond, nearest)) is not None
            if d is not None:
                found.append((d, estimated, k, cond))
        untimed = any(cond.criterion in MEASURED for cond in conditions) and not any(
            f[1] for f in found
        )
        if found:
            d, estimated, _, cond = min(found, key=lambda f: f[:3])
            if not (untimed and cond.action == "stop"):
                self.wait(d)
                run.estimated |= estimated
                return Fired(cond, self.t0 + run.duration, cond.value)
        run.open_ended = True
        return None

    def __call__(self, cmd: c.Command, step) -> object:
        run = self.run
        run.setpoints += cmd.setpoints()
        if isinstance(cmd, c.Sleep):
            self.wait(cmd.seconds)
        elif isinstance(cmd, c.WaitEnd):
            return self.wait_end([*step.end, *cmd.extra])
        elif isinstance(cmd, c.WaitUntil):
            if cmd.what == "pressure_settled" and cmd.since_command:
                self.wait(max(self.settled_at - run.duration, 0.0))
            else:
                run.open_ended = True
            return True
        elif isinstance(cmd, c.WaitSignal):
            at = self.bench.signals.get(cmd.name, self.t0 + run.duration)
            self.wait(max(at - self.t0 - run.duration, 0.0))
            return True
        elif isinstance(cmd, c.Source):
            self.current = {"current": cmd.value, "open_circuit": 0.0}.get(cmd.mode)
            self.mode = cmd.mode
        elif isinstance(cmd, c.StopAcquisition):
            return _NAN
        elif isinstance(cmd, c.ReadElectro):
            return ElectroReading(_NAN, _NAN)
        elif isinstance(cmd, c.ReadPressure):
            return PressureReading(_NAN, self.bench.pressure, _NAN)
        elif isinstance(cmd, c.SetPressure):
            ramp = abs(cmd.pressure - self.bench.pressure) / cmd.rate if cmd.rate else 0.0
            self.settled_at = run.duration + ramp
            self.bench.pressure = cmd.pressure
        elif isinstance(cmd, c.Approach):
            run.open_ended = True
            return True, (_NAN, _NAN, _NAN)
        elif isinstance(cmd, c.Signal):
            self.bench.signals[cmd.name] = self.t0 + run.duration
        elif isinstance(cmd, c.Impedance | c.Voltammetry):
            self.current = 0.0 if isinstance(cmd, c.Impedance) else None  # I(V) unknown
            takes = min(sweep_duration(cmd), cmd.max_duration or math.inf)
            timed = [(cond.time, cond) for cond in getattr(step, "end", ())
                     if cond.time is not None and cond.time < takes]  # fmt: skip
            if isinstance(cmd, c.Voltammetry) and timed:  # a time end stops it earlier
                d, cond = min(timed, key=lambda pair: pair[0])
                self.wait(d)
                return None, Fired(cond, self.t0 + run.duration, cond.value)
            self.wait(takes)
        elif not isinstance(
            cmd, (c.SetTemperature, c.SetBias, c.Capture, c.Emit, c.EndRun, c.HoldGap)
        ):
            raise TypeError(f"the dry run does not know the command {cmd!r}")
        return None


def sweep_duration(cmd: c.Impedance | c.Voltammetry) -> float:
    """Expected run time of a sweep on a MethodSCRIPT-class instrument (the driver's estimate;
    low frequencies dominate an impedance sweep, plus the OCV measured first at open circuit)."""
    from drivers.sweeps import OCV_SETTLE_S, eis_duration_estimate, voltammetry_points

    if isinstance(cmd, c.Impedance):
        ocv = OCV_SETTLE_S if cmd.dc_level is None and not cmd.galvanostatic else 0.0
        return eis_duration_estimate(cmd.f_start, cmd.f_end, cmd.points) + ocv
    return voltammetry_points(cmd.kind, cmd.potentials, cmd.step, cmd.scans) * cmd.step / cmd.rate


def dry_run(
    protocol: Protocol, ins: Instr, bench: DryBench | None = None, t0: float = 0.0
) -> StepRun:
    """Run the executor of step ``ins`` on an ideal bench (a fresh one unless given)."""
    step = ins.step
    interpret = _DryRun(context(protocol, ins), bench or DryBench(), t0)
    plan = STEP_TYPES[step.type].execute(step, interpret.ctx)
    reply = None
    while True:
        try:
            cmd = plan.send(reply)
        except StopIteration as stop:
            interpret.run.fired = stop.value
            return interpret.run
        reply = interpret(cmd, step)
        if isinstance(cmd, c.EndRun):
            interpret.run.ended = cmd
            return interpret.run


def step_duration(protocol: Protocol, ins: Instr) -> float | None:
    """Expected duration of one step from its start; None when it ends on measurements only."""
    run = dry_run(protocol, ins)
    return None if run.open_ended else run.duration


@dataclass
class _Track:
    """A track's dry-run totals: time, charge per sign, steps, and where it stopped."""

    t: float = 0.0
    plated: float = 0.0
    stripped: float = 0.0
    steps: int = 0
    unbounded: bool = False
    stop: float | None = None


class _Walker:
    def __init__(self, protocol: Protocol, programs: dict[str, Program]) -> None:
        self.protocol = protocol
        self.programs = programs
        self.bench = DryBench()
        self.open_ended: dict[str, None] = {}
        self.estimated: dict[str, None] = {}

    def walk(self, name: str, start: TrackState | None = None) -> _Track:
        """Dry-run one track from the beginning or from ``start`` (a copy is walked)."""
        program = self.programs[name]
        state = TrackState.from_json(start.to_json()) if start is not None else TrackState()
        out = _Track()
        self.bench.pressure = self.bench.stored = 0.0
        ins = settle(program, state)
        seen: set[tuple] = set()  # the walk is deterministic: a repeated state loops forever
        while ins is not None:
            out.steps += 1
            key = (state.pc, tuple(sorted(state.loops.items())), tuple(sorted(state.gotos.items())))
            if out.steps > MAX_STEPS or key in seen:
                out.unbounded = True
                return out
            seen.add(key)
            run = dry_run(self.protocol, ins, self.bench, out.t)
            if run.open_ended:
                self.open_ended[ins.name] = None
            if run.estimated:
                self.estimated[ins.name] = None
            if run.charge < 0:
                out.plated -= run.charge
            else:
                out.stripped += run.charge
            out.t += run.duration
            cond = run.fired.condition if run.fired is not None else None
            if run.ended is not None or (cond is not None and cond.action == "stop"):
                out.stop = out.t
                return out
            ins = advance(program, state, jump_label=cond.goto if cond else None,
                          end_cycle=bool(cond and cond.action == "end_cycle"))  # fmt: skip
        return out


def estimate(
    protocol: Protocol,
    start: dict[str, TrackState] | None = None,
    signalled: Iterable[str] = (),
    programs: dict[str, Program] | None = None,
) -> Estimate:
    """Walk every track (three passes, so waits see other tracks' signal times).

    With ``start`` (track -> state; tracks not listed are finished) the walk begins where the
    tracks stand, and ``signalled`` events have already happened: the remaining run.
    """
    programs = programs or compile_protocol(protocol)
    walker = _Walker(protocol, programs)
    names = list(programs) if start is None else list(start)
    for _ in range(3):
        walker.open_ended.clear()
        walker.estimated.clear()
        walker.bench.signals.update(dict.fromkeys(signalled, 0.0))
        results = {name: walker.walk(name, start and start[name]) for name in names}
    stops = [r.stop for r in results.values() if r.stop is not None]
    tracks = {name: r.t for name, r in results.items()}
    duration = min(stops) if stops else max(tracks.values(), default=0.0)
    return Estimate(
        duration=duration,
        tracks=tracks,
        charge_plated=sum(r.plated for r in results.values()),
        charge_stripped=sum(r.stripped for r in results.values()),
        step_count=sum(r.steps for r in results.values()),
        open_ended=list(walker.open_ended),
        unbounded=any(r.unbounded for r in results.values()),
        estimated=list(walker.estimated),
    )
