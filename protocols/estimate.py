"""Expected duration and charge of a protocol, by walking its programs without hardware.

A step's duration is known when a time end condition, or a charge/capacity condition at a
known current, bounds it; the earliest such condition is assumed to fire and its action is
followed (so gotos and stops are honoured). Steps ended only by measurements (voltage, dV/dt,
detector events) are listed as open-ended and count as zero: the estimate is then a lower bound.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from protocols.model import Protocol
from protocols.program import Instr, Program, TrackState, advance, compile_protocol, settle
from protocols.steps import EndCondition, Ended

MAX_STEPS = 200_000


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

    @property
    def exact(self) -> bool:
        return not self.open_ended and not self.unbounded


def hms(seconds: float) -> str:
    """Run time as h:mm:ss (hours unbounded, so multi-day runs read naturally)."""
    h, rem = divmod(int(round(max(seconds, 0.0))), 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}"


def step_current(step, area: float | None) -> float | None:
    """Source current of a galvanostatic-type step in A, if fixed."""
    if getattr(step, "current", None) is not None:
        return step.current
    if getattr(step, "current_density", None) is not None and area is not None:
        return step.current_density * area
    return None


def _condition_time(cond: EndCondition, current: float | None, area: float | None) -> float | None:
    if cond.time is not None and cond.after is None:
        return cond.time
    if current and cond.charge is not None:
        return cond.charge / abs(current)
    if current and cond.capacity is not None and area is not None:
        return cond.capacity * area / abs(current)
    return None


class _Walker:
    def __init__(self, protocol: Protocol, programs: dict[str, Program]) -> None:
        self.area = protocol.sample.area
        self.programs = programs
        self.signals: dict[str, float] = {}
        self.open_ended: dict[str, None] = {}

    def predict(
        self, ins: Instr, t: float, pressure: float
    ) -> tuple[float, EndCondition | None, float | None]:
        """(duration, the condition expected to fire, source current) of one step."""
        step = ins.step
        current = step_current(step, self.area)
        if isinstance(step, Ended):
            timed = [
                (d, c)
                for c in step.end
                if (d := _condition_time(c, current, self.area)) is not None
            ]
            if timed:
                d, cond = min(timed, key=lambda pair: pair[0])
                return d, cond, current
            self.open_ended[ins.name] = None
            return 0.0, None, current
        kind = step.type
        if kind == "current_interrupt":
            return step.on_time + step.off_time, None, current
        if kind == "bias_pulse_train":
            return step.count * (step.high_time + step.low_time), None, None
        if kind == "set_pressure" and step.rate is not None:
            return abs(step.pressure - pressure) / step.rate, None, None
        if kind == "pressure_ramp":
            d = step.duration if step.duration is not None else abs(step.to - pressure) / step.rate
            return d, None, None
        if kind == "wait" and step.until == "event":
            return max(0.0, self.signals.get(step.event, t) - t), None, None
        if kind in ("wait", "approach") or (kind == "set_temperature" and step.wait):
            self.open_ended[ins.name] = None
        return 0.0, None, None

    def walk(
        self, name: str, start: TrackState | None = None
    ) -> tuple[float, float, float, int, bool, float | None]:
        """(duration, plated C, stripped C, steps, unbounded, stop time or None) of one track,
        from the beginning or from ``start`` (a copy is walked)."""
        program = self.programs[name]
        state = TrackState.from_json(start.to_json()) if start is not None else TrackState()
        t = plated = stripped = pressure = 0.0
        ins = settle(program, state)
        count = 0
        seen: set[tuple] = set()  # the walk is deterministic: a repeated state loops forever
        while ins is not None:
            count += 1
            key = (state.pc, tuple(sorted(state.loops.items())), tuple(sorted(state.gotos.items())))
            if count > MAX_STEPS or key in seen:
                return t, plated, stripped, count, True, None
            seen.add(key)
            d, cond, current = self.predict(ins, t, pressure)
            if ins.step.type == "signal":
                self.signals[ins.step.name] = t
            pressure = (
                getattr(ins.step, "pressure", None) or getattr(ins.step, "to", None) or pressure
            )
            if current is not None:
                on = ins.step.on_time if ins.step.type == "current_interrupt" else d
                q = current * on
                plated, stripped = (plated - q, stripped) if q < 0 else (plated, stripped + q)
            t += d
            if cond is not None and (cond.action == "stop"):
                return t, plated, stripped, count, False, t
            ins = advance(program, state, jump_label=cond.goto if cond else None,
                          end_cycle=bool(cond and cond.action == "end_cycle"))  # fmt: skip
        return t, plated, stripped, count, False, None


def step_duration(protocol: Protocol, programs: dict[str, Program], ins: Instr) -> float | None:
    """Expected duration of one step from its start; None when it ends on measurements only."""
    walker = _Walker(protocol, programs)
    duration, _, _ = walker.predict(ins, 0.0, 0.0)
    return None if ins.name in walker.open_ended else duration


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
        walker.signals.update(dict.fromkeys(signalled, 0.0))
        results = {name: walker.walk(name, start and start[name]) for name in names}
    stops = [r[5] for r in results.values() if r[5] is not None]
    tracks = {name: r[0] for name, r in results.items()}
    duration = min(stops) if stops else max(tracks.values(), default=0.0)
    return Estimate(
        duration=duration,
        tracks=tracks,
        charge_plated=sum(r[1] for r in results.values()),
        charge_stripped=sum(r[2] for r in results.values()),
        step_count=sum(r[3] for r in results.values()),
        open_ended=list(walker.open_ended),
        unbounded=any(r[4] for r in results.values()),
    )
