"""The live impedance view: points of the running sweep, the latest spectrum when it ends."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402

from sim_instruments.impedance import CellCircuit  # noqa: E402

CIRCUIT = CellCircuit(7.0, 1e-10, 0.0, 1e-9, (20.0, 20.0), (1e-6, 1e-6), 0.9, (0.0, 0.0),
                      (1e-5, 1e-5), 0.0, float("inf"))  # fmt: skip
FREQ = np.logspace(5, 0, 11)


def block(sweep: int, rows: slice, scale: float = 1.0) -> dict:
    z = CIRCUIT.impedance(FREQ[rows]) * scale
    return {"time": np.arange(z.size, dtype=float), "frequency": FREQ[rows], "z_real": z.real,
            "z_imag": z.imag, "sweep": sweep}  # fmt: skip


def test_running_then_latest_spectrum(qtbot):
    from gui.spectrum import SpectrumView

    view = SpectrumView()
    qtbot.addWidget(view)
    view.add_samples(block(0, slice(0, 4)))
    assert "sweep 0 (measuring, 4 points)" in view.title.text()
    view.add_samples(block(0, slice(4, 11)))
    view.sweep_ended(0, "R_int 40 ohm")
    assert view.title.text() == "sweep 0 (latest, 11 points) — R_int 40 ohm"
    x, y = view.current.getData()
    np.testing.assert_allclose(y, -CIRCUIT.impedance(FREQ).imag)
    view.add_samples(block(1, slice(0, 11), scale=2.0))
    view.sweep_ended(1)
    old_x, _ = view.previous.getData()
    np.testing.assert_allclose(old_x, x)  # the previous sweep stays, faded, for comparison
    assert view.current.getData()[0].max() > 1.9 * x.max()
    view.sweep_ended(7)  # unknown sweeps are ignored
    assert view.latest == 1
