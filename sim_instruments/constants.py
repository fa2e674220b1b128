"""Every number the simulated laboratory uses, in SI, with its unit in the name and its source.

Sources are the project's domain notes in ``/work/shared/domain/`` (file + section):
``ees`` = physics-ees.md (Tang et al., EES 2021), ``creep`` = physics-creep.md (Chen et al.,
Nature 2020 + Chem perspective), ``reviews`` = physics-reviews.md. ``[INF]`` marks a value
that the notes derive or that is a standard textbook value the notes flag as missing
(``[NIR]``); those are model choices, documented in docs/simulator.md, not measurements.
``[CAL]`` marks a calibration constant chosen so the model meets a target of issue 3.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: 1 mAh/cm2 in C/m2
MAH_PER_CM2_C_PER_M2 = 36000.0

# --- physical constants ----------------------------------------------------------------------
FARADAY_C_PER_MOL = 96485.33212
GAS_CONSTANT_J_PER_MOL_K = 8.314462618
BOLTZMANN_J_PER_K = 1.380649e-23
ELEMENTARY_CHARGE_C = 1.602176634e-19
ROOM_TEMPERATURE_K = 298.15  # reference temperature of every Arrhenius law below

# --- lithium and sodium metal ----------------------------------------------------------------
LI_MOLAR_VOLUME_M3_PER_MOL = 13e-6  # ees §2.1 (V_m = 13 cm3/mol)
LI_ATOMIC_VOLUME_M3 = 21.6e-30  # creep §2.1 E1 (Omega_Li = 21.6 A^3)
LI_MELTING_POINT_K = 453.65  # ees §2.1 (180.5 degC)
NA_ATOMIC_VOLUME_M3 = 37.7e-30  # [INF] standard bcc Na (a = 4.23 A, 2 atoms/cell)
NA_MELTING_POINT_K = 371.15  # reviews §2.1 (98 degC)
#: Dense Li per areal charge: V_m/F -> 4.85 um per mAh/cm2 (ees §2.1 [INF], creep §2.5)
LI_THICKNESS_M_PER_C_PER_M2 = LI_MOLAR_VOLUME_M3_PER_MOL / FARADAY_C_PER_MOL
#: Nernst stress: |P| = e|U|/Omega = 7.41 MPa per mV (creep §2.1 E1, §5 case 1)
NERNST_STRESS_PA_PER_V = ELEMENTARY_CHARGE_C / LI_ATOMIC_VOLUME_M3

# --- Li creep (power law, eq. 1 of ees §0) --------------------------------------------------
LI_CREEP_EXPONENT = 6.5  # ees §0 eq (1): n = 6.56, 6.4, 6.9, 6.55 -> 6.5
#: Activation energy of Li creep / self-diffusion. Not in the seeds (ees §0 [NIR]); [INF]
#: ~ Li self-diffusion activation energy, standard value.
LI_CREEP_ACTIVATION_J_PER_MOL = 55e3
#: Reference flow point of bulk Li: 0.76 MPa at 2e-3 1/s (ees §5 case 4, Tariq)
LI_FLOW_STRESS_REF_PA = 0.76e6
LI_FLOW_STRAIN_RATE_REF_PER_S = 2e-3
#: Lateral confinement of a thin foil in a die: effective deviatoric stress / stack pressure
#: [INF, squeeze-flow scaling ~ h/a with friction; relaxation ~1 %/h at 10 MPa, fast at 25]
LI_FOIL_CONFINEMENT = 0.02

# --- Li supply to a stripping interface (ees §2.7, §7.2; reviews §8.1) ---------------------
#: Vacancy-diffusion supply: planar Li|LLZO stable only up to ~0.1 mA/cm2 without pressure, RT
#: (ees §2.7 Krauskopf kinetic model, §2.9)
VACANCY_SUPPLY_A_PER_M2 = 1.0  # 0.1 mA/cm2
#: Creep supply j = J_ref (P/P_ref)^n exp(-Q/R (1/T - 1/T_ref)) [CAL: CCD on LLZO at 3 MPa
#: between 0.1 and 1.2 mA/cm2, issue 3]; exponent and Q as above.
CREEP_SUPPLY_REF_A_PER_M2 = 2.5  # 0.25 mA/cm2 ...
CREEP_SUPPLY_REF_PRESSURE_PA = 3e6  # ... at 3 MPa
#: Void depth (m of missing Li) that leaves 1/e of the contact [CAL, ~ roughness of pressed foil]
VOID_DEPTH_SCALE_M = 0.8e-6
#: Contact fraction never falls below this (a few asperities stay in touch) [INF]
CONTACT_FRACTION_MIN = 1e-3
#: Fraction of plated Li that refills voids at the plating electrode [CAL: partial recovery so
#: voids accumulate over cycles, ees §2.7 Kasemchainan]
PLATING_VOID_REFILL = 0.2
#: Void onset is reported when the contact fraction first falls below this (truth) [INF]
VOID_ONSET_CONTACT_FRACTION = 0.95
VOID_RECOVERED_CONTACT_FRACTION = 0.99

# --- contact resistance temperature dependence (ees §2.8 takeaway: R_int / 1.7-3 from RT to
# 60-65 degC -> factor 2.2 over 298->338 K gives 16.5 kJ/mol) ---------------------------------
CONTACT_ACTIVATION_J_PER_MOL = 16.5e3

# --- filaments and shorts (ees §0 eqs 2-3, §7.3; reviews §8.3) ------------------------------
#: Number of flaws sampled per interface (weakest-link population) [INF]
FLAWS_PER_INTERFACE = 64
#: Log-normal spread (sigma of ln a) of flaw sizes around the preset's median [INF]
FLAW_SIZE_LOG_SIGMA = 0.3
#: Plated charge per area, while the flaw is over-stressed, before a filament nucleates
#: (mean of an exponential, stochastic, seeded) [CAL]
FILAMENT_INCUBATION_C_PER_M2 = 0.02 * MAH_PER_CM2_C_PER_M2  # 0.02 mAh/cm2
#: Filament tip advance / dense-Li plating rate (current focused into a thin crack) [CAL]
FILAMENT_GROWTH_GAIN = 2000.0
#: Soft short: intermittent metallic contact (ees §3.1 "marked decrease, erratic, then short")
SOFT_SHORT_RESISTANCE_OHM_RANGE = (5.0, 60.0)  # [INF] per episode, log-uniform
SOFT_SHORT_ON_MEAN_S = 4.0  # [INF]
SOFT_SHORT_OFF_MEAN_S = 25.0  # [INF]
SOFT_SHORT_DURATION_MEAN_S = 900.0  # [INF] mean soft phase before the path welds
HARD_SHORT_RESISTANCE_OHM = 1.0  # ees §3.1 "resistance collapses to ohms" / §7.3 mOhm-Ohm

# --- anode-free (Li|SE|Cu) -----------------------------------------------------------------
#: Rest potential of bare Cu vs Li+/Li [INF, standard: Cu is ~3 V positive of Li]
CU_REST_POTENTIAL_V = 3.0
#: Area-specific resistance of a Li-free (blocking) Cu|SE interface (side reactions only) [INF]
CU_BLOCKING_ASR_OHM_M2 = 1e3  # 1e7 ohm cm2
#: Nucleation overpotential on bare Cu, decaying with plated charge (ees §3.8; reviews §8.7)
CU_NUCLEATION_OVERPOTENTIAL_V = 0.03  # [INF]
CU_NUCLEATION_DECAY_C_PER_M2 = 0.005 * MAH_PER_CM2_C_PER_M2  # [INF] 0.005 mAh/cm2
#: Li on Cu behaves as islands below this areal charge: contact falls with inventory [INF]
LI_ISLAND_CHARGE_C_PER_M2 = 0.05 * MAH_PER_CM2_C_PER_M2
#: Li foil thickness of each Li electrode at assembly [INF, typical 100 um foil]
LI_FOIL_THICKNESS_M = 100e-6
#: An electrode thinner than this loses contact (the foil is consumed) [INF]
LI_MIN_CONTINUOUS_THICKNESS_M = 0.5e-6

# --- creep short of soft electrolytes (ees §2.7 Doux, §3.10, §7.4) --------------------------
#: Doux Li|LPS-Cl|Li: shorted after 48 h at 25 MPa; with the creep exponent this gives
#: > 1000 h at 5 MPa and minutes at 75 MPa ("before cycling began").
CREEP_SHORT_REF_PRESSURE_PA = 25e6
CREEP_SHORT_REF_TIME_S = 48 * 3600.0

# --- press mechanics (issue 3 model 3) ------------------------------------------------------
FRAME_STIFFNESS_N_PER_M = 1.0e7  # [INF] bench frame + pellet stack, 1 N per 0.1 um
ACTUATOR_STEP_M = 0.1e-6  # [INF] micro-stepped screw: 0.1 um per step
ACTUATOR_SPEED_STEPS_PER_S = 2000.0  # [INF]
LOAD_CELL_NOISE_N = 0.2  # [INF] 1 sigma
LOAD_CELL_DRIFT_N_PER_S = 0.5 / 3600.0  # [INF] 0.5 N/h zero drift
LOAD_CELL_DRIFT_WALK_N_PER_SQRT_S = 0.005  # [INF] random-walk part of the drift

# --- thermal (issue 3 "temperature dependence of every rate") -------------------------------
THERMAL_TIME_CONSTANT_S = 600.0  # [INF] oven/heater block first-order lag
THERMAL_READ_NOISE_K = 0.02  # [INF]
THERMAL_SETPOINT_RANGE_K = (200.0, 450.0)  # model validity: below Li melting (ees §2.1)

# --- potentiostat measurement ---------------------------------------------------------------
NOISE_VOLTAGE_V = 20e-6  # default per-sample voltage noise (1 sigma)
NOISE_CURRENT_A = 1e-9  # default per-sample current noise floor (1 sigma)
NOISE_CURRENT_RELATIVE = 1e-5  # plus this fraction of |I|

# --- MIEC tubule nanobattery (creep §1.1, §2) -----------------------------------------------
TUBULE_INNER_DIAMETER_M = 100e-9  # creep §1.1 (W ~ 100 nm)
TUBULE_WALL_M = 20e-9  # creep §1.1 (w = 20 nm)
TUBULE_LENGTH_M = 10e-6  # creep §2.3 (10-100 um), §2.4 (10 um travel)
TUBULE_PITCH_M = 300e-9  # [INF] spacing of neighbouring tubules on the grid
INTERFACE_CHANNEL_WIDTH_M = 2e-10  # creep §2.1 E5/E8 (delta_interface ~ 2 A)
#: Surface diffusivity of a monatomic metal: D = 0.014 exp(-6.54 T_M/T) cm2/s (creep §2.1 E9)
SURFACE_DIFFUSIVITY_PREFACTOR_M2_PER_S = 0.014e-4
SURFACE_DIFFUSIVITY_TM_FACTOR = 6.54
#: D_interface = D_surface / this: 7e-7 -> 2e-7 cm2/s (creep §2.2)
INTERFACE_DIFFUSIVITY_REDUCTION = 3.5
#: Series resistance of the probe Li/SE/contact in the open cell [INF: gives pA-nA, creep §1.1]
TUBULE_SERIES_RESISTANCE_OHM = 1e11
#: Interfacial overpotential above which Li extrudes through the pores of a full tubule
#: [INF: overflow needs 10 V, none at 2 V; creep §1.1, §3.9]
TUBULE_OVERFLOW_OVERPOTENTIAL_V = 5.0
#: Probability that a void plug forms at the mouth during a stripping half cycle (creep §1.1 #8)
TUBULE_VOID_PLUG_PROBABILITY = 0.3  # [INF]
TUBULE_OPEN_CIRCUIT_NOISE_A = 0.05e-12  # [INF] holder electrometer noise (1 sigma)
PROBE_RADIUS_M = 500e-9  # [INF] Li/SE cap on the W tip
PROBE_START_M = (0.0, 0.0, -2e-6)  # [INF] probe 2 um in front of the tubule mouths
PROBE_MAX_INDENT_M = 0.2e-6  # [INF] the soft SE cap stops the piezo beyond this
#: Leakage through the vacuum gap / holder insulation when not in contact [INF]
HOLDER_LEAK_RESISTANCE_OHM = 1e14

# --- synthetic frames (creep §1.1 recorded outputs: filled segments darker) ------------------
FRAME_SHAPE_PX = (128, 256)  # rows, columns
FRAME_PIXEL_M = 50e-9  # [INF] 12.8 x 6.4 um field of view
FRAME_BACKGROUND_COUNTS = 20000.0
FRAME_WALL_COUNTS = 12000.0
FRAME_LUMEN_COUNTS = 17000.0
FRAME_LI_COUNTS = 9000.0
FRAME_PROBE_COUNTS = 4000.0
FRAME_NOISE_COUNTS = 400.0
FRAME_DRIFT_PX_PER_SQRT_S = 0.05  # [INF] stage drift random walk

# --- integration -----------------------------------------------------------------------------
MAX_STEP_S = 600.0  # the model never steps further than this at once
MAX_RELATIVE_CHANGE = 0.03  # per step, of the fastest-changing state variable


@dataclass(frozen=True)
class ElectrolytePreset:
    """Material numbers of one solid electrolyte (SI); see docs/simulator.md for the sources."""

    name: str
    label: str
    conductivity_S_per_m: float  # bulk ionic conductivity at 298 K
    conductivity_activation_J_per_mol: float
    thickness_m: float
    temperature_K: float  # default operating temperature
    exchange_current_A_per_m2: float  # Li|SE charge transfer at 298 K
    exchange_activation_J_per_mol: float
    contact_asr_coefficient: float  # B in ASR = B / (P + P0)^m, ohm m2 Pa^m per interface
    contact_pressure_offset_Pa: float  # P0
    contact_pressure_exponent: float  # m: 1 (Doux fit) or 0.5 (Holm constriction)
    fracture_toughness_Pa_sqrt_m: float  # K_IC
    flaw_size_median_m: float
    creep_short: bool  # soft SE: Li creeps through pores at excessive pressure
    interphase_asr_ohm_m2_at_1h: float  # reactive SE: R(t) = R_1h (t / 1 h)^p per interface
    interphase_exponent: float
    interphase_activation_J_per_mol: float
    dead_li_fraction: float  # anode-free: 1 - CE per cycle
    source: str

    @property
    def fracture_stress_median_Pa(self) -> float:
        """Griffith: sigma_f = K_IC / sqrt(pi a) at the median flaw (ees §0 eq 3)."""
        return self.fracture_toughness_Pa_sqrt_m / math.sqrt(math.pi * self.flaw_size_median_m)


_MPA = 1e6
_OHM_CM2 = 1e-4  # ohm cm2 -> ohm m2

PRESETS: dict[str, ElectrolytePreset] = {
    "llzo": ElectrolytePreset(
        name="llzo",
        label="Li7La3Zr2O12 garnet (LLZO), room temperature",
        conductivity_S_per_m=0.05,  # 0.5 mS/cm [INF: ees §2.10 NIR, typical Ta/Al-LLZO]
        conductivity_activation_J_per_mol=38e3,  # 0.39 eV [INF]
        thickness_m=1.0e-3,  # [INF] sintered pellet
        temperature_K=298.15,
        exchange_current_A_per_m2=30.0,  # 3 mA/cm2 [INF]
        exchange_activation_J_per_mol=40e3,  # [INF]
        # Holm constriction R ~ p^-1/2, ~1 ohm cm2 at 400 MPa (ees §0 eq 4, §2.7 Krauskopf);
        # 50 ohm cm2 at 0 MPa ~ bare LLZTO 62 (ees §2.8 Table 3 [161]), 15 at 3 MPa [CAL]
        contact_asr_coefficient=27.4 * _OHM_CM2 * math.sqrt(_MPA),
        contact_pressure_offset_Pa=0.3 * _MPA,
        contact_pressure_exponent=0.5,
        fracture_toughness_Pa_sqrt_m=1.0e6,  # ees §2.6 (K_IC ~ 1 MPa m^1/2)
        flaw_size_median_m=5e-6,  # ees §0 eq 3 (5 um pores, sigma_f ~ 250 MPa)
        creep_short=False,
        interphase_asr_ohm_m2_at_1h=0.0,
        interphase_exponent=0.0,
        interphase_activation_J_per_mol=0.0,
        dead_li_fraction=0.10,  # [INF]
        source="ees §2.6-2.9",
    ),
    "lpscl": ElectrolytePreset(
        name="lpscl",
        label="Li6PS5Cl argyrodite (LPS-Cl), room temperature",
        conductivity_S_per_m=0.3,  # 3 mS/cm [INF: sulfides > 0.1 mS/cm, ees §2.10]
        conductivity_activation_J_per_mol=29e3,  # 0.3 eV [INF]
        # [CAL] bulk 7 + charge transfer 1 = R0 = 8 ohm at 1 cm2, fit R0 + B/p to the Doux
        # impedances 1-25 MPa (ees §2.7: their least squares gives 8.3 + 494/p)
        thickness_m=0.21e-3,
        temperature_K=298.15,
        exchange_current_A_per_m2=500.0,  # 50 mA/cm2 [CAL] so R_ct << R0
        exchange_activation_J_per_mol=40e3,  # [INF]
        contact_asr_coefficient=250.0 * _OHM_CM2 * _MPA,  # B = 500 ohm MPa per cell, 1 cm2
        contact_pressure_offset_Pa=0.01 * _MPA,
        contact_pressure_exponent=1.0,
        fracture_toughness_Pa_sqrt_m=0.23e6,  # ees §2.6 (K_IC = 0.23 MPa m^1/2)
        flaw_size_median_m=1e-6,  # ees §0 eq 3 (1 um -> 130 MPa)
        creep_short=True,  # ees §2.7 Doux, §3.10
        interphase_asr_ohm_m2_at_1h=0.0,
        interphase_exponent=0.0,
        interphase_activation_J_per_mol=0.0,
        dead_li_fraction=0.12,  # ees §5 case 23 (pristine LPS CE 88 %)
        source="ees §2.6-2.7, §5 cases 14, 23",
    ),
    "lipon": ElectrolytePreset(
        name="lipon",
        label="LiPON thin film, room temperature",
        conductivity_S_per_m=3e-4,  # 3 uS/cm [INF, ees §2.10 NIR]
        conductivity_activation_J_per_mol=53e3,  # 0.55 eV [INF]
        thickness_m=2e-6,  # [INF] sputtered film
        temperature_K=298.15,
        exchange_current_A_per_m2=10.0,  # [INF]
        exchange_activation_J_per_mol=40e3,  # [INF]
        # evaporated Li in intimate contact: small, nearly pressure-independent (ees §2.8)
        contact_asr_coefficient=2.0 * _OHM_CM2 * math.sqrt(_MPA),
        contact_pressure_offset_Pa=1.0 * _MPA,
        contact_pressure_exponent=0.5,
        fracture_toughness_Pa_sqrt_m=1.0e6,  # [INF]
        flaw_size_median_m=10e-9,  # amorphous, no grain boundaries: not penetrated (ees §5 #33)
        creep_short=False,
        interphase_asr_ohm_m2_at_1h=0.0,
        interphase_exponent=0.0,
        interphase_activation_J_per_mol=0.0,
        dead_li_fraction=0.01,  # [INF]
        source="ees §2.6, §5 case 33",
    ),
    "peo": ElectrolytePreset(
        name="peo",
        label="PEO-LiTFSI polymer at 55 degC",
        # 0.011 mS/cm at 298 K, strongly activated -> 0.1 mS/cm at 55 degC [INF]
        conductivity_S_per_m=0.0011,
        conductivity_activation_J_per_mol=60e3,
        thickness_m=50e-6,  # creep §1.2 (50 um PEO/LiTFSI)
        temperature_K=328.15,  # creep §1.2, §2.4 (55 degC)
        exchange_current_A_per_m2=5.0,  # [INF]
        exchange_activation_J_per_mol=40e3,  # [INF]
        contact_asr_coefficient=20.0 * _OHM_CM2 * math.sqrt(_MPA),  # soft polymer wets Li
        contact_pressure_offset_Pa=0.5 * _MPA,
        contact_pressure_exponent=0.5,
        # [CAL] penetration threshold ~ 17 mV at the median flaw (no PEO value in the seeds)
        fracture_toughness_Pa_sqrt_m=0.5e6,
        flaw_size_median_m=5e-6,
        creep_short=False,
        interphase_asr_ohm_m2_at_1h=0.0,
        interphase_exponent=0.0,
        interphase_activation_J_per_mol=0.0,
        dead_li_fraction=0.2566,  # creep §2.4 (2D control CE 74.34 % at 55 degC)
        source="creep §1.2, §2.4",
    ),
    "latp": ElectrolytePreset(
        name="latp",
        label="Li1.3Al0.3Ti1.7(PO4)3 NASICON (LATP), reactive with Li",
        conductivity_S_per_m=0.03,  # 0.3 mS/cm [INF]
        conductivity_activation_J_per_mol=35e3,  # [INF]
        thickness_m=0.5e-3,  # [INF]
        temperature_K=298.15,
        exchange_current_A_per_m2=10.0,  # [INF]
        exchange_activation_J_per_mol=40e3,  # [INF]
        contact_asr_coefficient=27.4 * _OHM_CM2 * math.sqrt(_MPA),  # as LLZO [INF]
        contact_pressure_offset_Pa=0.3 * _MPA,
        contact_pressure_exponent=0.5,
        fracture_toughness_Pa_sqrt_m=1.0e6,  # [INF]
        flaw_size_median_m=5e-6,
        creep_short=False,
        # growth law t^0.33 from Hartmann (~21 -> ~72 kohm cm2, 1 -> 42 h; ees §2.8, §3.3);
        # magnitude [CAL] to Wu Fig. 12c: rising polarization at 0.1 mA/cm2 for 60 h, no short
        # and no 5 V cut-off (ees §5 case 25)
        interphase_asr_ohm_m2_at_1h=1.0e3 * _OHM_CM2,
        interphase_exponent=0.33,
        interphase_activation_J_per_mol=50e3,  # [INF] chemical reaction rate
        dead_li_fraction=0.3,  # [INF]
        source="ees §2.8, §3.3, §5 cases 25-26",
    ),
}


# --- full cells, MIEC / 2D hosts, alloy anode (issue 14; creep §1.2-1.3, §2.4; reviews §1.9,
# §2.6-2.7). Coin cells without stack pressure: these electrodes do not depend on pressure. ----
#: Every full-cell constant below is given at 55 degC; other temperatures scale by Arrhenius
FULL_CELL_REFERENCE_TEMPERATURE_K = 328.15  # creep §1.2, §1.3 (55 degC)
_MAH_PER_G = 3600.0  # mAh/g -> C/kg
#: LiFePO4 theoretical specific capacity, the C-rate basis [INF: creep §2.4 derived values]
LFP_SPECIFIC_CAPACITY_C_PER_KG = 170.0 * _MAH_PER_G
#: LiFePO4 loading of the calibration cell: low end of 4-6 mg/cm2 (creep §1.3) [CAL: with it
#: the 2D control's polarization lands within 20 % of 0.45 V]
LFP_LOADING_KG_PER_M2 = 4e-6 / 1e-4
#: Open-circuit curve U(x) = U_p + s (0.5 - x) + A_c exp(-x/w) - A_d exp(-(1 - x)/w)
#: + c (RT/F) ln((1 - x)/x), x = Li fraction of LixFePO4: the flat two-phase plateau, steep
#: ends over a few % of x, and a weak log term that keeps the ends unbounded [INF: standard LFP
#: plateau vs Li; shape a model choice]
LFP_PLATEAU_V = 3.43
LFP_PLATEAU_SLOPE_V = 0.03
LFP_CHARGED_END_V = 0.5
LFP_DISCHARGED_END_V = 1.0
LFP_END_WIDTH = 0.01
LFP_END_LOG_WEIGHT = 0.05
#: Composite cathode (creep §1.3): weight fractions and densities (kg/m3) of LiFePO4, PEO,
#: LiTFSI and carbon black, taken dense [INF: standard densities]. They give the composite's
#: thickness per LFP loading and the volume fraction of PEO-LiTFSI that carries the Li+.
LFP_COMPOSITE_COMPONENTS = {
    "LiFePO4": (0.60, 3600.0),
    "PEO": (0.20, 1210.0),
    "LiTFSI": (0.10, 1330.0),
    "carbon": (0.10, 1800.0),
}
_COMPOSITE_VOLUME_M3_PER_KG = sum(w / rho for w, rho in LFP_COMPOSITE_COMPONENTS.values())
#: Composite thickness per areal LFP loading: 7.7 um per mg/cm2 (31 um at 4 mg/cm2)
LFP_COMPOSITE_THICKNESS_M_PER_KG_PER_M2 = (
    _COMPOSITE_VOLUME_M3_PER_KG / LFP_COMPOSITE_COMPONENTS["LiFePO4"][0]
)
#: PEO-LiTFSI volume fraction of the composite (0.52)
LFP_COMPOSITE_ELECTROLYTE_FRACTION = (
    sum(LFP_COMPOSITE_COMPONENTS[k][0] / LFP_COMPOSITE_COMPONENTS[k][1] for k in ("PEO", "LiTFSI"))
    / _COMPOSITE_VOLUME_M3_PER_KG
)
#: Effective conductivity of the composite's electrolyte: sigma_PEO eps^1.5 (Bruggeman) [INF];
#: its ionic resistance with the reaction spread evenly through the thickness is L/(3 sigma_eff)
#: (porous-electrode theory, Newman) -> ~28 ohm cm2 at 4 mg/cm2 and 55 degC, PEO's Arrhenius
BRUGGEMAN_EXPONENT = 1.5
#: Solid-state Li transport in the LFP particles: Fickian diffusion in a sphere of radius R
#: (single-particle model with an effective chemical diffusivity), solved exactly by its
#: no-flux eigenmodes (electrodes.py). The surface reaches an end before the mean does, by
#: r R^2/(15 D) at C-rate r at low rates and sooner at high rates (Sand-like), so capacity
#: falls smoothly with rate and with falling temperature. R [INF: carbon-coated nano-LFP,
#: 100-200 nm]; D [CAL: 164 and 157 mAh/g at 0.1 and 0.2 C, creep §2.4] lands in the range
#: reported for LiFePO4 by GITT/EIS (1e-16 - 1e-14 cm2/s, e.g. 1.8e-14 cm2/s, Prosini et al.,
#: Solid State Ionics 148 (2002) 45).
LFP_PARTICLE_RADIUS_M = 100e-9
LFP_DIFFUSIVITY_M2_PER_S = 1.2e-18  # 1.2e-14 cm2/s
LFP_DIFFUSION_ACTIVATION_J_PER_MOL = 40e3  # [INF]
LFP_DIFFUSION_MODES = 30  # eigenmodes kept (numerical): the last decays in ~1 s
#: Charge transfer at the LFP|PEO interface, Butler-Volmer with alpha = 0.5:
#: eta = (2RT/F) asinh(j / 2 j0), j0 per kg of LFP (active area scales with the loading).
#: [CAL: 0.25 V charge-discharge polarization at 0.1 C, creep §2.4, with the ohmic and anode
#: shares below]: 1.1e-5 A/cm2 at 4 mg/cm2; slow PEO|LFP charge transfer dominates the
#: polarization of LFP|PEO cells at 0.1 C, and its logarithmic growth with current keeps a
#: 1-2 C charge inside the 3.85 V window (a linear resistance would not).
LFP_EXCHANGE_CURRENT_A_PER_KG = 0.109 / 0.04
LFP_EXCHANGE_ACTIVATION_J_PER_MOL = 40e3  # [INF]
#: Fraction of the charging current carried by a side-reaction shuttle (PEO oxidation near the
#: 3.85 V cut-off [INF]) [CAL: full-cell CE 99.83 %, creep §2.4]
CATHODE_SIDE_REACTION_FRACTION = 0.0017
#: Li chip counter electrode of the half cells (> 100x excess, creep §1.2): Li|PEO ASR [INF]
LI_CHIP_ASR_OHM_M2 = 0.01  # 100 ohm cm2
LI_CHIP_ACTIVATION_J_PER_MOL = 40e3  # [INF]
#: Potential of a host emptied of Li (carbon-coated tubules or Cu) vs Li: the rest potential
#: of bare Cu [INF]; it rises as the last Li leaves, over this areal charge [INF]
HOST_EMPTY_POTENTIAL_V = CU_REST_POTENTIAL_V
HOST_WETTING_CHARGE_C_PER_M2 = 1e-3 * MAH_PER_CM2_C_PER_M2
#: Anode Li excess of the full cells: 1x the cathode capacity, pre-deposited (creep §1.3, §4)
FULL_CELL_LI_EXCESS = 1.0
#: Li+ + e- = Li charge transfer at a host's Li (MIEC or 2D), Butler-Volmer with alpha = 0.5
#: [CAL: the MIEC half cell's 39 mV at 0.125 mA/cm2 (creep §2.4) minus the PEO bulk and the
#: Li chip: 0.17 mA/cm2]; the same reaction on the 2D foil, which adds its interphase ASR
LI_HOST_EXCHANGE_CURRENT_A_PER_M2 = 1.709


@dataclass(frozen=True)
class HostPreset:
    """A Li host anode: where plated Li goes, what it costs, how much dies (SI, at 55 degC)."""

    name: str
    label: str
    #: interphase resistance in series with the charge transfer (linear in j): SEI and
    #: isolated Li on a 2D foil; none in the tubules
    asr_ohm_m2: float
    activation_J_per_mol: float
    dead_li_fraction: float  # fraction of the Li consumed by stripping that is left isolated
    #: None: dead Li forms all along (2D); a charge: only as the host is stripped bare, the
    #: isolated drops in tubules staying connected through the MIEC walls (creep §3 item 3)
    dead_li_depletion_C_per_m2: float | None
    swells: bool  # plated Li thickens the stack (2D) or fills pores (MIEC, no volume change)
    source: str
    #: dead_li_fraction holds at this stripping current density; at |j| it scales as
    #: (|j| / reference)^exponent (None: no rate dependence)
    dead_li_reference_A_per_m2: float | None = None
    dead_li_rate_exponent: float = 0.0


HOSTS: dict[str, HostPreset] = {
    "miec": HostPreset(
        name="miec",
        label="carbon MIEC tubule array (ZnO, LiPON-sealed), 50 um",
        asr_ohm_m2=0.0,  # the half cell's 39 mV is charge transfer (LI_HOST_EXCHANGE_CURRENT)
        activation_J_per_mol=40e3,  # [INF]
        # [CAL] half-cell CE 97.12 % at 1.5 mAh/cm2 (creep §2.4) with dead Li only at depletion
        dead_li_fraction=0.437,
        dead_li_depletion_C_per_m2=0.1 * MAH_PER_CM2_C_PER_M2,  # [INF]
        swells=False,  # creep §1.2, §3 item 9 (Li fills the 80 % porous channels)
        source="creep §1.2, §2.4, §3 items 3, 13",
    ),
    "2d": HostPreset(
        name="2d",
        label="2D carbon-coated Cu foil (control)",
        # [CAL] half cell 250 mV at 0.125 mA/cm2 (creep §2.4) beyond the MIEC's 39 mV
        asr_ohm_m2=0.1688,
        activation_J_per_mol=40e3,  # [INF]
        dead_li_fraction=0.2566,  # creep §2.4 (CE 74.34 % at 0.125 mA/cm2)
        dead_li_depletion_C_per_m2=None,
        swells=True,
        source="creep §1.2, §2.4, §3 items 3-4, 13",
        dead_li_reference_A_per_m2=0.125 * 10.0,  # the half cell's 0.125 mA/cm2
        # [CAL] full cell 82.22 % at 0.1 C (0.068 mA/cm2 on 4 mg/cm2 LFP) once the 1x excess is
        # spent: CE = (1 - shuttle)(1 - delta), delta = 1 - 0.8222/0.9983 = 0.1764 (creep §2.4);
        # the seed's two 2D CEs at two current densities fix the exponent
        dead_li_rate_exponent=0.6156,
    ),
}

# --- alloy / composite anode for constant-gap pressure (reviews §1.2, §1.9, §2.6-2.7) --------
#: Capacity of the alloy layer [INF: commercially relevant 2-4 mAh/cm2, reviews §2.7]
ALLOY_CAPACITY_C_PER_M2 = 2.0 * MAH_PER_CM2_C_PER_M2
ALLOY_THICKNESS_M = 10e-6  # [INF] composite layer as assembled (delithiated)
#: Thickness change at full lithiation: "volume expansion up to 300 %" (reviews §2.7), taken
#: uniaxial and linear in the state of charge [INF]
ALLOY_EXPANSION_AT_FULL = 3.0
#: Open-circuit curve U(t) = U_mid + s (0.5 - t) + (RT/F) ln((1 - t)/t), t = lithiated fraction
ALLOY_MID_POTENTIAL_V = 0.4  # [INF] Si/Sn-like sloping alloy vs Li
ALLOY_POTENTIAL_SLOPE_V = 0.3  # [INF]
ALLOY_INITIAL_FRACTION = 0.01  # [INF] as assembled
ALLOY_ASR_OHM_M2 = 0.02  # [INF] 200 ohm cm2
#: Li trapped per Li extracted: "CE above 99.9 %" of an Sb composite anode (reviews §2.6)
ALLOY_TRAPPED_FRACTION = 0.001

# --- impedance of the cell (issue 13; sim_instruments/impedance.py) --------------------------
# The seeds have no EIS circuits or capacitances (ees §0 "no EIS frequency ranges or equivalent
# circuits" [NIR]); every value below is a textbook-typical [INF] model choice unless noted.
# The resistances are NOT new numbers: they are the DC model's (bulk, charge transfer linearised
# at zero current, contact ASR / contact fraction, interphase), so R(P) follows ees §2.7 Doux.
VACUUM_PERMITTIVITY_F_PER_M = 8.8541878128e-12
#: Relative permittivity of each electrolyte (bulk geometric capacitance eps0 eps_r A / L) [INF]
RELATIVE_PERMITTIVITY = {"llzo": 60.0, "lpscl": 40.0, "lipon": 15.0, "peo": 8.0, "latp": 30.0}
#: Grain-boundary resistance / bulk resistance (0 for glasses and polymers) [INF]
GRAIN_BOUNDARY_RESISTANCE_FRACTION = {"llzo": 0.3, "lpscl": 0.1, "lipon": 0.0, "peo": 0.0, "latp": 0.5}  # fmt: skip
#: C_gb / C_bulk (brick layer: grain size over grain-boundary thickness) [INF]
GRAIN_BOUNDARY_CAPACITANCE_RATIO = 20.0
#: Interface (double layer + contact) capacitance per area in contact, F/m2 (1 uF/cm2) [INF]
INTERFACE_CAPACITANCE_F_PER_M2 = 1e-2
#: Interphase-layer capacitance per area, F/m2 (10 uF/cm2: thin, high-permittivity film) [INF]
INTERPHASE_CAPACITANCE_F_PER_M2 = 1e-1
#: CPE exponent of each interface arc (rough contact) [INF]
INTERFACE_CPE_EXPONENT = 0.9
#: Warburg coefficient of the low-frequency diffusion tail, ohm m2 s^-1/2 (0.5 ohm cm2 s^-1/2)
WARBURG_OHM_M2_SQRT_S = 0.5e-4  # [INF]
#: Relative noise of each impedance component (1 sigma, of |Z|) at each frequency [INF]
EIS_NOISE_RELATIVE = 0.002
#: Time of one frequency point: max(cycles / f, minimum) + settling overhead [INF: typical FRA
#: integrating 2 periods, ~0.1 s minimum per point]
EIS_CYCLES_PER_POINT = 2.0
EIS_MIN_POINT_S = 0.1
EIS_POINT_OVERHEAD_S = 0.05

# --- MethodSCRIPT potentiostat twin (EmStat4-class; docs/instruments/methodscript.md) --------
# Ranges of the emulated instrument [INF: typical of an EmStat4-class module; the twin refuses
# anything outside them with its own error, as the real firmware does].
MSCRIPT_POTENTIAL_RANGE_V = 3.0  # |E| <= 3 V
MSCRIPT_CURRENT_RANGE_A = 30e-3  # |I| <= 30 mA
MSCRIPT_FREQUENCY_RANGE_HZ = (1e-5, 2e5)
MSCRIPT_AC_POTENTIAL_RANGE_V = (1e-4, 0.25)
MSCRIPT_MIN_INTERVAL_S = 1e-3
MSCRIPT_MAX_POINTS = 1000
#: noise scale of the impedance against the AC excitation: relative noise x (10 mV / V_ac)
MSCRIPT_REFERENCE_AC_V = 0.01
