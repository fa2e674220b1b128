"""The adversarial harness's short profile (bench/soak.py): hostile inputs on CI.

The long profile (kills, signals, the whole fault matrix, hundreds of inputs) is
``python bench/soak.py``; its figures go in the notes."""

from __future__ import annotations

import importlib.util
import random
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("soak", ROOT / "bench/soak.py")
soak = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(soak)


def test_mutated_and_generated_inputs_never_give_an_internal_error_or_hang(tmp_path):
    result = soak.fuzz(soak.PROFILES["short"]["fuzz"], random.Random(15), tmp_path)
    assert result["tried"] == soak.PROFILES["short"]["fuzz"]
    assert result["failed"] == [], "\n".join(result["failed"])
    assert set(result["by_kind"]) >= {"protocol", "station", "yaml"}


def test_the_sandbox_cuts_off_a_command_that_hangs_and_keeps_working(tmp_path):
    """A hang is a finding (None), not a stuck harness: the child is replaced."""
    box = soak.Sandbox(timeout=10.0)
    try:
        station = str(ROOT / "examples/stations/sim.yaml")
        assert box.run(["sim", "serve", "--station", station]) == (None, "")  # serves forever
        code, err = box.run(["info", str(tmp_path / "missing.h5")])
        assert code == 2 and "no such file" in err
    finally:
        box.close()
