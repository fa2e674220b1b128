"""Report: the result first, display units, the convention stated, a generated methods paragraph."""

import re

import cycler_files as cf

from analysis.importers.auto import import_file
from analysis.methods import methods_paragraph
from analysis.pipeline import analyze_run
from analysis.report import headline, write_report
from analysis.synthetic import SynthSpec, synthetic_run
from protocols.loader import load_protocol


def _text(html: str) -> str:
    return re.sub(r"<[^>]+>", " ", html)


def test_cathode_report_opens_with_capacity_and_retention(tmp_path):
    run = import_file(cf.arbin_csv(tmp_path), area_m2=1e-4)
    res = analyze_run(run)
    html = write_report(run, res, tmp_path / "rep").read_text(encoding="utf-8")
    top = html.index("class='headline'")
    assert top < html.index("<img") < html.index("<h2>Summary")
    lines = headline(res)
    assert lines[0].startswith("discharge capacity 23") and "mAh" in lines[0]  # 850 C = 236 mAh
    assert "retention 100" in lines[0] and "%" in lines[0]
    assert "CE (discharge/charge) mean 94.5" in lines[1]  # 1700/1800 s, sampled at 20 s
    text = _text(html)
    assert "CE = discharge / charge" in text and "cathode" in text
    assert "Nernst" not in text and "void" not in text.lower()
    assert "capacity_discharge_first_mAh" in html and "93,998" not in html


def test_ccd_report_opens_with_j_crit_and_failure_mode(tmp_path):
    run, _ = synthetic_run(
        SynthSpec(n_cycles=4, half_s=1800, short_time=2 * 3600 + 900, j=[1.0, 2.0, 4.0, 8.0])
    )
    res = analyze_run(run)
    assert headline(res)[0] == "J_crit = 0.4 mA cm⁻² (failure mode: short)"
    html = write_report(run, res, tmp_path / "rep").read_text(encoding="utf-8")
    assert "ccd_j_crit_mA_cm2" in html and "A/m²" not in html
    assert "<th>j_mA_cm2 (mA cm⁻²)</th>" in html  # the CCD level table too


def test_methods_paragraph_from_protocol_and_data(tmp_path):
    run, _ = synthetic_run(SynthSpec(n_cycles=3, half_s=1200, rest_s=60, pressure_pa=5e6))
    proto = load_protocol("examples/protocols/ce_cutoff.yaml")
    run.metadata["protocol"] = {"normalized_json": proto.normalized_json()}
    text = methods_paragraph(run, analyze_run(run))
    assert "cycled galvanostatically at" in text and "mA cm⁻²" in text
    assert "under 5 MPa stack pressure" in text
    assert "ce cutoff (current density 0.5 mA cm⁻², cutoff 1 V, cycles 20" in text
    assert "plate capacity 1 mAh cm⁻²" in text and "rest 120 s" in text
    assert "set pressure (pressure 5 MPa" in text
    assert "CE = strip / plate" in text


def test_li_cu_headline_is_ce_and_li_loss():
    run, _ = synthetic_run(SynthSpec(n_cycles=4, half_s=1200, rest_s=60, ce=0.9))
    run.metadata["sample"]["electrodes"] = "Li|LLZO|Cu"
    res = analyze_run(run)
    assert res.summary["cell_type"] == "li_cu"
    line = headline(res)[0]
    assert line.startswith("CE (strip/plate) mean 90") and "Li inventory lost" in line
    assert "µm" in line
