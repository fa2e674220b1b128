"""Closed-loop stack-pressure rig: load-cell indicator + screw actuator, PI loop in software.

``service()`` runs one loop iteration: read the force (a reading further than ``spike_band``
both from the median of the last three and from the force the last move should have produced
is replaced by that median, so a single sensor spike neither moves the actuator nor trips the
limit, while a fast ramp is followed), check the trip level and a frozen sensor, then command an absolute (idempotent, retry-safe) actuator move from
:class:`~drivers.force_loop.ForceLoop`. Below ``contact_force`` the rig first approaches at
``approach_speed`` with the integrator held at zero. ``release()`` is a verified safety write.

Holding a constant target, the loop rests in a ``deadband``: once the ramp is done and the
force has stayed within the deadband for ``settle_time``, and for as long as every reading
stays in it, no move is sent and the time to the next
service (``next_service_in``) doubles from ``period`` up to ``hold_period``, so a held pressure
costs few serial round trips. Any reading outside the deadband (from ``service()`` or
``read()``), a new setpoint, hold, gap or release returns it to ``period`` at once. The trip
level is checked on every reading, ``read()``'s included.
"""

from __future__ import annotations

import contextlib
import math
import statistics
from collections import deque
from typing import Any, Literal

from daq.clock import Clock
from drivers.errors import InstrumentError
from drivers.force_loop import ForceLoop, LoopGains
from drivers.loadcell import LoadCellIndicator
from drivers.roles import PressureReading, PressureRig
from drivers.screw_actuator import ScrewActuator
from drivers.serial_transport import SERIAL_KEYS, open_serial
from drivers.settings import SERIAL, DriverSettings, Setting
from drivers.validators import InRange, check


class ForceLimitExceeded(InstrumentError):
    """The measured force passed the trip level: the load was released."""


class SensorFault(InstrumentError):
    """The load-cell reading is implausible (frozen while the actuator moves).

    The rig latches it: every later ``service()`` and ``settled`` raises it again until a new
    setpoint, so a caller waiting for the pressure to settle ends at once with the reason
    instead of waiting out its timeout."""


_PART = Setting(sub={**SERIAL, "address": Setting(type=int)})
#: station-file settings schema (checked by the station check and at open)
SETTINGS: dict[str, Setting] = {
    "area": Setting("area", required=True, low=1e-8, high=1e-2, unit="m²", example="'1 cm2'"),
    "max_pressure": Setting("pressure", required=True, low=0, example="'30 MPa'"),
    "capacity": Setting("force", low=0),
    "trip_force": Setting("force", low=0),
    "stiffness": Setting("N/m", required=True, above=0, unit="N/m", example="'20 N/um'"),
    "kp": Setting(type=(int, float)),
    "ki": Setting(type=(int, float)),
    "kd": Setting(type=(int, float)),
    "ramp_rate": Setting("pressure_rate", low=0),
    "max_ramp_rate": Setting("pressure_rate", low=0),
    "max_speed": Setting("velocity", low=0),
    "approach_speed": Setting("velocity", low=0),
    "contact_force": Setting("force", low=0),
    "tolerance": Setting("pressure", low=0),
    "settle_time": Setting("time", low=0),
    "step_size": Setting("length", required=True, above=0, example="'0.1 um'"),
    "release_position": Setting("length"),
    "stuck_readings": Setting(type=int),
    "spike_band": Setting("force", low=0),
    "period": Setting("time", above=0),
    "hold_period": Setting("time", above=0),
    "deadband": Setting("pressure", low=0),
    "loadcell": _PART,
    "actuator": _PART,
}


class LoadCellActuatorRig(PressureRig):
    """Software force control on a stack of known ``area``; see the module docstring."""

    def __init__(
        self,
        name: str,
        loadcell: LoadCellIndicator,
        actuator: ScrewActuator,
        settings: DriverSettings,
        clock: Clock,
    ) -> None:
        super().__init__(name)
        self.loadcell = loadcell
        self.actuator = actuator
        self.clock = clock
        s = settings
        self._area = s.quantity("area", "area", None)
        InRange(1e-8, 1e-2, "m²", "cell area")(name, "area", self._area)
        self.max_pressure = s.quantity("max_pressure", "pressure", None)
        capacity = s.quantity("capacity", "force", math.inf)
        self.max_force = min(self.max_pressure * self._area, capacity)
        self.trip_force = s.quantity("trip_force", "force", 1.05 * self.max_force)
        check(
            name,
            "trip_force",
            self.trip_force,
            InRange(self.max_force, 2 * self.max_force, "N", ">= the maximum force"),
        )
        self.step_size = s.quantity("step_size", "length", None)
        gains = LoopGains(
            kp=s.number("kp", 2.0),
            ki=s.number("ki", 1.0),
            kd=s.number("kd", 0.0),
            stiffness=s.quantity("stiffness", "N/m", None),
        )
        self.default_rate = s.quantity("ramp_rate", "pressure_rate", 1e6)
        self.max_rate = s.quantity("max_ramp_rate", "pressure_rate", 10e6)
        actuator_speed = float(actuator.get("maxspeed")) * self.step_size
        max_speed = s.quantity("max_speed", "velocity", actuator_speed)
        check(
            name, "max_speed", max_speed, InRange(1e-9, actuator_speed, "m/s", "actuator maxspeed")
        )
        self.loop = ForceLoop(gains, max_speed)
        self.approach_speed = s.quantity("approach_speed", "velocity", 10e-6)
        self.contact_force = s.quantity("contact_force", "force", 5.0)
        self.tolerance = s.quantity("tolerance", "pressure", 0.05e6) * self._area
        self.settle_time = s.quantity("settle_time", "time", 2.0)
        self.period = s.quantity("period", "time", 0.1)
        # longest service interval while resting in the deadband; past a minute a creep or a
        # swelling cell would go uncorrected too long (the trip is still checked on reads)
        self.hold_period = s.quantity("hold_period", "time", max(2.0, self.period))
        check(
            name,
            "hold_period",
            self.hold_period,
            InRange(self.period, max(60.0, self.period), "s", "period .. 60 s"),
        )
        # half the tolerance: resting in the deadband keeps the rig settled
        self.deadband = s.quantity("deadband", "pressure", 0.5 * self.tolerance / self._area)
        self.deadband *= self._area  # N
        check(
            name,
            "deadband",
            self.deadband / self._area,
            InRange(0.0, self.tolerance / self._area, "Pa", "<= tolerance"),
        )
        self.stuck_readings = int(s.number("stuck_readings", 8))
        self.spike_band = s.quantity("spike_band", "force", 0.05 * self.max_force)
        self.limit_min, self.limit_max = actuator.limits()
        release = s.quantity("release_position", "length", self.limit_min * self.step_size)
        self.release_steps = round(release / self.step_size)
        check(
            name,
            "release_position",
            self.release_steps,
            InRange(self.limit_min, self.limit_max, "steps", "actuator travel"),
        )
        self.mode: Literal["idle", "regulating", "holding", "constant_gap", "released"] = "idle"
        self._gap_trip_force = math.inf  # constant gap: trip above the baseline + max_rise
        self._gap_tripped: str | None = None  # latched until the next setpoint
        self._raw: deque[float] = deque(maxlen=3)
        self._expected: float | None = None  # force the last move should produce
        self._same = 0
        self._last_reply = ""
        self._last_t: float | None = None
        self._settled_since: float | None = None
        self._fault: str | None = None  # latched SensorFault message
        self._target_steps = actuator.position()
        self.force = 0.0
        self._interval = self.period  # present service interval (grows in the deadband)
        self._due = clock.now()  # run-clock time the next service is due
        self._held = False  # the last service rested in the deadband (no loop step)
        self._band_since: float | None = None  # regulating in the deadband since (run clock)
        self._read_t: float | None = None  # run-clock time of the latest load-cell reading
        self._at_rest_t: float | None = None  # pos read back == target, IDLE, no move since

    # -- Instrument ------------------------------------------------------------------------------
    @property
    def cell_area(self) -> float:
        return self._area

    def identity(self) -> str:
        return f"load cell [{self.loadcell.identity()}] + actuator [{self.actuator.identity()}]"

    def settings_snapshot(self) -> dict[str, Any]:
        g = self.loop.gains
        return {
            "area_m2": self._area, "max_pressure_Pa": self.max_pressure,
            "max_force_N": self.max_force, "trip_force_N": self.trip_force, "kp": g.kp, "ki": g.ki, "kd": g.kd,
            "stiffness_N_per_m": g.stiffness, "max_speed_m_per_s": self.loop.max_speed,
            "approach_speed_m_per_s": self.approach_speed, "contact_force_N": self.contact_force,
            "tolerance_N": self.tolerance, "settle_time_s": self.settle_time,
            "step_size_m": self.step_size, "travel_steps": [self.limit_min, self.limit_max],
            "release_steps": self.release_steps, "mode": self.mode,
            "target_force_N": self.loop.target, "period_s": self.period,
            "hold_period_s": self.hold_period, "deadband_N": self.deadband,
        }  # fmt: skip

    def safe_state(self) -> None:
        self.release()

    def close(self) -> None:
        self.loadcell.transport.close()
        self.actuator.transport.close()

    # -- setpoints -------------------------------------------------------------------------------
    def set_pressure(self, pressure: float, rate: float | None = None) -> None:
        check(
            self.name,
            "pressure",
            pressure,
            InRange(0.0, self.max_force / self._area, "Pa", "rig maximum"),
        )
        if rate is not None:
            check(
                self.name,
                "rate",
                rate,
                InRange(1e-3, self.max_rate, "Pa/s", "rig maximum ramp rate"),
            )
        self._engage(pressure * self._area, (rate or self.default_rate) * self._area)

    def set_force(self, force: float, rate: float | None = None) -> None:
        check(self.name, "force", force, InRange(0.0, self.max_force, "N", "rig maximum"))
        if rate is not None:
            check(
                self.name,
                "rate",
                rate,
                InRange(1e-6, self.max_rate * self._area, "N/s", "rig maximum ramp rate"),
            )
        self._engage(force, rate or self.default_rate * self._area)

    def _engage(self, force: float, rate: float) -> None:
        if self.mode != "regulating":
            self.loop.reset()
        self.loop.engage(self._read_force(), force, rate)
        self.mode = "regulating"
        self._gap_tripped = None
        self._settled_since = None
        self._fault = None
        self._last_t = self.clock.now()
        self._held, self._band_since = False, None
        self._fast()

    def hold_position(self) -> None:
        self.actuator.stop()
        self._at_rest_t = None
        self._target_steps = self.actuator.position()
        self.mode = "holding"
        self.loop.reset()
        self._fast()

    def hold_gap(self, max_rise: float | None = None) -> None:
        """Constant gap: hold the actuator where it is and record the pressure the cell makes.

        The pressure now is the baseline; a rise of more than ``max_rise`` Pa above it (or the
        rig's trip force) releases the load and raises ForceLimitExceeded in ``service()``.
        """
        if max_rise is not None:
            check(
                self.name,
                "max_rise",
                max_rise,
                InRange(0.0, self.max_force / self._area, "Pa", "rig maximum"),
            )
        self.hold_position()
        baseline = self._read_force()
        self.mode = "constant_gap"
        self._gap_tripped = None
        rise = math.inf if max_rise is None else max_rise * self._area
        self._gap_trip_force = baseline + rise

    def release(self) -> None:
        """Back off to the release position; verified (position reached), retried, loud.

        A latched stall warning would refuse the move, so it is cleared first (best effort).
        """
        self.mode = "released"
        self.loop.reset()
        self.loop.target = 0.0
        self._fast()
        self._at_rest_t = None
        with contextlib.suppress(InstrumentError):  # one attempt: do not delay the release
            self.actuator.command("warnings clear", idempotent=False)
        command = f"/{self.actuator.address} {self.actuator.axis} move abs {self.release_steps}"
        self.actuator.transport.verified_write(command, self._released, "release the stack load")
        self._target_steps = self.release_steps

    def _released(self) -> bool:
        deadline = self.clock.now() + 60.0
        while self.actuator.busy() and self.clock.now() < deadline:
            self.clock.sleep(0.05)
        return self.actuator.position() == self.release_steps

    # -- readings --------------------------------------------------------------------------------
    def _read_force(self) -> float:
        raw = self.loadcell.force()
        reply = self.loadcell.last_reply
        self._same = self._same + 1 if reply == self._last_reply else 0
        self._last_reply = reply
        self._raw.append(raw)
        median = statistics.median(self._raw)
        # a spike is far from its neighbours AND from what the last move should have produced
        # (a fast ramp is far from the neighbours only); control on the median instead
        expected = self._expected if self._expected is not None else median
        plausible = min(abs(raw - median), abs(raw - expected)) <= self.spike_band
        self.force = raw if plausible else median
        self._read_t = self.clock.now()
        return self.force

    def read(self) -> PressureReading:
        """Force, pressure and actuator position now; the trip level is checked here too.

        On a clock that has not moved since the last load-cell reading (a ``service()`` in the
        same virtual instant) that reading is reused. The position is the commanded target
        while a read-back within ``hold_period`` showed the axis IDLE there and no move has
        been sent since; otherwise it is read back (so a frozen read-back is seen as today,
        and ``release()`` always verifies against the read-back).
        """
        now = self.clock.now()
        if self._read_t != now or not self._raw:
            self._read_force()
            if self.force > self.trip_force:
                self._trip(self.force)
            if self._held and not self._in_band(self.force):
                self._fast()  # a disturbance seen while resting: service at once
        force = self._raw[-1]  # the fresh reading; the median is for control only
        position = self._position_steps(now) * self.step_size
        return PressureReading(force=force, pressure=force / self._area, position=position)

    def _position_steps(self, now: float) -> int:
        if self._at_rest_t is not None and now - self._at_rest_t < self.hold_period:
            return self._target_steps
        reply = self.actuator.command("get pos", idempotent=True)
        steps = int(reply.data)
        at_rest = not reply.busy and steps == self._target_steps
        self._at_rest_t = now if at_rest else None
        return steps

    def _in_band(self, force: float) -> bool:
        """Resting allowed: ramp done and the reading (raw and filtered) within the deadband."""
        target = self.loop.target
        return (
            self.loop.ramp_done
            and abs(force - target) <= self.deadband
            and abs(self._raw[-1] - target) <= self.deadband
        )

    def _fast(self) -> None:
        """Back to servicing every ``period``, the next service due now."""
        self._interval = self.period
        self._due = min(self._due, self.clock.now())

    @property
    def service_interval(self) -> float:
        """Run-clock seconds between services now: ``period``, up to ``hold_period`` at rest."""
        return self._interval

    @property
    def next_service_in(self) -> float:
        """Run-clock seconds until ``service()`` is next due (0: now); grows in the deadband."""
        return max(self._due - self.clock.now(), 0.0)

    @property
    def settled(self) -> bool:
        if self._fault is not None:
            raise SensorFault(self.name, self._fault)
        if self.mode != "regulating" or self._settled_since is None:
            return False
        return self.clock.now() - self._settled_since >= self.settle_time

    # -- the loop --------------------------------------------------------------------------------
    def service(self) -> None:
        """One control iteration; call it when ``next_service_in`` is 0 (every ``period`` s
        while regulating or ramping, up to ``hold_period`` s while resting in the deadband)."""
        now = self.clock.now()
        interval, held = self._interval, self._held
        self._interval, self._held, self._due = self.period, False, now + self.period
        force = self._read_force()
        if force > self.trip_force:
            self._trip(force)
        if self._fault is not None:
            raise SensorFault(self.name, self._fault)
        if self.mode == "constant_gap" and force > self._gap_trip_force:
            self.release()
            self._gap_tripped = (f"force {force:.1f} N rose past the constant-gap limit "
                                 f"{self._gap_trip_force:.1f} N; load released")  # fmt: skip
        if self._gap_tripped is not None:  # latched: a retry of service() fails again
            raise ForceLimitExceeded(self.name, self._gap_tripped)
        if self.mode != "regulating":
            return
        if self._same >= self.stuck_readings and force > self.contact_force:
            self.hold_position()
            self._fault = (f"load-cell reading {self._last_reply!r} frozen for {self._same + 1} "
                           "readings while regulating; the actuator is held")  # fmt: skip
            raise SensorFault(self.name, self._fault)
        in_band = self._in_band(force)
        if not in_band:
            self._band_since = None
        elif self._band_since is None:
            self._band_since = now
        # rest once the running loop kept the force in the band for settle_time (so the PI has
        # converged first), then for as long as the readings stay in it: no move, the
        # integrator frozen, the interval doubling up to hold_period
        if in_band and (held or now - self._band_since >= self.settle_time):
            self._last_t = now
            self._expected = force
            self._interval, self._held = min(2 * interval, self.hold_period), True
            self._due = now + self._interval
            if self._settled_since is None:  # deadband <= tolerance: within tolerance
                self._settled_since = now
            return
        # the first step after a rest spans one period (the rest froze the loop, not its time)
        longest = self.period if held else 5 * self.period
        dt = min(max(now - (self._last_t if self._last_t is not None else now), 0.0), longest)
        self._last_t = now
        here = self._target_steps
        room_up = min(
            (self.limit_max - here) * self.step_size,
            max(self.max_force - force, 0.0) / self.loop.gains.stiffness,
        )
        room_down = (here - self.limit_min) * self.step_size
        if force < self.contact_force and self.loop.target > self.contact_force:
            # touch down slowly enough that contact cannot jump past 10 % of the target
            bump = 0.1 * self.loop.target / self.loop.gains.stiffness
            move = min(self.approach_speed * dt, bump, room_up)
            self.loop.reset()
            # the loop takes over from the force this move should produce (if in contact)
            self.loop.reference = force + move * self.loop.gains.stiffness
        else:
            move = self.loop.step(force, dt, room_up, room_down)
        steps = round(move / self.step_size)
        self._expected = force + steps * self.step_size * self.loop.gains.stiffness
        if steps:
            self._target_steps = here + steps
            self._at_rest_t = None
            self.actuator.move_abs(self._target_steps)
        within = abs(force - self.loop.target) <= self.tolerance and self.loop.ramp_done
        if not within:
            self._settled_since = None
        elif self._settled_since is None:
            self._settled_since = now

    def _trip(self, force: float) -> None:
        self.release()
        raise ForceLimitExceeded(
            self.name,
            f"force {force:.1f} N exceeded the trip level {self.trip_force:.1f} N "
            f"(maximum {self.max_force:.1f} N); load released",
        )


def open_loadcell_actuator_rig(name: str, resource: Any, settings: dict[str, Any], clock: Clock):
    """Factory: ``resource = {"loadcell": url, "actuator": url}``; see SETTINGS for keys."""
    if not isinstance(resource, dict) or set(resource) != {"loadcell", "actuator"}:
        raise ValueError(
            f"{name}: resource must map 'loadcell' and 'actuator' to serial ports, got {resource!r}"
        )
    s = DriverSettings(name, settings, SETTINGS)
    links: dict[str, Any] = {}
    try:
        for part, cls in (("loadcell", LoadCellIndicator), ("actuator", ScrewActuator)):
            serial_settings = DriverSettings(
                f"{name}.{part}", s.get(part, {}), SERIAL_KEYS + ("address",)
            )
            links[part] = open_serial(
                f"{name}.{part}", resource[part], serial_settings.raw, clock,
                read_termination=cls.read_termination, write_termination=cls.write_termination,
                baudrate=9600 if part == "loadcell" else 115200,
            )  # fmt: skip
        loadcell = LoadCellIndicator(f"{name}.loadcell", links["loadcell"])
        loadcell.configure()
        address = int((s.get("actuator") or {}).get("address", 1))
        actuator = ScrewActuator(f"{name}.actuator", links["actuator"], address=address)
        return LoadCellActuatorRig(name, loadcell, actuator, s, clock)
    except BaseException:
        for link in links.values():
            link.close()
        raise
