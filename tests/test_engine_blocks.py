"""Block mode on a virtual clock (protocols/blocks.py): fewer cycles, the same run.

A tick-by-tick run (``Engine(blocks=False)``) and a block-mode run of the same protocol on the
same seed must record the same samples and end their steps at the same samples; a limit
crossing the trend could not foresee trips at the crossing sample's time with the same data.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pytest
from protocols_fakes import FakeCell, FakePotentiostat, FakeStation
from protocols_helpers import HEAD, run_yaml

from analysis.detect import ShortDetector
from daq.clock import VirtualClock
from protocols.blocks import EVENT_BLOCK_S, MAX_BLOCK_S, Trend, condition_reach, sample_horizon
from protocols.model import Limits
from protocols.steps.base import EndCondition

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _pot_station(cell: FakeCell) -> FakeStation:
    clock = VirtualClock()
    return FakeStation(clock, FakePotentiostat(clock, cell))


def _jump(at: float, to: float):
    """A cell whose |V| jumps to ``to`` at run time ``at`` (a sudden event no trend foresees)."""

    def script(t, v, i):
        return np.where(t >= at, np.sign(v) * to, v), i

    return script


GALV = """\
sampling: {rate: 1 Hz}
steps:
  - {type: rest, end: [{time: 30 s}]}
  - {type: galvanostatic, current: 1 mA, end: [{time: 300 s}]}
"""


def test_a_crossing_mid_block_trips_at_its_sample_with_the_same_data_as_tick_by_tick():
    runs = {}
    for blocks in (False, True):
        station = _pot_station(FakeCell(resistance=100.0, script=_jump(137.0, 2.5)))
        result, col, _ = run_yaml(GALV, station, blocks=blocks)
        fetches = sum(1 for name, _ in station.potentiostat.calls if name == "fetch")
        runs[blocks] = (result, col.stream("electro"), fetches, station.potentiostat.off_times)
    (tick, tick_e, tick_n, _), (block, block_e, block_n, block_off) = runs[False], runs[True]
    assert tick.status == block.status == "tripped"
    assert block.trip == tick.trip and block.trip.time == pytest.approx(137.0)
    assert set(block_e) == set(tick_e)
    for key in tick_e:
        np.testing.assert_array_equal(block_e[key], tick_e[key], err_msg=key)
    assert block_e["time"][-1] == pytest.approx(137.0)  # nothing recorded past the crossing
    assert block_n * 10 < tick_n  # the point of it: far fewer round trips
    assert block_off[0] - 137.0 <= MAX_BLOCK_S  # acted on within one block


def test_block_mode_ends_a_capacity_step_and_a_voltage_cut_off_at_the_tick_runs_samples():
    body = """\
    sampling: {rate: 2 Hz}
    steps:
      - {type: rest, end: [{time: 20 s}]}
      - {type: galvanostatic, current: 1 mA, end: [{capacity: 0.05 mAh/cm2}]}
      - {type: galvanostatic, current: -1 mA, end: [{voltage_below: -0.25 V}, {time: 1 h}]}
      - {type: rest, end: [{time: 15 s}]}
    """

    def ramp(t, v, i):  # the second galvanostatic step's |V| grows steadily: a foreseeable end
        return np.where(v < 0, v - 1e-3 * (t - 200.0).clip(0), v), i

    runs = {}
    for blocks in (False, True):
        station = _pot_station(FakeCell(resistance=100.0, script=ramp))
        runs[blocks] = run_yaml(body, station, blocks=blocks)
    (tick, tick_c, _), (block, block_c, _) = runs[False], runs[True]
    assert tick.status == block.status == "success"
    ends = [
        [(e.step, e.data.get("at"), e.time) for e in c.kinds("step_end")] for c in (tick_c, block_c)
    ]
    assert ends[0] == ends[1]
    for key, col in tick_c.stream("electro").items():
        np.testing.assert_array_equal(block_c.stream("electro")[key], col, err_msg=key)


def _cli_both_ways(tmp_path, monkeypatch, station: str, protocol: str,
                   modes: tuple[bool, ...] = (False, True)) -> dict:  # fmt: skip
    """Run ``protocol`` on ``station`` through ``ssbench run --sim``, tick by tick and in
    blocks: per mode the electro stream, the step ends and the 2450 fetches made."""
    import daq.session
    from daq.cli import main
    from daq.runfile import RunReader
    from drivers.keithley2450 import Keithley2450
    from protocols.engine import Engine

    (tmp_path / "station.yaml").write_text(station)
    (tmp_path / "p.yaml").write_text(protocol)
    fetch, fetches = Keithley2450.fetch, []

    def counted(self):
        fetches.append(1)
        return fetch(self)

    monkeypatch.setattr(Keithley2450, "fetch", counted)
    out = {}
    for blocks in modes:
        fetches.clear()
        monkeypatch.setattr(daq.session, "Engine", functools.partial(Engine, blocks=blocks))
        runs = tmp_path / f"runs{blocks}"
        main(["run", str(tmp_path / "p.yaml"), "--station", str(tmp_path / "station.yaml"),
              "--sim", "--out", str(runs), "--quiet"])  # fmt: skip
        (path,) = runs.glob("*.h5")
        with RunReader(path) as reader:
            electro = reader.stream("electro")
            events = reader.events()
        ends = events[events["kind"] == "step_end"][["step", "time", "message"]].values.tolist()
        data = {k: np.asarray(electro[k]) for k in ("time", "voltage", "current")}
        out[blocks] = (data, ends, len(fetches))
    return out


def _assert_same_run(out: dict) -> None:
    (tick, tick_ends, _), (block, block_ends, _) = out[False], out[True]
    assert block_ends == tick_ends
    assert len(tick["time"]) > 100
    for key in tick:
        np.testing.assert_array_equal(block[key], tick[key], err_msg=key)


def test_the_2450_twin_reads_the_same_cell_tick_by_tick_and_in_blocks(tmp_path, monkeypatch):
    """End to end: 2450 twin over TCP -> VISA driver -> engine -> run file, one seed."""
    station = (
        "name: pot\nsimulation: {preset: llzo, seed: 3}\ninstruments:\n  cell:\n"
        "    driver: keithley2450\n    resource: sim://keithley2450\n"
        "    settings: {voltage_limit: 5 V}\n"
    )
    protocol = (
        HEAD + "sampling: {rate: 1 Hz}\nrecord: {every: 5 s, dv: 0.5 mV}\nsteps:\n"
        "  - {type: rest, end: [{time: 1 min}]}\n"
        "  - {type: galvanostatic, current_density: 0.5 mA/cm2, end: [{capacity: 0.02 mAh/cm2}]}\n"
        "  - {type: rest, end: [{time: 2 min}]}\n"
        "  - {type: galvanostatic, current_density: -0.5 mA/cm2, end: [{time: 10 min}]}\n"
    )
    _assert_same_run(_cli_both_ways(tmp_path, monkeypatch, station, protocol))


def test_a_step_ending_on_the_detectors_short_ends_at_the_tick_runs_sample():
    """The live short detector calls a hard short only once |V| has stayed collapsed for its
    hold time, and says how long it stays quiet (``quiet_for``): blocks end there, so the step
    ends on the short at the tick-by-tick sample with the same data, in far fewer fetches
    than the 1-s blocks used for calls that come without warning (``EVENT_BLOCK_S``)."""
    body = """\
    sampling: {rate: 2 Hz}
    steps:
      - {type: rest, end: [{time: 20 s}]}
      - {type: galvanostatic, current: 1 mA, end: [{event: short}, {time: 2 h}]}
      - {type: rest, end: [{time: 15 s}]}
    """
    runs = {}
    for blocks in (False, True):
        station = _pot_station(FakeCell(resistance=100.0, script=_jump(1234.3, 1e-4)))
        result, col, _ = run_yaml(body, station, detectors=[ShortDetector()], blocks=blocks)
        fetches = sum(1 for name, _ in station.potentiostat.calls if name == "fetch")
        ends = [(e.step, e.data.get("at"), e.time) for e in col.kinds("step_end")]
        runs[blocks] = (result, col.stream("electro"), ends, fetches)
    (tick, tick_e, tick_ends, tick_n), (block, block_e, block_ends, block_n) = (
        runs[False],
        runs[True],
    )
    assert tick.status == block.status == "success"
    assert block_ends == tick_ends
    assert 1234.3 + 60.0 <= tick_ends[1][2] < 1234.3 + 61.0  # ended on the call, not the time
    for key in tick_e:
        np.testing.assert_array_equal(block_e[key], tick_e[key], err_msg=key)
    assert block_n < tick_ends[-1][2] / (5 * EVENT_BLOCK_S) < tick_n


def test_the_sulfide_twin_ccd_ramp_ends_on_its_short_as_tick_by_tick(tmp_path, monkeypatch):
    """End to end on the sulfide twin (2450 + pressure rig; welds at ~32 min at 0.1 mA/cm2 and
    1 MPa): the ramp stops on the detector's short at the tick-by-tick sample with the same
    data, fetching the 2450 in long blocks. The rig's reads advance the shared world between
    the 2450's readings; the world steps to each scheduled reading all the same
    (``SimWorld.add_reading_schedule``), else the two runs' cells drift apart."""
    station = (EXAMPLES / "stations" / "sim_lpscl.yaml").read_text()
    protocol = """\
name: short
sample: {area: 1 cm2, electrolyte: Li6PS5Cl, electrodes: Li|LPSCl|Li}
sampling: {rate: 10 Hz, slow_rate: 0.5 Hz}
record: {every: 1 s, dv: 1 mV}
limits: {voltage: {min: -2 V, max: 2 V}}
steps:
  - {type: set_pressure, pressure: 1 MPa}
  - {type: ccd_ramp, start: 0.1 mA/cm2, increment: 0.1 mA/cm2, maximum: 1 mA/cm2,
     half_cycle_time: 30 min, polarization_limit: 1 V}
"""
    out = _cli_both_ways(tmp_path, monkeypatch, station, protocol)
    _assert_same_run(out)
    data, ends, fetches = out[True]
    assert ends[-1][2].endswith("ended by event: stop")  # the short, the ramp's only event end
    assert 1800.0 < ends[-1][1] < 3600.0
    assert fetches < data["time"][-1] / (5 * EVENT_BLOCK_S) < out[False][2]


def _trend(v: float, dvdt: float, i: float = 1e-3, span: float = 20.0, knee: bool = False) -> Trend:
    return Trend(time=100.0, voltage=v, current=i, dvdt=dvdt, didt=0.0, span=span,
                 accelerating=knee)  # fmt: skip


def test_horizon_shrinks_toward_a_voltage_threshold_and_is_one_reading_at_a_fresh_start():
    cond = EndCondition(abs_voltage_above="0.5 V")
    far = condition_reach(cond, _trend(0.02, 1e-5), 0.0, 100.0, 1e-4)
    near = condition_reach(cond, _trend(0.49, 1e-3), 0.0, 100.0, 1e-4)
    assert far > MAX_BLOCK_S and 0 < near < 10.0
    assert condition_reach(cond, _trend(0.51, 1e-3), 0.0, 100.0, 1e-4) == 0.0
    assert sample_horizon([cond], Limits(), None, 0.0, 0.0, 0.0, 1e-4) == 0.0
    assert sample_horizon([cond], Limits(), _trend(0.02, 0.0), 0.0, 0.0, 1.0, 1e-4) == MAX_BLOCK_S


def test_blocks_grow_at_most_twofold_and_halve_at_a_knee():
    cond = EndCondition(abs_voltage_above="0.5 V")
    assert sample_horizon([cond], Limits(), _trend(0.02, 0.0, span=1.0), 0, 0, 1, 1e-4) == 2.0
    assert sample_horizon([cond], Limits(), _trend(0.02, 0.0, knee=True), 0, 0, 1, 1e-4) == 10.0
    t = np.arange(20.0)
    assert Trend.of(t, 0.1 + 20 / (40 - t) ** 2, np.ones(20)).accelerating
    assert not Trend.of(t, 0.1 + 1e-3 * t, np.ones(20)).accelerating


def test_the_noise_of_10_hz_readings_is_no_knee_but_a_bend_within_it_is():
    """At 10 Hz, 1-s blocks of a steady CCD step: point-to-point slopes are mostly noise (the
    twin's ~10 uV), and a knee test on them halved most blocks; least-squares slopes tested
    beyond their noise do not, and still see a divergence in the same noise."""
    rng = np.random.default_rng(7)
    t = np.arange(0.0, 1.05, 0.1)
    i = np.full(t.size, 1e-4)

    def knees(v: np.ndarray) -> int:
        blocks = [v + rng.normal(0.0, 10e-6, t.size) for _ in range(200)]
        first = [Trend.of(t - 1.0, b - (v[-1] - v[0]), i) for b in blocks]  # the block before
        return sum(Trend.of(t, b, i, p).accelerating for b, p in zip(blocks, first, strict=True))

    assert knees(0.0174 + 1e-5 * t) <= 10
    assert knees(0.0174 + 1e-5 * t + 5e-3 * t**4) >= 190


def test_a_strip_running_into_its_cut_off_through_a_knee_ends_on_it_as_tick_by_tick():
    """|V| diverges at the end of a strip (Li runs out) far faster than any straight line: the
    cut-off (1 V) is crossed at t = 396 s and the next sample would be past the safety limit."""
    body = """\
    sampling: {rate: 1 Hz}
    limits: {voltage: {min: -2 V, max: 1.5 V}}
    steps:
      - {type: galvanostatic, current: 1 mA, end: [{voltage_above: 1 V}, {time: 1 h}]}
      - {type: rest, end: [{time: 30 s}]}
    """

    def knee(t, v, i):
        return np.where(i > 0, v + 20.0 / np.maximum(400.0 - t, 0.5) ** 2, v), i

    runs = {}
    for blocks in (False, True):
        station = _pot_station(FakeCell(resistance=100.0, script=knee))
        runs[blocks] = run_yaml(body, station, head="name: t\nsample: {area: 1 cm2}\n",
                                blocks=blocks)  # fmt: skip
    for result, col, _ in runs.values():
        assert result.status == "success"
        (end,) = [e for e in col.kinds("step_end") if e.data.get("criterion") == "voltage_above"]
        assert end.data["at"] == pytest.approx(396.0)
    for key, col in runs[False][1].stream("electro").items():
        np.testing.assert_array_equal(runs[True][1].stream("electro")[key], col, err_msg=key)


def test_horizon_foresees_a_capacity_end_and_the_safety_limits():
    cap = EndCondition(capacity="0.2 mAh/cm2")  # 0.72 C on 1 cm2
    left = condition_reach(cap, _trend(0.02, 0.0, i=2e-5), 0.7, 10.0, 1e-4)
    assert left == pytest.approx(0.9 * (0.72 - 0.7) / 2e-5)
    limits = Limits(voltage={"min": "-1 V", "max": "1 V"})
    assert sample_horizon([], limits, _trend(0.9, 0.01), 0.0, 0.0, 1.0, 1e-4) == pytest.approx(
        0.1 / (4 * 0.01)
    )
    armed_later = EndCondition(dvdt_below="0.05 mV/s", after="300 s")
    assert condition_reach(armed_later, _trend(0.0, 1e-3), 0.0, 100.0, 1e-4) == 200.0
    assert condition_reach(EndCondition(event="short"), _trend(0.0, 0.0), 0.0, 1.0, 1e-4) == 1.0
    assert condition_reach(EndCondition(event="compliance"), _trend(0.0, 0.0), 0, 1, 1e-4) == 0.0
