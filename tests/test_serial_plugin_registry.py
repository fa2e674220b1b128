"""A third-party driver registered through the ``ssbench.drivers`` entry point, opened by name."""

from __future__ import annotations

import textwrap

import pytest

from daq.clock import VirtualClock
from drivers.registry import ENTRY_POINT_GROUP, available, open_driver
from sim_instruments.lineserver import TcpLineServer
from sim_instruments.thermal_device import ThermalControllerEmulator
from sim_instruments.world import SimConfig, SimWorld

PLUGIN = '''
"""A minimal third-party thermal driver built on ssbench's serial transport."""
from drivers.registry import DriverSpec
from drivers.roles import ThermalController
from drivers.serial_transport import SerialTransport


class AcmeOven(ThermalController):
    def __init__(self, name, transport):
        super().__init__(name)
        self.transport = transport

    def identity(self):
        return "ACME oven via " + self.transport.query("*IDN?")

    def settings_snapshot(self):
        return {}

    def safe_state(self):
        self.transport.write("RANGE 1,0", idempotent=True)

    def close(self):
        self.transport.close()

    def set_temperature(self, temperature):
        self.transport.write(f"SETP 1,{temperature:.3f}", idempotent=True)

    def read_temperature(self):
        return self.transport.query("KRDG? A", float)

    @property
    def stable(self):
        return False


def open_acme(name, resource, settings, clock):
    return AcmeOven(name, SerialTransport(name, resource, read_termination="\\r\\n",
                                          write_termination="\\r\\n", clock=clock))


SPEC = DriverSpec(name="acme_oven", role="thermal", factory="acme_ssbench:open_acme",
                  description="ACME oven (third-party plug-in)")
'''


@pytest.fixture
def plugin_on_path(tmp_path, monkeypatch):
    (tmp_path / "acme_ssbench.py").write_text(PLUGIN)
    dist = tmp_path / "acme_ssbench-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-ssbench\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        textwrap.dedent(f"""\
            [{ENTRY_POINT_GROUP}]
            acme_oven = acme_ssbench:SPEC
            """)
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield
    import sys

    sys.modules.pop("acme_ssbench", None)


def test_plugin_is_listed_and_opens_by_name(plugin_on_path):
    spec = available()["acme_oven"]
    assert spec.role == "thermal" and "plug-in" in spec.description
    world = SimWorld(VirtualClock(), SimConfig(seed=7))
    server = TcpLineServer(ThermalControllerEmulator(world))
    oven = open_driver("acme_oven", "oven", server.serial_url, {}, world.clock)
    try:
        assert "MODEL335" in oven.identity()
        assert oven.read_temperature() == pytest.approx(world.thermal_read_K(), abs=0.2)
    finally:
        oven.close()
        server.close()


def test_unknown_driver_names_the_known_ones(plugin_on_path):
    with pytest.raises(KeyError, match="acme_oven"):
        open_driver("acme_ovn", "oven", "socket://127.0.0.1:1", {}, VirtualClock())
