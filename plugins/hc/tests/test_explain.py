"""The interpretability report: its statistics by hand, the hc-train job's report.json, and the CLI."""

import json

import click
import numpy as np
import pytest
from click.testing import CliRunner
from intarsia.errors import IntarsiaError
from intarsia.runner.api import run_config
from intarsia_hc import plugin
from intarsia_hc.cli import add_commands
from intarsia_hc.explain import explain_run, usage_stats


def test_usage_statistics_by_hand():
    episodes = [np.array([0, 0, 1, 1, 1, 0]), np.array([2, 2, 2, 2])]
    s = usage_stats(episodes, k=4)
    assert s["usage"] == pytest.approx([0.3, 0.3, 0.4, 0.0])
    assert s["usage_entropy"] == pytest.approx(-(2 * 0.3 * np.log(0.3) + 0.4 * np.log(0.4)))
    assert s["subpolicies_used"] == 3
    assert s["switch_rate"] == pytest.approx(2 / 8)  # two switches over 5 + 3 consecutive pairs
    assert s["mean_segment_length"] == pytest.approx(10 / 4)  # segments 00 111 0 | 2222
    with pytest.raises(IntarsiaError):
        usage_stats([np.array([], np.int64)], k=2)


@pytest.fixture
def hc_run(intarsia_host, tmp_path_factory):
    intarsia_host(plugin)
    run_dir = tmp_path_factory.mktemp("hc") / "run"
    report = run_config("hc/tiny", run_dir=run_dir)
    return run_dir, report


def test_hc_train_reports_exactly_the_issue_metrics_and_writes_the_report(hc_run):
    run_dir, report = hc_run
    assert set(report["metrics"]) == {"eval_return", "subpolicies_used", "switch_rate", "usage_entropy"}
    on_disk = json.loads((run_dir / "report.json").read_text())
    assert on_disk["metrics"] == pytest.approx(report["metrics"])
    m = report["metrics"]
    assert -40 * 16.3 <= m["eval_return"] <= 0  # Pendulum's reward is in [-16.3, 0] per step
    assert 1 <= m["subpolicies_used"] <= 4 and 0 <= m["switch_rate"] <= 1 and 0 <= m["usage_entropy"] <= np.log(4) + 1e-9
    folder = run_dir / "interpretability"
    for name in ("report.md", "summary.json", "coefficients.png", "usage.png", "episode.png", "slice.png"):
        assert (folder / name).stat().st_size > 0, name
    text = (folder / "report.md").read_text()
    assert "theta_dot" in text and "| bias |" in text  # coefficients labelled with the env's feature names
    summary = json.loads((folder / "summary.json").read_text())
    assert np.asarray(summary["coefficients"]["mean_weight"]).shape == (4, 3, 1)
    assert report["training"]["eval_return"] == pytest.approx(m["eval_return"])  # same seeds as the core's eval


def test_explain_cli_and_its_errors(hc_run, tmp_path):
    run_dir, report = hc_run

    @click.group()
    def cli():
        pass

    add_commands(cli)
    out = tmp_path / "again"
    result = CliRunner().invoke(cli, ["hc", "explain", str(run_dir), "--out", str(out), "--slice", "0,2"])
    assert result.exit_code == 0, result.output
    assert f"eval_return: {report['metrics']['eval_return']:.4g}" in result.output
    assert (out / "slice.png").exists()
    missing = CliRunner().invoke(cli, ["hc", "explain", str(tmp_path / "nope")])
    assert isinstance(missing.exception, IntarsiaError) and "does not exist" in str(missing.exception)
    bad = CliRunner().invoke(cli, ["hc", "explain", str(run_dir), "--slice", "0"])
    assert bad.exit_code == 2 and "two integers" in bad.output


def test_explain_refuses_a_folder_without_a_run_in_one_line(intarsia_host, tmp_path, capsys):
    from intarsia.cli import main

    intarsia_host(plugin)
    with pytest.raises(IntarsiaError, match="not a run folder"):
        explain_run(tmp_path)
    assert main(["hc", "explain", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "not a run folder" in err and len(err.splitlines()) == 1


def test_mlp_run_reports_only_the_return(intarsia_host, tmp_path):
    intarsia_host(plugin)
    report = run_config({"extends": "hc/tiny", "policy": {"name": "sac-mlp", "actor": {"kind": "mlp"}}},
                        run_dir=tmp_path / "mlp")
    assert set(report["metrics"]) == {"eval_return"}
    assert "no sub-policies" in (tmp_path / "mlp" / "interpretability" / "report.md").read_text()


def test_goal_conditioned_run_is_explained_over_state_and_goal_features(intarsia_host, tmp_path):
    intarsia_host(plugin)
    report = run_config("hc/point-nav", ["steps=120", "policy.seed_steps=60", "policy.batch_size=16",
                                         "policy.actor.hidden_sizes=[16]", "policy.critic_hidden_sizes=[16]",
                                         "policy.subgoal_hidden_sizes=[16]", "policy.num_subgoals=2",
                                         "env.max_episode_steps=20", "eval.every=0", "eval.episodes=2",
                                         "log.every=60", "log.progress=false", "checkpoint.every=0"],
                        run_dir=tmp_path / "nav")
    # navigation's success rate is a metric of the run, not a training statistic
    assert set(report["metrics"]) == {"eval_return", "eval_success", "subpolicies_used", "switch_rate", "usage_entropy"}
    assert 0.0 <= report["metrics"]["eval_success"] <= 1.0 and "eval_success" not in report["training"]
    assert report["training"]["policy_train_updates"] > 0
    text = (tmp_path / "nav" / "interpretability" / "report.md").read_text()
    assert "goal_x-x" in text  # the goal_delta feature map, named


@pytest.mark.parametrize("k", [4, 12, 21, 64])
def test_every_subpolicy_gets_its_own_colour_in_the_plots(k):
    from intarsia_hc.explain import subpolicy_cmap, subpolicy_colors

    colors = subpolicy_colors(k)
    assert colors.shape == (k, 4)
    assert len({tuple(np.round(c, 4)) for c in colors}) == k  # distinct, also past tab20's 20
    cmap, norm = subpolicy_cmap(k)  # the slice plot's mapping of index -> colour: no clipping at large K
    mapped = cmap(norm(np.arange(k)))
    np.testing.assert_allclose(mapped, colors)
    if k > 20:
        rgb = colors[:, :3]
        gaps = np.linalg.norm(rgb[:, None] - rgb[None], axis=-1)[~np.eye(k, dtype=bool)]
        assert gaps.min() > 0.02


def test_large_k_report_shows_the_most_used_and_groups_the_rest(tmp_path):
    import torch
    from intarsia_hc.explain import MAX_SHOWN, shown_subpolicies

    usage = np.zeros(64)
    usage[[3, 40, 63]] = [0.5, 0.3, 0.2]
    shown = shown_subpolicies(usage)
    assert len(shown) == MAX_SHOWN and {3, 40, 63} <= set(shown)
    assert shown_subpolicies(usage[:8]) == list(range(8))
    # an untrained K = 64 actor on Pendulum: the report and its figures stay readable
    from intarsia.interfaces import EnvSpec
    from intarsia_hc.config import ActorConfig, SACConfig
    from intarsia_hc.envs.pendulum import make_pendulum
    from intarsia_hc.explain import explain_policy
    from intarsia_hc.sac import SACAgent
    from lightning.fabric import Fabric

    torch.manual_seed(0)
    env = make_pendulum(max_episode_steps=30)
    spec = EnvSpec(env.observation_space, env.action_space, 1, ("extrinsic",), 30)
    agent = SACAgent(SACConfig(actor=ActorConfig(num_subpolicies=64, hidden_sizes=[16]), critic_hidden_sizes=[16],
                               batch_size=8, seed_steps=0, buffer_size=64, seed=0),
                     env_spec=spec, fabric=Fabric(accelerator="cpu", devices=1))
    summary = explain_policy(agent, env, tmp_path, episodes=2, seed=0)
    text = (tmp_path / "report.md").read_text()
    header = next(line for line in text.splitlines() if line.startswith("| feature |"))
    assert header.count("#") == min(MAX_SHOWN, 64)
    assert len(summary["usage"]) == 64
    from PIL import Image

    with Image.open(tmp_path / "coefficients.png") as im:
        assert im.size[1] < 30 * 110 + 10  # capped height, not 64 x 0.35 inches per row


def test_the_slice_holds_the_inputs_slice_at_names(hc_run, tmp_path):
    import torch
    from intarsia_hc.explain import _slice

    class ByThirdInput(torch.nn.Module):  # sub-policy 1 where input 2 is positive, else 0
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(1))

        def forward(self, x, explore=False):
            return {"choice": (x[:, 2] > 0).long()}

    visited = np.array([[0.0, 0.0, -1.0, 0.0], [1.0, 1.0, -1.0, 0.0]], np.float32)  # input 2's mean is -1
    assert (_slice(ByThirdInput(), visited, (0, 1), torch, n=5)["k"] == 0).all()
    assert (_slice(ByThirdInput(), visited, (0, 1), torch, n=5, at={2: 0.5})["k"] == 1).all()

    run_dir, _ = hc_run

    @click.group()
    def cli():
        pass

    add_commands(cli)
    ok = CliRunner().invoke(cli, ["hc", "explain", str(run_dir), "--out", str(tmp_path / "at"), "--slice", "0,1",
                                  "--slice-at", "2=0.25"])
    assert ok.exit_code == 0, ok.output
    summary = json.loads((tmp_path / "at" / "summary.json").read_text())
    assert summary["slice"] == {"dims": [0, 1], "at": {"theta_dot": 0.25}}
    bad = CliRunner().invoke(cli, ["hc", "explain", str(run_dir), "--slice", "0,1", "--slice-at", "x"])
    assert bad.exit_code == 2 and "INDEX=VALUE" in bad.output
    clash = CliRunner().invoke(cli, ["hc", "explain", str(run_dir), "--slice", "0,1", "--slice-at", "1=0.5"])
    assert isinstance(clash.exception, IntarsiaError) and "slice_at" in str(clash.exception)
