"""DESIGN.md's dependency direction, checked on every import in the code (lazy ones too)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("daq", "drivers", "sim_instruments", "protocols", "analysis", "gui")
#: daq's foundations: import nothing else of the project, importable by every package
FOUNDATIONS = ("daq", "daq.clock", "daq.units", "daq.runfile", "daq.h5recover", "daq.debounce",
               "daq.yamlconfig", "daq.documents", "daq.noise")  # fmt: skip
#: what each package may import besides itself and the foundations
ALLOWED = {
    "drivers": (),
    "sim_instruments": (),
    # the role interfaces and the sweep timing model, never a driver
    "protocols": ("drivers.roles", "drivers.errors", "drivers.sweeps"),
    "analysis": (),
}
#: known exceptions, each a deviation described in docs/architecture.md
KNOWN = {
    ("sim_instruments.lab", "drivers.settings"),
    ("sim_instruments.faults", "drivers.settings"),
}


def _imports(path: Path):
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


def _within(name: str, prefixes) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def _allowed(module: str, package: str, name: str, is_cli: bool) -> bool:
    if module in FOUNDATIONS:
        return name in FOUNDATIONS or not _within(name, PACKAGES)
    if _within(name, (package,)) or name in FOUNDATIONS or not _within(name, PACKAGES):
        return True
    if package == "gui" or is_cli:  # the top, and the CLI (imports packages when it runs)
        return True
    if package == "daq":  # wiring: stations, engine, storage; never the GUI
        return not _within(name, ("gui",))
    return _within(name, ALLOWED[package])


def _violations() -> list[str]:
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            is_cli = path.stem == "cli" or path.stem.startswith("cli_")
            for name in _imports(path):
                if not _allowed(module, package, name, is_cli) and (module, name) not in KNOWN:
                    found.append(f"{module} imports {name}")
    return found


def test_every_import_follows_the_dependency_direction():
    assert _violations() == []


def test_the_check_sees_a_violation():
    assert not _allowed("protocols.safety", "protocols", "analysis.detect", False)
    assert not _allowed("protocols.engine", "protocols", "drivers.keithley2450", False)
    assert not _allowed("protocols.runner", "protocols", "daq.station", False)
    assert not _allowed("daq.runfile", "daq", "daq.station", False)
    assert not _allowed("analysis.load", "analysis", "drivers.roles", False)
    assert _allowed("protocols.engine", "protocols", "drivers.roles", False)
    assert _allowed("daq.cli_run", "daq", "protocols.validate", True)
