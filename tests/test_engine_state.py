"""The run state machine: legal paths, refused requests, the state listeners see, exit status."""

from __future__ import annotations

import pytest
from protocols_helpers import Collector, run_yaml

from protocols.engine import Progress
from protocols.runstate import (
    REQUESTS,
    TRANSITIONS,
    ExitStatus,
    RequestRefused,
    RunControl,
    RunState,
    next_state,
)

TWO_STEPS = """
steps:
  - {type: galvanostatic, current: 1 mA, end: [{time: 10 s}]}
  - {type: galvanostatic, current: -1 mA, end: [{time: 10 s}]}
"""


class States(Collector):
    def __init__(self, hook=None) -> None:
        super().__init__(hook)
        self.states: list[RunState] = []

    def on_state(self, state: RunState) -> None:
        self.states.append(state)


def run_with_states(body: str, hook):
    from protocols_fakes import FakeStation
    from protocols_helpers import HEAD

    from protocols.engine import Engine
    from protocols.loader import load_protocol_text

    col = States(hook)
    engine = Engine(load_protocol_text(HEAD + body, "t.yaml"), FakeStation.full(), [col])
    col.engine = engine
    return engine.run(), col, engine


def test_every_state_is_reachable_from_idle_and_finished_is_final():
    seen, todo = {RunState.IDLE}, [RunState.IDLE]
    while todo:
        for nxt in TRANSITIONS[todo.pop()].values():
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    assert seen == set(RunState)
    assert TRANSITIONS[RunState.FINISHED] == {}
    for state, row in TRANSITIONS.items():
        if state is not RunState.FINISHED:
            assert row["finish"] is RunState.FINISHED and row["abort"] is not None


def test_an_illegal_request_is_refused_with_a_reason():
    with pytest.raises(RequestRefused, match="cannot resume: it is running"):
        next_state(RunState.RUNNING, "resume")
    with pytest.raises(RequestRefused, match="cannot pause: it is stopping"):
        next_state(RunState.STOPPING, "pause")
    control = RunControl(lambda *a: None)
    control.fire("start")
    control.request("pause")
    with pytest.raises(RequestRefused, match="a pause is pending"):
        control.request("pause")  # judged against the state once the queue is applied
    control.request("resume")
    with pytest.raises(ValueError, match="unknown run request 'hurry'"):
        control.request("hurry")
    assert set(REQUESTS) <= {t for row in TRANSITIONS.values() for t in row}


def test_resume_while_running_raises_from_the_engine_and_the_run_goes_on():
    refused = []

    def hook(engine, col, item):
        if getattr(item, "kind", None) == "step_start" and item.step == 0:
            with pytest.raises(RequestRefused) as exc:
                engine.resume()
            refused.append(str(exc.value))

    result, col, engine = run_with_states(TWO_STEPS, hook)
    assert refused == ["cannot resume: it is running (state running)"]
    assert result.status is ExitStatus.SUCCESS and engine.state is RunState.FINISHED


def test_listeners_see_each_state_in_order_and_progress_carries_it():
    marks = {"resumed": False}

    def hook(engine, col, item):
        if getattr(item, "kind", None) == "step_start" and item.step == 0:
            engine.pause()
        if isinstance(item, Progress) and item.state is RunState.PAUSED and not marks["resumed"]:
            marks["resumed"] = True
            engine.resume()

    result, col, _ = run_with_states(TWO_STEPS, hook)
    assert result.status == "success"
    assert col.states == [RunState.RUNNING, RunState.PAUSING, RunState.PAUSED,
                          RunState.RUNNING, RunState.FINISHED]  # fmt: skip
    assert {p.state for p in col.progress} >= {RunState.RUNNING, RunState.PAUSED}


def test_stop_while_paused_and_abort_while_stopping():
    def hook(engine, col, item):
        if getattr(item, "kind", None) == "step_start" and item.step == 0:
            engine.pause(immediate=True)
            engine.stop()
            engine.abort("enough")

    result, col, engine = run_with_states(TWO_STEPS, hook)
    assert result.status is ExitStatus.ABORTED and result.reason == "enough"
    assert col.states == [RunState.RUNNING, RunState.PAUSED, RunState.STOPPING,
                          RunState.ABORTING, RunState.FINISHED]  # fmt: skip
    with pytest.raises(RequestRefused, match="it has finished"):
        engine.abort()


def test_exit_status_is_typed_and_still_the_run_file_string():
    result, col, _ = run_yaml(TWO_STEPS)
    assert result.status is ExitStatus.SUCCESS and result.status == "success"
    assert col.kinds("run_end")[0].data["status"] == "success"
