"""Small cycler exports written in each instrument's documented layout, from one known run.

The run: a Li-ion-like cell (3.0–4.2 V), three cycles of rest, charge at +0.5 A for 1800 s,
rest, discharge at −0.5 A for 1700 s. Samples are logged Arbin-style: each step's first sample
one interval after the step starts, the last one at its end, 10 s apart at rest and 20 s apart
at current; the capacity counters hold I·(t − t_step start) as the instruments do.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

I_A = 0.5
CHARGE_S, DISCHARGE_S, REST_S = 1800.0, 1700.0, 300.0
N_CYCLES = 3
START = datetime(2026, 3, 14, 9, 30, 0)
#: (kind, duration s, current A, sample interval s) of one cycle.
CYCLE = (
    ("rest", REST_S, 0.0, 10.0),
    ("charge", CHARGE_S, I_A, 20.0),
    ("rest", REST_S, 0.0, 10.0),
    ("discharge", DISCHARGE_S, -I_A, 20.0),
)


def canonical(n_cycles: int = N_CYCLES) -> pd.DataFrame:
    """The run as one table: time, voltage, current, step index (1..4 per cycle), cycle (1..),
    per-step counter and per-cycle charge/discharge counters (Ah)."""
    rows = []
    t0 = 0.0
    for c in range(1, n_cycles + 1):
        q_chg = q_dis = 0.0
        for k, (kind, dur, cur, dt) in enumerate(CYCLE, start=1):
            times = t0 + dt * np.arange(1, int(round(dur / dt)) + 1)
            for t in times:
                x = (t - t0) / dur
                if kind == "charge":
                    v = 3.6 + 0.5 * x
                elif kind == "discharge":
                    v = 4.0 - 0.8 * x
                else:
                    v = 3.7
                step_ah = abs(cur) * (t - t0) / 3600
                qc = q_chg + (step_ah if cur > 0 else 0.0)
                qd = q_dis + (step_ah if cur < 0 else 0.0)
                rows.append((t, v, cur, k, c, step_ah, qc, qd, kind))
            q_chg += (abs(cur) * dur / 3600) if cur > 0 else 0.0
            q_dis += (abs(cur) * dur / 3600) if cur < 0 else 0.0
            t0 += dur
    return pd.DataFrame(
        rows, columns=["t", "v", "i", "step", "cycle", "q_step", "q_chg", "q_dis", "kind"]
    )


def _stamp(t: np.ndarray, fmt: str) -> list[str]:
    return [(START + timedelta(seconds=float(s))).strftime(fmt) for s in t]


def arbin_csv(folder: Path, *, units: bool = True, encoding: str = "utf-8") -> Path:
    """Arbin MITS Pro CSV: with units in the headers, or the plain-name variant."""
    d = canonical()
    if units:
        frame = pd.DataFrame(
            {
                "Data_Point": np.arange(1, len(d) + 1),
                "Test_Time(s)": d["t"],
                "Date_Time": _stamp(d["t"], "%Y-%m-%d %H:%M:%S"),
                "Step_Index": d["step"],
                "Cycle_Index": d["cycle"],
                "Current(A)": d["i"],
                "Voltage(V)": d["v"],
                "Charge_Capacity(Ah)": d["q_chg"],
                "Discharge_Capacity(Ah)": d["q_dis"],
                "Aux_Temperature(°C)": 25.0,
            }
        )
    else:
        frame = pd.DataFrame(
            {
                "Test_Time": d["t"],
                "Step_Index": d["step"],
                "Cycle_Index": d["cycle"],
                "Current": d["i"],
                "Voltage": d["v"],
            }
        )
    path = folder / f"arbin_{'units' if units else 'plain'}_{encoding}.csv"
    path.write_bytes(frame.to_csv(index=False).encode(encoding))
    return path


def arbin_parquet(folder: Path) -> Path:
    """An Arbin table saved as Parquet (e.g. by a data pipeline), Arbin's column names."""
    frame = pd.read_csv(arbin_csv(folder))
    path = folder / "arbin.parquet"
    frame.to_parquet(path, index=False)
    return path


def arbin_xlsx(folder: Path) -> Path:
    """Arbin Excel: a Global_Info sheet with a title block, then the channel's data sheet."""
    d = canonical()
    path = folder / "arbin.xlsx"
    info = pd.DataFrame([["TEST REPORT", None, None], ["Channel", "Schedule", "Start"]])
    data = pd.DataFrame(
        {
            "Data_Point": np.arange(1, len(d) + 1),
            "Test_Time(s)": d["t"],
            "Step_Index": d["step"],
            "Cycle_Index": d["cycle"],
            "Current(A)": d["i"],
            "Voltage(V)": d["v"],
        }
    )
    with pd.ExcelWriter(path) as xl:
        info.to_excel(xl, sheet_name="Global_Info", index=False, header=False)
        data.to_excel(xl, sheet_name="Channel_1-006", index=False)
    return path


def maccor_txt(folder: Path, *, looped: bool = False, rename_amps: str | None = None) -> Path:
    """Maccor text export: title lines, tab-separated, unsigned Amps with a C/D/R State.

    ``looped`` keeps Cyc# at 1 throughout (a procedure that loops its charge/discharge steps).
    """
    d = canonical()
    state = np.where(d["i"] > 0, "C", np.where(d["i"] < 0, "D", "R"))
    frame = pd.DataFrame(
        {
            "Rec#": np.arange(1, len(d) + 1),
            "Cyc#": 1 if looped else d["cycle"] - 1,
            "Step": d["step"],
            "Test (Sec)": d["t"],
            "Step (Sec)": 0.0,
            "Amp-hr": d["q_step"],
            "Watt-hr": 0.0,
            rename_amps or "Amps": np.abs(d["i"]),
            "Volts": d["v"],
            "State": state,
            "ES": 0,
            "DPt Time": _stamp(d["t"], "%m/%d/%Y %I:%M:%S %p"),
            "ACImp/Ohms": 0.0,
            "DCIR/Ohms": 0.0,
        }
    )
    title = (
        "Today's Date\t03/20/2026 10:11:12 AM\n"
        "Date of Test:\t03/14/2026 09:30:00 AM\tFilename:\tC:\\Data\\cell7.077\t"
        "Procedure:\tLiion_C2.000\tComment/Barcode:\tcell 7, 25 °C\n"
    )
    path = folder / f"maccor{'_looped' if looped else ''}{'_renamed' if rename_amps else ''}.txt"
    path.write_bytes((title + frame.to_csv(index=False, sep="\t")).encode("cp1252"))
    return path


def biologic_csv(folder: Path) -> Path:
    """EC-Lab CSV/text export (no header block) with date-time stamps in the time column,
    cycles numbered from 0, Latin-1 (``°C`` in an unused header), decimal commas."""
    d = canonical()
    frame = pd.DataFrame(
        {
            "mode": 1,
            "ox/red": (d["i"] > 0).astype(int),
            "Ns": d["step"] - 1 + 4 * (d["cycle"] - 1),
            "time/s": _stamp(d["t"], "%m/%d/%Y %H:%M:%S.%f"),
            "Ewe/V": d["v"],
            "<I>/mA": d["i"] * 1e3,
            "Q charge/mA.h": d["q_chg"] * 1e3,
            "Q discharge/mA.h": d["q_dis"] * 1e3,
            "cycle number": d["cycle"] - 1,
            "Temperature/°C": 25.0,
        }
    )
    text = frame.to_csv(index=False, sep=";", decimal=",")
    path = folder / "biologic_export.csv"
    path.write_bytes(text.encode("latin-1"))
    return path


def neware_csv(folder: Path, *, excel: bool = False) -> Path:
    """Neware BTS record export: clock-text Total Time, units in headers, per-step counters."""
    d = canonical()
    kind = {"rest": "Rest", "charge": "CC Chg", "discharge": "CC DChg"}
    clock = [f"{int(t // 3600):02d}:{int(t % 3600 // 60):02d}:{t % 60:06.3f}" for t in d["t"]]
    frame = pd.DataFrame(
        {
            "DataPoint": np.arange(1, len(d) + 1),
            "Cycle Index": d["cycle"],
            "Step Index": d["step"] + 4 * (d["cycle"] - 1),
            "Step Type": d["kind"].map(kind),
            "Total Time": clock,
            "Current(A)": d["i"],
            "Voltage(V)": d["v"],
            "Capacity(Ah)": d["q_step"],
            "Chg. Cap.(Ah)": np.where(d["i"] > 0, d["q_step"], 0.0),
            "DChg. Cap.(Ah)": np.where(d["i"] < 0, d["q_step"], 0.0),
            "Date": _stamp(d["t"], "%Y-%m-%d %H:%M:%S"),
        }
    )
    if excel:
        path = folder / "neware.xlsx"
        frame.to_excel(path, index=False, sheet_name="record")
    else:
        path = folder / "neware.csv"
        path.write_text(frame.to_csv(index=False), encoding="utf-8")
    return path


def maccor_csv(folder: Path) -> Path:
    """Maccor's newer comma export: units in brackets, unsigned current with an ``Md`` mode."""
    d = canonical()
    frame = pd.DataFrame(
        {
            "Rec#": np.arange(1, len(d) + 1),
            "Cycle C": d["cycle"],
            "Step": d["step"],
            "TestTime": d["t"],
            "Cap. [Ah]": d["q_step"],
            "Current [A]": np.abs(d["i"]),
            "Voltage [V]": d["v"],
            "Md": np.where(d["i"] > 0, "C", np.where(d["i"] < 0, "D", "R")),
        }
    )
    path = folder / "maccor_new.csv"
    path.write_text(frame.to_csv(index=False), encoding="utf-8")
    return path
