"""An env name that intarsia does not register but gymnasium does builds with ``gymnasium.make``: gymnasium's
own ids and those another installed package registered. Import paths (``module:Env``) stay refused."""

from __future__ import annotations

import json

import pytest
from intarsia.build import build
from intarsia.cli import main


def test_cartpole_trains_through_intarsia_run(capsys, tmp_path):
    run_dir = tmp_path / "cartpole"
    assert main(["run", "lmcdqn/nchain", "env=CartPole-v1", "steps=200", "log.every=100",
                 "--run-dir", str(run_dir)]) == 0
    report = json.loads((run_dir / "report.json").read_text())
    assert report["steps"] == 200
    assert report["metrics"]["episodes"] > 0
    assert "name: CartPole-v1" in (run_dir / "config.yaml").read_text()


def test_gymnasium_options_reach_gym_make():
    env = build("envs", {"name": "CartPole-v1", "max_episode_steps": 7})
    assert env.spec.max_episode_steps == 7
    env.close()


def test_a_third_party_packages_env(capsys, tmp_path):
    pytest.importorskip("popgym", reason="popgym (a gymnasium package that is not intarsia's) is not installed")
    config = tmp_path / "popgym.yaml"
    config.write_text("env: popgym-RepeatPreviousEasy-v0\npolicy: random\nsteps: 50\nlog: {every: 25}\n")
    run_dir = tmp_path / "popgym"
    assert main(["run", str(config), "--run-dir", str(run_dir)]) == 0, capsys.readouterr().err
    assert json.loads((run_dir / "report.json").read_text())["steps"] == 50


@pytest.mark.parametrize(("name", "expected"), [
    ("os:system", "names a module to import"),
    ("NoSuchEnv-v0", "unknown env 'NoSuchEnv-v0'"),
])
def test_import_paths_and_unknown_ids_are_one_line(capsys, tmp_path, name, expected):
    rc = main(["run", "lmcdqn/nchain", f"env={name}", "steps=10", f"log.dir={tmp_path}"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and expected in err, err
