"""The drivers that ship with ssbench, by the name station files use."""

from __future__ import annotations

from drivers.registry import DriverSpec, register

register(
    DriverSpec(
        name="keithley2450",
        role="potentiostat",
        factory="drivers.keithley2450:open_keithley2450",
        settings="drivers.keithley2450:SETTINGS",
        description="Keithley 2450 / 2450-EC SourceMeter over VISA (SCPI, buffered)",
        sim_kind="keithley2450",
    )
)
register(
    DriverSpec(
        name="methodscript",
        role="potentiostat",
        factory="drivers.methodscript:open_methodscript",
        settings="drivers.methodscript:SETTINGS",
        sweeps="drivers.methodscript:SWEEPS",
        description="PalmSens-style potentiostat with EIS (EmStat4 / Pico class, MethodSCRIPT over serial)",
        sim_kind="methodscript",
    )
)
register(
    DriverSpec(
        name="loadcell_actuator_rig",
        role="pressure_rig",
        factory="drivers.pressure_rig:open_loadcell_actuator_rig",
        settings="drivers.pressure_rig:SETTINGS",
        description="Load-cell indicator + screw actuator, closed-loop force control in software",
        sim_kind="loadcell_actuator",
    )
)
register(
    DriverSpec(
        name="pressure_controller",
        role="pressure_rig",
        factory="drivers.pressure_controller:open_pressure_controller",
        settings="drivers.pressure_controller:SETTINGS",
        description="Integrated stack-pressure controller (ASCII over serial)",
        sim_kind="pressure_controller",
    )
)
register(
    DriverSpec(
        name="tem_holder",
        role="bias_holder",
        factory="drivers.tem_holder:open_tem_holder",
        settings="drivers.tem_holder:SETTINGS",
        description="TEM/STM biasing holder: piezo controller (serial) + bias SMU (VISA)",
        sim_kind="tem_holder",
    )
)
register(
    DriverSpec(
        name="folder_frames",
        role="frame_source",
        factory="drivers.frames:open_folder_frames",
        settings="drivers.frames:SETTINGS",
        description="Frames exported by the microscope software into a folder (TIFF/PNG)",
        sim_kind="camera",
    )
)
register(
    DriverSpec(
        name="thermal_controller",
        role="thermal",
        factory="drivers.thermal:open_thermal_controller",
        settings="drivers.thermal:SETTINGS",
        description="Cell temperature controller (ASCII over serial)",
        sim_kind="thermal",
    )
)
