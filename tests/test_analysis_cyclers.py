"""Cycler exports in their documented layouts: auto-detected, same step and cycle tables, hard
cases (title lines, encodings, date-time times, plain headers, looped counters, cut numbers)."""

import cycler_files as cf
import numpy as np
import pandas as pd
import pytest

from analysis.errors import AnalysisError
from analysis.importers.auto import detect_format, import_file
from analysis.model import make_run
from analysis.pipeline import analyze_run
from analysis.segment import step_table

Q_CHARGE_C = cf.I_A * cf.CHARGE_S
Q_DISCHARGE_C = cf.I_A * cf.DISCHARGE_S
STEP_TYPES = ["rest", "strip", "rest", "plate"] * cf.N_CYCLES

WRITERS = {
    "arbin units": (lambda p: cf.arbin_csv(p), "arbin"),
    "arbin plain utf-16": (lambda p: cf.arbin_csv(p, units=False, encoding="utf-16"), "arbin"),
    "arbin xlsx": (cf.arbin_xlsx, "arbin"),
    "arbin parquet": (cf.arbin_parquet, "arbin"),
    "maccor title lines": (cf.maccor_txt, "maccor"),
    "maccor csv, bracket units, Md": (cf.maccor_csv, "maccor"),
    "biologic csv date-time": (cf.biologic_csv, "biologic"),
    "neware csv": (cf.neware_csv, "neware"),
    "neware xlsx": (lambda p: cf.neware_csv(p, excel=True), "neware"),
}


@pytest.mark.parametrize("name", WRITERS)
def test_each_export_gives_the_expected_steps_and_cycles(tmp_path, name):
    write, fmt = WRITERS[name]
    path = write(tmp_path)
    assert detect_format(path) == fmt
    run = import_file(path, area_m2=1e-4)
    d = cf.canonical()
    t = run.electro["time"]  # date-time columns count from the first row
    np.testing.assert_allclose(t - t.iat[0], d["t"] - d["t"].iat[0], atol=2e-3)
    np.testing.assert_allclose(run.electro["current"], d["i"], rtol=1e-9, atol=1e-12)
    res = analyze_run(run)
    assert res.steps["type"].tolist() == STEP_TYPES
    assert res.summary["cell_type"] == "cathode"
    c = res.cycles
    assert len(c) == cf.N_CYCLES and c["complete"].all()
    np.testing.assert_allclose(c["q_charge"], Q_CHARGE_C, rtol=0.01)
    np.testing.assert_allclose(c["q_discharge"], Q_DISCHARGE_C, rtol=0.01)
    np.testing.assert_allclose(c["ce"], Q_DISCHARGE_C / Q_CHARGE_C, rtol=0.01)
    if "counter_charge" in res.steps:  # the file's own counters agree with the integration
        assert res.summary["counter_max_deviation"] < 0.01
        assert not any("counter" in w for w in res.warnings)


def test_cathode_cell_gets_battery_metrics_and_no_li_metal_ones(tmp_path):
    res = analyze_run(import_file(cf.arbin_csv(tmp_path), area_m2=1e-4))
    s = res.summary
    assert s["ce_convention"].startswith("CE = discharge / charge")
    assert "voltage window" in s["cell_type_reason"]
    assert s["capacity_retention"] == pytest.approx(1.0, abs=0.005)  # sampled at 20 s
    assert 0.5 < s["energy_efficiency_mean"] < 1.0
    assert s["polarization_median_V"] > 0
    banned = ("nernst", "void", "eta_", "hysteresis", "overpotential", "li_loss")
    assert not [k for k in s if any(b in k for b in banned)]
    assert not any(c.startswith("eta") for c in res.steps.columns)


def test_looped_counter_gives_one_cycle_per_charge_discharge_pair(tmp_path):
    res = analyze_run(import_file(cf.maccor_txt(tmp_path, looped=True), area_m2=1e-4))
    assert len(res.cycles) == cf.N_CYCLES
    assert any("cycle counter stays at 1" in w for w in res.warnings)
    np.testing.assert_allclose(res.cycles["q_charge"], Q_CHARGE_C, rtol=0.01)


def test_biologic_cycle_zero_is_kept(tmp_path):
    res = analyze_run(import_file(cf.biologic_csv(tmp_path), area_m2=1e-4))
    assert res.cycles["cycle"].tolist() == [0, 1, 2]


def test_a_run_starting_with_discharge_does_not_pair_across_cycles():
    d = cf.canonical()
    d = d[~((d["cycle"] == 1) & (d["step"] <= 2))]  # start at the first cycle's discharge
    electro = pd.DataFrame({"time": d["t"], "voltage": d["v"], "current": d["i"]})
    res = analyze_run(make_run({"electro": electro}, metadata={"sample": {"area_m2": 1e-4}}))
    first = res.cycles.iloc[0]
    assert first["cycle"] == 0 and not first["complete"] and first["q_charge"] == 0
    assert len(res.cycles) == cf.N_CYCLES  # cycles 1, 2 start with their charge
    override = analyze_run(
        make_run({"electro": electro}, metadata={"sample": {"area_m2": 1e-4}}),
        __import__("analysis.pipeline").pipeline.AnalysisOptions(cycle_start="first"),
    )
    assert override.cycles.iloc[0]["cycle"] == 1


def test_gap_before_a_pulse_is_not_credited_with_the_pulse_current():
    rest_t = np.arange(0.0, 100.0, 1.0)  # 1 s logging at rest, then a 22.8 s gap
    pulse_t = rest_t[-1] + 22.8 + np.linspace(0.0, 0.917, 11)
    after_t = pulse_t[-1] + 1.0 + np.arange(0.0, 10.0, 1.0)  # rest logging resumes
    t = np.concatenate((rest_t, pulse_t, after_t))
    i = np.concatenate((np.zeros(rest_t.size), np.full(pulse_t.size, 2.5), np.zeros(after_t.size)))
    e = pd.DataFrame({"time": t, "voltage": 3.7 + 0.01 * i, "current": i})
    notes: list[str] = []
    steps = step_table(e, warnings=notes)
    pulse = steps[steps["type"] == "strip"].iloc[0]
    assert pulse["charge"] / 3.6 == pytest.approx(0.637, abs=0.001)  # mAh
    assert bool(pulse["gap_before"])
    assert any("gap in the sampling" in w for w in notes)


def test_uniform_sampling_has_no_gaps_and_spans_n_dt():
    t = np.arange(0.0, 60.0, 0.5)
    i = np.where(t < 30, 1e-3, -1e-3)
    steps = step_table(pd.DataFrame({"time": t, "voltage": 0.0 * t, "current": i}))
    assert not steps["gap_before"].any()
    np.testing.assert_allclose(steps["charge"].abs(), 30e-3)


def test_counter_disagreement_is_reported(tmp_path):
    path = cf.neware_csv(tmp_path)
    frame = pd.read_csv(path)
    frame["Capacity(Ah)"] *= 1.1
    frame["Chg. Cap.(Ah)"] *= 1.1
    frame.to_csv(path, index=False)
    res = analyze_run(import_file(path, area_m2=1e-4))
    assert any("disagrees with the file's capacity counter" in w for w in res.warnings)


def test_truncated_number_is_reported_with_file_line_and_column(tmp_path):
    path = cf.arbin_csv(tmp_path)
    text = path.read_text().rstrip("\n")
    last = text.rsplit("\n", 1)[1]
    cut = text[: len(text) - len(last)] + last[: last.rindex(",")] + ",3."
    path.write_text(cut)
    n_lines = cut.count("\n") + 1
    with pytest.raises(AnalysisError, match=rf"\.csv:{n_lines}: column .*'3\.' is a truncated"):
        import_file(path, area_m2=1e-4)
    path.write_text(text[: len(text) - 3])  # cut inside the last row: fewer digits, no newline
    with pytest.raises(AnalysisError, match=rf"\.csv:{n_lines}: .*truncated"):
        import_file(path, area_m2=1e-4)


def test_renamed_amps_suggests_current_like_columns_only(tmp_path):
    path = cf.maccor_txt(tmp_path, rename_amps="AmpsOut")
    with pytest.raises(AnalysisError) as err:
        import_file(path, area_m2=1e-4)
    msg = str(err.value)
    similar = msg.split("similar: ")[1].split(")")[0]
    assert "'AmpsOut'" in similar
    assert "Amp-hr" not in similar and "ACImp" not in similar


def test_datetime_time_column_through_user_map(tmp_path):
    d = cf.canonical()
    frame = pd.DataFrame(
        {"When": cf._stamp(d["t"], "%d.%m.%Y %H:%M:%S"), "E": d["v"], "I": d["i"] * 1e3}
    )
    path = tmp_path / "logger.csv"
    frame.to_csv(path, index=False)
    run = import_file(path, area_m2=1e-4, column_map="time=When:datetime,voltage=E:V,current=I:mA")
    np.testing.assert_allclose(run.electro["time"], d["t"] - d["t"].iat[0])


def test_latin1_degree_sign_in_an_unused_header_imports(tmp_path):
    path = cf.biologic_csv(tmp_path)
    assert "°".encode("latin-1") in path.read_bytes()
    run = import_file(path, area_m2=1e-4)
    assert run.metadata["import"]["encoding"] in ("cp1252", "latin-1")


def test_analyze_and_import_accept_folders_of_exports(tmp_path, capsys):
    from daq.cli import main

    src = tmp_path / "exports"
    src.mkdir()
    cf.arbin_csv(src)
    cf.neware_csv(src)
    out = tmp_path / "out"
    args = ["analyze", str(src), "-o", str(out), "--jobs", "1", "--no-report", "--area", "1 cm2"]
    assert main(args) == 0
    table = pd.read_csv(out / "summary.csv")
    assert table["status"].tolist() == ["ok", "ok"]
    runs = tmp_path / "runs"
    assert main(["import", str(src), "--area", "1 cm2", "-o", str(runs)]) == 0
    assert sorted(p.name for p in runs.glob("*.h5")) == ["arbin_units_utf-8.h5", "neware.h5"]
    assert main(["import", str(src), "--area", "1 cm2", "-o", str(tmp_path / "x.h5")]) == 2
    assert "a folder of exports needs -o FOLDER" in capsys.readouterr().err


ARBIN_METADATA = (
    "Test_ID,Device_ID,IV_Ch_ID,First_Start_DateTime,Schedule_File_Name,Item_ID,Resumed_Times,"
    "Last_End_DateTime,Databases,Grade_ID,Has_Aux,Has_Special,Schedule_Version,"
    "Log_Aux_Data_Flag,Log_Special_Data_Flag,Rowstate,Canconfig_Filename,m_ncanconfigMD5,Value,"
    "Value2\n"
    "417,101,3,1700000000.5,Li_LLZO_ccd.sdx,cell-B07,1,1700086400,ArbinMasterData,0,0,0,"
    "Schedule Version 8.00,0,0,0,,,0,0\n"
)


def test_arbin_metadata_file_beside_the_export_is_read(tmp_path):
    data = cf.arbin_csv(tmp_path, units=False)
    (tmp_path / f"{data.stem}_Metadata.csv").write_text(ARBIN_METADATA, encoding="utf-8")
    run = import_file(data, area_m2=1e-4)
    meta = run.metadata["arbin"]
    assert meta["test_id"] == 417 and meta["channel"] == 3 and meta["item_id"] == "cell-B07"
    assert meta["schedule"] == "Li_LLZO_ccd.sdx" and meta["resumed_times"] == 1
    assert meta["first_start_unix_s"] == 1700000000.5
    assert meta["first_start_utc"].startswith("2023-11-14T22:13:20.5")
    assert meta["file"] == f"{data.stem}_Metadata.csv"
    from analysis.importers.auto import collect_exports  # the metadata is not an export itself

    assert collect_exports(tmp_path) == [data]


def test_an_arbin_metadata_file_without_its_row_is_an_error_naming_it(tmp_path):
    data = cf.arbin_csv(tmp_path, units=False)
    bad = tmp_path / f"{data.stem}_Metadata.csv"
    bad.write_text(ARBIN_METADATA.splitlines()[0] + "\n", encoding="utf-8")
    with pytest.raises(AnalysisError, match=f"{bad.name}: no header row followed by numeric rows"):
        import_file(data, area_m2=1e-4)


def test_without_a_metadata_file_the_arbin_export_imports_as_before(tmp_path):
    run = import_file(cf.arbin_csv(tmp_path, units=False), area_m2=1e-4)
    assert "arbin" not in run.metadata


def test_a_file_named_like_arbin_metadata_but_not_one_is_refused_naming_it(tmp_path):
    data = cf.arbin_csv(tmp_path, units=False)
    other = tmp_path / f"{data.stem}_Metadata.csv"
    other.write_text("a,b,c\n1,2,3\n", encoding="utf-8")
    with pytest.raises(AnalysisError, match=f"{other.name}:1: not an Arbin metadata file"):
        import_file(data, area_m2=1e-4)


def test_an_imported_cycler_file_with_a_user_given_mass_reports_mah_per_gram(tmp_path):
    """Issue 14: capacity per gram of an imported export comes from --mass (the file has none)."""
    from daq.cli import main

    src = cf.arbin_csv(tmp_path)

    def summary(out: str, *extra: str) -> pd.Series:
        args = ["analyze", str(src), "--area", "1 cm2", "-o", str(tmp_path / out), "--no-report"]
        assert main([*args, "--jobs", "1", *extra]) == 0
        return pd.read_csv(tmp_path / out / "summary.csv").iloc[0]

    with_mass = summary("mass", "--mass", "4 g")
    assert with_mass["cell_type"] == "cathode"
    per_gram = cf.I_A * cf.DISCHARGE_S / 3.6 / 4.0  # mAh of one discharge / 4 g
    assert with_mass["capacity_discharge_last_mAh_g"] == pytest.approx(per_gram, rel=1e-3)
    assert "capacity_discharge_last_mAh_g" not in summary("nomass")
