"""Typed run documents: event kinds, event data in its own field, stream descriptors, v1 files."""

import json

import h5py
import numpy as np
import pytest
from protocols_fakes import FakePotentiostat, FakePressureRig, FakeStation
from protocols_helpers import Collector
from test_engine_resume import PROTOCOL, _killed_run

from daq.clock import VirtualClock
from daq.documents import EventKind, FieldSpec, StreamDescriptor
from daq.h5recover import clear_consistency_flags
from daq.runfile import FORMAT_VERSION, RunFileError, RunReader, RunWriter
from daq.session import execute, resume
from protocols.engine import Engine, stream_descriptors
from protocols.loader import load_protocol_text

ELECTRO = {"voltage": "V", "current": "A", "step": ""}
TWO_STEPS = """\
name: t
sample: {area: 1 cm2}
limits: {voltage: {min: -2 V, max: 2 V}, current: 10 mA}
steps:
  - {type: galvanostatic, current: 1 mA, end: [{time: 10 s}]}
  - {type: galvanostatic, current: -1 mA, end: [{time: 10 s}]}
"""


def _write_v1(path):
    """A run file exactly as format version 1 laid it out: no `data` column, the engine's
    event data packed with the text into `message`, no descriptor attributes on streams."""
    with h5py.File(path, "w", libver="latest") as f:
        f.attrs.update({"format": "ssbench-run", "format_version": 1, "run_uid": "ab" * 16,
                        "created_utc": "2026-01-01T00:00:00+00:00", "software_version": "0.1.0",
                        "exit_status": "interrupted", "exit_reason": "",
                        "clock_anchor_utc": "2026-01-01T00:00:00+00:00", "writer_pid": -1,
                        "writer_host": "elsewhere"})  # fmt: skip
        f.create_group("sample").attrs["area_m2"] = 1e-4
        f.create_group("station")
        proto = f.create_group("protocol")
        proto.create_dataset("source", data="", dtype=h5py.string_dtype())
        proto.create_dataset("normalized_json", data="", dtype=h5py.string_dtype())
        proto.attrs["sha256"] = ""
        g = f.create_group("streams").create_group("electro")
        for name, units, values in (("time", "s", [0.0, 1.0]), ("voltage", "V", [0.1, 0.2])):
            ds = g.create_dataset(name, data=np.array(values), maxshape=(None,), chunks=(16,))
            ds.attrs["units"] = units
        g.attrs["fields"] = json.dumps(["time", "voltage"])
        dtype = np.dtype([("time", "f8"), ("kind", h5py.string_dtype()), ("step", "i8"),
                          ("message", h5py.string_dtype())])  # fmt: skip
        rows = [
            (0.0, "segment_start", -1, json.dumps({"text": "segment 0", "segment": 0})),
            (
                1.0,
                "step_end",
                0,
                json.dumps({"text": "ended", "track": "main", "state": {"pc": 1, "loops": {}}}),
            ),  # fmt: skip
            (2.0, "note", -1, "plain text, not JSON"),
        ]
        f.create_dataset("events", data=np.array(rows, dtype=dtype), maxshape=(None,), chunks=(8,))
        f.create_group("frames")


def test_a_version_1_file_is_read_with_its_data_decoded(tmp_path):
    path = tmp_path / "v1.h5"
    _write_v1(path)
    with RunReader(path) as run:
        assert run.format_version == 1 and run.status == "interrupted"
        events = run.events()
        assert list(events["message"]) == ["segment 0", "ended", "plain text, not JSON"]
        assert events["data"][0] == {"segment": 0}
        assert events["data"][1] == {"track": "main", "state": {"pc": 1, "loops": {}}}
        assert events["data"][2] == {}
        assert run.descriptor("electro") == StreamDescriptor(
            "electro", (FieldSpec("time", "s"), FieldSpec("voltage", "V"))
        )


def test_a_version_1_run_is_resumed_in_its_own_layout(tmp_path):
    path = tmp_path / "v1.h5"
    _write_v1(path)
    writer = RunWriter.reopen(path)
    writer.event(3.0, EventKind.SEGMENT_START, "segment 1", data={"segment": 1})
    writer.append("electro", {"time": [3.0], "voltage": [0.3]})
    writer.close("success")
    with h5py.File(path) as f:
        assert f.attrs["format_version"] == 1 and f["events"].dtype.names[-1] == "message"
    with RunReader(path) as run:
        last = run.events().iloc[-1]
        assert (last["message"], last["data"]) == ("segment 1", {"segment": 1})
        assert run.stream_length("electro") == 3


def test_event_data_round_trips_with_its_types(tmp_path):
    path = tmp_path / "run.h5"
    data = {"int": 3, "float": 2.5, "flag": True, "none": None, "text": "x", "list": [1, 2.0],
            "nested": {"state": {"pc": 4, "loops": {"3": 2}}}, "np_float": np.float64(1.5),
            "np_int": np.int64(7), "array": np.array([1.0, 2.0]), "nan": float("nan")}  # fmt: skip
    with RunWriter(path, {"electro": ELECTRO}) as writer:
        writer.event(1.0, "outcome", "ccd failure: short", 2, data)
    with RunReader(path) as run:
        assert run.format_version == FORMAT_VERSION == 2
        row = run.events().iloc[0]
    assert (row["kind"], row["message"], row["step"]) == ("outcome", "ccd failure: short", 2)
    got = row["data"]
    assert got.pop("nan") != got.get("nan", 0.0)  # NaN stays NaN
    assert got == {"int": 3, "float": 2.5, "flag": True, "none": None, "text": "x",
                   "list": [1, 2.0], "nested": {"state": {"pc": 4, "loops": {"3": 2}}},
                   "np_float": 1.5, "np_int": 7, "array": [1.0, 2.0]}  # fmt: skip
    assert type(got["int"]) is int and type(got["np_int"]) is int and type(got["float"]) is float


def test_unknown_kind_and_unstorable_data_are_refused_in_one_line(tmp_path):
    path = tmp_path / "run.h5"
    with RunWriter(path, {"electro": ELECTRO}) as writer:
        with pytest.raises(RunFileError, match=r"t=5 s: unknown event kind 'trip' \(known: "):
            writer.event(5.0, "trip", "voltage above 5 V")
        with pytest.raises(RunFileError, match="limit_trip data cannot be stored") as err:
            writer.event(5.0, "limit_trip", "x", data={"what": object()})
        assert "\n" not in str(err.value)
    with RunReader(path) as run:
        assert run.events().empty  # nothing half-written


def test_event_kind_values_are_the_strings_in_the_file():
    assert EventKind.STEP_END == "step_end" and EventKind("fault") is EventKind.FAULT
    assert EventKind.parse("limit_trip") is EventKind.LIMIT_TRIP
    with pytest.raises(ValueError, match="engine: unknown event kind 'bogus'"):
        EventKind.parse("bogus", "engine")


def test_descriptors_are_stored_on_the_streams(tmp_path):
    path = tmp_path / "run.h5"
    desc = StreamDescriptor.build("electro", ELECTRO, "potentiostat", "cell")
    assert desc.fields[0] == FieldSpec("time", "s") and desc.fields[-1] == FieldSpec(
        "step", "", "i8"
    )
    with RunWriter(path, [desc]) as writer:
        writer.append("electro", {"time": [0.0], "voltage": [0.1], "current": [1e-3], "step": 0})
    with RunReader(path) as run:
        assert run.descriptors() == {"electro": desc}
        assert run.stream("electro")["step"].dtype == np.int64


def test_a_resumed_run_must_produce_the_streams_of_its_file(tmp_path):
    path = tmp_path / "run.h5"
    RunWriter(path, {"electro": ELECTRO}).close("failed")
    writer = RunWriter.reopen(path)
    writer.check_streams([StreamDescriptor.build("electro", ELECTRO)])
    with pytest.raises(RunFileError, match=r"stream 'electro' has fields \['time', 'voltage'"):
        writer.check_streams([StreamDescriptor.build("electro", {"voltage": "V"})])
    with pytest.raises(RunFileError, match="produces stream 'thermal', which the file lacks"):
        writer.check_streams([StreamDescriptor.build("thermal", {"temperature": "K"})])
    writer.close("success")


class _Starts(Collector):
    def __init__(self) -> None:
        super().__init__()
        self.order: list[object] = []

    def on_start(self, descriptors) -> None:
        self.order.append(list(descriptors))

    def on_event(self, event) -> None:
        self.order.append(event.kind)
        super().on_event(event)


def test_engine_describes_the_streams_of_the_station_before_anything_else():
    clock = FakeStation().clock
    station = FakeStation(clock, FakePotentiostat(clock, name="cell2"), FakePressureRig(name="rig"))
    listener = _Starts()
    Engine(load_protocol_text(TWO_STEPS), station, [listener]).run()
    descriptors = listener.order[0]
    assert [(d.name, d.role, d.instrument) for d in descriptors] == [
        ("electro", "potentiostat", "cell2"), ("pressure", "pressure_rig", "rig")]  # fmt: skip
    assert listener.order[1] == "segment_start"
    assert all(isinstance(e.kind, EventKind) for e in listener.events)
    described = {d.name: d for d in descriptors}
    assert listener.blocks  # every published sample block matches its stream's descriptor
    for name, blocks in listener.blocks.items():
        assert all(set(b) == set(described[name].field_names) for b in blocks)


class _SweepingPotentiostat(FakePotentiostat):
    """A potentiostat with a frequency-response analyser (it declares EIS sweeps)."""

    sweeps = frozenset({"eis"})


def test_only_a_potentiostat_that_can_sweep_gets_an_impedance_stream():
    clock = FakeStation().clock
    dc_only = stream_descriptors(FakeStation(clock, FakePotentiostat(clock)))
    sweeping = stream_descriptors(FakeStation(clock, _SweepingPotentiostat(clock, name="fra")))
    assert [d.name for d in dc_only] == ["electro"]
    assert [(d.name, d.instrument) for d in sweeping] == [("electro", "fra"), ("impedance", "fra")]


def test_recorder_stores_the_engine_descriptors_and_resume_checks_them(tmp_path):
    path = tmp_path / "run.h5"
    text = TWO_STEPS
    clock = FakeStation().clock
    station = FakeStation(clock, FakePotentiostat(clock), FakePressureRig())
    out = execute(load_protocol_text(text), text, station, path, detectors=False)
    assert out.result.status == "success"
    with RunReader(path) as run:
        stored = run.descriptors()
        events = run.events()
    assert {n: (d.role, d.instrument) for n, d in stored.items()} == {
        "electro": ("potentiostat", "cell"), "pressure": ("pressure_rig", "press")}  # fmt: skip
    assert stored["electro"].units["voltage"] == "V" and stored["pressure"].units["force"] == "N"
    ends = events[events["kind"] == "step_end"]
    assert ends["data"].iloc[0]["track"] == "main" and "state" in ends["data"].iloc[0]
    assert not ends["message"].iloc[0].startswith("{")  # the text alone, data in its field
    with h5py.File(path, "r+") as f:  # pretend it was killed, to resume it
        f.attrs["exit_status"] = "running"
        f.attrs["writer_host"] = "another-host"
    out = resume(path, FakeStation(clock, FakePotentiostat(clock)), detectors=False)
    with RunReader(path) as run:
        assert run.stream_names == ["electro", "pressure"]
        assert run.status == out.result.status


def test_an_instrument_fault_that_ends_the_run_is_logged_as_fault():
    station = FakeStation.full()
    station.potentiostat.fail("fetch", times=50)
    listener = Collector()
    result = Engine(load_protocol_text(TWO_STEPS), station, [listener]).run()
    assert result.status == "failed"
    (fault,) = listener.kinds("fault")
    assert fault.data == {"role": "potentiostat"} and fault.text == result.reason
    assert [e.kind for e in listener.events][-1] == "run_end"


def test_every_kind_a_consumer_names_is_one_the_engine_can_log():
    """Kinds are consumed as strings in a few places: each must be an EventKind (no drift)."""
    from analysis.figures import MARKED_RECORDED
    from gui.event_log import _COLOURS, ALERT_KINDS
    from protocols.console import _SHOWN_EVENTS

    for kind in {*MARKED_RECORDED, *ALERT_KINDS, *_COLOURS, *_SHOWN_EVENTS}:
        EventKind.parse(kind, "consumer")


def test_the_recorder_refuses_an_existing_file_before_anything_runs(tmp_path):
    path = tmp_path / "run.h5"
    path.write_bytes(b"an earlier run")
    station = FakeStation.full()
    with pytest.raises(RunFileError, match="already exists; refusing to overwrite"):
        execute(load_protocol_text(TWO_STEPS), TWO_STEPS, station, path, detectors=False)
    assert path.read_bytes() == b"an earlier run" and not station.potentiostat.calls


def test_resuming_on_a_station_with_a_new_stream_fails_cleanly(tmp_path):
    path = tmp_path / "run.h5"
    clock = FakeStation().clock
    execute(load_protocol_text(TWO_STEPS), TWO_STEPS, FakeStation(clock, FakePotentiostat(clock)),
            path, detectors=False)  # fmt: skip
    with h5py.File(path, "r+") as f:
        f.attrs["exit_status"] = "running"
        f.attrs["writer_host"] = "another-host"
    out = resume(path, FakeStation.full(), detectors=False)
    assert out.result.status == "failed" and "which the file lacks" in out.result.reason
    with RunReader(path) as run:
        assert run.status == "failed" and run.stream_names == ["electro"]
        assert run.stream_length("electro") > 0


def _as_version_1(path):
    """Rewrite a (killed) run file into the version-1 layout: data packed into the message,
    no `data` column, no descriptor attributes (what ssbench before format 2 wrote)."""
    clear_consistency_flags(path)
    with h5py.File(path, "r+", libver="latest") as f:
        rows = f["events"][:]
        del f["events"]
        dtype = np.dtype([("time", "f8"), ("kind", h5py.string_dtype()), ("step", "i8"),
                          ("message", h5py.string_dtype())])  # fmt: skip
        old = np.array([(r["time"], r["kind"], r["step"], json.dumps(
            {"text": r["message"].decode(), **json.loads(r["data"])})) for r in rows], dtype=dtype)  # fmt: skip
        f.create_dataset("events", data=old, maxshape=(None,), chunks=(256,))
        f.attrs["format_version"] = 1
        for g in f["streams"].values():
            del g.attrs["role"], g.attrs["instrument"]


def test_a_killed_version_1_run_resumes_to_the_end(tmp_path):
    path = _killed_run(tmp_path, PROTOCOL, step_ends=5)
    _as_version_1(path)
    with RunReader(path) as run:
        assert run.format_version == 1 and run.status == "interrupted"
        before = list(run.events().query("kind == 'step_end'")["data"])
    assert before and all("state" in d and "track" in d for d in before)
    clock = VirtualClock()
    out = resume(path, FakeStation(clock, FakePotentiostat(clock), FakePressureRig()),
                 detectors=False)  # fmt: skip
    assert out.result.status == "success"
    with RunReader(path) as run:
        assert run.format_version == 1 and run.status == "success"
        events = run.events()
    ends = list(events.loc[events["kind"] == "step_end", "data"])
    galv = [(e["path"], str(e["state"]["loops"])) for e in ends if ".steps[" in e["path"]]
    assert len(galv) == 12 and len(set(galv)) == 12  # each half cycle once across segments
    assert list(events["kind"]).count("segment_start") == 2


def test_an_event_table_without_data_gets_empty_data_and_exports(tmp_path):
    import pandas as pd

    from analysis.export import write_run
    from analysis.model import make_run

    electro = pd.DataFrame({"time": [0.0, 1.0], "voltage": [0.1, 0.2], "current": [1e-4, 1e-4]})
    events = pd.DataFrame({"time": [0.5], "kind": ["outcome"], "step": [0], "message": ["ccd"]})
    run = make_run({"electro": electro}, events=events, metadata={"sample": {"area_m2": 1e-4}})
    assert list(run.events["data"]) == [{}]
    with RunReader(write_run(run, tmp_path / "x.h5")) as stored:
        ev = stored.events()
    assert list(ev["message"]) == ["ccd"] and list(ev["data"]) == [{}]


def test_every_kind_a_step_emits_is_an_event_kind():
    """Steps log through ``Emit(kind, …)``; each kind they name must be one the file accepts."""
    import ast
    from pathlib import Path

    steps = Path(__file__).parent.parent / "protocols" / "steps"
    for module in steps.glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", getattr(node.func, "attr", "")) == "Emit"
            ):
                assert isinstance(node.args[0], ast.Constant), (
                    f"{module.name}: Emit kind not a literal"
                )
                EventKind.parse(node.args[0].value, f"{module.name}:{node.lineno}")
