"""The GUI on the MethodSCRIPT station: the latest spectrum appears when a sweep ends, and the
run browser shows a recorded run's spectra with their fits."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from gui_support import screenshot_targets, set_protocol, wait_finished

STATION = Path(__file__).resolve().parents[1] / "examples/stations/sim_eis.yaml"
PROTOCOL = """\
name: gui eis
sample: {area: 1 cm2}
sampling: {rate: 2 Hz}
limits: {voltage: {min: -1 V, max: 1 V}}
steps:
  - {type: rest, end: [{time: 5 s}]}
  - {type: eis, f_start: 100 kHz, f_end: 10 Hz, points: 11, amplitude: 10 mV}
"""


@pytest.fixture
def gui_station():
    """The ``window`` fixture connects to the MethodSCRIPT station."""
    return STATION


def test_latest_spectrum_shows_when_the_sweep_ends(window, qtbot):
    win = window
    set_protocol(win, PROTOCOL)
    assert not win.spectrum.isVisibleTo(win)
    assert win.start_run()
    wait_finished(qtbot, win, timeout=60_000)
    assert win.state == "success", win.detail_label.text()
    assert win.spectrum.isVisibleTo(win)
    assert win.spectrum.latest == 1
    assert "sweep 1 (latest, 11 points)" in win.spectrum.title.text()
    x, y = win.spectrum.current.getData()
    assert len(x) == 11 and y.max() > 0  # -Z'' > 0: a capacitive arc
    assert len(win.spectrum.fit_nyquist.getData()[0]) == 11  # the fit is overlaid live too
    assert "fit R0-p(R1,CPE1) (dashed)" in win.spectrum.fit_label.text()


STRIP_BETWEEN_SWEEPS = """\
name: gui eis browser
sample: {area: 1 cm2}
sampling: {rate: 1 Hz}
limits: {voltage: {min: -1.5 V, max: 1.5 V}}
steps:
  - {type: set_pressure, pressure: 5 MPa}
  - {type: rest, end: [{time: 5 s}]}
  - {type: eis, f_start: 100 kHz, f_end: 1 Hz, points_per_decade: 6, amplitude: 10 mV}
  - {type: galvanostatic, current_density: 0.1 mA/cm2, end: [{time: 10 min}]}
  - {type: eis, f_start: 100 kHz, f_end: 1 Hz, points_per_decade: 6, amplitude: 10 mV}
"""


def test_the_run_browser_shows_a_recorded_runs_spectra_with_the_fit(window, qtbot, tmp_path):
    from analysis.impedance import spectrum
    from analysis.impedance_fit import fit_spectrum
    from analysis.load import load_run

    win = window
    set_protocol(win, STRIP_BETWEEN_SWEEPS)
    assert win.start_run()
    wait_finished(qtbot, win, timeout=120_000)
    assert win.state == "success", (win.detail_label.text(), win.event_log.rows()[-5:])
    browser, view = win.browser, win.browser.spectra
    tab = browser.tabs.indexOf(view)
    assert browser.open(win.last_run) and browser.tabs.isTabVisible(tab)
    recorded = load_run(win.last_run).streams["impedance"]
    assert sorted(view.sweeps) == [1, 2] and view.shown == 2 and view.selector.count() == 2
    last = recorded[recorded["sweep"] == 2]
    x, y = view.current.getData()
    np.testing.assert_allclose(x, last["z_real"]) and np.testing.assert_allclose(y, -last["z_imag"])
    expected = fit_spectrum(spectrum(last["frequency"], last["z_real"], last["z_imag"])).z_fit
    fx, fy = view.fit_nyquist.getData()
    np.testing.assert_allclose(fx, expected.real, rtol=1e-6)  # the analysis' fit, overlaid
    assert (
        len(view.fit_modulus.getData()[0]) == len(last) and "R_interface" in view.fit_label.text()
    )
    view.selector.setCurrentIndex(0)  # the first sweep, before stripping
    assert view.shown == 1 and "sweep 1 (recorded" in view.title.text()
    np.testing.assert_allclose(
        view.current.getData()[0], recorded[recorded["sweep"] == 1]["z_real"]
    )
    view.selector.setCurrentIndex(1)
    browser.tabs.setCurrentIndex(tab)
    win.tabs.setCurrentWidget(browser)
    qtbot.wait(200)
    image = win.grab()
    for target in screenshot_targets(tmp_path, "gui-spectra.png", "SSBENCH_SPECTRA_SCREENSHOT"):
        target.parent.mkdir(parents=True, exist_ok=True)
        assert image.save(str(target), "PNG") and target.stat().st_size > 10_000
