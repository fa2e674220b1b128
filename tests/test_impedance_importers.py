"""EIS importers: BioLogic PEIS .mpt, Gamry .DTA, generic CSV, detection and clear errors."""

from __future__ import annotations

import re

import numpy as np
import pytest

from analysis.errors import AnalysisError
from analysis.importers.auto import import_file
from analysis.importers.eis import detect_spectrum_format, read_spectra
from sim_instruments.impedance import CellCircuit

CIRCUIT = CellCircuit(7.0, 1e-10, 0.0, 1e-9, (20.0, 20.0), (1e-6, 1e-6), 0.9, (0.0, 0.0),
                      (1e-5, 1e-5), 0.5, float("inf"))  # fmt: skip
FREQ = np.logspace(5, 0, 21)
Z = CIRCUIT.impedance(FREQ)


def _mpt(tmp_path, sweeps=2):
    header = ["EC-Lab ASCII FILE", "Nb header lines : 4", "", "Potentio Electrochemical Impedance Spectroscopy"]  # fmt: skip
    columns = "freq/Hz\tRe(Z)/Ohm\t-Im(Z)/Ohm\t|Z|/Ohm\tPhase(Z)/deg\ttime/s\t<Ewe>/V\tcycle number"
    rows = []
    for k in range(sweeps):
        rows.append(f"0,000000E+000\t0\t0\t0\t0\t{k * 100.0:.3f}\t0,0\t{k + 1}")  # OCV part
        for i, (f, z) in enumerate(zip(FREQ, Z * (1 + k), strict=True)):
            cells = [f, z.real, -z.imag, abs(z), np.degrees(np.angle(z)), k * 100.0 + i, 0.0, k + 1]
            rows.append("\t".join(f"{c:.6E}".replace(".", ",") for c in cells))
    path = tmp_path / "peis.mpt"
    path.write_text("\n".join([*header[:3], columns, *rows]) + "\n", encoding="latin-1")
    return path


def test_biologic_peis_sweeps_are_split_and_converted(tmp_path):
    path = _mpt(tmp_path)
    assert detect_spectrum_format(path) == "biologic_eis"
    records = read_spectra(path)
    assert len(records) == 2
    np.testing.assert_allclose(records[0].spectrum.z, Z, rtol=1e-6)
    np.testing.assert_allclose(records[1].spectrum.z, 2 * Z, rtol=1e-6)
    assert records[1].context == {"sweep": 1, "time_s": 100.0, "cycle": 2.0}
    with pytest.raises(AnalysisError, match="impedance export"):
        import_file(path, area_m2=1e-4)


def test_gamry_dta_zcurve(tmp_path):
    lines = ["EXPLAIN", "TAG\tEISPOT", "AREA\tQUANT\t1\tSample Area (cm^2)", "ZCURVE\tTABLE",
             "\tPt\tTime\tFreq\tZreal\tZimag\tZsig\tZmod\tZphz\tIdc\tVdc\tIERange",
             "\t#\ts\tHz\tohm\tohm\tV\tohm\t°\tA\tV\t#"]  # fmt: skip
    for i, (f, z) in enumerate(zip(FREQ, Z, strict=True)):
        lines.append(f"\t{i}\t{i * 2}\t{f:.6g}\t{z.real:.6g}\t{z.imag:.6g}\t1\t{abs(z):.6g}\t0\t0\t0\t6")  # fmt: skip
    lines.append("EXPERIMENTABORTED\tTOGGLE\tF")
    path = tmp_path / "eis.DTA"
    path.write_text("\n".join(lines), encoding="latin-1")
    assert detect_spectrum_format(path) == "gamry"
    (record,) = read_spectra(path)
    np.testing.assert_allclose(record.spectrum.z, Z, rtol=1e-5)
    assert record.context["time_s"] == 0.0


def test_generic_csv_with_a_map_and_its_errors(tmp_path):
    path = tmp_path / "eis.csv"
    rows = ["f_kHz;Zre;minusZim"] + [f"{f / 1e3};{z.real};{-z.imag}" for f, z in zip(FREQ, Z, strict=True)]  # fmt: skip
    path.write_text("\n".join(rows))
    (record,) = read_spectra(path, column_map="frequency=f_kHz:kHz,z_real=Zre:ohm,-z_imag=minusZim:ohm")  # fmt: skip
    np.testing.assert_allclose(record.spectrum.frequency, FREQ, rtol=1e-9)
    np.testing.assert_allclose(record.spectrum.z, Z, rtol=1e-9)
    with pytest.raises(AnalysisError, match="needs frequency, z_real and one of"):
        read_spectra(path, column_map="frequency=f_kHz:kHz,z_real=Zre:ohm")
    with pytest.raises(AnalysisError, match="no column 'Zim'"):
        read_spectra(path, column_map="frequency=f_kHz:kHz,z_real=Zre:ohm,z_imag=Zim:ohm")
    with pytest.raises(AnalysisError, match="looks like -Z''"):  # the sign was given the wrong way
        read_spectra(path, column_map="frequency=f_kHz:kHz,z_real=Zre:ohm,z_imag=minusZim:ohm")
    bad = tmp_path / "bad.csv"
    bad.write_text("f,re,im\n1000,1,-1\n100,x,-1\n")
    with pytest.raises(AnalysisError, match=r"bad.csv:3: column 're': 'x' is not a number"):
        read_spectra(bad, column_map="frequency=f:Hz,z_real=re:ohm,z_imag=im:ohm")


def test_eis_cli_fits_an_export_and_names_bad_input(tmp_path, capsys):
    from daq.cli import main

    path = _mpt(tmp_path)
    out = tmp_path / "out"
    assert main(["eis", str(path), "--area", "1 cm2", "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert re.search(r"sweep 0: R_bulk 6\.9\d* ohm, R_int 40\.\d+ ohm", text)  # W1 not fitted
    assert "void signature" in text  # the second sweep doubles every resistance
    assert (out / "impedance.csv").exists() and (out / "figures" / "spectra.png").exists()
    assert "DRT peaks:" in text and (out / "drt_peaks.csv").exists()
    assert (out / "figures" / "drt.png").exists()
    assert main(["eis", str(path), "-o", str(out)]) == 2
    assert "no electrode area: give --area" in capsys.readouterr().err
