"""`ssbench run` / `resume` refuse up front what `validate` finds, and never leave a file then."""

from __future__ import annotations

from pathlib import Path

import pytest

from daq.cli import main

ROOT = Path(__file__).resolve().parents[1]
SIM_STATION = ROOT / "examples" / "stations" / "sim.yaml"
HEAD = """\
name: refused
sample: {area: 1 cm2}
sampling: {rate: %s}
limits: {voltage: {min: -1 V, max: 1 V}, current_density: 1 mA/cm2, pressure: {max: 600 MPa}}
steps:
"""


@pytest.mark.parametrize(
    ("rate", "step", "fragment"),
    [
        ("2 Hz", "{type: galvanostatic, current_density: 50 mA/cm2, end: [{time: 10 s}]}",
         "current 50 mA is beyond the protocol's safety limit 1 mA"),
        ("2 kHz", "{type: rest, end: [{time: 10 s}]}", "sampling.rate 2000 Hz is beyond what 'cell'"),
        ("2 Hz", "{type: set_pressure, pressure: 500 MPa}", "pressure 500 MPa is beyond the 'press' range"),
        ("2 Hz", "{type: set_temperature, temperature: 60 degC}", "needs a thermal, and the station has none"),
    ],
)  # fmt: skip
def test_run_refuses_what_validate_finds_before_any_file(tmp_path, capsys, rate, step, fragment):
    proto = tmp_path / "p.yaml"
    proto.write_text(HEAD % rate + f"  - {step}\n", encoding="utf-8")
    runs = tmp_path / "runs"
    code = main(["run", str(proto), "--station", str(SIM_STATION), "--sim", "--out", str(runs)])
    err = capsys.readouterr().err
    assert code == 2
    assert fragment in err and "Traceback" not in err
    assert err.count("\n") == 1, err
    assert not runs.exists() or not any(runs.iterdir())


def test_tem_sequence_on_the_cell_station_is_refused_up_front(tmp_path, capsys):
    proto = ROOT / "examples" / "protocols" / "tem_sequence.yaml"
    runs = tmp_path / "runs"
    code = main(["run", str(proto), "--station", str(SIM_STATION), "--sim", "--out", str(runs)])
    err = capsys.readouterr().err
    assert code == 2 and "needs a bias_holder" in err and "needs a frame_source" in err
    assert not runs.exists()


@pytest.mark.parametrize("status", ["success", "stopped", "aborted", "tripped", "failed"])
def test_resume_refuses_a_run_that_ended(tmp_path, capsys, status):
    from protocols_fakes import FakeStation

    from daq.runfile import RunReader, RunWriter
    from daq.session import execute
    from protocols.loader import load_protocol_text

    text = "name: ended\nsteps: [{type: rest, end: [{time: 1 s}]}]\n"
    out = execute(load_protocol_text(text), text, FakeStation.full(), tmp_path / "r.h5",
                  detectors=False)  # fmt: skip
    writer = RunWriter.reopen(out.path)
    writer.close(status, "as the operator left it")
    code = main(["resume", str(out.path), "--station", str(SIM_STATION), "--sim"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, err
    assert f"the run is {status!r}; only an interrupted run can be resumed" in err
    with RunReader(out.path) as reader:
        assert reader.status == status
        assert list(reader.events()["kind"]).count("segment_start") == 1


def test_quiet_run_still_says_where_it_records_first(tmp_path, capsys):
    proto = tmp_path / "p.yaml"
    proto.write_text(HEAD % "2 Hz" + "  - {type: rest, end: [{time: 5 s}]}\n", encoding="utf-8")
    runs = tmp_path / "runs"
    code = main(["run", str(proto), "--station", str(SIM_STATION), "--sim", "--out", str(runs),
                 "--quiet"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    first = out.splitlines()[0]
    assert first.startswith("recording to: ") and first.endswith(".h5")
    assert Path(first.removeprefix("recording to: ")).exists()


EXAMPLES = sorted((ROOT / "examples" / "protocols").glob("*.yaml"))


@pytest.mark.parametrize("proto", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_every_example_protocol_validates_on_the_station_its_first_line_names(proto, capsys):
    first = proto.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# station: "), f"{proto.name}: first line must name its station"
    station = ROOT / first.removeprefix("# station: ").strip()
    assert station.exists(), station
    code = main(["validate", str(proto), "--station", str(station)])
    out = capsys.readouterr().out
    assert code == 0 and "problem" not in out, out


@pytest.mark.parametrize("out", ["a_file", "a_file/sub", "/proc/ssbench-nope"])
def test_unusable_out_folder_is_one_line(tmp_path, capsys, out):
    (tmp_path / "a_file").write_text("not a folder")
    proto = tmp_path / "p.yaml"
    proto.write_text(HEAD % "2 Hz" + "  - {type: rest, end: [{time: 5 s}]}\n", encoding="utf-8")
    target = out if out.startswith("/") else str(tmp_path / out)
    code = main(["run", str(proto), "--station", str(SIM_STATION), "--sim", "--out", target])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, err
    assert err.startswith(f"ssbench: error: --out {target}: ")
