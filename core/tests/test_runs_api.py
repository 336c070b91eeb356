"""The Python API (intarsia.load / intarsia.run), `intarsia eval`, status.json and `intarsia runs`."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from intarsia.testing import run_cli

ROOT = Path(__file__).resolve().parents[2]
TINY = {"extends": "builtin/tiny", "steps": 600, "log": {"every": 200}, "checkpoint": {"every": 0}}


def _python_block(readme: Path) -> str:
    return re.search(r"```python\n(.*?)```", readme.read_text(encoding="utf-8"), re.S).group(1)


def test_the_readme_example_runs_as_written(core_host, tmp_path, monkeypatch):
    code = _python_block(ROOT / "core" / "README.md")
    assert code == _python_block(ROOT / "README.md"), "both READMEs show the same example"
    assert len(code.strip().splitlines()) == 5
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)  # noqa: S102  (the README's own text)
    run = scope["run"]
    assert run.status == "finished" and run.dir.parent.parent == Path("runs")
    assert len(run.metrics) == 3 and list(run.metrics["step"]) == [200, 400, 600]
    assert scope["action"].shape == (1,) and 0 <= int(scope["action"][0]) < 4


def test_load_rebuilds_the_trained_policy_in_eval_mode(core_host, tmp_path):
    import intarsia
    import torch
    from intarsia.runner.api import run_config

    run_config(TINY, run_dir=tmp_path)
    run = intarsia.load(tmp_path)
    assert run.config.policy.name == "qlearning" and run.report["steps"] == 600
    policy = run.policy
    saved = torch.load(tmp_path / "checkpoints" / "step-000000000600.rank0.pt", weights_only=True)["policy"]
    ours = policy.state_dict()
    key = next(k for k, v in saved.items() if isinstance(v, dict))
    for name, tensor in saved[key].items():
        if torch.is_tensor(tensor):
            assert torch.equal(ours[key][name], tensor), name
    modules = [v for v in vars(policy).values() if isinstance(v, torch.nn.Module)]
    assert modules and not any(m.training for m in modules)
    env = run.env(max_steps=7)
    obs, _ = env.reset(seed=0)
    assert env.unwrapped.max_steps == 7
    a1, _ = policy.act(obs[None], None, explore=False)
    a2, _ = policy.act(obs[None], None, explore=False)
    assert a1.tolist() == a2.tolist()


def test_load_refuses_a_folder_that_is_not_a_run(tmp_path):
    import intarsia
    from intarsia.errors import ConfigError

    with pytest.raises(ConfigError, match="not a run directory"):
        intarsia.load(tmp_path)


def test_import_intarsia_stays_cheap():
    code = "import sys, intarsia; intarsia.load; intarsia.run; print('torch' in sys.modules, 'lightning' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_eval_writes_eval_json_greedy_and_exploring(core_host, tmp_path):
    from intarsia.runner.api import run_config

    run_config(TINY, run_dir=tmp_path)
    res = run_cli("eval", str(tmp_path), "--episodes", "4", "--seed", "3")
    assert res.returncode == 0, res.stderr
    data = json.loads((tmp_path / "eval" / "eval.json").read_text())
    assert data["episodes"] == 4 and data["explore"] is False and data["checkpoint_step"] == 600
    assert [e["seed"] for e in data["per_episode"]] == [3, 4, 5, 6]
    assert data["length_mean"] == np.mean([e["length"] for e in data["per_episode"]])
    assert 0.0 <= data["success_rate"] <= 1.0
    # the gridworld's layout is fixed: a greedy agent plays one episode whatever the seed
    assert data["distinct_episodes"] == 1
    res = run_cli("eval", str(tmp_path), "--episodes", "4", "--explore")
    assert res.returncode == 0, res.stderr
    explore = json.loads((tmp_path / "eval" / "eval-explore.json").read_text())
    assert explore["explore"] is True and explore["distinct_episodes"] > 1


def test_eval_video_records_mp4s(core_host, tmp_path):
    pytest.importorskip("moviepy")
    from intarsia.evaluate import evaluate
    from intarsia.runner.api import run_config

    run_config(TINY, run_dir=tmp_path)
    res = evaluate(tmp_path, episodes=2, video=True)
    assert len(res["videos"]) == 2
    for path in res["videos"]:
        assert (tmp_path / path).stat().st_size > 1000


def test_the_gridworld_draws_rgb_frames_with_its_caption():
    from intarsia.builtin.gridworld import BUMP, CaptionedGridEnv

    env = CaptionedGridEnv(size=5, render_mode="rgb_array")
    env.reset(seed=0)
    blank = env.render()
    assert blank.shape == (192, 160, 3) and blank.dtype == np.uint8
    env.step(0)  # up from the top row: a bump, captioned
    assert env.caption == BUMP
    captioned = env.render()
    assert (captioned[160:] != blank[160:]).any()  # the caption bar changed
    assert (captioned[:160] == blank[:160]).all()  # the agent did not move
    with pytest.raises(ValueError, match="render_mode"):
        CaptionedGridEnv(render_mode="human")


def test_a_run_failing_before_its_first_step_is_marked_failed(intarsia_host, tmp_path):
    from intarsia import hookimpl
    from intarsia.runner.api import run_config

    def broken(config=None, *, env_spec, fabric):
        raise ValueError("n must be >= 3")

    class Plugin:
        @hookimpl
        def register_policies(self, register):
            register("broken", factory=broken)

    intarsia_host(Plugin())
    with pytest.raises(ValueError):
        run_config({**TINY, "policy": {"name": "broken"}}, run_dir=tmp_path / "bad")
    status = json.loads((tmp_path / "bad" / "status.json").read_text())
    assert status["status"] == "failed" and "n must be >= 3" in status["error"]
    run_config(TINY, run_dir=tmp_path / "good")
    from intarsia.runs import list_runs

    rows = {r["run"]: r for r in list_runs(tmp_path)}
    assert rows["bad"]["status"] == "failed" and rows["bad"]["steps"] is None
    assert rows["good"]["status"] == "finished" and rows["good"]["steps"] == 600
    assert rows["good"]["metric"] == "success_rate"
    out = run_cli("runs", str(tmp_path))
    assert out.returncode == 0 and "failed" in out.stdout and "finished" in out.stdout


def test_a_run_shorter_than_log_every_lists_no_learning_curve(core_host, tmp_path):
    from intarsia.runner.api import run_config

    report = run_config({**TINY, "steps": 100, "log": {"every": 500}}, run_dir=tmp_path)
    assert not (tmp_path / "learning_curve.png").exists()
    assert "learning_curve.png" not in report["artifacts"]
    assert all((tmp_path / a).exists() for a in report["artifacts"])
    on_disk = json.loads((tmp_path / "report.json").read_text())
    assert on_disk["artifacts"] == report["artifacts"]



def test_learning_curve_panels_merge_identical_series_and_put_eval_on_training_axes(tmp_path):
    from intarsia.runner.report import curve_panels, plot_history

    history = [{"step": s, "episode/return": s / 10, "reward/extrinsic": s / 10, "reward/motif": 1.0,
                "episode/success": 0.5} for s in (100, 200, 300)]
    history.append({"step": 300, "eval/return": 0.7, "eval/success": 1.0})
    panels = curve_panels(history)
    assert panels == [("episode/return = reward/extrinsic", ["episode/return", "eval/return"]),
                      ("episode/success", ["episode/success", "eval/success"]), ("reward/motif", ["reward/motif"])]
    assert curve_panels([{"step": 5, "eval/return": 1.0}]) == [("eval/return", ["eval/return"])]
    assert plot_history(history, tmp_path / "c.png", "t") is not None
    from PIL import Image

    width, height = Image.open(tmp_path / "c.png").size
    assert width < 1400 and height < 400  # three panels in one row of a grid, not a strip of five


def test_eval_seed_fixes_the_evaluation_episodes_across_runs():
    from intarsia.evaluate import EVAL_SEED_OFFSET, eval_seed
    from omegaconf import OmegaConf

    assert eval_seed(OmegaConf.create({"seed": 4, "eval": {"seed": -1}})) == 4 + EVAL_SEED_OFFSET
    assert eval_seed(OmegaConf.create({"seed": 4})) == 4 + EVAL_SEED_OFFSET
    # a comparison's runs differ in their seeds but are evaluated on the same episodes
    assert {eval_seed(OmegaConf.create({"seed": s, "eval": {"seed": 123}})) for s in range(5)} == {123}


def test_intarsia_eval_defaults_to_the_runs_eval_seed(core_host, tmp_path):
    from intarsia.evaluate import evaluate
    from intarsia.runner.api import run_config

    run_config(TINY, ["eval.seed=77"], run_dir=tmp_path)
    assert evaluate(tmp_path, episodes=2)["seed"] == 77
