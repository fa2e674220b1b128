"""Helpers for tests that drive `ssbench run` in a child process: wait on what the run
records (its own events and samples in the SWMR run file), never on wall-clock sleeps."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from daq.runfile import RunFileError, RunReader


def _recorded(path: Path, kind: str, electro: bool, count: int) -> bool:
    try:
        with RunReader(path) as reader:
            if list(reader.events()["kind"]).count(kind) < count:
                return False
            return not electro or len(reader.stream("electro")) > 0
    except (OSError, KeyError, RunFileError):  # not yet readable, or no stream yet
        return False


def wait_for_recording(
    runs: Path, child: subprocess.Popen, kind: str = "step_start", electro: bool = True,
    timeout: float = 90.0, count: int = 1,
) -> Path:  # fmt: skip
    """The run file in ``runs`` once the engine logged ``kind`` (``count`` times; and, with
    ``electro``, has electro samples on disk); the child must stay alive meanwhile."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert child.poll() is None, child.communicate()
        for path in runs.glob("*.h5"):
            if _recorded(path, kind, electro, count):
                return path
        time.sleep(0.1)
    raise AssertionError(f"no run file with {count} {kind!r} event(s) in {runs} after {timeout} s")
