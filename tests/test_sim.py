"""`make sim` on a small event set: the cocotb testbenches of hdl/ against the Python model end with SIM SUMMARY.

The first run builds what the testbench needs under testbench/build/ (a few
simulated events, the real sim_telarray files converted, a tiny model and its
hardware build) and the Verilator model of the top: several minutes on 2
cores; later runs reuse them.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SUMMARY = re.compile(r"^SIM SUMMARY events=(\d+) windows=(\d+) mismatches=(\d+) sim_time_us=([\d.]+) wall_s=(\d+)$")


@pytest.mark.skipif(not (Path(sys.executable).parent / "cocotb-config").exists(), reason="cocotb not installed")
def test_make_sim_small_set_has_no_mismatches():
    build = ROOT / "testbench" / "build"
    # the testbench's own tiny model, whatever the demo left behind, so that the test does not depend on it
    cmd = ["make", "-C", str(ROOT / "testbench"), f"MODEL={build / 'model'}", f"HW={build / 'hardware'}",
           "MAX_EVENTS=6", "N_RANDOM=10", f"VENV={Path(sys.executable).parent.parent}"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800, env=os.environ.copy())
    lines = [line for line in proc.stdout.splitlines() if line.startswith("SIM SUMMARY")]
    assert len(lines) == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert proc.stdout.rstrip().splitlines()[-1] == lines[0] or "Leaving directory" in proc.stdout.splitlines()[-1]
    match = SUMMARY.match(lines[0])
    assert match, lines[0]
    events, windows, mismatches = (int(match.group(i)) for i in (1, 2, 3))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert mismatches == 0
    # 5 files x 6 events (fewer in short files), 10 random, plus the overload / back-pressure / reset sets
    assert events >= 40 and windows > 0
    assert float(match.group(4)) > 0
