"""Folder-watcher frame source on real TIFF/PNG files written by the simulated camera."""

from __future__ import annotations

import contextlib
import os
from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from daq.clock import VirtualClock
from drivers.errors import InstrumentError
from drivers.frames import parse_metadata_time
from drivers.registry import open_driver
from sim_instruments.camera import SimCameraExporter
from sim_instruments.world import SimConfig, SimWorld


@pytest.fixture
def world():
    return SimWorld(VirtualClock(), SimConfig(seed=5))


def open_frames(folder, clock, **settings):
    source = open_driver("folder_frames", "cam", str(folder), settings, clock)
    source.start()
    return source


def poll_twice(source):
    """Files are taken once their size was stable across two polls."""
    return source.poll() + source.poll()


@pytest.mark.parametrize("fmt", ["tiff", "png"])
def test_frames_carry_their_acquisition_time_from_metadata(tmp_path, world, fmt):
    camera = SimCameraExporter(world, tmp_path, fmt=fmt)
    source = open_frames(tmp_path, world.clock)
    times = []
    for _ in range(3):
        world.clock.advance(2.5)
        camera.capture()
        times.append(world.clock.now())
    frames = poll_twice(source)
    assert [f.time for f in frames] == pytest.approx(times, abs=1e-6)
    assert frames[0].image.dtype.kind == "u" and frames[0].image.ndim == 2
    assert source.frame_shape == frames[0].image.shape
    assert poll_twice(source) == []


def test_name_pattern_timestamps(tmp_path, world):
    camera = SimCameraExporter(world, tmp_path)
    source = open_frames(tmp_path, world.clock, timestamp="name")
    world.clock.advance(7.25)
    camera.capture()
    (frame,) = poll_twice(source)
    assert frame.time == pytest.approx(7.25, abs=1e-6)


def test_seconds_group_in_name_and_mtime(tmp_path, world):
    camera = SimCameraExporter(world, tmp_path)
    path = camera.capture()
    renamed = path.with_name("capture_t12.5s.tif")
    os.replace(path, renamed)
    source = open_frames(tmp_path, world.clock, timestamp="name",
                         name_regex=r"_t(?P<t>[\d.]+)s\.", include_existing=True)  # fmt: skip
    (frame,) = poll_twice(source)
    assert frame.time == pytest.approx(12.5)
    utc = world.clock.utc(30.0).timestamp()
    os.utime(renamed, (utc, utc))
    by_mtime = open_frames(tmp_path, world.clock, timestamp="mtime", include_existing=True)
    (frame,) = poll_twice(by_mtime)
    assert frame.time == pytest.approx(30.0, abs=1e-3)


def test_files_present_before_start_are_ignored_unless_asked(tmp_path, world):
    camera = SimCameraExporter(world, tmp_path)
    camera.capture()
    assert poll_twice(open_frames(tmp_path, world.clock)) == []
    assert len(poll_twice(open_frames(tmp_path, world.clock, include_existing=True))) == 1


def test_growing_file_is_taken_only_when_complete(tmp_path, world):
    camera = SimCameraExporter(world, tmp_path)
    source = open_frames(tmp_path, world.clock)
    data = camera.capture().read_bytes()
    target = next(tmp_path.glob("*.tif"))
    target.write_bytes(data[: len(data) // 2])
    assert source.poll() == []
    target.write_bytes(data)
    assert source.poll() == []  # size changed since the last poll: wait once more
    assert len(source.poll()) == 1


def test_truncated_export_is_skipped_loudly_and_others_still_arrive(tmp_path, world, caplog):
    camera = SimCameraExporter(world, tmp_path)
    source = open_frames(tmp_path, world.clock, max_attempts=2)
    bad = camera.write_partial(0.3)
    world.clock.advance(1.0)
    camera.capture()
    frames = source.poll() + source.poll() + source.poll()
    assert len(frames) == 1
    assert source.skipped == [bad]
    assert "skipping unreadable frame" in caplog.text


def test_frame_shape_unknown_before_the_first_frame(tmp_path, world):
    source = open_frames(tmp_path, world.clock)
    with pytest.raises(InstrumentError, match="frame shape"):
        _ = source.frame_shape


def test_bad_configuration_is_refused(tmp_path, world):
    with pytest.raises(InstrumentError, match="does not exist"):
        open_frames(tmp_path / "nope", world.clock)
    with pytest.raises(ValueError, match="timestamp"):
        open_frames(tmp_path, world.clock, timestamp="exif")
    with pytest.raises(ValueError, match="named group"):
        open_frames(tmp_path, world.clock, timestamp="name", name_regex=r"\d+")
    with pytest.raises(ValueError, match="unknown setting"):
        open_frames(tmp_path, world.clock, pattern="*.tif")


def test_camera_thread_exports_on_the_virtual_clock(tmp_path, world):
    camera = SimCameraExporter(world, tmp_path, period_s=2.0)
    source = open_frames(tmp_path, world.clock)
    with world.clock.participant():
        camera.start()
        world.clock.sleep(9.0)
        camera.stop()
    frames = poll_twice(source)
    assert [round(f.time) for f in frames] == [0, 2, 4, 6, 8][: len(frames)]
    assert len(frames) == 5


@given(st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1)))
def test_parse_metadata_time_round_trips(value):
    text = value.strftime("%Y:%m:%d %H:%M:%S")
    assert parse_metadata_time(text, f"{value.microsecond:06d}") == value
    assert parse_metadata_time(f"{text}.{value.microsecond:06d}") == value


@given(st.text(max_size=25))
def test_parse_metadata_time_only_raises_value_error(text):
    with contextlib.suppress(ValueError):
        parse_metadata_time(text)
