"""Every user mistake the probe found ends as one line naming the problem and the fix, with exit code 2;
a plugin clash no longer blocks --help, --version and `intarsia plugins`; a plugin that failed to import
is announced by `run`."""

from __future__ import annotations

import json
import os

import pytest
from intarsia.cli import main
from intarsia.testing import run_cli


def _one_line_error(capsys, args) -> str:
    code = main(args)
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err, err
    return err


@pytest.mark.parametrize("override, message", [
    ("num_envs=0", "num_envs: must be >= 1, got 0"),
    ("num_envs=-1", "num_envs: must be >= 1, got -1"),
    ("env.size=1", "env.size: must be >= 5"),
    ("fabric.devices=0", "fabric.devices: must be >= 1"),
    ("log=5", "log: expected a section with the keys every, dir"),
    ("checkpoint.every=-5", "checkpoint.every: must be >= 0"),
])
def test_bad_values_are_one_line_errors(core_host, tmp_path, capsys, override, message):
    err = _one_line_error(capsys, ["run", "builtin/qlearning-grid", "steps=10", override, "--run-dir", str(tmp_path / "r")])
    assert message in err


def test_a_missing_interpolation_is_a_one_line_error(core_host, tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("job: train\nsteps: ${nosuch.key}\npolicy: random\nenv: CaptionedGrid-v0\n")
    err = _one_line_error(capsys, ["run", str(cfg), "--run-dir", str(tmp_path / "r")])
    assert "steps: Interpolation key 'nosuch.key' not found" in err


def test_a_run_dir_that_cannot_be_written_is_a_one_line_error(core_host, tmp_path, capsys):
    (tmp_path / "a-file").write_text("")
    err = _one_line_error(capsys, ["run", "builtin/random-grid", "steps=10", "--run-dir", str(tmp_path / "a-file" / "run")])
    assert "cannot use" in err and "Not a directory" in err and "--run-dir" in err


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_a_read_only_run_dir_is_a_one_line_error(core_host, tmp_path, capsys):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    err = _one_line_error(capsys, ["run", "builtin/random-grid", "steps=10", "--run-dir", str(ro / "run")])
    assert "Permission denied" in err


def _site_plugin(tmp_path, name: str, source: str) -> dict:
    """A site folder holding an installed-looking distribution ``intarsia-NAME`` whose plugin module is ``source``."""
    site = tmp_path / "site"
    pkg = site / f"intarsia_{name}"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "plugin.py").write_text(source)
    dist = site / f"intarsia_{name}-0.1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: intarsia-{name}\nVersion: 0.1.0\n")
    (dist / "entry_points.txt").write_text(f"[intarsia]\n{name} = intarsia_{name}.plugin\n")
    return {"PYTHONPATH": str(site), "INTARSIA_LOAD_PLUGINS": name}


CLASH = """
from intarsia import hookimpl

@hookimpl
def register_policies(register):
    register("random", factory="intarsia.builtin.random_policy:RandomPolicy")
"""


def test_a_name_clash_with_the_core_blocks_runs_but_not_help_version_or_plugins(tmp_path):
    env = _site_plugin(tmp_path, "clashing", CLASH)
    assert run_cli("--help", env=env).returncode == 0
    assert run_cli("--version", env=env).returncode == 0
    listed = run_cli("plugins", "--json", env=env)
    assert listed.returncode == 0
    rows = {r["distribution"]: r for r in json.loads(listed.stdout)}
    assert "registered twice" in rows["intarsia-clashing"]["error"]
    out = run_cli("run", "builtin/random-grid", "--show-config", env=env)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "policy 'random' is registered twice" in out.stderr
    assert "INTARSIA_DISABLE_PLUGINS=clashing" in out.stderr  # the way out
    assert run_cli("run", "builtin/random-grid", "--show-config",
                   env={**env, "INTARSIA_DISABLE_PLUGINS": "clashing"}).returncode == 0


def test_run_warns_in_one_line_about_a_plugin_that_failed_to_import(tmp_path):
    env = _site_plugin(tmp_path, "broken", "raise RuntimeError('broken on purpose')\n")
    out = run_cli("run", "builtin/random-grid", "--show-config", env=env)
    assert out.returncode == 0
    warnings = [line for line in out.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "intarsia-broken" in warnings[0] and "broken on purpose" in warnings[0]
