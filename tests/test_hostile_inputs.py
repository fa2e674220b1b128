"""Issue 15: what a hostile user found — signals at start-up, bad fault scripts, deep nesting,
duplicate keys, absurd magnitudes, corrupted run files, a frozen sensor, internal errors."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from daq.cli import main
from daq.runfile import RunFileError, RunReader, RunWriter
from daq.station import parse_station_config
from daq.yamlconfig import MAX_NESTING, ConfigError
from protocols.errors import ProtocolError
from protocols.loader import load_protocol_text

ROOT = Path(__file__).resolve().parents[1]
SIM_STATION = (ROOT / "examples/stations/sim.yaml").read_text(encoding="utf-8")
REST = "name: r\nsample: {area: 1 cm2}\nsteps:\n  - {type: rest, end: [{time: %s}]}\n"


def _protocol_error(text: str) -> str:
    with pytest.raises(ProtocolError) as info:
        load_protocol_text(text, "p.yaml")
    return str(info.value)


def _station_error(text: str) -> str:
    with pytest.raises(ConfigError) as info:
        parse_station_config(text, "bench.yaml")
    return str(info.value)


# -- signals from the first line of main ----------------------------------------------------------

SIGNAL_EARLY = textwrap.dedent("""
    import os, signal, sys
    import protocols.loader as loader
    load = loader.load_protocol
    def load_after_a_signal(path):  # SIGTERM arrives while the command is starting
        os.kill(os.getpid(), signal.SIGTERM)
        return load(path)
    loader.load_protocol = load_after_a_signal
    from daq.cli import main
    sys.exit(main(["validate", sys.argv[1]]))
""")


def test_sigterm_while_a_command_starts_exits_cleanly_with_one_line(tmp_path):
    protocol = tmp_path / "p.yaml"
    protocol.write_text(REST % "1 s")
    done = subprocess.run([sys.executable, "-c", SIGNAL_EARLY, str(protocol)], capture_output=True,
                          text=True, timeout=120, cwd=ROOT)  # fmt: skip
    assert done.returncode == 128 + signal.SIGTERM
    assert done.stderr.strip() == "ssbench: terminated by SIGTERM"


SIGNAL_WHILE_PARSING = textwrap.dedent("""
    import os, signal, sys
    import daq.cli as cli
    build = cli.build_parser
    def build_after_a_signal():  # the signal lands while the subcommands load
        os.kill(os.getpid(), int(sys.argv[1]))
        return build()
    cli.build_parser = build_after_a_signal
    sys.exit(cli.main(["drivers"]))
""")


@pytest.mark.parametrize(("signum", "line"), [(signal.SIGINT, "ssbench: interrupted"),
                                              (signal.SIGTERM, "ssbench: terminated by SIGTERM")])  # fmt: skip
def test_a_signal_while_the_subcommands_load_is_one_line(signum, line):
    done = subprocess.run([sys.executable, "-c", SIGNAL_WHILE_PARSING, str(int(signum))],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)  # fmt: skip
    assert done.returncode == 128 + signum
    assert done.stderr.strip() == line


def test_main_restores_the_signal_handlers_it_installs():
    before = signal.getsignal(signal.SIGTERM)
    assert main(["drivers"]) == 0
    assert signal.getsignal(signal.SIGTERM) is before


# -- internal errors leave a log to send ----------------------------------------------------------


def test_an_internal_error_prints_one_line_and_logs_the_traceback_next_to_the_run(
    tmp_path, capsys, monkeypatch
):
    import daq.cli_info

    def broken(args):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(daq.cli_info, "_info", broken)
    run = tmp_path / "run.h5"
    run.write_bytes(b"")
    assert main(["info", str(run)]) == 3
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert err.startswith("ssbench: internal error: ZeroDivisionError: a bug (traceback in ")
    logs = list(tmp_path.glob("ssbench-error-*.log"))
    assert len(logs) == 1 and str(logs[0]) in err
    text = logs[0].read_text()
    assert "Traceback (most recent call last)" in text and "ZeroDivisionError: a bug" in text


# -- the simulation.faults section ----------------------------------------------------------------


def test_fault_scripts_are_validated_like_every_station_setting():
    faults = textwrap.indent(textwrap.dedent("""\
        faults:
          keithley2450:
            - {kind: explode}
            - {kind: timeout, match: "([", probability: 2}
            - {kind: slow, colour: red, times: lots, delay_s: -1}
            - {kind: timout}
          loadcel: []
    """), "  ")  # fmt: skip
    message = _station_error(SIM_STATION.replace("  seed: 1\n", "  seed: 1\n" + faults))
    lines = message.splitlines()
    where = "simulation.faults.keithley2450"
    assert f"bench.yaml:10: {where}.0.kind: unknown fault kind; kinds: slow, timeout" in lines[0]
    assert lines[0].endswith("(got 'explode')")
    assert lines[1].startswith(f"bench.yaml:11: {where}.1.match: not a valid regex")
    assert lines[2].startswith(f"bench.yaml:11: {where}.1.probability: fault probability must")
    assert lines[3].startswith(f"bench.yaml:12: {where}.2.colour: unknown fault field; known:")
    assert lines[4].startswith(f"bench.yaml:12: {where}.2.times: expected an integer")
    assert lines[5].startswith(f"bench.yaml:12: {where}.2.delay_s: expected a delay in s")
    assert "did you mean 'timeout'?" in lines[6]
    assert "simulation.faults.loadcel: unknown twin; did you mean 'loadcell'?" in lines[7]
    assert len(lines) == 8


# -- nesting, duplicate keys, absurd magnitudes ---------------------------------------------------


def _nested_loops(n: int) -> str:
    text, indent = "name: deep\nsample: {area: 1 cm2}\nsteps:\n", "  "
    for _ in range(n):
        text += f"{indent}- type: loop\n{indent}  count: 2\n{indent}  steps:\n"
        indent += "    "
    return text + f"{indent}- {{type: rest, end: [{{time: 1 s}}]}}\n"


def test_deep_nesting_is_one_line_with_file_and_line():
    assert _protocol_error(_nested_loops(300)) == (
        f"p.yaml:{3 + 3 * (MAX_NESTING // 2 - 1) + 1}: mappings and lists nested deeper than "
        f"{MAX_NESTING} levels (the limit)"
    )
    brackets = "name: x\nsteps: " + "[" * 5000 + "]" * 5000 + "\n"
    assert _protocol_error(brackets).startswith("p.yaml:2: mappings and lists nested deeper")
    assert _station_error("name: x\ninstruments: " + "{a: " * 3000 + "1" + "}" * 3000).startswith(
        "bench.yaml:2: mappings and lists nested deeper"
    )
    load_protocol_text(_nested_loops(40))  # a deep but sane protocol still loads


def test_duplicate_keys_are_refused_not_silently_overwritten():
    assert _protocol_error("name: a\nname: b\nsteps: []\n") == (
        "p.yaml:2: duplicate key 'name' (first given at line 1)"
    )
    message = _station_error(SIM_STATION.replace("  seed: 1\n", "  seed: 1\n  seed: 2\n"))
    assert message == "bench.yaml:8: duplicate key 'seed' (first given at line 7)"


@pytest.mark.parametrize("duration", ["1e300 s", "11 years", "1e9 h"])
def test_durations_beyond_ten_years_are_refused_naming_the_limit(duration):
    message = _protocol_error(REST % duration)
    assert (
        message == f"p.yaml:4: steps[0].end[0].time: {duration!r} is beyond the limit of 10 years"
    )


def test_a_long_but_sane_duration_is_accepted():
    load_protocol_text(REST % "9 years")


# -- corrupted run files --------------------------------------------------------------------------


def _small_run(path: Path) -> bytes:
    with RunWriter(path, {"electro": {"voltage": "V"}}, sample={"area_m2": 1e-4}) as writer:
        writer.append("electro", {"time": np.arange(10.0), "voltage": 0.01})
    return path.read_bytes()


def test_a_corrupted_run_file_is_reported_corrupt_never_an_internal_error(tmp_path, capsys):
    path = tmp_path / "run.h5"
    data = _small_run(path)
    assert data.count(b"success") == 1
    path.write_bytes(data.replace(b"success", b"\xff\xfe\xfd\xfc\xfb\xfa\xf9"))  # not UTF-8
    with (
        RunReader(path) as reader,
        pytest.raises(RunFileError, match="corrupt run file: exit status"),
    ):
        reader.status  # noqa: B018 - the read is the test
    assert main(["info", str(path)]) == 2
    err = capsys.readouterr().err
    assert "corrupt run file" in err and "internal error" not in err


# -- a frozen sensor ends the settle wait at once -------------------------------------------------


def test_a_frozen_load_cell_ends_the_settle_wait_at_once_with_the_reason(tmp_path, capsys):
    station = tmp_path / "station.yaml"
    freeze = "  faults:\n    loadcell: [{kind: stuck, match: '\\?C', skip: 30, times: -1}]\n"
    station.write_text(SIM_STATION.replace("  seed: 1\n", "  seed: 1\n" + freeze))
    protocol = tmp_path / "p.yaml"
    protocol.write_text("name: settle\nsample: {area: 1 cm2}\nsteps:\n"
                        "  - {type: set_pressure, pressure: 5 MPa, timeout: 10 min}\n")  # fmt: skip
    out = tmp_path / "runs"
    code = main(["run", str(protocol), "--station", str(station), "--out", str(out), "--quiet"])
    assert code == 1
    assert "frozen for" in capsys.readouterr().out
    (path,) = out.glob("*.h5")
    with RunReader(path) as reader:
        assert reader.status == "failed" and "frozen for" in reader.exit_reason
        end = reader.events().query("kind == 'run_end'")["time"].iloc[0]
    assert end < 60.0  # not the 600 s settle timeout


# -- driver settings: one schema for the station check and the driver ------------------------------


def test_zero_stiffness_is_refused_naming_the_limit():
    message = _station_error(SIM_STATION.replace("stiffness: 10 N/um", "stiffness: 0 N/um"))
    assert message.endswith(
        "instruments.press.settings.stiffness: must be greater than 0 N/m (got '0 N/um')"
    )


@pytest.mark.parametrize(("retries", "problem"), [(50, "above the instrument's maximum 10"),
                                                  (0, "below the allowed minimum 1")])  # fmt: skip
def test_the_2450_retries_are_checked_alike_by_the_station_check_and_the_driver(retries, problem):
    from drivers.keithley2450 import SETTINGS
    from drivers.settings import parse_settings

    text = SIM_STATION.replace(
        "voltage_limit: 5 V", f"voltage_limit: 5 V\n      retries: {retries}"
    )
    assert f"instruments.cell.settings.retries: {problem} (got {retries})" in _station_error(text)
    with pytest.raises(ValueError, match=f"cell.retries: {problem}"):
        parse_settings("cell", SETTINGS, {"retries": retries})


def test_a_compliance_above_the_station_maximum_is_refused_by_the_station_check_too():
    text = SIM_STATION.replace("voltage_limit: 5 V", "voltage_limit: 5 V\n      max_voltage: 3 V")
    assert "instruments.cell.settings.voltage_limit: above max_voltage (3 V)" in _station_error(
        text
    )


# -- run start-up: range checks, the "recording to" line, a signal before the engine runs ----------

BIG = """name: big
sample: {area: 1 cm2}
steps:
  - {type: galvanostatic, current: 1e30 A, voltage_limit: 2 V, end: [{time: 1 s}]}
"""


def test_setpoints_beyond_the_instruments_range_are_refused_before_any_file(tmp_path, capsys):
    protocol = tmp_path / "big.yaml"
    protocol.write_text(BIG)
    station = str(ROOT / "examples/stations/sim.yaml")
    assert main(["validate", str(protocol), "--station", station]) == 1
    assert "current 1e+33 mA is beyond the 'cell' range 1050 mA" in capsys.readouterr().out
    out = tmp_path / "runs"
    assert main(["run", str(protocol), "--station", station, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "beyond the 'cell' range 1050 mA (not started)" in err
    assert not out.exists() or not list(out.iterdir())


def test_no_recording_to_line_for_a_run_file_that_is_never_made(tmp_path, capsys):
    station = tmp_path / "station.yaml"
    fault = "  faults:\n    actuator: [{kind: error, match: deviceid, times: -1}]\n"
    station.write_text(SIM_STATION.replace("  seed: 1\n", "  seed: 1\n" + fault))
    protocol = tmp_path / "p.yaml"
    protocol.write_text(REST % "1 s")
    out = tmp_path / "runs"
    assert main(["run", str(protocol), "--station", str(station), "--out", str(out)]) == 2
    captured = capsys.readouterr()
    assert "recording to" not in captured.out
    assert "press.actuator: instrument error" in captured.err
    assert list(out.glob("*.h5")) == []


SIGNAL_IN_STARTUP = textwrap.dedent("""
    import os, signal, sys
    import daq.session as session
    def detectors_after_a_signal(protocol):  # SIGTERM once the file exists, before the engine
        os.kill(os.getpid(), signal.SIGTERM)
        return []
    session.live_detectors = detectors_after_a_signal
    from daq.cli import main
    sys.exit(main(sys.argv[1:]))
""")


def test_sigterm_between_file_and_engine_closes_the_file_aborted_with_the_reason(tmp_path):
    protocol = tmp_path / "p.yaml"
    protocol.write_text(REST % "1 s")
    out = tmp_path / "runs"
    argv = ["run", str(protocol), "--station", str(ROOT / "examples/stations/sim.yaml"),
            "--out", str(out), "--quiet"]  # fmt: skip
    done = subprocess.run([sys.executable, "-c", SIGNAL_IN_STARTUP, *argv], capture_output=True,
                          text=True, timeout=180, cwd=ROOT)  # fmt: skip
    assert done.returncode == 128 + signal.SIGTERM, done.stderr
    assert done.stderr.strip().splitlines()[-1] == "ssbench: terminated by SIGTERM"
    assert "Traceback" not in done.stderr
    (path,) = out.glob("*.h5")
    with RunReader(path) as reader:
        assert reader.status == "aborted"
        assert reader.exit_reason == "terminated by SIGTERM before the engine started"


def test_counts_beyond_ten_million_and_huge_names_are_refused_naming_the_limit():
    loop = ("name: %s\nsample: {area: 1 cm2}\nsteps:\n  - type: loop\n    count: %s\n"
            "    steps:\n      - {type: rest, end: [{time: 1 s}]}\n")  # fmt: skip
    assert _protocol_error(loop % ("x", "10000000000")) == (
        "p.yaml:5: steps[0].count: Input should be less than or equal to 10000000 (got 10000000000)"
    )
    message = _protocol_error(loop % ("x" * 2_000_000, "3"))
    assert message.startswith("p.yaml:1: name: String should have at most 200 characters (got 'xx")
    assert message.endswith("… (2000000 characters))") and len(message) < 300
    load_protocol_text(loop % ("x", "10000000"))
