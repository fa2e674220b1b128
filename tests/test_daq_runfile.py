"""Run files: layout, round trip, SWMR concurrent reading, crash safety, bad files."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from daq.runfile import FORMAT_VERSION, RunFileError, RunReader, RunWriter

STREAMS = {"electro": {"voltage": "V", "current": "A", "step": "", "cycle": ""}}


def _rows(n, start=0.0):
    t = start + np.arange(n, dtype=float)
    return {"time": t, "voltage": np.sin(t), "current": np.full(n, -1e-4), "step": 1, "cycle": 2}


def test_round_trip_with_metadata_units_events_and_frames(tmp_path):
    path = tmp_path / "run.h5"
    with RunWriter(
        path,
        STREAMS,
        sample={"area_m2": 1e-4, "electrolyte": "LLZO", "electrodes": ["Li", "Li"]},
        station={"cell": {"driver": "keithley2450", "identity": "KEITHLEY,2450,1,1.0"}},
        protocol_text="name: x\n",
        protocol_json='{"name": "x"}',
        protocol_sha256="ab" * 32,
        frame_sources={"tem": (4, 6)},
    ) as writer:
        writer.append("electro", _rows(25_000))
        writer.event(3.0, "step_start", "galvanostatic -0.1 mA/cm2", step=1)
        writer.add_frame("tem", 1.5, np.arange(24, dtype=np.uint16).reshape(4, 6))
    with RunReader(path) as run:
        assert run.status == "success"
        assert run.format_version == FORMAT_VERSION
        df = run.stream("electro")
        assert list(df.columns) == ["time", "voltage", "current", "step", "cycle"]
        assert len(df) == 25_000
        np.testing.assert_allclose(df["voltage"], np.sin(np.arange(25_000.0)))
        assert df["step"].dtype == np.int64
        assert df.attrs["units"]["voltage"] == "V" and df.attrs["units"]["time"] == "s"
        assert run.sample["electrodes"] == ["Li", "Li"]
        assert run.station["cell"]["identity"].startswith("KEITHLEY")
        assert run.protocol["source"] == "name: x\n"
        events = run.events()
        assert events.loc[0, "kind"] == "step_start" and events.loc[0, "step"] == 1
        times, images = run.frames("tem")
        assert times.tolist() == [1.5] and images.shape == (1, 4, 6)


def test_append_rejects_wrong_fields_and_closed_file(tmp_path):
    writer = RunWriter(tmp_path / "r.h5", STREAMS)
    with pytest.raises(RunFileError, match="missing"):
        writer.append("electro", {"time": [0.0], "voltage": [1.0]})
    with pytest.raises(RunFileError, match="no stream 'pressure'"):
        writer.append("pressure", {"time": [0.0]})
    writer.close("stopped", "operator stop")
    with pytest.raises(RunFileError, match="closed"):
        writer.append("electro", _rows(1))
    with RunReader(tmp_path / "r.h5") as run:
        assert (run.status, run.exit_reason) == ("stopped", "operator stop")


def test_refuses_to_overwrite(tmp_path):
    path = tmp_path / "r.h5"
    RunWriter(path, STREAMS).close()
    with pytest.raises(RunFileError, match="refusing to overwrite"):
        RunWriter(path, STREAMS)


def test_exception_in_context_marks_run_failed(tmp_path):
    path = tmp_path / "r.h5"
    with pytest.raises(ZeroDivisionError), RunWriter(path, STREAMS) as writer:
        writer.append("electro", _rows(10))
        _ = 1 / 0
    with RunReader(path) as run:
        assert run.status == "failed" and "ZeroDivisionError" in run.exit_reason
        assert run.stream_length("electro") == 10


WRITER_SCRIPT = textwrap.dedent(
    """
    import sys, time
    import numpy as np
    from daq.runfile import RunWriter
    w = RunWriter(sys.argv[1], {"electro": {"voltage": "V", "current": "A", "step": "", "cycle": ""}},
                  flush_period=0.1)
    n = 0
    while True:
        t = n + np.arange(100, dtype=float)
        w.append("electro", {"time": t, "voltage": t, "current": 0.0, "step": 0, "cycle": 0})
        n += 100
        if n == 5000:
            w.event(float(n), "decision", "5000 rows appended")
            print("flushed", flush=True)
        time.sleep(0.001)
    """
)


def _start_writer(path: Path) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER_SCRIPT, str(path)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert proc.stdout.readline().strip() == "flushed"
    return proc


def test_concurrent_reader_sees_live_data(tmp_path):
    path = tmp_path / "live.h5"
    proc = _start_writer(path)
    try:
        with RunReader(path) as run:
            assert run.status == "running"
            first = run.stream_length("electro")
            assert first >= 5000
            deadline = time.monotonic() + 20
            while run.stream_length("electro") <= first and time.monotonic() < deadline:
                time.sleep(0.05)
                run.refresh()
            assert run.stream_length("electro") > first
            df = run.stream("electro")
            np.testing.assert_array_equal(df["voltage"], df["time"])
    finally:
        proc.kill()
        proc.wait()


def test_sigkill_leaves_readable_interrupted_file(tmp_path):
    path = tmp_path / "killed.h5"
    proc = _start_writer(path)
    time.sleep(0.5)  # several flush periods past the marker
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    with RunReader(path) as run:
        assert run.status == "interrupted"
        n = run.stream_length("electro")
        assert n >= 5000
        df = run.stream("electro")
        np.testing.assert_array_equal(df["time"], np.arange(n, dtype=float))
        assert "decision" in run.events()["kind"].tolist()
    writer = RunWriter.reopen(path)
    writer.event(float(n), "segment_start", "resumed after interruption")
    writer.append("electro", {**_rows(10, start=float(n))})
    writer.close("success")
    with RunReader(path) as run:
        assert run.status == "success"
        assert run.stream_length("electro") == n + 10


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"this is not hdf5 at all", "not a readable HDF5 run file"),
        (b"", "not a readable HDF5 run file"),
    ],
)
def test_bad_files_get_one_line_errors(tmp_path, content, fragment):
    path = tmp_path / "bad.h5"
    path.write_bytes(content)
    with pytest.raises(RunFileError, match=fragment) as err:
        RunReader(path)
    assert "\n" not in str(err.value)


def test_truncated_file_is_refused(tmp_path):
    good = tmp_path / "good.h5"
    with RunWriter(good, STREAMS) as writer:
        writer.append("electro", _rows(50_000))
    data = good.read_bytes()
    bad = tmp_path / "truncated.h5"
    bad.write_bytes(data[: len(data) // 3])
    with pytest.raises(RunFileError), RunReader(bad) as run:
        run.stream("electro")


def test_unknown_format_version_and_foreign_hdf5(tmp_path):
    path = tmp_path / "v99.h5"
    RunWriter(path, STREAMS).close()
    with h5py.File(path, "r+") as f:
        f.attrs["format_version"] = 99
    with pytest.raises(RunFileError, match="version 99 is not supported"):
        RunReader(path)
    foreign = tmp_path / "foreign.h5"
    with h5py.File(foreign, "w") as f:
        f["x"] = 1
    with pytest.raises(RunFileError, match="not an ssbench run file"):
        RunReader(foreign)
