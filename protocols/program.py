"""Compile a protocol into flat per-track programs and check what pydantic cannot.

Templates are expanded, loops become ``loop_start`` / ``loop_end`` pairs and gotos become
jumps, so a track's position is a program counter plus loop and goto counters — a small
state that is logged after every step and lets a crashed run resume exactly.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import ValidationError

from protocols.errors import Issue, Path, ProtocolError, format_path
from protocols.model import Loop, Protocol, validate_steps
from protocols.steps.base import Ending
from protocols.steps.registry import STEP_TYPES
from protocols.templates import TEMPLATES

Kind = Literal["step", "loop_start", "loop_end", "goto"]


@dataclass(frozen=True)
class Instr:
    """One program instruction; ``path`` points back into the protocol document."""

    kind: Kind
    path: Path
    step: Any = None
    loop: int = -1  # loop id (loop_start / loop_end)
    count: int = 0  # loop count
    body: int = -1  # loop_end: pc of the first body instruction
    innermost: bool = False  # loop_end of a loop holding no other loop: iterations are cycles
    cycle_end: int = -1  # step: pc of the innermost enclosing loop_end (for end_cycle)

    @property
    def name(self) -> str:
        return format_path(self.path)


@dataclass
class Program:
    """A track's instructions and its label table (label -> pc)."""

    track: str
    instrs: list[Instr] = field(default_factory=list)
    labels: dict[str, int] = field(default_factory=dict)

    def steps(self) -> Iterator[Instr]:
        return (i for i in self.instrs if i.kind == "step")


@dataclass
class TrackState:
    """Where a track is: program counter, loop iteration numbers, goto counts, cycle index."""

    pc: int = 0
    loops: dict[int, int] = field(default_factory=dict)
    gotos: dict[int, int] = field(default_factory=dict)
    cycle: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"pc": self.pc, "loops": {str(k): v for k, v in self.loops.items()},
                "gotos": {str(k): v for k, v in self.gotos.items()}, "cycle": self.cycle}  # fmt: skip

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TrackState:
        return cls(
            pc=int(data["pc"]),
            loops={int(k): int(v) for k, v in data.get("loops", {}).items()},
            gotos={int(k): int(v) for k, v in data.get("gotos", {}).items()},
            cycle=int(data.get("cycle", 0)),
        )


def advance(program: Program, state: TrackState, jump_label: str | None = None,
            end_cycle: bool = False, decisions: list[str] | None = None) -> Instr | None:  # fmt: skip
    """Move ``state`` past the current step (or jump) and on to the next step instruction.

    Executes control instructions (loops, gotos) on the way, describing each in
    ``decisions``; returns the step to run next, or None when the track is finished.
    """
    instrs = program.instrs
    if jump_label is not None:
        state.pc = program.labels[jump_label]
    elif end_cycle:
        state.pc = instrs[state.pc].cycle_end
    else:
        state.pc += 1
    return settle(program, state, decisions)


def settle(program: Program, state: TrackState, decisions: list[str] | None = None) -> Instr | None:
    """Run control instructions from ``state.pc`` until a step (returned) or the end (None)."""
    instrs = program.instrs
    note = decisions.append if decisions is not None else (lambda _: None)
    while state.pc < len(instrs):
        ins = instrs[state.pc]
        if ins.kind == "step":
            return ins
        if ins.kind == "loop_start":
            state.loops[ins.loop] = 1
            state.pc += 1
        elif ins.kind == "loop_end":
            iteration = state.loops.get(ins.loop, 1)  # entered by a goto: count from here
            if ins.innermost:
                state.cycle += 1
            if iteration < ins.count:
                state.loops[ins.loop] = iteration + 1
                state.pc = ins.body
                note(f"{ins.name}: loop iteration {iteration + 1} of {ins.count}")
            else:
                state.loops.pop(ins.loop, None)
                state.pc += 1
                note(f"{ins.name}: loop done after {ins.count} iterations")
        else:  # goto
            done = state.gotos.get(state.pc, 0)
            target = ins.step.target
            if ins.step.times is None:
                state.pc = program.labels[target]
                note(f"{ins.name}: goto {target!r}")
            elif done < ins.step.times:
                state.gotos[state.pc] = done + 1
                state.pc = program.labels[target]
                note(f"{ins.name}: goto {target!r} ({done + 1} of {ins.step.times})")
            else:
                state.gotos.pop(state.pc, None)
                state.pc += 1
                note(f"{ins.name}: goto {target!r} done {ins.step.times} times, falling through")
    return None


class _Compiler:
    def __init__(self, protocol: Protocol) -> None:
        self.protocol = protocol
        self.issues: list[Issue] = []
        self.loop_ids = 0

    def track(self, name: str, steps: list[Any], root: Path) -> Program:
        program = Program(name)
        self._emit(program, steps, root, cycle_end=-1)
        self._check_labels(program)
        return program

    def _emit(self, program: Program, steps: list[Any], root: Path, cycle_end: int) -> bool:
        """Append ``steps``; returns True if any loop was emitted (for 'innermost')."""
        had_loop = False
        for i, step in enumerate(steps):
            path = (*root, i)
            if isinstance(step, TEMPLATES):
                try:
                    expanded = validate_steps(
                        step.expand(prefix=f"{program.track}:{format_path(path)}:")
                    )
                except ValidationError as exc:
                    self.issues.append(Issue(path, f"template expands to invalid steps: {exc}"))
                    continue
                self._label(program, step, path)
                had_loop |= self._emit(program, expanded, (*path, "+"), cycle_end)
            elif isinstance(step, Loop):
                had_loop = True
                self._label(program, step, path)
                loop_id = self.loop_ids
                self.loop_ids += 1
                program.instrs.append(
                    Instr("loop_start", path, step, loop=loop_id, count=step.count)
                )
                body = len(program.instrs)
                end_slot = len(program.instrs)  # patched after the body is known
                inner_has_loop = self._emit(program, step.steps, (*path, "steps"), cycle_end=-2)
                end_pc = len(program.instrs)
                program.instrs.append(Instr("loop_end", path, step, loop=loop_id, count=step.count,
                                            body=body, innermost=not inner_has_loop))  # fmt: skip
                self._patch_cycle_end(program, end_slot, end_pc)
            else:
                self._label(program, step, path)
                kind: Kind = "goto" if step.type == "goto" else "step"
                program.instrs.append(Instr(kind, path, step, cycle_end=cycle_end))
                self._check_step(step, path, inside_loop=cycle_end != -1)
        return had_loop

    @staticmethod
    def _patch_cycle_end(program: Program, start: int, end_pc: int) -> None:
        """Steps directly in a loop body (marked -2) end their cycle at this loop's end."""
        for pc in range(start, end_pc):
            ins = program.instrs[pc]
            if ins.kind == "step" and ins.cycle_end == -2:
                program.instrs[pc] = Instr(ins.kind, ins.path, ins.step, cycle_end=end_pc)

    def _label(self, program: Program, step: Any, path: Path) -> None:
        if step.label is None:
            return
        if step.label in program.labels:
            self.issues.append(
                Issue(
                    (*path, "label"),
                    f"label {step.label!r} is used twice in track {program.track!r}",
                )
            )
        program.labels[step.label] = len(program.instrs)

    def _check_step(self, step: Any, path: Path, inside_loop: bool) -> None:
        kind = STEP_TYPES[step.type]
        if isinstance(step, Ending):
            allowed = kind.criteria
            for k, cond in enumerate(step.end):
                where = (*path, "end", k)
                if cond.criterion not in allowed:
                    self.issues.append(Issue((*where, cond.criterion),
                        f"{cond.criterion!r} cannot end a {step.type} step "
                        f"(possible: {', '.join(sorted(allowed))})"))  # fmt: skip
                if cond.action == "end_cycle" and not inside_loop:
                    self.issues.append(
                        Issue((*where, "action"), "end_cycle is only possible inside a loop")
                    )
        if self._needs_area(step) and self.protocol.sample.area is None:
            self.issues.append(Issue(path, "current density or areal capacity needs sample.area"))
        for name in ("c_rate", "taper_c_rate"):
            if (
                getattr(step, name, None) is not None
                and self.protocol.sample.capacity_basis() is None
            ):
                self.issues.append(Issue((*path, name), "a C-rate needs the capacity basis: "
                    "sample.cathode (or working) with mass_loading or mass and specific_capacity, "
                    "or sample.nominal_capacity"))  # fmt: skip
        if kind.check is not None:
            self.issues += [Issue(path, text) for text in kind.check(step, self.protocol.limits)]

    @staticmethod
    def _needs_area(step: Any) -> bool:
        if getattr(step, "current_density", None) is not None:
            return True
        per_area = ("capacity", "current_density_above", "current_density_below")
        return isinstance(step, Ending) and any(c.criterion in per_area for c in step.end)

    def _check_labels(self, program: Program) -> None:
        for ins in program.instrs:
            if ins.kind == "goto" and ins.step.target not in program.labels:
                self.issues.append(
                    Issue((*ins.path, "target"), self._unknown(program, ins.step.target))
                )
            if ins.kind == "step" and isinstance(ins.step, Ending):
                for k, cond in enumerate(ins.step.end):
                    if cond.goto is not None and cond.goto not in program.labels:
                        self.issues.append(
                            Issue((*ins.path, "end", k, "goto"), self._unknown(program, cond.goto))
                        )

    @staticmethod
    def _unknown(program: Program, label: str) -> str:
        known = ", ".join(sorted(program.labels)) or "none"
        return f"no label {label!r} in track {program.track!r} (labels: {known})"


def compile_protocol(protocol: Protocol) -> dict[str, Program]:
    """Per-track programs; ProtocolError (paths, no lines) if the protocol cannot run."""
    compiler = _Compiler(protocol)
    tracks = protocol.track_steps()
    programs = {}
    for name, steps in tracks.items():
        root: Path = ("steps",) if protocol.steps is not None else ("tracks", name)
        programs[name] = compiler.track(name, steps, root)
    issues = compiler.issues + _cross_track_issues(protocol, programs) + _limit_issues(protocol)
    if issues:
        raise ProtocolError(issues)
    return programs


def _limit_issues(protocol: Protocol) -> list[Issue]:
    """Area-based limits cannot be checked without an area: refuse rather than skip them."""
    if protocol.sample.area is not None:
        return []
    return [Issue(("limits", name), f"limits.{name} needs sample.area")
            for name in ("current_density", "capacity") if getattr(protocol.limits, name) is not None]  # fmt: skip


def _cross_track_issues(protocol: Protocol, programs: dict[str, Program]) -> list[Issue]:
    """One track per instrument role; every awaited event is signalled by some track."""
    issues: list[Issue] = []
    owner: dict[str, str] = {}
    signals = {
        ins.step.name for p in programs.values() for ins in p.steps() if ins.step.type == "signal"
    }
    for name, program in programs.items():
        for ins in program.steps():
            role = STEP_TYPES[ins.step.type].role
            if role is not None and owner.setdefault(role, name) != name:
                issues.append(Issue(ins.path, f"track {name!r} commands the {role}, "
                                              f"which track {owner[role]!r} already commands"))  # fmt: skip
            if (
                ins.step.type == "wait"
                and ins.step.event is not None
                and ins.step.event not in signals
            ):
                issues.append(Issue((*ins.path, "event"),
                                    f"no track signals {ins.step.event!r} (signals: {', '.join(sorted(signals)) or 'none'})"))  # fmt: skip
    return issues
