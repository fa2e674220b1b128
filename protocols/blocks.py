"""How long a run on a virtual clock may go before the engine looks at the samples (block mode).

On a virtual clock nothing happens between two engine cycles but what the instruments record,
so the engine may skip the cycles in which it would only have fetched samples that cannot fire
anything, and fetch the potentiostat's reading buffer in blocks. A block ends before the first
sample that might need the engine: from the recent trend of V and I, the step's voltage and
current thresholds and the run's safety limits; from the current, its charge and capacity ends
and limits. Near a threshold the horizon shrinks to one reading — what a tick-by-tick run sees.
What the trend cannot foresee (a short's sudden drop, a detector's call) is acted on at the
end of the block it falls in, at most ``MAX_BLOCK_S`` late. Pure functions; the engine keeps
the state and the clock deadlines (step times, sleeps, the rig's service, slow polls).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from daq.noise import noise_sigma
from protocols.model import Limits
from protocols.steps.base import EndCondition

#: longest block (s of run time): the latest an unforeseeable event is acted on
MAX_BLOCK_S = 20.0
#: a threshold is trusted to be no nearer than distance / (SAFETY x the steepest recent slope)
SAFETY = 4.0
#: a charge end is trusted to be no nearer than this fraction of its time at the present current
CHARGE_FRACTION = 0.9
#: |dV/dt| (V/s) below which a change of slope is noise, not a knee (the twin's 20 uV noise
#: gives ~0.07 mV/s between 1-s readings)
SLOPE_FLOOR_V_PER_S = 2e-4
#: a slope this many times the one before it marks a knee
KNEE_RATIO = 1.2
#: longest block (s) while a step ends on a live detector's call (a short in a CCD ramp): the
#: call comes at its sample's time, the step ends at most this much later than tick by tick
EVENT_BLOCK_S = 1.0


@dataclass(frozen=True)
class Trend:
    """The latest sample, the steepest recent |dV/dt| (V/s) and |dI/dt| (A/s), the span (s) of
    the block they come from, and whether |V| bent upward over it (a knee: a divergence such as
    the end of a strip grows faster than any straight line foresees). ``slope`` is the block's
    least-squares |dV/dt| (V/s) and ``slope_error`` its standard error from the readings' noise:
    the knee tests compare slopes beyond their noise, so 10-Hz readings (whose point-to-point
    slopes are mostly noise) do not see a knee in every block."""

    time: float
    voltage: float
    current: float
    dvdt: float
    didt: float
    span: float = 0.0
    accelerating: bool = False
    slope: float = 0.0
    slope_error: float = 0.0

    @classmethod
    def of(cls, t: np.ndarray, v: np.ndarray, i: np.ndarray,
           previous: Trend | None = None) -> Trend | None:  # fmt: skip
        """The trend of a block of samples (None for fewer than two); a knee when |dV/dt| bent
        upward within the block or grew since the ``previous`` block's, beyond the noise."""
        if t.size < 2:
            return None
        dt = np.diff(t)
        ok = dt > 0
        if not ok.any():
            return None
        dvdt = float(np.max(np.abs(np.diff(v)[ok] / dt[ok])))
        didt = float(np.max(np.abs(np.diff(i)[ok] / dt[ok])))
        span = float(t[-1] - t[0])
        sigma = noise_sigma(v)
        slope, error = _fit_slope(t, v, sigma)
        grew = previous is not None and _beyond(slope, error, previous.slope, previous.slope_error)
        knee = slope > SLOPE_FLOOR_V_PER_S and (grew or _bends_up(t, v, sigma))
        return cls(float(t[-1]), float(v[-1]), float(i[-1]), dvdt, didt, span, knee, slope, error)


def _fit_slope(t: np.ndarray, v: np.ndarray, sigma: float) -> tuple[float, float]:
    """|least-squares dV/dt| (V/s) and its standard error for readings of noise ``sigma``."""
    dt = t - t.mean()
    ss = float(np.dot(dt, dt))
    if ss <= 0:
        return 0.0, 0.0
    return abs(float(np.dot(dt, v - v.mean())) / ss), sigma / np.sqrt(ss)


def _beyond(later: float, later_error: float, earlier: float, earlier_error: float) -> bool:
    """``later`` above KNEE_RATIO x ``earlier`` by more than twice their combined error."""
    return later - KNEE_RATIO * earlier > 2.0 * float(np.hypot(later_error, earlier_error))


def _bends_up(t: np.ndarray, v: np.ndarray, sigma: float) -> bool:
    """|dV/dt| over the block's second half above KNEE_RATIO times that over its first half."""
    if t.size < 4:
        return False
    h = t.size // 2
    first, first_error = _fit_slope(t[: h + 1], v[: h + 1], sigma)
    last, last_error = _fit_slope(t[h:], v[h:], sigma)
    return _beyond(last, last_error, first, first_error)


def _reach(distance: float, slope: float) -> float:
    """Seconds a quantity ``distance`` from its threshold is trusted to stay short of it."""
    if distance <= 0:
        return 0.0
    return np.inf if slope <= 0 else distance / (SAFETY * slope)


def _charge_reach(remaining: float, current: float) -> float:
    if remaining <= 0:
        return 0.0
    return np.inf if current == 0 else CHARGE_FRACTION * remaining / abs(current)


def condition_reach(cond: EndCondition, trend: Trend, charge: float, elapsed: float,
                    area: float | None, quiet: Mapping[str, float] | None = None) -> float:  # fmt: skip
    """Seconds after the trend's last sample during which ``cond`` cannot fire on a sample;
    0 when it might at the next one (compliance, dV/dt once armed); for a detector's call,
    the time its detector says it stays ``quiet`` (by event name), else ``EVENT_BLOCK_S``."""
    c, v, i = cond.criterion, trend.voltage, trend.current
    armed_in = max((cond.after or 0.0) - elapsed, 0.0)
    if c in ("time", "pressure_above", "pressure_below"):
        return np.inf  # the clock and the slow polls see these
    if c == "charge":
        return _charge_reach(cond.charge - abs(charge), i)
    if c == "capacity":
        return np.inf if not area else _charge_reach((cond.capacity - abs(charge) / area) * area, i)
    if c == "voltage_above":
        return max(armed_in, _reach(cond.value - v, trend.dvdt))
    if c == "voltage_below":
        return max(armed_in, _reach(v - cond.value, trend.dvdt))
    if c == "abs_voltage_above":
        return max(armed_in, _reach(cond.value - abs(v), trend.dvdt))
    if c == "abs_voltage_below":
        return max(armed_in, _reach(abs(v) - cond.value, trend.dvdt))
    scale = area if c.startswith("current_density") and area else 1.0
    if c in ("current_above", "current_density_above"):
        return max(armed_in, _reach(cond.value * scale - abs(i), trend.didt))
    if c in ("current_below", "current_density_below"):
        return max(armed_in, _reach(abs(i) - cond.value * scale, trend.didt))
    if c == "event" and cond.event != "compliance":
        return max(armed_in, (quiet or {}).get(cond.event, EVENT_BLOCK_S))
    return armed_in  # dV/dt, compliance: unforeseeable once armed


def limits_reach(limits: Limits, trend: Trend, step_charge: float, area: float | None) -> float:
    """Seconds after the trend's last sample during which no safety limit can trip."""
    reach = [np.inf]
    if limits.voltage is not None:
        if limits.voltage.max is not None:
            reach.append(_reach(limits.voltage.max - trend.voltage, trend.dvdt))
        if limits.voltage.min is not None:
            reach.append(_reach(trend.voltage - limits.voltage.min, trend.dvdt))
    if limits.current is not None:
        reach.append(_reach(limits.current - abs(trend.current), trend.didt))
    if limits.current_density is not None and area:
        reach.append(_reach(limits.current_density * area - abs(trend.current), trend.didt))
    if limits.charge is not None:
        reach.append(_charge_reach(limits.charge - abs(step_charge), trend.current))
    if limits.capacity is not None and area:
        reach.append(_charge_reach(limits.capacity * area - abs(step_charge), trend.current))
    return min(reach)


def sample_horizon(conditions: Iterable[EndCondition], limits: Limits, trend: Trend | None,
                   charge: float, step_charge: float, elapsed: float,
                   area: float | None, quiet: Mapping[str, float] | None = None) -> float:  # fmt: skip
    """Seconds after the last sample (``trend.time``) during which no sample can end the step
    or trip the run; 0 without a trend (the step just started). Blocks grow at most twofold
    from one to the next, and halve while the voltage bends upward (a knee). ``quiet``: how
    long the live detectors cannot call each event (s, by event name)."""
    if trend is None:
        return 0.0
    growth = trend.span / 2 if trend.accelerating else 2 * trend.span
    reach = [limits_reach(limits, trend, step_charge, area), MAX_BLOCK_S, growth]
    reach += [condition_reach(c, trend, charge, elapsed, area, quiet) for c in conditions]
    return max(min(reach), 0.0)
