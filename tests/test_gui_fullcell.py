"""Live plots of a full cell: capacity per cycle and CE = discharge / charge from analysis's own
cycle table (analysis.cycle_live), one point as each cycle ends (issue 14, GUI)."""

from __future__ import annotations

import numpy as np
import pytest
from test_analysis_fullcell import cycle_twin, tables

from analysis import fullcell

#: the recorded sample block of the seed's cell (run-file SI keys: kg/m2, C/kg)
FULL_CELL = {"area_m2": 1e-4, "electrolyte": "PEO-LiTFSI", "electrodes": "LiFePO4|PEO|Li@2D",
             "cathode": {"active_material": "LiFePO4", "mass_loading": 0.04,
                         "specific_capacity": 170 * 3.6 / 1e-3}}  # fmt: skip


def feed(plots, data, electro, block: int = 50) -> list[int]:
    """Push the samples through LiveData as the bridge would; points shown after each block."""
    cols = {c: electro[c].to_numpy() for c in ("time", "voltage", "current")}
    shown = []
    for a in range(0, len(electro), block):
        data.add_samples("electro", {c: v[a : a + block] for c, v in cols.items()})
        plots.refresh(force=True)
        x, _ = plots.q_discharge.getData()
        shown.append(0 if x is None else len(x))
    data.finish()
    plots.refresh(force=True)
    return shown


def test_full_cell_live_plots_show_capacity_and_ce_per_cycle_as_each_ends(qtbot):
    from gui.live import LiveData
    from gui.plots import LivePlots

    plots = LivePlots()
    qtbot.addWidget(plots)
    data = LiveData(1e-4, sample=FULL_CELL)
    plots.set_data(data)
    assert plots.cycle_capacity_plot in plots.right.items
    assert plots.eta_plot not in plots.right.items
    assert plots.cycle_capacity_plot.getAxis("left").labelText == "capacity (mAh/g)"

    electro, truth, _, world = cycle_twin("full_2d", [0.1] * 6)
    shown = feed(plots, data, electro)
    assert sorted(set(shown)) == [0, 1, 2, 3, 4, 5]  # one more point as each cycle ends
    assert shown == sorted(shown)
    steps, cycles = tables(electro)
    offline = fullcell.capacity_columns(cycles, 4e-6, 1e-4)
    x, q_dis = plots.q_discharge.getData()
    _, q_ch = plots.q_charge.getData()
    _, ce = plots.ce_curve.getData()
    np.testing.assert_array_equal(x, [1, 2, 3, 4, 5, 6])  # the last one at the end of the run
    np.testing.assert_allclose(q_dis, offline["q_discharge_mAh_g"], rtol=1e-9)
    np.testing.assert_allclose(q_ch, offline["q_charge_mAh_g"], rtol=1e-9)
    np.testing.assert_allclose(ce, offline["ce"] * 100.0, rtol=1e-9)
    np.testing.assert_allclose(q_dis * 4e-3 * 3.6, truth[1::2], rtol=1e-3)  # mAh/g x 4 mg
    assert q_dis[-1] < 0.85 * q_dis[0]  # the 2D control fades once its 1x excess is spent


@pytest.mark.parametrize("sample", [{"area_m2": 1e-4, "electrodes": "Li|LLZO|Li"}, {}])
def test_a_li_metal_cell_keeps_its_overpotential_plot(qtbot, sample):
    from gui.live import LiveData
    from gui.plots import LivePlots

    plots = LivePlots()
    qtbot.addWidget(plots)
    data = LiveData(1e-4, sample=sample)
    assert data.capacity is None
    plots.set_data(data)
    assert plots.eta_plot in plots.right.items
    assert plots.cycle_capacity_plot not in plots.right.items
