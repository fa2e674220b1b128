"""Event log cost: typed events with their data in its own field (run-file format 2) against
the old way measured in the same run (data packed as JSON into the message, decoded by hand).

Prints figures; asserts no timing. Writing is dominated by the flush every event gets (an event
must survive a crash right after it); reading is one ``RunReader.events()`` call.

    python bench/bench_events.py [--events 3000]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from daq.runfile import RunReader, RunWriter

#: what a step_end carries: the track's program state (the largest routine event)
DATA = {"track": "main", "path": "steps[0].steps[3]", "criterion": "time", "at": 60.0,
        "action": "next", "state": {"pc": 4, "loops": {"3": 2}, "cycle": 7}}  # fmt: skip
TEXT = "main: galvanostatic ended by time: next"


def write(path: Path, n: int, packed: bool) -> float:
    """Microseconds per event written (``packed``: data JSON inside the message, as before)."""
    with RunWriter(path, {"electro": {"voltage": "V"}}) as writer:
        t0 = time.perf_counter()
        for k in range(n):
            if packed:
                writer.event(float(k), "step_end", json.dumps({"text": TEXT, **DATA}), k)
            else:
                writer.event(float(k), "step_end", TEXT, k, DATA)
        return (time.perf_counter() - t0) / n * 1e6


def read(path: Path, packed: bool, repeats: int = 5) -> float:
    """Microseconds per event to get text and data (best of ``repeats``)."""
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        with RunReader(path) as run:
            events = run.events()
        if packed:  # what five modules did by hand before format 2
            decoded = [json.loads(m) for m in events["message"]]
            pairs = [(d.pop("text"), d) for d in decoded]
        else:
            pairs = list(zip(events["message"], events["data"], strict=True))
        best = min(best, time.perf_counter() - t0)
    assert pairs[0][1] == DATA
    return best / len(events) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=3000)
    n = parser.parse_args().events
    with tempfile.TemporaryDirectory() as tmp:
        old, new = Path(tmp, "packed.h5"), Path(tmp, "typed.h5")
        w_old, w_new = write(old, n, True), write(new, n, False)
        r_old, r_new = read(old, True), read(new, False)
        size_old, size_new = old.stat().st_size / 1024, new.stat().st_size / 1024
    print(f"{n} step_end events")
    print(f"  write  packed {w_old:7.0f} us/event   typed {w_new:7.0f} us/event")
    print(f"  read   packed {r_old:7.1f} us/event   typed {r_new:7.1f} us/event (text + data)")
    print(f"  file   packed {size_old:7.0f} KiB        typed {size_new:7.0f} KiB")


if __name__ == "__main__":
    main()
