"""The standing adversarial harness (issue 15): kills, signals, faults and hostile files.

    python bench/soak.py                 # the long profile: prints the figures for the notes
    python bench/soak.py --profile short # what tests/test_soak.py runs on CI (a few seconds)

Categories, each reported as tried / held / failed:

* **kills** — ``ssbench run`` on the simulated station (real-time clock) is SIGKILLed at a
  random moment; then ``ssbench info`` must open the file and ``ssbench resume`` must finish
  it. Loss per kill = run time at the kill (from the file's clock anchor) minus the last
  recorded sample, in s and in samples.
* **signals** — SIGTERM or SIGINT at a random moment from process start (start-up included);
  the process must exit within the grace time without a traceback, and any run file it made
  must be closed (not left ``interrupted``) unless the signal came before the file existed.
* **faults** — every fault kind × every simulated instrument part, once and permanently: the
  run recovers (success) or ends safely (a located one-line reason, file closed), or hangs.
* **fuzz** — mutated copies of the example protocols and stations, hypothesis-built YAML
  documents, byte-damaged run files and CSV exports, each through the CLI in a sandbox
  process: any "internal error" or traceback is a finding; so is an input that hangs.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import selectors
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

STATION = (ROOT / "examples/stations/sim.yaml").read_text(encoding="utf-8")
#: a short run: load the stack, then galvanostatic steps sampled at 10 Hz, recorded every sample
PROTOCOL = """name: soak
sample: {area: 1 cm2, electrolyte: LLZO, electrodes: Li|LLZO|Li}
sampling: {rate: 10 Hz}
steps:
  - {type: set_pressure, pressure: 2 MPa, timeout: 2 min}
  - type: loop
    count: 4
    steps:
      - {type: galvanostatic, current_density: 0.1 mA/cm2, voltage_limit: 2 V, end: [{time: 4 s}]}
      - {type: galvanostatic, current_density: -0.1 mA/cm2, voltage_limit: 2 V, end: [{time: 4 s}]}
"""
RATE_HZ = 10.0
FAULT_KINDS = ("slow", "timeout", "garble", "drop", "error", "stuck", "spike")
#: simulated parts of the example station and the command each fault is aimed at
FAULT_TARGETS = {"keithley2450": "TRAC:DATA|READ", "loadcell": r"\?C", "actuator": "move|get pos"}
PROFILES = {
    "short": {"kills": 0, "signals": 0, "faults": [], "fuzz": 20},
    "long": {"kills": 10, "signals": 12, "faults": None, "fuzz": 400},
}
BAD = ("internal error", "Traceback (most recent call last)")


def station_file(folder: Path, extra: str = "", acceleration: float | None = None) -> Path:
    """The example simulated station with ``extra`` simulation keys (faults) and a pace."""
    text = STATION.replace("  seed: 1\n", "  seed: 1\n" + extra)
    if acceleration is not None:
        text = text.replace("  seed: 1\n", f"  seed: 1\n  acceleration: {acceleration}\n")
    path = folder / f"station-{abs(hash((extra, acceleration))) % 10**8}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def ssbench(*args: str, timeout: float = 300.0) -> tuple[int | None, str, str]:
    """Run the CLI in a fresh process; returncode None when it had to be killed (hung)."""
    command = [sys.executable, "-m", "daq.cli", *args]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    except subprocess.TimeoutExpired as exc:
        return None, str(exc.stdout or ""), str(exc.stderr or "")
    return done.returncode, done.stdout, done.stderr


def _spawn_run(folder: Path, station: Path) -> subprocess.Popen[str]:
    protocol = folder / "soak.yaml"
    protocol.write_text(PROTOCOL, encoding="utf-8")
    command = [sys.executable, "-m", "daq.cli", "run", str(protocol), "--station", str(station),
               "--out", str(folder / "runs"), "--quiet"]  # fmt: skip
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, text=True, cwd=ROOT)  # fmt: skip


def _run_file(folder: Path) -> Path | None:
    found = sorted((folder / "runs").glob("*.h5")) if (folder / "runs").exists() else []
    return found[-1] if found else None


# -- kills --------------------------------------------------------------------------------------


def kills(n: int, rng: random.Random, tmp: Path) -> dict:
    """SIGKILL ``n`` real-time runs at random moments; info must open, resume must finish."""
    from daq.runfile import RunReader

    out = {"tried": 0, "held": 0, "failed": [], "loss_s": [], "loss_samples": []}
    for k in range(n):
        folder = tmp / f"kill{k}"
        folder.mkdir()
        child = _spawn_run(folder, station_file(folder, acceleration=1.0))
        deadline = time.monotonic() + 120
        while _run_file(folder) is None and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(rng.uniform(1.0, 20.0))  # somewhere in the load or the cycling
        killed_at = time.time()
        child.kill()
        child.communicate()
        out["tried"] += 1
        path = _run_file(folder)
        if path is None:
            out["failed"].append(f"kill {k}: no run file")
            continue
        code, _, err = ssbench("info", str(path), timeout=120)
        if code != 0:
            out["failed"].append(f"kill {k}: info exit {code}: {err.strip()[:200]}")
            continue
        with RunReader(path) as reader:
            anchor = datetime.fromisoformat(reader.attrs["clock_anchor_utc"]).timestamp()
            n_rows = reader.stream_length("electro")
            last = reader.stream("electro", n_rows - 1)["time"].iloc[0] if n_rows else 0.0
        loss = max(killed_at - anchor - last, 0.0)
        out["loss_s"].append(loss)
        out["loss_samples"].append(round(loss * RATE_HZ))
        fast = station_file(folder, acceleration=50.0)
        code, stdout, err = ssbench("resume", str(path), "--station", str(fast), "--quiet")
        if code != 0 or "status: success" not in stdout or any(b in err for b in BAD):
            out["failed"].append(f"kill {k}: resume exit {code}: {(err or stdout).strip()[-200:]}")
            continue
        out["held"] += 1
    return out


# -- signals ------------------------------------------------------------------------------------


def signals(n: int, rng: random.Random, tmp: Path, grace_s: float = 60.0) -> dict:
    """SIGTERM / SIGINT at random moments from process start; clean exit, closed file."""
    from daq.runfile import RunReader

    out = {"tried": 0, "held": 0, "failed": []}
    for k in range(n):
        folder = tmp / f"signal{k}"
        folder.mkdir()
        signum = rng.choice([signal.SIGTERM, signal.SIGINT])
        child = _spawn_run(folder, station_file(folder, acceleration=5.0))
        time.sleep(rng.uniform(0.0, 8.0))
        child.send_signal(signum)
        try:
            _, err = child.communicate(timeout=grace_s)
        except subprocess.TimeoutExpired:  # SIGINT pauses first; a second one aborts
            child.send_signal(signum)
            try:
                _, err = child.communicate(timeout=grace_s)
            except subprocess.TimeoutExpired:
                child.kill()
                child.communicate()
                out["tried"] += 1
                out["failed"].append(f"{signal.Signals(signum).name} {k}: hung")
                continue
        out["tried"] += 1
        name = signal.Signals(signum).name
        if child.returncode == -signum and not err and _run_file(folder) is None:
            out["held"] += 1  # the interpreter itself was starting: nothing opened or made
            out["before_python"] = out.get("before_python", 0) + 1
            continue
        if child.returncode < 0 or any(b in err for b in BAD) or "KeyboardInterrupt" in err:
            out["failed"].append(f"{name} {k}: exit {child.returncode}: {err.strip()[-200:]}")
            continue
        path = _run_file(folder)
        if path is not None:
            with RunReader(path) as reader:
                status = reader.status
            if status in ("interrupted", "running"):
                out["failed"].append(f"{name} {k}: run file left {status!r}")
                continue
        out["held"] += 1
    return out


# -- the fault matrix ---------------------------------------------------------------------------


def fault_cases(selected: list[tuple[str, str, int]] | None) -> list[tuple[str, str, int]]:
    """(kind, target, times) — every kind × target, once (1) and permanently (-1)."""
    if selected is not None:
        return selected
    return [(k, t, n) for k in FAULT_KINDS for t in FAULT_TARGETS for n in (1, -1)]


def fault_matrix(cases: list[tuple[str, str, int]], tmp: Path, timeout: float = 300.0) -> dict:
    """Run the soak protocol under each fault; recovered / ended safely / hung / internal."""
    from daq.runfile import RunReader

    out = {"tried": 0, "recovered": 0, "ended_safely": 0, "hung": 0, "failed": []}
    protocol = tmp / "soak.yaml"
    protocol.write_text(PROTOCOL, encoding="utf-8")
    for kind, target, times in cases:
        label = f"{kind}×{target}×{'permanent' if times < 0 else 'once'}"
        folder = tmp / label.replace("×", "-")
        folder.mkdir()
        fault = (f"  faults:\n    {target}: [{{kind: {kind}, match: '{FAULT_TARGETS[target]}', "
                 f"skip: 20, times: {times}, delay_s: 0.3}}]\n")  # fmt: skip
        station = station_file(folder, fault, acceleration=20.0)
        code, stdout, err = ssbench("run", str(protocol), "--station", str(station), "--out",
                                    str(folder / "runs"), "--quiet", timeout=timeout)  # fmt: skip
        out["tried"] += 1
        path = _run_file(folder)
        if code is None:
            out["hung"] += 1
            out["failed"].append(f"{label}: hung")
        elif any(b in err for b in BAD) or code not in (0, 1, 2):
            out["failed"].append(f"{label}: exit {code}: {err.strip()[-200:]}")
        elif code == 0:
            out["recovered"] += 1
        elif path is None and code == 2:
            out["ended_safely"] += 1  # refused before any file, with one line
        else:
            with RunReader(path) as reader:
                status, reason = reader.status, reader.exit_reason
            if status in ("interrupted", "running") or not reason:
                out["failed"].append(f"{label}: file {status!r} ({reason!r})")
            else:
                out["ended_safely"] += 1
    return out


# -- fuzz ---------------------------------------------------------------------------------------

SANDBOX = r"""
import contextlib, io, json, os, sys
real = os.fdopen(os.dup(1), "w")
from daq.cli import main
# imported before the first timed command: what validate, station check, info, analyze load
import analysis.batch, analysis.cli, daq.cli_run, daq.runfile, daq.station, protocols.validate  # noqa: F401,E401
real.write("ready\n")
real.flush()
for line in sys.stdin:
    argv = json.loads(line)
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 2
        except BaseException as exc:  # escaped main: a finding
            code, err = -1, io.StringIO(f"Traceback (most recent call last): {exc!r}")
    real.write(json.dumps([code, err.getvalue()[-2000:]]) + "\n")
    real.flush()
"""


class Sandbox:
    """A child process running CLI commands in-process, one at a time, with a timeout each;
    a command that hangs (h5py looping on damaged bytes) is killed and the child restarted."""

    def __init__(self, timeout: float = 60.0) -> None:
        self.timeout = timeout
        self._start()

    def _start(self) -> None:
        self.child = subprocess.Popen([sys.executable, "-c", SANDBOX], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                      text=True, cwd=ROOT)  # fmt: skip
        assert self.child.stdout is not None
        if self.child.stdout.readline() != "ready\n":  # imports are not timed
            raise RuntimeError("the fuzz sandbox did not start")

    def run(self, argv: list[str]) -> tuple[int | None, str]:
        """(exit code, stderr) of ``ssbench argv``; (None, "") when it hung."""
        assert self.child.stdin is not None and self.child.stdout is not None
        self.child.stdin.write(json.dumps(argv) + "\n")
        self.child.stdin.flush()
        with selectors.DefaultSelector() as sel:
            sel.register(self.child.stdout, selectors.EVENT_READ)
            ready = sel.select(self.timeout)
        line = self.child.stdout.readline() if ready else ""
        if not line:
            self.close()
            self._start()
            return None, ""
        code, err = json.loads(line)
        return code, err

    def close(self) -> None:
        self.child.kill()
        self.child.wait()


def mutate(data: bytes, rng: random.Random) -> bytes:
    """A damaged copy: flipped, deleted, duplicated or swapped bytes and lines."""
    b = bytearray(data)
    for _ in range(rng.choice([1, 2, 4, 16])):
        op, i = rng.randrange(5), rng.randrange(max(len(b), 1))
        if op == 0 and b:
            b[i] = rng.randrange(256)
        elif op == 1:
            del b[i : i + rng.randrange(1, 40)]
        elif op == 2:
            b[i:i] = b[i : i + rng.randrange(1, 80)]
        elif op == 3:
            b[i:i] = rng.choice([b": ", b"\n- ", b"{", b"[", b"&a ", b"*a", b"!!", b"1e999",
                                 b"-0", b" mA/cm2", b"\t", b"'", b"\xff\xfe"])  # fmt: skip
        else:
            lines = bytes(b).split(b"\n")
            rng.shuffle(lines)
            b = bytearray(b"\n".join(lines))
    return bytes(b)


def _hypothesis_documents(n: int, seed: int) -> list[str]:
    """``n`` YAML documents shaped like protocols and stations, built by hypothesis."""
    import yaml
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    words = st.sampled_from(["name", "steps", "type", "loop", "count", "rest", "end", "time",
                             "galvanostatic", "current_density", "instruments", "driver",
                             "resource", "settings", "simulation", "faults", "kind", "sample",
                             "area", "limits", "tracks", "goto", "label"])  # fmt: skip
    leaves = st.one_of(words, st.text(max_size=12), st.integers(), st.floats(allow_nan=True),
                       st.booleans(), st.none(),
                       st.sampled_from(["1 s", "0.1 mA/cm2", "1e300 s", "-5 MPa", "sim://x"]))  # fmt: skip
    docs = st.recursive(leaves, lambda kids: st.one_of(st.lists(kids, max_size=4),
                                                       st.dictionaries(words, kids, max_size=5)),
                        max_leaves=25)  # fmt: skip
    found: list[str] = []

    @settings(max_examples=n, database=None, derandomize=True, deadline=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(docs)
    def collect(doc) -> None:
        found.append(yaml.safe_dump(doc, allow_unicode=True))

    random.seed(seed)
    collect()
    return found[:n]


def _seed_files(tmp: Path) -> dict[str, tuple[bytes, list[str]]]:
    """name -> (valid bytes, CLI argv with {} for the input path) for every corpus kind."""
    import numpy as np

    from daq.runfile import RunWriter

    run = tmp / "seed.h5"
    with RunWriter(run, {"electro": {"voltage": "V", "current": "A", "step": "", "cycle": ""}},
                   sample={"area_m2": 1e-4, "electrolyte": "LLZO"}, protocol_text=PROTOCOL,
                   protocol_json='{"name": "soak"}', protocol_sha256="ab" * 32) as writer:  # fmt: skip
        t = np.arange(2000.0)
        writer.append("electro", {"time": t, "voltage": 0.01 * np.sin(t / 50),
                                  "current": np.where(t % 400 < 200, 1e-4, -1e-4),
                                  "step": (t // 200).astype(int), "cycle": (t // 400).astype(int)})  # fmt: skip
        writer.event(0.0, "step_start", "galvanostatic", step=0)
    csv = "time,voltage,current\n" + "".join(f"{k},{0.01 * (k % 7):.4f},{0.1 if k % 40 < 20 else -0.1}\n"
                                              for k in range(400))  # fmt: skip
    out = str(tmp / "analysis")
    seeds: dict[str, tuple[bytes, list[str]]] = {}
    for path in sorted((ROOT / "examples/protocols").glob("*.yaml")):
        seeds[f"protocol:{path.name}"] = (path.read_bytes(), ["validate", "{}"])
    for path in sorted((ROOT / "examples/stations").glob("*.yaml")):
        seeds[f"station:{path.name}"] = (
            path.read_bytes(),
            ["station", "check", "--no-connect", "{}"],
        )
    seeds["hdf5:run"] = (run.read_bytes(), ["info", "{}"])
    seeds["hdf5:analyze"] = (
        run.read_bytes(),
        ["analyze", "{}", "-o", out, "--no-report", "--jobs", "1"],
    )
    seeds["csv:analyze"] = (csv.encode(), ["analyze", "{}", "-o", out, "--no-report", "--jobs", "1",
                                           "--area", "1 cm2", "--map",
                                           "time=time:s,voltage=voltage:V,current=current:mA"])  # fmt: skip
    return seeds


def fuzz(n: int, rng: random.Random, tmp: Path, timeout: float = 60.0) -> dict:
    """``n`` hostile inputs through the CLI; findings are internal errors, tracebacks, hangs."""
    seeds = _seed_files(tmp)
    names = sorted(seeds)
    documents = _hypothesis_documents(max(n // 4, 1), rng.randrange(2**31))
    out = {"tried": 0, "held": 0, "failed": [], "hung": 0, "seconds": 0.0, "by_kind": Counter()}
    sandbox = Sandbox(timeout)
    started = time.perf_counter()
    try:
        for k in range(n):
            if k % 4 == 3:  # a hypothesis document, as a protocol or as a station
                text = documents[(k // 4) % len(documents)].encode()
                kind, argv = rng.choice([("yaml:protocol", ["validate", "{}"]),
                                         ("yaml:station", ["station", "check", "--no-connect", "{}"])])  # fmt: skip
                data = text
            else:
                kind = rng.choice(names)
                valid, argv = seeds[kind]
                data = mutate(valid, rng)
            suffix = (
                ".h5" if kind.startswith("hdf5") else ".csv" if kind.startswith("csv") else ".yaml"
            )
            path = tmp / f"fuzz{k}{suffix}"
            path.write_bytes(data)
            code, err = sandbox.run([a.replace("{}", str(path)) for a in argv])
            out["tried"] += 1
            out["by_kind"][kind.split(":")[0]] += 1
            if code is None:
                out["hung"] += 1
                out["failed"].append(f"{kind} {path.name}: hung")
            elif any(b in err for b in BAD) or code not in (0, 1, 2):
                out["failed"].append(f"{kind} {path.name}: exit {code}: {err.strip()[:300]}")
            else:
                out["held"] += 1
                path.unlink()  # keep the findings only
    finally:
        sandbox.close()
        out["seconds"] = time.perf_counter() - started
    return out


# -- report -------------------------------------------------------------------------------------


def _median_max(values: list[float]) -> str:
    return f"median {statistics.median(values):.3g}, max {max(values):.3g}" if values else "n/a"


def report(results: dict[str, dict]) -> list[str]:
    """The figures for the notes, one line per measure."""
    lines = []
    k = results.get("kills")
    if k and k["tried"]:
        lines.append(
            f"kills: {k['held']} survived / {k['tried']} tried (info opens, resume succeeds)"
        )
        lines.append(f"loss per kill: {_median_max(k['loss_samples'])} samples; "
                     f"{_median_max(k['loss_s'])} s at {RATE_HZ:g} Hz")  # fmt: skip
    s = results.get("signals")
    if s and s["tried"]:
        lines.append(
            f"signals: {s['held']} held / {s['tried']} tried (SIGTERM/SIGINT, start-up included)"
        )
    f = results.get("faults")
    if f and f["tried"]:
        lines.append(f"faults: {f['tried']} tried: {f['recovered']} recovered, {f['ended_safely']} "
                     f"ended safely, {f['hung']} hung, {len(f['failed']) - f['hung']} other failures")  # fmt: skip
    z = results.get("fuzz")
    if z and z["tried"]:
        rate = z["tried"] / z["seconds"] if z["seconds"] else 0.0
        kinds = ", ".join(f"{kind} {count}" for kind, count in sorted(z["by_kind"].items()))
        lines.append(f"fuzz: {z['tried']} inputs ({kinds}) at {rate:.1f}/s; "
                     f"{len(z['failed']) - z['hung']} internal errors/tracebacks, {z['hung']} hung")  # fmt: skip
    for name, result in results.items():
        for failure in result.get("failed", [])[:20]:
            lines.append(f"  {name} finding: {failure}")
    return lines


def run_profile(profile: str, seed: int, tmp: Path) -> dict[str, dict]:
    spec = PROFILES[profile]
    rng = random.Random(seed)
    results: dict[str, dict] = {}
    for name, step in (("kills", lambda: kills(spec["kills"], rng, _sub(tmp, "kills"))),
                       ("signals", lambda: signals(spec["signals"], rng, _sub(tmp, "signals"))),
                       ("faults", lambda: fault_matrix(fault_cases(spec["faults"]), _sub(tmp, "faults"))),
                       ("fuzz", lambda: fuzz(spec["fuzz"], rng, _sub(tmp, "fuzz")))):  # fmt: skip
        results[name] = step()
        for line in report({name: results[name]}):
            print(f"[{name}] {line}", file=sys.stderr, flush=True)
    return results


def _sub(tmp: Path, name: str) -> Path:
    folder = tmp / name
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", choices=sorted(PROFILES), default="long")
    parser.add_argument("--seed", type=int, default=int(os.environ.get("SOAK_SEED", "1")))
    parser.add_argument("--keep", help="folder to keep the inputs and run files in")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="ssbench-soak-") as scratch:
        tmp = Path(args.keep or scratch)
        tmp.mkdir(parents=True, exist_ok=True)
        results = run_profile(args.profile, args.seed, tmp)
    print(f"ssbench soak, profile {args.profile}, seed {args.seed}")
    for line in report(results):
        print(line)
    return 0 if not any(r.get("failed") for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
