"""``ssbench demo``: simulated LLZO cell, CCD ramp under a stack-pressure schedule, analysis, report.

Everything runs on the simulated twins (the real drivers talk to emulators over loopback),
on a virtual clock, so it finishes in well under a minute and needs no hardware.
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).parent
DEMO_STATION = HERE / "demo_station.yaml"
DEMO_PROTOCOL = HERE / "demo_protocol.yaml"


def run_demo(out: Path) -> int:
    """Run the demo into ``out`` (run file + report); print where everything is."""
    from analysis.load import load_run
    from analysis.pipeline import analyze_run
    from analysis.report import write_report
    from daq.session import execute, run_file_name
    from daq.station import Station, load_station_config
    from protocols.console import ProgressBar, interactive
    from protocols.loader import load_protocol

    protocol = load_protocol(DEMO_PROTOCOL)
    config = load_station_config(DEMO_STATION)
    print(f"ssbench demo: {protocol.name}")
    print(f"  station {DEMO_STATION}\n  protocol {DEMO_PROTOCOL}")
    with Station.open(config, simulate=True) as station:
        output = execute(protocol, DEMO_PROTOCOL.read_text(encoding="utf-8"), station,
                         out / run_file_name(protocol), [ProgressBar()], controller=interactive)  # fmt: skip
    result = output.result
    print(f"run: {result.status} ({result.reason})")
    for outcome in result.outcomes:
        if "j_crit" in outcome:
            print(
                f"  J_crit {outcome['j_crit'] / 10:.3g} mA/cm2, failure mode: {outcome['failure_mode']}"
            )
    run = load_run(output.path)
    analysis = analyze_run(run)
    report = write_report(run, analysis, out / "report")
    print(f"run file: {output.path}")
    print(f"report:   {report}")
    print(f"next: ssbench analyze {output.path}   |   ssbench gui")
    return 0 if result.status in ("success", "stopped") else 1
