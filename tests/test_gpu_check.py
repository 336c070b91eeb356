"""benchmarks/gpu_check.sh --cpu: the GPU check's every step runs on tiny CPU sizes, so it cannot rot before
a GPU is at hand (about 3 minutes on two shared cores: slow)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_gpu_check_runs_on_cpu(tmp_path):
    env = {**os.environ, "OUT": str(tmp_path), "PYTHON": sys.executable, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_check.sh"), "--cpu"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=900)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert proc.returncode == 0 and not summary["failed"], (proc.stdout, summary)
    assert {s["step"] for s in summary["steps"]} >= {"scan_check", "run_hc_tiny_32-true",
                                                    "run_hc_tiny_bf16-mixed", "r2i_speed_wm"}
    assert all('"status": "ok"' in line or "skipped" in line
               for line in (tmp_path / "scan_check.log").read_text().splitlines() if line.startswith("{"))
    assert (tmp_path / "r2i_speed_wm.json").exists()
