"""A newcomer's path: `intarsia new-plugin`, a non-editable install, the plugin's own tests (its contract
classes, PluginContract included), a run of its packaged recipe; and the name-clash check."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent


def _env(site: Path) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(site), env.get("PYTHONPATH", "")])
    env["INTARSIA_NO_PROGRESS"] = "1"
    env["INTARSIA_LOAD_PLUGINS"] = "thirdparty"  # only the new plugin besides the core's own
    return env


def test_generated_plugin_installs_tests_and_runs(tmp_path):
    subprocess.run([str(BIN / "intarsia"), "new-plugin", "thirdparty", "--dir", str(tmp_path)], check=True)
    src = tmp_path / "intarsia-thirdparty"
    assert "pip install \".[test]\"" in (src / ".github/workflows/tests.yml").read_text()  # CI, non-editable
    assert "intarsia_thirdparty = [\"recipes/*.yaml\"]" in (src / "pyproject.toml").read_text()
    site = tmp_path / "site"
    # non-editable install into its own folder: the entry point must be found from the built wheel
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                    "--target", str(site), str(src)], check=True)
    env = _env(site)

    out = subprocess.run([str(BIN / "intarsia"), "plugins", "--json"], env=env, capture_output=True, text=True, check=True)
    rows = {row["distribution"]: row for row in json.loads(out.stdout)}
    assert rows["intarsia-thirdparty"]["registered"] == {"rewards": ["thirdparty-step-penalty"],
                                                         "recipes": ["thirdparty/example"]}
    assert rows["intarsia-thirdparty"]["error"] is None

    tests = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(src / "tests")],
                           env=env, capture_output=True, text=True, cwd=tmp_path)
    assert tests.returncode == 0, tests.stdout + tests.stderr

    run_dir = tmp_path / "run"
    # the recipe ships as package data of the non-editable install and extends the core's tiny preset
    subprocess.run([str(BIN / "intarsia"), "run", "thirdparty/example", "steps=400", "fabric.accelerator=cpu",
                    "--run-dir", str(run_dir)], env=env, check=True, capture_output=True, text=True)
    report = json.loads((run_dir / "report.json").read_text())
    assert report["steps"] == 400
    # the penalty was composed: each finished episode accumulated -0.01 per step
    assert report["metrics"]["reward_thirdparty-step-penalty_mean"] < 0


def test_new_plugin_refuses_the_name_of_an_installed_plugin(tmp_path):
    out = subprocess.run([str(BIN / "intarsia"), "new-plugin", "r2i", "--dir", str(tmp_path)],
                         capture_output=True, text=True)
    assert out.returncode == 2
    assert "'r2i' clashes with the installed plugin intarsia-r2i" in out.stderr
    assert not (tmp_path / "intarsia-r2i").exists()
