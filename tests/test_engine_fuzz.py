"""Hypothesis-generated valid protocols run to a defined end on fake instruments: no traceback,
no hang, the station left safe, every started step ended or the run's end explained."""

from __future__ import annotations

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from protocols_fakes import FakeCell, FakeStation
from protocols_helpers import Collector

from daq.runfile import EXIT_STATUSES
from protocols.engine import Engine
from protocols.loader import load_protocol_text

_time = st.integers(1, 8).map(lambda s: f"{s} s")
_voltage_end = st.one_of(
    st.builds(lambda v: {"voltage_above": f"{v} mV"}, st.integers(-200, 200)),
    st.builds(lambda v: {"abs_voltage_below": f"{v} mV"}, st.integers(1, 50)),
    st.builds(lambda: {"dvdt_below": "1 mV/s", "after": "2 s"}),
)
_source_end = st.one_of(
    _voltage_end,
    st.builds(lambda q: {"charge": f"{q} mC"}, st.integers(1, 10)),
    st.builds(lambda a: {"event": "compliance", "action": a}, st.sampled_from(["next", "stop"])),
)


def _ends(extra, action):
    return st.builds(lambda t, e, act: [{"time": t}, {**e, **act}], _time, extra, action)


_action = st.one_of(st.just({}), st.just({"action": "next"}), st.just({"action": "stop"}))
_electro = st.one_of(
    st.builds(lambda e: {"type": "rest", "end": e}, _ends(_voltage_end, _action)),
    st.builds(
        lambda i, e: {"type": "galvanostatic", "current": f"{i} uA", "end": e},
        st.integers(-900, 900).filter(bool),
        _ends(_source_end, _action),
    ),  # fmt: skip
    st.builds(
        lambda v, e: {"type": "potentiostatic", "voltage": f"{v} mV", "end": e},
        st.integers(-100, 100),
        _ends(_source_end, _action),
    ),  # fmt: skip
    st.builds(
        lambda i: {
            "type": "current_interrupt",
            "current": f"{i} uA",
            "on_time": "1 s",
            "off_time": "1 s",
        },
        st.integers(1, 500),
    ),  # fmt: skip
)
_loop = st.builds(lambda n, body: {"type": "loop", "count": n, "steps": body}, st.integers(1, 3),
                  st.lists(_electro, min_size=1, max_size=3))  # fmt: skip
_echem = st.lists(st.one_of(_electro, _loop), min_size=1, max_size=4)
_pressure = st.lists(
    st.one_of(
        st.builds(
            lambda p: {"type": "set_pressure", "pressure": f"{p} MPa", "timeout": "30 s"},
            st.integers(0, 8),
        ),
        st.builds(lambda t: {"type": "pressure_hold", "end": [{"time": t}]}, _time),
    ),
    max_size=3,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    echem=_echem,
    pressure=_pressure,
    debounce=st.integers(1, 3),
    pause_at=st.one_of(st.none(), st.integers(0, 4)),
)
def test_generated_protocols_end_cleanly(echem, pressure, debounce, pause_at):
    echem = [
        {**echem[0], "label": "top"},
        *echem[1:],
        {"type": "goto", "target": "top", "times": 1},
    ]
    doc = {
        "name": "fuzz",
        "sample": {"area": "1 cm2"},
        "limits": {
            "voltage": {"min": "-0.15 V", "max": "0.15 V"},
            "current": "1 mA",
            "debounce": debounce,
            "pressure": {"max": "7 MPa"},
        },  # fmt: skip
        "tracks": {"echem": echem, **({"press": pressure} if pressure else {})},
    }
    protocol = load_protocol_text(yaml.safe_dump(doc), "fuzz.yaml")
    station = FakeStation.full(FakeCell(resistance=150.0))
    station.potentiostat.compliance_after = 12.0

    def hook(engine, collector, item):
        if (
            pause_at is not None
            and getattr(item, "kind", None) == "step_start"
            and item.step == pause_at
        ):
            engine.pause(immediate=pause_at % 2 == 0)
            engine.resume()

    collector = Collector(hook)
    engine = Engine(protocol, station, [collector])
    collector.engine = engine
    result = engine.run()
    assert result.status in EXIT_STATUSES and result.status != "running", result.reason
    assert "internal error" not in result.reason
    assert collector.events[-1].kind == "run_end"
    assert station.potentiostat.mode in ("off", "open_circuit")
    if result.status == "tripped":
        assert result.trip is not None and collector.kinds("limit_trip")
