"""Template forms and the safety-limit form as data: field names with unit-string defaults, and
the YAML they produce. Parsing and checking stay in ``protocols`` (units via pint there)."""

from __future__ import annotations

from typing import Any

import yaml

#: template type -> (field, default text, hint); empty text means "leave out"
TEMPLATE_FIELDS: dict[str, list[tuple[str, str, str]]] = {
    "plating_stripping": [
        ("current_density", "0.1 mA/cm2", "|J| of every half cycle"),
        ("cycles", "10", "strip + plate pairs"),
        ("half_cycle_time", "30 min", "or leave empty and give half_cycle_capacity"),
        ("half_cycle_capacity", "", "e.g. 0.5 mAh/cm2"),
        ("rest", "1 min", "rest after each half cycle"),
        ("first", "strip", "strip or plate"),
        ("cutoff", "1 V", "|V| that stops the run"),
    ],
    "ccd_ramp": [
        ("start", "0.1 mA/cm2", "first current density"),
        ("increment", "0.1 mA/cm2", "linear step (or leave empty and give factor)"),
        ("factor", "", "geometric step, > 1"),
        ("maximum", "3 mA/cm2", "last current density"),
        ("cycles_per_step", "1", "cycles at each level"),
        ("half_cycle_time", "5 min", "or leave empty and give half_cycle_capacity"),
        ("half_cycle_capacity", "", "e.g. 0.1 mAh/cm2"),
        ("rest", "30 s", ""),
        ("polarization_limit", "1 V", "|V| that ends the ramp"),
        ("short_voltage", "2 mV", "|V| collapse that counts as a short"),
        ("short_after", "10 s", "arm the short check after this"),
    ],
    "pressure_schedule": [
        ("pressures", "5 MPa, 3 MPa, 1 MPa", "comma-separated"),
        ("hold", "40 min", "hold at each pressure"),
        ("rate", "1 MPa/min", "ramp rate"),
        ("settle_timeout", "", "give up settling after"),
    ],
    "tem_sequence": [
        ("threshold_current", "1 nA", "contact detected above this"),
        ("probe_bias", "-0.5 V", "bias while approaching"),
        ("approach_step", "5 nm", ""),
        ("max_travel", "2 um", ""),
        ("plate_bias", "-2 V", ""),
        ("strip_bias", "2 V", ""),
        ("plate_time", "60 s", ""),
        ("strip_time", "60 s", ""),
        ("cycles", "5", ""),
        ("current_limit", "100 nA", ""),
        ("overflow_bias", "", "e.g. 10 V (needs time and current limit)"),
        ("overflow_time", "", ""),
        ("overflow_current_limit", "", ""),
    ],
    "galvanostatic_cycling": [
        ("sample.cathode.active_material", "LiFePO4", "cathode active material"),
        ("sample.cathode.mass_loading", "4 mg/cm2", "active mass per area (C-rate basis)"),
        ("sample.cathode.specific_capacity", "170 mAh/g", "1 C = loading x area x this"),
        ("c_rate", "0.1 C", "cycling rate, e.g. 0.1 C or C/10"),
        ("cycles", "50", "cycles at c_rate"),
        ("formation_cycles", "2", "cycles before, at formation_c_rate"),
        ("formation_c_rate", "C/20", "empty: c_rate"),
        ("charge_cutoff", "3.85 V", "charge ends when V rises to it"),
        ("discharge_cutoff", "2.5 V", "discharge ends when V falls to it"),
        ("rest", "10 min", "rest after each half cycle"),
        ("cv_taper_current", "", "e.g. 0.01 mA: hold the charge cut-off until |I| < this"),
    ],
    "rate_test": [
        ("sample.cathode.active_material", "LiFePO4", "cathode active material"),
        ("sample.cathode.mass_loading", "4 mg/cm2", "active mass per area (C-rate basis)"),
        ("sample.cathode.specific_capacity", "170 mAh/g", "1 C = loading x area x this"),
        ("c_rates", "0.1 C, 0.2 C, 0.5 C, 1 C, 2 C", "comma-separated, in the order run"),
        ("cycles_per_rate", "1", "cycles at each C-rate"),
        ("charge_cutoff", "3.85 V", "charge ends when V rises to it"),
        ("discharge_cutoff", "2.5 V", "discharge ends when V falls to it"),
        ("rest", "10 min", "rest after each half cycle"),
        ("cv_taper_c_rate", "C/20", "CC-CV charge: hold the cut-off until |I| < this; empty: CC"),
    ],
}
TEMPLATE_TITLES = {
    "plating_stripping": "Plating / stripping",
    "ccd_ramp": "CCD ramp",
    "pressure_schedule": "Pressure schedule",
    "tem_sequence": "TEM bias sequence",
    "galvanostatic_cycling": "Full-cell cycling (C-rate)",
    "rate_test": "Rate test (C-rates)",
}
_INT_FIELDS = {"cycles", "cycles_per_step", "formation_cycles", "cycles_per_rate"}
_LIST_FIELDS = {"pressures", "c_rates"}
#: default safety limits offered with each template
_TEMPLATE_LIMITS = {
    "plating_stripping": {"voltage": {"min": "-1.5 V", "max": "1.5 V"}},
    "ccd_ramp": {"voltage": {"min": "-1.5 V", "max": "1.5 V"}, "current_density": "5 mA/cm2"},
    "pressure_schedule": {"pressure": {"max": "25 MPa"}},
    "tem_sequence": {"bias": "12 V"},
    "galvanostatic_cycling": {"voltage": {"min": "2 V", "max": "4.2 V"}, "current": "10 mA"},
    "rate_test": {"voltage": {"min": "2 V", "max": "4.2 V"}, "current": "10 mA"},
}

#: the limit form: (path in ``limits``, label, hint)
LIMIT_FIELDS: list[tuple[tuple[str, ...], str, str]] = [
    (("voltage", "min"), "V min", "e.g. -1.5 V"),
    (("voltage", "max"), "V max", "e.g. 1.5 V"),
    (("current",), "|I| max", "e.g. 10 mA"),
    (("current_density",), "|J| max", "e.g. 5 mA/cm2"),
    (("pressure", "min"), "P min", "e.g. 0.5 MPa"),
    (("pressure", "max"), "P max", "e.g. 25 MPa"),
    (("temperature", "min"), "T min", "e.g. 10 degC"),
    (("temperature", "max"), "T max", "e.g. 80 degC"),
    (("capacity",), "|capacity| per step", "e.g. 5 mAh/cm2"),
    (("charge",), "|charge| per step", "e.g. 10 mAh"),
    (("bias",), "|bias| max", "e.g. 12 V"),
    (("debounce",), "debounce (samples)", "consecutive samples to trip"),
    (("on_trip_pressure",), "pressure on trip", "hold or release"),
]


def _value(name: str, text: str) -> Any:
    text = text.strip()
    if name in _INT_FIELDS:
        try:
            return int(text)
        except ValueError:
            return text  # the protocol validator names the field and the bad value
    if name in _LIST_FIELDS:
        return [part.strip() for part in text.split(",") if part.strip()]
    return text


def template_protocol(
    template: str, values: dict[str, str], name: str, area: str, rate: str = "10 Hz"
) -> str:
    """Protocol YAML with one ``template`` step from form texts (empty fields left out);
    fields named ``sample.<role>.<field>`` describe the sample's electrodes instead."""
    step: dict[str, Any] = {"type": template}
    doc: dict[str, Any] = {"name": name, "sample": {}}
    if area.strip():
        doc["sample"]["area"] = area.strip()
    for key, text in values.items():
        if not text.strip():
            continue
        if key.startswith("sample."):
            _, role, field = key.split(".")
            doc["sample"].setdefault(role, {})[field] = text.strip()
        else:
            step[key] = _value(key, text)
    doc["sampling"] = {"rate": rate}
    doc["limits"] = _TEMPLATE_LIMITS[template]
    doc["steps"] = [step]
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)


def limits_from_yaml(text: str) -> dict[tuple[str, ...], str]:
    """The limit form's texts from protocol YAML (as written, units included)."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return {}
    limits = data.get("limits") if isinstance(data, dict) else None
    out: dict[tuple[str, ...], str] = {}
    if not isinstance(limits, dict):
        return out
    for path, _, _ in LIMIT_FIELDS:
        node: Any = limits
        for key in path:
            node = node.get(key) if isinstance(node, dict) else None
        if node is not None and not isinstance(node, dict):
            out[path] = str(node)
    return out


def with_limits(text: str, values: dict[tuple[str, ...], str]) -> str:
    """Protocol YAML with its ``limits`` replaced by the form's non-empty values.

    The document is re-serialised (comments are not kept); every other key is unchanged.
    """
    data = yaml.safe_load(text)
    if not isinstance(data, dict):
        raise ValueError("the protocol must be a YAML mapping before limits can be set")
    limits: dict[str, Any] = {}
    for path, raw in values.items():
        raw = raw.strip()
        if not raw:
            continue
        value: Any = int(raw) if path == ("debounce",) and raw.isdigit() else raw
        node = limits
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = value
    ordered = {}
    for key, val in data.items():
        if key in ("steps", "tracks") and limits:
            ordered["limits"] = limits
        if key != "limits":
            ordered[key] = val
    if limits and "limits" not in ordered:
        ordered["limits"] = limits
    return yaml.safe_dump(ordered, sort_keys=False, allow_unicode=True)
