"""Calibration experiments of the host half cells and LiFePO4 full cells (issue 14).

Each runs on a fresh world through the potentiostat and press ports on a virtual clock, the way
a protocol would: constant current to a voltage cut-off, the cut-off found at the sampled
crossing, capacities integrated from the measured current. ``cell_rows()`` adds them to the
calibration table of docs/simulator.md.
"""

from __future__ import annotations

from dataclasses import dataclass

from daq.clock import VirtualClock
from sim_instruments import constants as C
from sim_instruments.world import SimWorld

MA_PER_CM2 = 10.0  # A/m2
MAH = 3.6  # C
MAH_PER_CM2 = C.MAH_PER_CM2_C_PER_M2
CHARGE_CUTOFF_V, DISCHARGE_CUTOFF_V = 3.85, 2.5  # creep §1.3
SAMPLE_S = 5.0


@dataclass
class HalfCycle:
    """One constant-current half cycle: charge passed (C), mean voltage, how it ended."""

    charge_C: float
    mean_V: float
    reached_cutoff: bool


def constant_current(
    world: SimWorld,
    clock: VirtualClock,
    current_A: float,
    cutoff_V: float,
    max_s: float,
    sample_s: float = SAMPLE_S,
) -> HalfCycle:
    """Source ``current_A`` until V crosses ``cutoff_V`` (direction of the current) or max_s."""
    world.electro_source("current", current_A, 5.0)
    charge, volts, t0 = 0.0, [], clock.now()
    while clock.now() - t0 < max_s:
        clock.advance(sample_s)
        v, i, _ = world.electro_measure()
        charge += abs(i) * sample_s
        volts.append(v)
        if (v >= cutoff_V) if current_A > 0 else (v <= cutoff_V):
            return HalfCycle(charge, sum(volts) / len(volts), True)
    return HalfCycle(charge, sum(volts) / len(volts), False)


def constant_voltage(
    world: SimWorld,
    clock: VirtualClock,
    voltage_V: float,
    current_limit_A: float,
    taper_A: float,
    max_s: float,
    sample_s: float = SAMPLE_S,
) -> float:
    """Hold ``voltage_V`` until |I| falls below ``taper_A`` (or max_s): the charge passed (C)."""
    world.electro_source("voltage", voltage_V, current_limit_A)
    charge, t0 = 0.0, clock.now()
    while clock.now() - t0 < max_s:
        clock.advance(sample_s)
        current = abs(world.electro_measure()[1])
        charge += current * sample_s
        if current < taper_A:
            break
    return charge


def rest(world: SimWorld, clock: VirtualClock, seconds: float) -> None:
    world.electro_source("off", 0.0, 5.0)
    clock.advance(seconds)


@dataclass
class FullCycle:
    """Charge and discharge of one full-cell cycle, per gram of LiFePO4 where it says so."""

    charge: HalfCycle
    discharge: HalfCycle
    mass_g: float

    @property
    def discharge_mAh_per_g(self) -> float:
        return self.discharge.charge_C / MAH / self.mass_g

    @property
    def ce(self) -> float:
        return self.discharge.charge_C / self.charge.charge_C

    @property
    def polarization_V(self) -> float:
        return self.charge.mean_V - self.discharge.mean_V


def new_cell_world(cell: str, **config) -> tuple[VirtualClock, SimWorld]:
    """A fresh PEO cell at 55 degC on its own clock, noise-free unless asked."""
    from sim_instruments.world import SimConfig

    config = {"noise_V": 0.0, "noise_I_A": 0.0, "noise_I_relative": 0.0, **config}
    clock = VirtualClock()
    return clock, SimWorld(clock, SimConfig(preset="peo", cell=cell, **config))


def full_cell_cycles(
    cell: str, rates: list[float], rest_s: float = 600.0, sample_s: float = SAMPLE_S, **config
) -> list[FullCycle]:
    """One CC charge to 3.85 V and CC discharge to 2.5 V per entry of ``rates`` (C-rates)."""
    clock, world = new_cell_world(cell, **config)
    capacity = world.truth()["cathode_capacity_C"]
    mass_g = world.config.cathode_loading_kg_per_m2 * world.config.area_m2 * 1e3
    out = []
    for rate in rates:
        current, limit = rate * capacity / 3600.0, 3 * 3600.0 / rate
        charge = constant_current(world, clock, current, CHARGE_CUTOFF_V, limit, sample_s)
        rest(world, clock, rest_s)
        discharge = constant_current(world, clock, -current, DISCHARGE_CUTOFF_V, limit, sample_s)
        rest(world, clock, rest_s)
        out.append(FullCycle(charge, discharge, mass_g))
        if not charge.reached_cutoff:
            break
    return out


def rate_capability(
    cell: str, rates: list[float], taper_c_rate: float = 0.05, rest_s: float = 600.0, **config
) -> list[FullCycle]:
    """Rate test as labs run it: per C-rate, a CC-CV charge (CC at the rate to 3.85 V, held
    until C/20) and a CC discharge at the rate to 2.5 V; one cycle per entry of ``rates``."""
    clock, world = new_cell_world(cell, **config)
    capacity = world.truth()["cathode_capacity_C"]
    mass_g = world.config.cathode_loading_kg_per_m2 * world.config.area_m2 * 1e3
    out = []
    for rate in rates:
        current, limit = rate * capacity / 3600.0, 3 * 3600.0 / rate
        sample = min(SAMPLE_S, 36.0 / rate)  # at least 100 samples per nominal half cycle
        charge = constant_current(world, clock, current, CHARGE_CUTOFF_V, limit, sample)
        taper = taper_c_rate * capacity / 3600.0
        cv = constant_voltage(world, clock, CHARGE_CUTOFF_V, current, taper, limit, sample)
        charge = HalfCycle(charge.charge_C + cv, charge.mean_V, charge.reached_cutoff)
        rest(world, clock, rest_s)
        discharge = constant_current(world, clock, -current, DISCHARGE_CUTOFF_V, limit, sample)
        rest(world, clock, rest_s)
        out.append(FullCycle(charge, discharge, mass_g))
    return out


@dataclass
class HalfCellResult:
    """Host half cell: plating overpotential (V, magnitude) and CE of stripping to the cut-off."""

    overpotential_V: float
    ce: float


def half_cell(
    host: str,
    j_A_per_m2: float = 0.125 * MA_PER_CM2,
    capacity_C_per_m2: float = 1.5 * MAH_PER_CM2,
    strip_cutoff_V: float = 1.0,
    cycles: int = 2,
) -> list[HalfCellResult]:
    """Plate ``capacity`` into the host, strip it to ``strip_cutoff_V``; per cycle."""
    clock, world = new_cell_world(f"half_{host}")
    area = world.config.area_m2
    out = []
    for _ in range(cycles):
        world.electro_source("current", -j_A_per_m2 * area, 5.0)
        volts = []
        for _ in range(int(capacity_C_per_m2 / j_A_per_m2 / 60.0)):
            clock.advance(60.0)
            volts.append(world.electro_measure()[0])
        strip = constant_current(
            world, clock, j_A_per_m2 * area, strip_cutoff_V, 2 * capacity_C_per_m2 / j_A_per_m2
        )
        out.append(
            HalfCellResult(-sum(volts) / len(volts), strip.charge_C / (capacity_C_per_m2 * area))
        )
    return out


def runaway_charge(penetration_after_C_per_m2: float, rate: float = 0.1) -> tuple[bool, float]:
    """Full cell whose Li penetrates the PEO on charge: (reached cut-off, charge / nominal)."""
    cycles = full_cell_cycles(
        "full_miec", [rate], sample_s=60.0, penetration_after_C_per_m2=penetration_after_C_per_m2
    )
    charge = cycles[0].charge
    nominal = C.LFP_LOADING_KG_PER_M2 * 1e-4 * C.LFP_SPECIFIC_CAPACITY_C_PER_KG
    return charge.reached_cutoff, charge.charge_C / nominal


def alloy_pressure_swing_MPa(rate: float = 0.2, cycles: int = 2) -> list[float]:
    """Full cell with the alloy anode at constant gap (actuator never moves): max-min per cycle."""
    clock, world = new_cell_world("full_alloy", initial_pressure_Pa=1e6)
    capacity = world.truth()["cathode_capacity_C"]
    current = rate * capacity / 3600.0
    swings = []
    for _ in range(cycles):
        t0 = clock.now()
        constant_current(world, clock, current, CHARGE_CUTOFF_V, 3 * 3600 / rate, 60.0)
        constant_current(world, clock, -current, DISCHARGE_CUTOFF_V, 3 * 3600 / rate, 60.0)
        truth = world.truth()
        window = truth["t"] >= t0
        p = truth["pressure_Pa"][window]
        swings.append(float(p.max() - p.min()) / 1e6)
    return swings


#: C-rates of the twin's rate test; above 0.2 C the seeds give no number (model extrapolation)
RATE_TEST_C_RATES = (0.1, 0.2, 0.5, 1.0, 2.0)


def rate_rows() -> list[tuple[str, str, str, str, bool]]:
    """Rows for the rate capability beyond the seed's 0.1 / 0.2 C (no target: the model's
    extrapolation, checked for shape: monotonic, substantial at 1 C, above zero at 2 C)."""
    cccv = [c.discharge_mAh_per_g for c in rate_capability("full_miec", list(RATE_TEST_C_RATES))]
    cc = [full_cell_cycles("full_miec", [r, r])[1].discharge_mAh_per_g for r in (0.5, 1.0, 2.0)]
    falls = all(a > b for a, b in zip(cccv, cccv[1:], strict=False))
    return [
        (
            "LFP full cell (Li@MIEC) rate test, CC-CV charge to 3.85 V (C/20), CC discharge"
            " at 0.1 / 0.2 / 0.5 / 1 / 2 C",
            "extrapolation (seeds stop at 0.2 C)",
            "falls with C-rate; > 50 % of 0.1 C at 1 C; > 0 at 2 C",
            " / ".join(f"{q:.0f}" for q in cccv) + " mAh/g",
            falls and cccv[3] > 0.5 * cccv[0] and cccv[4] > 0,
        ),
        (
            "LFP full cell (Li@MIEC), CC charge and discharge at 0.5 / 1 / 2 C",
            "extrapolation (seeds stop at 0.2 C)",
            "falls with C-rate; a 2 C CC charge meets 3.85 V at once (eta ~0.5 V)",
            " / ".join(f"{q:.0f}" for q in cc) + " mAh/g",
            cc[0] > cc[1] > cc[2] >= 0,
        ),
    ]


def cell_rows() -> list[tuple[str, str, str, str, bool]]:
    """Rows of the calibration table for the issue-14 cells."""
    rows: list[tuple[str, str, str, str, bool]] = []
    slow = full_cell_cycles("full_miec", [0.1, 0.1, 0.2, 0.2])
    for label, cycle, target in (("0.1 C", slow[1], 164.0), ("0.2 C", slow[3], 157.0)):
        cap = cycle.discharge_mAh_per_g
        rows.append(
            (
                f"LFP full cell (Li@MIEC, PEO, 55 degC) discharge capacity at {label}",
                "creep §2.4 full-cell table",
                f"{target:.0f} mAh/g +- 3 %",
                f"{cap:.1f} mAh/g",
                abs(cap / target - 1) <= 0.03,
            )
        )
    rows.extend(rate_rows())
    ce = slow[1].ce
    rows.append(
        (
            "LFP full cell (Li@MIEC) CE at 0.1 C",
            "creep §2.4",
            "99.83 % +- 0.1 %",
            f"{ce * 100:.2f} %",
            abs(ce - 0.9983) <= 0.001,
        )
    )
    control = full_cell_cycles("full_2d", [0.1, 0.1])
    for name, cycle, target in (("Li@MIEC", slow[1], 0.25), ("2D Cu control", control[1], 0.45)):
        pol = cycle.polarization_V
        rows.append(
            (
                f"LFP full cell ({name}) polarization at 0.1 C",
                "creep §2.4",
                f"{target:.2f} V +- 20 %",
                f"{pol:.3f} V",
                abs(pol / target - 1) <= 0.2,
            )
        )
    spent = full_cell_cycles("full_2d", [0.1] * 8, rest_s=60.0)
    ce_2d = [c.ce for c in spent]
    depleted = next(k for k, x in enumerate(ce_2d) if k and x < 0.99) + 1  # cycle 1: formation
    rows.append(
        (
            "LFP full cell (2D Cu control) CE at 0.1 C once the 1x excess is spent (cycle 8)",
            "creep §2.4 full-cell table",
            "82.22 % +- 0.1 %",
            f"{ce_2d[-1] * 100:.2f} %",
            abs(ce_2d[-1] - 0.8222) <= 0.001,
        )
    )
    rows.append(
        (
            "LFP full cell (2D Cu control): cycles the 1x excess lasts",
            "creep §5 case 5",
            "exhausted in ~5-6 cycles",
            f"first CE < 99 % after cycle 1: cycle {depleted}",
            depleted in (5, 6, 7),
        )
    )
    miec_long = full_cell_cycles("full_miec", [0.2] * 50, rest_s=60.0)
    fade = 1 - miec_long[-1].discharge.charge_C / miec_long[1].discharge.charge_C
    control_long = full_cell_cycles("full_2d", [0.1] * 8, rest_s=60.0)
    fade_2d = 1 - control_long[-1].discharge.charge_C / control_long[1].discharge.charge_C
    rows.append(
        (
            "LFP full cell, 1x Li excess: fade over 50 cycles (MIEC) / 8 cycles (2D)",
            "creep §3 item 3, §5 case 5",
            "MIEC flat; 2D fades early",
            f"{fade * 100:.2f} % / {fade_2d * 100:.1f} %",
            fade < 0.01 and fade_2d > 0.1,
        )
    )
    for host, v_target, ce_target in (("miec", 0.039, 0.9712), ("2d", 0.250, 0.7434)):
        res = half_cell(host)[-1]
        rows.append(
            (
                f"Half cell {host.upper()} / PEO / Li, 0.125 mA/cm2, 1.5 mAh/cm2: overpotential",
                "creep §2.4, §5 case 2",
                f"{v_target * 1e3:.0f} mV +- 20 %",
                f"{res.overpotential_V * 1e3:.1f} mV",
                abs(res.overpotential_V / v_target - 1) <= 0.2,
            )
        )
        rows.append(
            (
                f"Half cell {host.upper()} / PEO / Li: CE (strip to 1 V)",
                "creep §2.4, §5 case 2",
                f"{ce_target * 100:.2f} % +- 0.1 %",
                f"{res.ce * 100:.2f} %",
                abs(res.ce - ce_target) <= 0.001,
            )
        )
    reached, ratio = runaway_charge(0.3 * MAH_PER_CM2)
    rows.append(
        (
            "Full cell, Li penetrates the PEO during charge",
            "creep §3 item 1",
            "charge never reaches 3.85 V",
            f"{'reached' if reached else 'no cut-off'} after {ratio:.1f}x nominal",
            not reached and ratio >= 2.9,
        )
    )
    swings = alloy_pressure_swing_MPa()
    rows.append(
        (
            "Alloy anode / PEO / LFP at constant gap: pressure swing per cycle",
            "reviews §1.2 (In anode), §2.7",
            "MPa-level",
            ", ".join(f"{s:.2f} MPa" for s in swings),
            all(0.3 <= s <= 5 for s in swings),
        )
    )
    return rows
