"""docs/simulator.md carries the generated preset and calibration tables, all targets met."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim_instruments import calibration as cal

DOC = Path(__file__).resolve().parents[1] / "docs" / "simulator.md"


def block(name: str) -> str:
    text = DOC.read_text()
    begin = f"<!-- {name}:begin {cal.GENERATED} -->"
    return text.split(begin, 1)[1].split(f"<!-- {name}:end -->", 1)[0].strip()


def test_preset_table_in_the_docs_is_current():
    assert block("presets") == cal.preset_table()


def test_calibration_table_in_the_docs_meets_every_target():
    rows = [line for line in block("calibration-table").splitlines() if line.startswith("| ")]
    assert len(rows) > 20
    assert all(line.rstrip().endswith("| yes |") for line in rows[1:])


def test_replace_block_refuses_a_document_without_markers():
    with pytest.raises(SystemExit, match="markers"):
        cal.replace_block("no markers here", "presets", "x")
