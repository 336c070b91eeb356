"""``intarsia sweep --launcher slurm`` against a real one-node SLURM cluster (scripts/slurm-local.sh), no mock.

Needs root and apt-get (the script installs slurm-wlm and munge when missing); skipped on a user's machine,
required when ``CI=true``, so a green CI cannot hide a skipped cluster test."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "slurm-local.sh"


def _why_not() -> str | None:
    if os.geteuid() != 0:
        return "the SLURM test needs root (it starts slurmctld and slurmd)"
    if not shutil.which("apt-get") and not shutil.which("slurmctld"):
        return "the SLURM test needs apt-get to install slurm-wlm and munge"
    return None


@pytest.fixture(scope="module")
def slurm_cluster(tmp_path_factory):
    reason = _why_not()
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"required in CI: {reason}")
        pytest.skip(reason)
    state = tmp_path_factory.mktemp("slurm")
    env = {**os.environ, "INTARSIA_SLURM_DIR": str(state)}
    up = subprocess.run(["bash", str(SCRIPT), "start"], env=env, capture_output=True, text=True, timeout=300)
    assert up.returncode == 0, up.stdout + up.stderr
    old = os.environ.get("SLURM_CONF")
    os.environ["SLURM_CONF"] = str(state / "slurm.conf")
    try:
        yield state
    finally:
        subprocess.run(["bash", str(SCRIPT), "stop"], env=env, capture_output=True, timeout=60)
        if old is None:
            os.environ.pop("SLURM_CONF", None)
        else:
            os.environ["SLURM_CONF"] = old


def test_a_sweep_runs_as_a_slurm_array_job(slurm_cluster, tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "INTARSIA_NO_PROGRESS": "1"}
    out = subprocess.run([sys.executable, "-m", "intarsia", "sweep", "builtin/tiny", "steps=300", f"log.dir={tmp_path}",
                          "--seeds", "0-1", "--launcher", "slurm", "--time", "10", "--cpus", "1",
                          "--setup", "export INTARSIA_FROM_SETUP=1"],
                         env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr[-3000:]
    sweep_dir = next(tmp_path.glob("tiny/sweep-*"))
    manifest = yaml.safe_load((sweep_dir / "sweep.yaml").read_text())
    assert manifest["launcher"]["name"] == "slurm" and manifest["counts"]["done"] == 2
    ids = [r["job_id"] for r in manifest["runs"]]
    assert all("_" in i for i in ids) and len({i.split("_")[0] for i in ids}) == 1  # one array job
    for r in manifest["runs"]:
        assert json.loads((sweep_dir / r["dir"] / "report.json").read_text())["seed"] == r["seed"]
    batch = next((sweep_dir / "slurm").rglob("*_submission.sh")).read_text()
    assert "--array=0-1" in batch and "export INTARSIA_FROM_SETUP=1" in batch and "--time=10" in batch
