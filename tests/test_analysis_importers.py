"""Importers: BioLogic .mpt, Arbin/Neware/Maccor maps, generic CSV, Excel; clear errors; import CLI."""

import numpy as np
import pandas as pd
import pytest

from analysis.errors import AnalysisError
from analysis.importers.auto import import_file
from analysis.importers.table import parse_user_map
from analysis.load import load_run
from analysis.pipeline import analyze_run

T = np.arange(0.0, 40.0, 1.0)
I_MA = np.where(T < 20, -0.5, 0.5)  # plate then strip, mA
V = I_MA * 0.05


def _mpt(tmp_path, area_line=True):
    header = [
        "EC-Lab ASCII FILE",
        "Nb header lines : 6",
        "",
        "Galvanostatic Cycling with Potential Limitation",
        "Electrode surface area : 1,000 cm²" if area_line else "Comments :",
        "mode\tox/red\terror\tcontrol changes\tNs changes\tcounter inc.\tNs\ttime/s\tcontrol/V/mA\tEwe/V\t<I>/mA\tcycle number\t",
    ]
    rows = [
        f"1\t{int(i > 0)}\t0\t0\t0\t0\t{int(t >= 20)}\t{t:.3f}\t{i:.4f}\t{v:.6f}\t{i:.6f}\t0\t".replace(
            ".", ","
        )
        for t, i, v in zip(T, I_MA, V, strict=True)
    ]
    p = tmp_path / "cell.mpt"
    p.write_bytes("\n".join(header + rows).encode("latin-1"))
    return p


def test_biologic_mpt_with_decimal_commas_and_header_area(tmp_path):
    run = import_file(_mpt(tmp_path), area_m2=None)
    e = run.electro
    np.testing.assert_allclose(e["current"], I_MA * 1e-3)
    np.testing.assert_allclose(e["voltage"], V, atol=1e-9)
    assert run.area_m2 == pytest.approx(1e-4)
    assert list(e["step"].unique()) == [0, 1]
    np.testing.assert_allclose(e["current_density"], I_MA * 1e-3 / 1e-4)


def test_biologic_cycles_numbered_from_zero_keep_the_first_cycle(tmp_path):
    text = _mpt(tmp_path).read_bytes().decode("latin-1").splitlines()
    rows = []
    for c in range(4):  # four plate/strip cycles, EC-Lab cycle numbers 0..3
        for line in text[6:]:
            f = line.split("\t")
            f[7] = f"{float(f[7].replace(',', '.')) + 40 * c:.3f}".replace(".", ",")
            f[11] = str(c)
            rows.append("\t".join(f))
    path = tmp_path / "four.mpt"
    path.write_bytes("\n".join(text[:6] + rows).encode("latin-1"))
    res = analyze_run(import_file(path, area_m2=None))
    assert res.summary["n_cycles"] == 4
    assert res.summary["ce_mean"] == pytest.approx(1.0, abs=0.06)


def test_biologic_without_area_needs_area(tmp_path):
    with pytest.raises(AnalysisError, match="--area"):
        import_file(_mpt(tmp_path, area_line=False), area_m2=None)


def _csv(tmp_path, name, frame):
    p = tmp_path / name
    frame.to_csv(p, index=False)
    return p


def test_arbin_neware_maccor_give_the_same_stream(tmp_path):
    arbin = pd.DataFrame(
        {
            "Data_Point": np.arange(T.size),
            "Test_Time(s)": T,
            "Step_Index": (T >= 20) + 1,
            "Cycle_Index": 1,
            "Current(A)": I_MA * 1e-3,
            "Voltage(V)": V,
        }
    )
    clock = [f"{int(t // 3600)}:{int(t % 3600 // 60):02d}:{t % 60:06.3f}" for t in T]
    neware = pd.DataFrame(
        {
            "Record ID": np.arange(T.size),
            "Cycle ID": 1,
            "Step ID": (T >= 20) + 1,
            "Step Type": "CC",
            "Total Time": clock,
            "Current(mA)": I_MA,
            "Voltage(V)": V,
        }
    )
    maccor = pd.DataFrame(
        {
            "Rec#": np.arange(T.size),
            "Cyc#": 1,
            "Step": (T >= 20) + 1,
            "Test (Sec)": T,
            "Amps": np.abs(I_MA) * 1e-3,
            "Volts": V,
            "State": np.where(I_MA > 0, "C", "D"),
        }
    )
    for name, frame in (("a.csv", arbin), ("n.csv", neware), ("m.csv", maccor)):
        run = import_file(_csv(tmp_path, name, frame), area_m2=1e-4)
        np.testing.assert_allclose(run.electro["time"], T)
        np.testing.assert_allclose(run.electro["current"], I_MA * 1e-3)
        np.testing.assert_allclose(run.electro["voltage"], V)


def test_excel_export(tmp_path):
    frame = pd.DataFrame(
        {"Test_Time(s)": T, "Step_Index": 1, "Current(A)": I_MA * 1e-3, "Voltage(V)": V}
    )
    p = tmp_path / "arbin.xlsx"
    frame.to_excel(p, index=False)
    run = import_file(p, area_m2=1e-4)
    np.testing.assert_allclose(run.electro["current"], I_MA * 1e-3)


def test_generic_csv_with_user_map_units_and_semicolons(tmp_path):
    p = tmp_path / "g.csv"
    p.write_text(
        "t (h);E (mV);I (uA)\n"
        + "\n".join(f"{t / 3600};{v * 1e3};{i * 1e3}" for t, v, i in zip(T, V, I_MA, strict=True))
    )
    run = import_file(
        p, area_m2=1e-4, column_map="time=t (h):h, voltage=E (mV):mV, current=I (uA):uA"
    )
    np.testing.assert_allclose(run.electro["time"], T, atol=1e-9)
    np.testing.assert_allclose(run.electro["current"], I_MA * 1e-3)


def test_wrong_column_map_names_missing_and_similar_columns(tmp_path):
    p = _csv(tmp_path, "x.csv", pd.DataFrame({"Time": T, "Volt": V, "Curr_mA": I_MA}))
    with pytest.raises(
        AnalysisError, match=r"missing current .*similar: 'Curr_mA'.*Columns in the file"
    ):
        import_file(p, area_m2=1e-4, column_map="time=Time:s,voltage=Volt:V,current=Current:mA")
    with pytest.raises(AnalysisError, match="unknown export format"):
        import_file(p, area_m2=1e-4)
    with pytest.raises(AnalysisError, match="needs a unit"):
        parse_user_map("time=Time,voltage=Volt:V,current=Curr_mA:mA")


def test_bad_cell_reports_file_line_and_column(tmp_path):
    frame = pd.DataFrame(
        {"Test_Time(s)": T.astype(object), "Current(A)": I_MA * 1e-3, "Voltage(V)": V}
    )
    frame.loc[7, "Test_Time(s)"] = "oops"
    p = _csv(tmp_path, "arbin.csv", frame)
    with pytest.raises(
        AnalysisError, match=r"arbin.csv:9: column 'Test_Time\(s\)': 'oops' is not a number"
    ):
        import_file(p, area_m2=1e-4)


def test_reversed_sign_is_flagged_and_invert_fixes_it(tmp_path):
    frame = pd.DataFrame({"Test_Time(s)": T, "Current(A)": -I_MA * 1e-3, "Voltage(V)": V})
    p = _csv(tmp_path, "rev.csv", frame)
    res = analyze_run(import_file(p, area_m2=1e-4))
    assert any("opposite" in w for w in res.warnings)
    fixed = analyze_run(import_file(p, area_m2=1e-4, invert_current=True))
    assert not any("opposite" in w for w in fixed.warnings)


def test_import_cli_writes_a_run_file_that_loads_back(tmp_path):
    from daq.cli import main

    out = tmp_path / "run.h5"
    assert (
        main(
            [
                "import",
                str(_mpt(tmp_path)),
                "--area",
                "1 cm2",
                "-o",
                str(out),
                "--electrolyte",
                "LLZO",
            ]
        )
        == 0
    )
    run = load_run(out)
    np.testing.assert_allclose(run.electro["current"], I_MA * 1e-3)
    assert run.metadata["sample"]["electrolyte"] == "LLZO"
    assert main(["import", str(tmp_path / "nope.csv"), "--area", "1 cm2", "-o", str(out)]) == 2


def test_analyze_cli_reads_generic_csv_with_map(tmp_path, capsys):
    from daq.cli import main

    p = _csv(tmp_path, "g.csv", pd.DataFrame({"Time": T, "Volt": V, "Curr": I_MA}))
    out = tmp_path / "an"
    args = ["analyze", str(p), "-o", str(out), "--jobs", "1", "--no-report", "--area", "1 cm2"]
    cmap = ["--map", "time=Time:s,voltage=Volt:V,current=Curr:mA"]
    assert main([*args, *cmap]) == 0
    assert main([*args, *cmap, "--format", "csv"]) == 0
    assert pd.read_csv(out / "summary.csv")["status"].tolist() == ["ok"]


def test_ambiguous_time_unit_in_map_is_refused(tmp_path, capsys):
    from daq.cli import main

    with pytest.raises(AnalysisError, match="time unit 'hh' is ambiguous"):
        parse_user_map("time=t:hh,voltage=E:V,current=I:mA")
    p = _csv(tmp_path, "g.csv", pd.DataFrame({"t": T, "E": V, "I": I_MA}))
    code = main(["import", str(p), "--area", "1 cm2", "-o", str(tmp_path / "r.h5"),
                 "--map", "time=t:hh,voltage=E:V,current=I:mA"])  # fmt: skip
    assert code != 0
    assert "time unit 'hh' is ambiguous" in capsys.readouterr().err
    assert parse_user_map("time=t:min,voltage=E:V,current=I:mA").columns["time"] == [("t", "min")]
